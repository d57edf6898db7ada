"""The 2-D mixture benchmark: ganforge's ring8/grid25 presets over 10 seeds next to PacGAN's Table 1.

Each preset is trained once per seed (run.seed = 0..9) in this process, through the library
(load_config -> train -> load_generator), in a temporary run folder; its exported generator is
scored with PacGAN's protocol (2,500 samples, nearest mode centre, high quality below 3 std,
a mode covered when it holds one high-quality sample). The script prints a markdown table of
the mean +- standard error over seeds beside PacGAN's published means, the per-seed figures
and the wall time of each run, and writes everything as JSON.

    .venv/bin/python benchmarks/toy2d_table.py                    # both presets, 10 seeds
    .venv/bin/python benchmarks/toy2d_table.py --presets ring8 --seeds 3 --set train.steps=2000
    .venv/bin/python benchmarks/toy2d_table.py --merge ring.json grid.json   # one table

Wall times depend on what else the machine runs; the CPU seconds of this process are printed
beside them (with one torch thread they approximate the wall time on an idle machine).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganforge import __version__
from ganforge.checkpoint import load_generator
from ganforge.config import load_config
from ganforge.evaluation.points import evaluate_points
from ganforge.metrics.toy2d import PACGAN_SAMPLES
from ganforge.training import train

ROOT = Path(__file__).resolve().parent.parent
PRESETS = {"ring8": ROOT / "configs" / "gan-ring8.yaml", "grid25": ROOT / "configs" / "gan-grid25.yaml"}
MODES = {"ring8": 8, "grid25": 25}
GOAL_HQ = 0.95  # a seed passes when it covers every mode with at least this high-quality share

# Lin et al. 2018, "PacGAN", Table 1: means over 10 trials (modes covered, % high quality).
PACGAN_TABLE1 = {
    "ring8": [("GAN", 6.3, 98.2), ("PacGAN4", 7.8, 95.9)],
    "grid25": [("GAN", 17.3, 94.8), ("PacGAN4", 24.8, 93.6)],
}


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / sqrt(n); 0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def run_seed(preset: str, seed: int, overrides: list[str], work_dir: Path) -> dict:
    """Train one preset with one seed; returns its figures and wall time."""
    run_dir = work_dir / f"{preset}-seed{seed}"
    cfg = load_config(
        PRESETS[preset], [*overrides, f"run.dir={run_dir}", f"run.seed={seed}", "run.progress=false"]
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    train(cfg)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    G, meta = load_generator(run_dir)
    # The evaluation noise seed is tied to the run seed but differs from every training draw.
    result = evaluate_points(G, meta, n=PACGAN_SAMPLES, seed=10_000 + seed)
    return {
        "preset": preset,
        "seed": seed,
        "modes_covered": result["modes_covered"],
        "high_quality_share": result["high_quality_share"],
        "reverse_kl": result["reverse_kl"],
        "mode_counts": result["mode_counts"],
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "steps": cfg.train.steps,
        "steps_per_second": round(cfg.train.steps / wall, 1),
    }


def summarise(preset: str, runs: list[dict]) -> dict:
    modes = mean_se([r["modes_covered"] for r in runs])
    hq = mean_se([100 * r["high_quality_share"] for r in runs])
    wall = mean_se([r["wall_seconds"] for r in runs])
    cpu = mean_se([r["cpu_seconds"] for r in runs])
    passed = sum(r["modes_covered"] == MODES[preset] and r["high_quality_share"] >= GOAL_HQ for r in runs)
    return {
        "preset": preset,
        "seeds": len(runs),
        "modes_mean": modes[0],
        "modes_se": modes[1],
        "hq_percent_mean": hq[0],
        "hq_percent_se": hq[1],
        "wall_seconds_mean": wall[0],
        "wall_seconds_max": max(r["wall_seconds"] for r in runs),
        "cpu_seconds_mean": cpu[0],
        "seeds_passing": passed,
    }


def markdown(summaries: list[dict], runs: list[dict]) -> str:
    lines = [
        "| data set | method | modes covered | % high quality | seeds with all modes "
        f"and >= {GOAL_HQ:.0%} HQ | wall s per run (mean / max) | CPU s per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        for method, modes, hq in PACGAN_TABLE1[s["preset"]]:
            lines.append(f"| {s['preset']} | {method} (PacGAN Table 1) | {modes} | {hq} | - | - | - |")
        lines.append(
            f"| {s['preset']} | **ganforge `gan-{s['preset']}.yaml`** | "
            f"**{s['modes_mean']:.1f} ± {s['modes_se']:.1f}** / {MODES[s['preset']]} | "
            f"**{s['hq_percent_mean']:.1f} ± {s['hq_percent_se']:.1f}** | "
            f"{s['seeds_passing']}/{s['seeds']} | "
            f"{s['wall_seconds_mean']:.0f} / {s['wall_seconds_max']:.0f} | "
            f"{s['cpu_seconds_mean']:.0f} |"
        )
    lines += [
        "",
        "Per seed:",
        "",
        "| data set | seed | modes | % HQ | reverse KL (nats) | wall s | CPU s | steps/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        kl = "-" if r["reverse_kl"] is None else f"{r['reverse_kl']:.3f}"
        lines.append(
            f"| {r['preset']} | {r['seed']} | {r['modes_covered']} | "
            f"{100 * r['high_quality_share']:.1f} | {kl} | {r['wall_seconds']:.1f} | "
            f"{r['cpu_seconds']:.1f} | "
            f"{r['steps_per_second']:.0f} |"
        )
    return "\n".join(lines)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:  # the model name says more than the architecture
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "ganforge": __version__,
        "platform": platform.platform(),
    }


def load_average() -> list[float] | None:
    try:  # the machine may be shared: the load says how far wall times are inflated
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def report(info: dict, runs: list[dict], json_path: str | None) -> None:
    """Print the tables (one summary per preset present in ``runs``); optionally write JSON."""
    presets = [p for p in PRESETS if any(r["preset"] == p for r in runs)]
    summaries = [summarise(p, [r for r in runs if r["preset"] == p]) for p in presets]
    print()
    print(markdown(summaries, runs))
    print(
        f"\nload average (1, 5, 15 min) at start {info['load_average_start']}, "
        f"at end {info['load_average_end']}"
    )
    if json_path:
        Path(json_path).write_text(json.dumps({**info, "summary": summaries, "runs": runs}, indent=2))
        print(f"wrote {json_path}")


def merge(paths: list[str], json_path: str | None) -> None:
    """One table from several result files (e.g. ring8 and grid25 run side by side)."""
    parts = [json.loads(Path(path).read_text()) for path in paths]
    info = {
        "date": parts[0]["date"],
        "command": [part["command"] for part in parts],
        "machine": parts[0]["machine"],
        "n_samples": parts[0]["n_samples"],
        "overrides": [part["overrides"] for part in parts],
        "load_average_start": [part["load_average_start"] for part in parts],
        "load_average_end": [part["load_average_end"] for part in parts],
    }
    report(info, [run for part in parts for run in part["runs"]], json_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="ring8,grid25", help="comma-separated: ring8,grid25")
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds to run")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="run.seed of the first run (split a table over processes, then --merge)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="config override applied to every run (for trying variants)",
    )
    parser.add_argument("--json", default=None, help="write the results here as JSON")
    parser.add_argument(
        "--keep",
        default=None,
        help="keep the run folders here (default: a temporary folder, deleted at the end)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice); 1 makes CPU seconds a fair idle-machine wall time",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="RESULTS.json",
        default=None,
        help="train nothing: print one table from earlier --json files",
    )
    args = parser.parse_args(argv)
    if args.merge:
        merge(args.merge, args.json)
        return 0
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets or args.seeds < 1:
        parser.error(f"presets must be among {', '.join(PRESETS)} and --seeds >= 1")

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    started = datetime.datetime.now().astimezone()
    info = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "machine": machine(),
        "load_average_start": load_average(),
        "overrides": args.set,
        "n_samples": PACGAN_SAMPLES,
    }
    print(
        f"# toy2d benchmark, {info['date']}, {info['machine']['cpu']}, "
        f"{info['machine']['torch_threads']} torch threads, load {info['load_average_start']}",
        flush=True,
    )
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ganforge-toy2d-") as tmp:
        work_dir = Path(args.keep) if args.keep else Path(tmp)
        for preset in presets:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                result = run_seed(preset, seed, args.set, work_dir)
                runs.append(result)
                print(
                    f"{preset} seed {seed}: {result['modes_covered']}/{MODES[preset]} modes, "
                    f"{100 * result['high_quality_share']:.1f} % HQ, "
                    f"{result['wall_seconds']:.1f} s wall, {result['cpu_seconds']:.1f} s CPU",
                    flush=True,
                )
    info["load_average_end"] = load_average()
    report(info, runs, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
