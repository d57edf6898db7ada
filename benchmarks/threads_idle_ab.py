"""Idle machine: does ``run.threads=auto`` cost training time against a pinned count? (issue 14)

A second harness beside ``contention.py``: the demo preset trains ``--steps`` steps in a fresh
process per run, pinned (``run.threads`` = the usable cores) or ``auto``, the modes alternating
in order from round to round. Each run reports the sum of the host-clock intervals between
consecutive training steps (everything the loop does included: sample grids, checkpoints, the
tuner's probes) and the median step after the first 20.

    .venv/bin/python benchmarks/threads_idle_ab.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("pinned", "auto")


def child(mode: str, steps: int, run_dir: str) -> None:
    from ganforge.config import load_config
    from ganforge.training import threads, train

    intervals, last = [], [None]
    original = threads.ThreadTuner.step

    def timed_step(self):
        now = time.perf_counter()
        if last[0] is not None:
            intervals.append(now - last[0])
        last[0] = now
        original(self)

    threads.ThreadTuner.step = timed_step
    setting = str(threads.usable_cores()) if mode == "pinned" else "auto"
    overrides = [f"run.dir={run_dir}", "run.progress=false", f"run.threads={setting}"]
    train(
        load_config(
            ROOT / "configs" / "dcgan-fashion-mnist.yaml",
            [*overrides, f"train.steps={steps}", "eval.every=0"],
        )
    )
    print("RESULT", sum(intervals), statistics.median(intervals[20:]))


def measure(mode: str, steps: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="ganforge-idle-ab-") as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--steps", str(steps), "--dir", tmp],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    _, total, median = [line for line in out.splitlines() if line.startswith("RESULT")][-1].split()
    return float(total), float(median)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps, args.dir)
        return
    results = {mode: [] for mode in MODES}
    for i in range(args.rounds):
        for mode in MODES if i % 2 == 0 else MODES[::-1]:
            total, median = measure(mode, args.steps)
            results[mode].append(total)
            print(f"round {i + 1} {mode:<7} {total:6.2f} s  median step {median * 1000:6.2f} ms", flush=True)
    pinned, auto = statistics.median(results["pinned"]), statistics.median(results["auto"])
    print(f"median total: pinned {pinned:.2f} s, auto {auto:.2f} s; auto speed = {pinned / auto:.2f}x pinned")


if __name__ == "__main__":
    main()
