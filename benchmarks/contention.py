"""Training speed with a busy neighbour: run.threads=auto against fixed counts (issue 14).

The demo config (configs/dcgan-fashion-mnist.yaml, eval.every=0) trains ``--steps`` steps
in a fresh subprocess per condition, so OMP_NUM_THREADS and torch's thread pools start
clean each time:

- idle: torch's default count (one thread per core: what ganforge did before run.threads),
  and ``run.threads=auto``;
- busy: the same while one ``while True: pass`` process (started here, always stopped)
  keeps a core busy, plus the two one-thread baselines, ``OMP_NUM_THREADS=1`` and
  ``run.threads=1``.

Speed is steps per second of training time (the run's own clock: no data loading or set-up).
Ratios are against ``OMP_NUM_THREADS=1`` under the same load, measured in the same
invocation; idle auto is also compared with the idle default. Targets (issue 14): busy auto
>= 0.85x the busy one-thread baseline, idle auto >= 0.97x the idle default.

    .venv/bin/python benchmarks/contention.py                  # 400 steps, one round
    .venv/bin/python benchmarks/contention.py --steps 200 --repeats 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "configs" / "dcgan-fashion-mnist.yaml"

# (name, busy neighbour?, run.threads, extra environment)
CONDITIONS = [
    ("idle, default (1 thread per core)", False, "cores", {}),
    ("idle, run.threads=auto", False, "auto", {}),
    ("busy, OMP_NUM_THREADS=1 (baseline)", True, "auto", {"OMP_NUM_THREADS": "1"}),
    ("busy, run.threads=1", True, "1", {}),
    ("busy, default (1 thread per core)", True, "cores", {}),
    ("busy, run.threads=auto", True, "auto", {}),
]


def child(steps: int, threads: str, run_dir: str) -> None:
    """Train once and print the speed, the thread count at each log row, and (threads_idle_ab's
    accounting) the sum of step intervals and the share of time the probes cost, as JSON."""
    import torch
    from threads_idle_ab import probe_cost, timed_train

    from ganforge.training.threads import usable_cores

    threads = str(usable_cores()) if threads == "cores" else threads
    counts = []
    on_log = lambda state, row: counts.append(torch.get_num_threads())  # noqa: E731
    run = timed_train(threads, steps, run_dir, on_log=on_log)
    result = {
        "steps_per_s": steps / run["elapsed"],
        "threads_at_log_rows": counts,
        "interval_total": run["total"],
        "probe_cost": probe_cost(run) if len(run["by_count"]) > 1 else 0.0,
    }
    print(json.dumps(result))


def measure(steps: int, threads: str, env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(env_extra)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory(prefix="ganforge-contention-") as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--steps", str(steps), "--threads", threads, "--dir", tmp],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_neighbour() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def round_order(index: int) -> list[tuple]:
    """The conditions for round ``index``: idle ones first (the neighbour starts once), and
    within each group every other round reversed, so no condition always runs first: identical
    runs differ by up to 20 % from one process to the next here, and a fixed order would turn a
    slow first slot into a difference between conditions."""
    idle = [c for c in CONDITIONS if not c[1]]
    busy = [c for c in CONDITIONS if c[1]]
    if index % 2:
        idle, busy = idle[::-1], busy[::-1]
    return idle + busy


def run_round(steps: int, index: int = 0) -> dict[str, dict]:
    """Every condition once; the neighbour lives only through the busy ones, and dies on errors."""
    results, neighbour = {}, None
    try:
        for name, busy, threads, env_extra in round_order(index):
            if busy and neighbour is None:
                neighbour = start_neighbour()
            results[name] = measure(steps, threads, env_extra)
            row = results[name]
            probe = f", probes {row['probe_cost'] * 100:.1f} % of it" if row["probe_cost"] else ""
            print(f"  {name:<38} {row['steps_per_s']:6.1f} steps/s{probe}", flush=True)
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    return results


def summarise(rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Median speed per condition, and each round's ratio against its own baseline."""
    baseline, idle_default = CONDITIONS[2][0], CONDITIONS[0][0]
    table = {}
    for name, busy, _, _ in CONDITIONS:
        speeds = [r[name]["steps_per_s"] for r in rounds]
        reference = baseline if busy else idle_default
        ratios = [r[name]["steps_per_s"] / r[reference]["steps_per_s"] for r in rounds]
        table[name] = {
            "steps_per_s": statistics.median(speeds),
            "ratio": statistics.median(ratios),
            "against": reference,
            "threads_at_log_rows": rounds[-1][name]["threads_at_log_rows"],
        }
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="training steps per condition")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of all conditions")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.steps, args.threads, args.dir)
        return 0

    load_before = os.getloadavg()
    rounds = []
    for i in range(args.repeats):
        print(f"round {i + 1}/{args.repeats} ({args.steps} steps per condition)", flush=True)
        rounds.append(run_round(args.steps, i))
    table = summarise(rounds)
    load_after = os.getloadavg()
    print(f"\nload average (1 min): before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"{'condition':<38} {'steps/s':>8} {'ratio':>6}  against")
    for name, row in table.items():
        print(f"{name:<38} {row['steps_per_s']:8.1f} {row['ratio']:6.2f}  {row['against']}")
    busy_auto, idle_auto = table[CONDITIONS[5][0]]["ratio"], table[CONDITIONS[1][0]]["ratio"]
    for what, ratio, target in (("busy auto", busy_auto, 0.85), ("idle auto", idle_auto, 0.97)):
        print(f"target {what} >= {target}x: {ratio:.2f} ({'met' if ratio >= target else 'NOT met'})")
    if args.json:
        load = [load_before, load_after]
        report = {"steps": args.steps, "repeats": args.repeats, "load": load, "table": table}
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
