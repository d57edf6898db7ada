"""The demo preset's ablation (issue 14, part 2): what each change buys in ``fid_fmnist``.

Each run is a list of ``--set`` overrides on the *old* demo preset (``BASE`` below: today's
configs/dcgan-fashion-mnist.yaml as it was before this ablation), trained on seeds 0 and 1 with
``run.threads=1`` and ``eval.every=0``, then scored by ``ganforge eval --run`` exactly as
``make demo`` scores it: ``fid_fmnist`` on 10,000 samples against the training set, with the
class-coverage figure (classes holding >= 2 % of the samples, by the evaluator's classifier).

A run with ``train.ema_decay > 0`` gives more than one row for the price of one training: the
raw G of its last checkpoint (the EMA never feeds back into training, so that G is the run
without EMA, bit for bit) and the exported EMA G. ``recomputed`` rows re-estimate the EMA G's
batch-norm statistics on its own output (``train.ema_bn_stats=recompute``) instead of using the
raw G's, again from the same run.

CPU-s/step is the training process's user+sys CPU time (``getrusage`` of the child, set-up and
data loading included) over its steps, one thread; eval time is not counted.

    PYTHONPATH=src .venv/bin/python benchmarks/demo_ablation.py --table        # the cached table
    PYTHONPATH=src .venv/bin/python benchmarks/demo_ablation.py --runs ema999   # train + score
    PYTHONPATH=src .venv/bin/python benchmarks/demo_ablation.py --timing 400    # old vs new CPU-s/step

Results are cached in ``benchmarks/RESULTS-demo-ablation.json`` (one entry per run and seed);
a cached entry is not trained again, so the docs table can be reprinted without a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "configs" / "dcgan-fashion-mnist.yaml"
CACHE = ROOT / "benchmarks" / "RESULTS-demo-ablation.json"
SEEDS = (0, 1)

# The demo preset before this ablation, written out so the rows stay comparable after the
# preset changes: every row is BASE + its own overrides.
BASE = [
    "data.name=fashion-mnist",
    "model.name=dcgan",
    "model.g_width=32",
    "model.d_width=32",
    "train.steps=4000",
    "train.batch_size=64",
    "train.log_every=25",
    "train.sample_every=250",
    "train.checkpoint_every=250",
    "train.ema_decay=0",
    "train.lr_decay_start=1",
    "train.lr_g=2e-4",
    "train.lr_d=2e-4",
]

# run name -> overrides on BASE
RUNS = {
    "ema999": ["train.ema_decay=0.999"],
    "ema9995": ["train.ema_decay=0.9995"],
    "ema999-decay": ["train.ema_decay=0.999", "train.lr_decay_start=0.5"],
    "ema99-decay": ["train.ema_decay=0.99", "train.lr_decay_start=0.5"],
    "ema999-ttur": ["train.ema_decay=0.999", "train.lr_d=4e-4", "train.lr_g=1e-4"],
    # learn faster (the run is budget-bound): same steps, same cost per step
    "lr4e-4": ["train.lr_g=4e-4", "train.lr_d=4e-4"],
    "lr8e-4": ["train.lr_g=8e-4", "train.lr_d=8e-4"],
    "lr1.2e-3": ["train.lr_g=1.2e-3", "train.lr_d=1.2e-3"],
    "ttur-d4e-4": ["train.lr_d=4e-4"],
    "beta2-099": ["train.beta2=0.99"],
    "hinge": ["train.loss=hinge"],
    "batch128": ["train.batch_size=128", "train.steps=2000"],
}

# table rows: (label, run, generator) with generator raw | ema | recomputed | raw-recomputed |
# exported (what `ganforge eval --run` scores: the EMA G with EMA on, else the trained G)
ROWS = [
    ("old preset (no EMA)", "ema999", "raw"),
    ("old preset, BN statistics recomputed", "ema999", "raw-recomputed"),
    ("+ EMA 0.999", "ema999", "ema"),
    ("+ EMA 0.999, BN statistics recomputed", "ema999", "recomputed"),
    ("+ EMA 0.9995", "ema9995", "ema"),
    ("+ EMA 0.9995, BN statistics recomputed", "ema9995", "recomputed"),
    ("+ lr decay from 50 % (no EMA)", "ema99-decay", "raw"),
    ("+ lr decay from 50 % + EMA 0.99", "ema99-decay", "ema"),
    ("+ lr decay from 50 % + EMA 0.99, BN recomputed", "ema99-decay", "recomputed"),
    ("+ EMA 0.999 + lr decay from 50 %", "ema999-decay", "ema"),
    ("+ EMA 0.999 + lr decay from 50 %, BN recomputed", "ema999-decay", "recomputed"),
    ("+ EMA 0.999 + TTUR (lr_d 4e-4, lr_g 1e-4)", "ema999-ttur", "ema"),
    ("Adam lr 4e-4 for G and D (was 2e-4)", "lr4e-4", "exported"),
    ("Adam lr 8e-4 for G and D: **the new preset**", "lr8e-4", "exported"),
    ("Adam lr 1.2e-3 for G and D", "lr1.2e-3", "exported"),
    ("TTUR: lr_d 4e-4, lr_g 2e-4", "ttur-d4e-4", "exported"),
    ("Adam beta2 0.99", "beta2-099", "exported"),
    ("hinge loss", "hinge", "exported"),
    ("batch 128, 2,000 steps", "batch128", "exported"),
]


def child_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_child(argv: list[str]) -> float:
    """Run ``python -m ganforge *argv`` (one thread); returns its user+sys CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "ganforge", *argv], env=child_env(), check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def train_argv(config: Path, sets: list[str], run_dir: Path, seed: int = 0) -> list[str]:
    sets = [*sets, f"run.dir={run_dir}", f"run.seed={seed}", "run.threads=1", "run.progress=false"]
    return ["train", "--config", str(config)] + [a for s in [*sets, "eval.every=0"] for a in ("--set", s)]


def train(run_dir: Path, overrides: list[str], seed: int) -> float:
    """Train BASE + ``overrides`` once; returns CPU-seconds per step."""
    sets = [*BASE, *overrides]
    steps = int([s for s in sets if s.startswith("train.steps=")][-1].split("=")[1])
    return run_child(train_argv(PRESET, sets, run_dir, seed)) / steps


def export_variant(run_dir: Path, generator: str) -> Path:
    """A run-like folder holding the ``generator`` variant of ``run_dir``'s last G."""
    import torch

    from ganforge.checkpoint import latest_checkpoint, load_checkpoint, load_generator, save_generator
    from ganforge.games.gan import bn_stats_inputs
    from ganforge.training.steps import recompute_bn_stats

    if generator in ("ema", "exported"):
        return run_dir
    out = run_dir / f"variant-{generator}"
    out.mkdir(exist_ok=True)
    shutil.copy(run_dir / "config.yaml", out / "config.yaml")
    G, meta = load_generator(run_dir)
    payload = load_checkpoint(latest_checkpoint(run_dir))
    if generator.startswith("raw"):
        G.load_state_dict(payload["G"])
        meta = {**meta, "ema": False}
    if generator.endswith(
        "recomputed"
    ):  # recomputed: the EMA weights with batch-norm statistics of their own output, as
        # train.ema_bn_stats=recompute re-estimates them (same function, same inputs)
        model = meta["model"]
        inputs = bn_stats_inputs(model["z_dim"], model["noise"], meta.get("num_classes"), meta["seed"])
        recompute_bn_stats(G, inputs)
        G.eval()
    with torch.no_grad():
        save_generator(out, G, meta)
    return out


def score(run_dir: Path) -> dict:
    """``ganforge eval --run`` as ``make demo`` runs it, without the context baselines."""
    out = run_dir / "ablation-metrics.json"
    run_child(["eval", "--run", str(run_dir), "--metrics", "fid,classes", "--no-context", "--out", str(out)])
    report = json.loads(out.read_text())
    scores = report["scores"]
    return {"fid_fmnist": scores["fid_fmnist"]["value"], "classes": scores["classes_fmnist"]["value"]}


def load_cache() -> dict:
    return json.loads(CACHE.read_text()) if CACHE.is_file() else {}


def save_cache(entries: dict) -> None:
    """Merge ``entries`` into the cache file as it is now (another invocation may have added some)."""
    cache = {**load_cache(), **entries}
    CACHE.write_text(json.dumps(cache, indent=2, sort_keys=True) + "\n")


def run_ablation(names: list[str], seeds: list[int], work: Path, score_only: bool = False) -> None:
    """Train (unless cached or ``score_only``) and score every row's generator not yet cached."""
    for name in names:
        for seed in seeds:
            key = f"{name}/seed{seed}"
            run_dir = work / f"{name}-s{seed}"
            entry = load_cache().get(key)
            if entry is None:
                speed = None  # score_only: a run trained before (its CPU time was not recorded)
                if not score_only:
                    shutil.rmtree(run_dir, ignore_errors=True)
                    speed = train(run_dir, RUNS[name], seed)
                entry = {"overrides": RUNS[name], "seed": seed, "cpu_s_per_step": speed}
            wanted = sorted({g for _, run, g in ROWS if run == name} - set(entry))
            for generator in wanted:
                entry[generator] = score(export_variant(run_dir, generator))
                print(key, generator, entry[generator], flush=True)
                save_cache({key: entry})


def timing(steps: int, work: Path) -> None:
    """CPU-s/step of the old preset (BASE) and the shipped one, alternated, measured the same way."""
    old = [s for s in BASE if not s.startswith("train.steps=")] + [f"train.steps={steps}"]
    rows: dict[str, list[float]] = {"old preset": [], "new preset": []}
    for label in ("old preset", "new preset", "old preset", "new preset"):
        run_dir = work / f"timing-{sum(map(len, rows.values()))}"
        shutil.rmtree(run_dir, ignore_errors=True)
        sets = old if label == "old preset" else [f"train.steps={steps}"]
        rows[label].append(run_child(train_argv(PRESET, sets, run_dir)) / steps)
        print(f"{label}: {rows[label][-1]:.4f} CPU-s/step", flush=True)
    save_cache({"timing": {"steps": steps, "cpu_s_per_step": rows, "load": os.getloadavg()}})


def cpu_text(entry: dict | None) -> str:
    return f"{entry['cpu_s_per_step']:.3f}" if entry and entry["cpu_s_per_step"] else "–"


def table() -> str:
    """The ablation table (markdown) from the cache."""
    cache = load_cache()
    lines = [
        "| change (on the old preset) | `fid_fmnist` seed 0 | seed 1 | mean | classes (s0 / s1) "
        "| CPU-s/step (s0 / s1) |",
        "|---|---:|---:|---:|---|---|",
    ]
    for label, run, generator in ROWS:
        entries = [cache.get(f"{run}/seed{seed}") for seed in SEEDS]
        entries = [e if e and generator in e else None for e in entries]
        if not any(entries):
            continue
        fids = [f"{e[generator]['fid_fmnist']:.2f}" if e else "–" for e in entries]
        mean = sum(e[generator]["fid_fmnist"] for e in entries) / 2 if all(entries) else None
        classes = " / ".join(f"{e[generator]['classes']}/10" if e else "–" for e in entries)
        speed = " / ".join(
            f"{e['cpu_s_per_step']:.3f}" if e and e["cpu_s_per_step"] else "–" for e in entries
        )
        mean_text = "–" if mean is None else f"{mean:.2f}"
        lines.append(f"| {label} | {fids[0]} | {fids[1]} | {mean_text} | {classes} | {speed} |")
    if "timing" in cache:
        t = cache["timing"]
        lines.append("")
        lines.append(f"CPU-s/step over {t['steps']} steps, alternated (load {t['load'][0]:.1f}):")
        for label, values in t["cpu_s_per_step"].items():
            lines.append(f"- {label}: " + ", ".join(f"{v:.4f}" for v in values))
    return "\n".join(lines)


def main() -> None:
    global CACHE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="*", default=[], help=f"runs to train and score: {', '.join(RUNS)}")
    parser.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS), help="run.seed values")
    parser.add_argument("--cache", type=Path, default=CACHE, help="results JSON")
    parser.add_argument("--timing", type=int, metavar="STEPS", help="time old vs new preset over STEPS")
    parser.add_argument("--score-only", action="store_true", help="score runs already in --work")
    parser.add_argument("--table", action="store_true", help="print the table from the cache")
    parser.add_argument("--work", type=Path, help="run folders (default: a temporary folder, kept)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="demo-ablation-"))
    unknown = [n for n in args.runs if n not in RUNS]
    if unknown:
        parser.error(f"unknown runs {unknown}; choose from {', '.join(RUNS)}")
    CACHE = args.cache
    run_ablation(args.runs, args.seeds, work, args.score_only)
    if args.timing:
        timing(args.timing, work)
    print(table())


if __name__ == "__main__":
    main()
