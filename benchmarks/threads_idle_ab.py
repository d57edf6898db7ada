"""Idle machine: does ``run.threads=auto`` cost training time against a pinned count? (issue 14)

A second harness beside ``contention.py``, built to resolve a few per cent: identical runs on
the 2-core development machine differ by up to 20 % from one process to the next, so two or
four runs per condition (what ``contention.py`` affords for six conditions) cannot tell 3 %
from noise. Here only the two idle conditions run, many times, interleaved in pairs whose order
alternates; each pair gives one ratio, and the summary is the median ratio with its quartiles.

Each run trains the demo preset for ``--steps`` steps in a fresh process, pinned
(``run.threads`` = the usable cores) or ``auto``, and reports the sum of the host-clock
intervals between consecutive training steps (everything the loop does: sample grids,
checkpoints, the tuner's probes). For ``auto`` it also splits that time by the thread count
each step ran with, which prices the probe directly: the steps spent at a count that lost,
against what they would have cost at the median step of the count that won. That figure does
not depend on the run-to-run noise.

    .venv/bin/python benchmarks/threads_idle_ab.py --rounds 12 --steps 300
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "configs" / "dcgan-fashion-mnist.yaml"
MODES = ("pinned", "auto")


def timed_train(setting: str, steps: int, run_dir: str, on_log=None) -> dict:
    """Train the demo preset ``steps`` steps with ``run.threads=setting``; return the run's
    training clock (``elapsed``), the sum of the intervals between steps (``total``) and those
    intervals by the thread count they ran with (``by_count``: n -> [steps, seconds, median])."""
    import torch

    from ganforge.config import load_config
    from ganforge.training import threads, train

    intervals, last = [], [None]
    original = threads.ThreadTuner.step

    def timed_step(self):
        now = time.perf_counter()
        if last[0] is not None:
            intervals.append((now - last[0], torch.get_num_threads()))
        last[0] = now
        original(self)

    threads.ThreadTuner.step = timed_step
    overrides = [f"run.dir={run_dir}", "run.progress=false", f"run.threads={setting}"]
    cfg = load_config(PRESET, [*overrides, f"train.steps={steps}", "eval.every=0"])
    state = train(cfg, on_log=on_log)
    by_count: dict[int, list[float]] = {}
    for seconds, count in intervals:
        by_count.setdefault(count, []).append(seconds)
    return {
        "elapsed": state.elapsed_seconds,
        "total": sum(s for s, _ in intervals),
        "by_count": {n: [len(v), sum(v), statistics.median(v)] for n, v in by_count.items()},
    }


def child(mode: str, steps: int, run_dir: str) -> None:
    from ganforge.training.threads import usable_cores

    setting = str(usable_cores()) if mode == "pinned" else "auto"
    print("RESULT", json.dumps(timed_train(setting, steps, run_dir)))


def measure(mode: str, steps: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="ganforge-idle-ab-") as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--steps", str(steps), "--dir", tmp],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("RESULT")][-1][len("RESULT") :])


def winner_step(run: dict) -> float:
    """The median step time at the count most of the run's steps ran with."""
    by_count = {int(n): v for n, v in run["by_count"].items()}
    return by_count[max(by_count, key=lambda n: by_count[n][0])][2]


def probe_cost(run: dict) -> float:
    """Share of an auto run's time spent above what its steps would cost at the winning count."""
    by_count = {int(n): v for n, v in run["by_count"].items()}
    winner = max(by_count, key=lambda n: by_count[n][0])  # the count most steps ran with
    step_at_winner = winner_step(run)
    extra = sum(s - n_steps * step_at_winner for n, (n_steps, s, _) in by_count.items() if n != winner)
    return extra / run["total"]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="pairs of runs (pinned, auto)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps, args.dir)
        return
    ratios, costs, steps = [], [], []
    for i in range(args.rounds):
        runs = {mode: measure(mode, args.steps) for mode in (MODES if i % 2 == 0 else MODES[::-1])}
        ratios.append(runs["pinned"]["total"] / runs["auto"]["total"])
        costs.append(probe_cost(runs["auto"]))
        steps.append(winner_step(runs["pinned"]) / winner_step(runs["auto"]))
        print(
            f"round {i + 1:2d}: pinned {runs['pinned']['total']:6.2f} s, "
            f"auto {runs['auto']['total']:6.2f} s, "
            f"auto speed {ratios[-1]:.3f}x pinned, probe {costs[-1] * 100:.2f} % of auto's time, "
            f"median step at the winning count {steps[-1]:.3f}x pinned's speed",
            flush=True,
        )
    q1, median, q3 = quartiles(ratios)
    print(f"auto speed vs pinned, {args.rounds} pairs: median {median:.3f}x (quartiles {q1:.3f}-{q3:.3f})")
    print(f"probe cost: median {statistics.median(costs) * 100:.2f} % of auto's training time")
    # The order of a pair matters here (the first run of a pair tends to be the faster): the
    # mean of the two orders' means weighs both alike.
    by_order = [statistics.mean(ratios[k::2]) for k in (0, 1) if ratios[k::2]]
    print(f"auto speed, mean of the two orders' means: {statistics.mean(by_order):.3f}x")
    print(f"median step at the winning count: median {statistics.median(steps):.3f}x pinned's speed")


if __name__ == "__main__":
    main()
