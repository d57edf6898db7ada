"""The translation table of issue 10: identity, CycleGAN, its GAN-only ablation and pix2pix.

Each trained row goes through ``ganforge.training.train`` (the real loop, run folders under
``--runs``) and is scored by the same code on the test pairs of a built-in pair: mean absolute
error and PSNR against the true translation, edge IoU (fmnist-edges), garment-class accuracy of
the translations by the shipped Fashion-MNIST evaluator (beside its accuracy on the true
translations) and FID on the evaluator's features against real target-domain images (B
training images, which no test input was made from).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_table.py --quick
    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_table.py       # the presets' steps

Writes ``benchmarks/RESULTS-translation.md`` and ``.json`` (``--out`` changes the stem).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ganforge.config import load_config
from ganforge.data.translation import load_translation
from ganforge.evaluation.translation import translate_images
from ganforge.metrics.features import classifier_network
from ganforge.metrics.fid import frechet_distance
from ganforge.metrics.translation import edge_iou, mean_absolute_error, psnr
from ganforge.training import train

PAIRS = {
    "fmnist-tint": "configs/cyclegan-fmnist-tint.yaml",
    "fmnist-edges": "configs/cyclegan-fmnist-edges.yaml",
}
PIX2PIX = {  # each pair's paired bound (docs/translation.md, "Session 12" for tint's)
    "fmnist-tint": "configs/pix2pix-fmnist-tint.yaml",
    "fmnist-edges": "configs/pix2pix-fmnist-edges.yaml",
}
METHODS = ("identity", "cyclegan", "gan-only", "pix2pix")


def translate(G: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """uint8 ``[N, C, H, W]`` -> G's uint8 translations (evaluation/translation.py's)."""
    return translate_images(G, images.cpu().numpy(), device=next(G.parameters()).device)


class Scorer:
    """Scores uint8 ``[N, C, H, W]`` translations of one pair's test inputs, the same for every row."""

    def __init__(self, data, n_test: int, n_real: int):
        self.test_a = data.test_a[:n_test]
        self.test_b = data.test_b[:n_test].numpy()
        self.labels = data.test_labels[:n_test].numpy()
        self.net = classifier_network("fashion-mnist")
        real = self.net.extract(data.train_b[:n_real].numpy(), label="real B")[0].features
        self.real_stats = (real.mean(0), np.cov(real, rowvar=False))

    def classes_and_fid(self, images: np.ndarray) -> tuple[float, float]:
        found = self.net.extract(images, label="translations")[0]
        acc = float((found.probs.argmax(1) == self.labels).mean())
        mu, sigma = found.features.mean(0), np.cov(found.features, rowvar=False)
        return acc, frechet_distance(mu, sigma, *self.real_stats)

    def score(self, pred: np.ndarray, edges: bool) -> dict[str, float]:
        row = {"mae": mean_absolute_error(pred, self.test_b), "psnr": psnr(pred, self.test_b)}
        if edges:
            row["edge_iou"] = edge_iou(pred, self.test_b)
        row["class_acc"], row["fid"] = self.classes_and_fid(pred)
        return row


def train_row(preset: str, sets: list[str], run_dir: Path) -> tuple[torch.nn.Module, dict]:
    """Train one preset through the loop; returns G_AB and the run's facts."""
    cfg = load_config(preset, [*sets, f"run.dir={run_dir}", "run.progress=false"])
    start, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    state = train(cfg)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    facts = {
        "steps": state.step,
        "batch_size": cfg.train.batch_size,
        "train_seconds": round(wall, 1),
        "seconds_per_step": round(wall / max(state.step, 1), 3),
        # CPU time of this process: on a shared machine, close to what one idle core would take
        "cpu_seconds_per_step": round(cpu / max(state.step, 1), 3),
        "load_at_start": round(load, 1),
        "run_dir": str(run_dir),
    }
    return state.inference()["AtoB"][0], facts


def rows_for(pair: str, args: argparse.Namespace, seed: int) -> list[dict]:
    preset = args.preset or PAIRS[pair]
    base = [f"data.name={pair}", f"run.seed={seed}", f"run.threads={args.threads}", *args.set]
    data = load_translation(load_config(preset, base).data, paired=False)
    scorer = Scorer(data, args.test, args.real)
    edges = pair == "fmnist-edges"
    real_acc, real_fid = scorer.classes_and_fid(scorer.test_b)
    rows = [{"method": "true B (real images)", "class_acc": real_acc, "fid": real_fid}]
    for method in args.methods:
        row = {"pair": pair, "method": method, "seed": seed}
        if method == "identity":
            row.update(scorer.score(scorer.test_a.numpy(), edges))
        else:
            steps = args.pix2pix_steps if method == "pix2pix" else args.steps
            sets = [*base, *([f"train.steps={steps}"] if steps else [])]
            sets += [f"train.sample_every={10**6}", f"train.checkpoint_every={10**6}"]
            sets += ["train.cycle_weight=0"] if method == "gan-only" else []
            name = PIX2PIX[pair] if method == "pix2pix" else preset
            G, facts = train_row(name, sets, Path(args.runs) / f"{pair}-{method}-s{seed}")
            row.update(facts)
            row.update(scorer.score(translate(G, scorer.test_a), edges))
        print(json.dumps(row), flush=True)
        rows.append(row)
    for row in rows:
        row.setdefault("pair", pair)
        row.setdefault("seed", seed)
    return rows


def fmt(value, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def markdown(rows: list[dict], command: str, when: str) -> str:
    lines = [
        "# Translation table (issue 10, section 6)",
        "",
        f"Made {when} with (load average at each run's start in the json):",
        "",
        f"    {command}",
        "",
        "Scored on the first test pairs of each built-in pair; every row by the same code",
        "(`benchmarks/translation_table.py`). gap closed = (identity - method) / (identity - pix2pix)",
        "for MAE (PSNR and edge IoU the same way, signs flipped).",
        "",
        "| pair | method | seed | steps | s/step (CPU s/step) | MAE | x identity | PSNR dB | edge IoU "
        "| class acc | FID (evaluator) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ident = {(r["pair"], r["seed"]): r for r in rows if r["method"] == "identity"}
    for r in rows:
        base = ident.get((r["pair"], r["seed"]), {})
        ratio = r["mae"] / base["mae"] if "mae" in r and base.get("mae") else None
        speed = f"{r['seconds_per_step']:.2f} ({r['cpu_seconds_per_step']:.2f})" if "steps" in r else ""
        lines.append(
            f"| {r['pair']} | {r['method']} | {r['seed']} | {r.get('steps', '')} | "
            f"{speed} | {fmt(r.get('mae'), 4)} | {fmt(ratio, 3)} | "
            f"{fmt(r.get('psnr'), 2)} | {fmt(r.get('edge_iou'), 3)} | {fmt(r.get('class_acc'), 3)} | "
            f"{fmt(r.get('fid'), 2)} |"
        )
    lines += ["", *gap_lines(rows)]
    return "\n".join(lines) + "\n"


def gap_lines(rows: list[dict]) -> list[str]:
    """The share of the identity -> pix2pix gap CycleGAN closes, per pair, seed and metric."""
    out = []
    by = {(r["pair"], r["seed"], r["method"]): r for r in rows}
    for (pair, seed, method), row in by.items():
        if method != "cyclegan" or (pair, seed, "pix2pix") not in by:
            continue
        low, high = by[(pair, seed, "identity")], by[(pair, seed, "pix2pix")]
        parts = []
        for key in ("mae", "psnr", "edge_iou"):
            if key in row and high[key] != low[key]:
                parts.append(f"{key} {100 * (row[key] - low[key]) / (high[key] - low[key]):.0f} %")
        out.append(f"- {pair}, seed {seed}: CycleGAN closes {', '.join(parts)} of the gap to pix2pix")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=",".join(PAIRS), help="comma list of built-in pairs")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    parser.add_argument("--preset", default=None, help="CycleGAN preset for every pair (default: its own)")
    parser.add_argument("--steps", type=int, default=None, help="CycleGAN steps (default: the preset's)")
    parser.add_argument("--pix2pix-steps", type=int, default=None, help="default: the preset's")
    parser.add_argument("--quick", action="store_true", help="300 CycleGAN / 300 pix2pix steps, 2,000 tests")
    parser.add_argument("--seeds", default="0", help="comma list of run.seed values")
    parser.add_argument("--test", type=int, default=10000, help="test pairs scored")
    parser.add_argument("--real", type=int, default=10000, help="real B images for FID")
    parser.add_argument("--threads", default="1", help="run.threads of every run")
    parser.add_argument("--set", action="append", default=[], help="extra KEY=VALUE for every run")
    parser.add_argument("--runs", default="/tmp/ganforge-translation-table", help="run folders")
    parser.add_argument("--out", default="benchmarks/RESULTS-translation", help="stem of .md and .json")
    args = parser.parse_args()
    if args.quick:
        args.steps = args.steps or 300
        args.pix2pix_steps = args.pix2pix_steps or 300
        args.test = min(args.test, 2000)
    args.methods = args.methods.split(",")
    torch.set_num_threads(int(args.threads) if args.threads.isdigit() else torch.get_num_threads())
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for pair in args.pairs.split(","):
            rows += rows_for(pair, args, seed)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_table.py " + " ".join(
        sys.argv[1:]
    )
    Path(args.out + ".json").write_text(
        json.dumps({"command": command, "when": when, "rows": rows}, indent=1)
    )
    Path(args.out + ".md").write_text(markdown(rows, command, when))
    print(markdown(rows, command, when))


if __name__ == "__main__":
    main()
