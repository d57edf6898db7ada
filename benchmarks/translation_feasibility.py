"""How far a translation game gets on a built-in pair in a fixed CPU budget (no training loop).

Builds the game from a preset, calls ``iteration()`` until the budget is spent, and every
``--eval-every`` seconds scores G_AB on test pairs against the true translation, beside the
identity baseline (output = input). Scoring time is not counted in the budget.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_feasibility.py \\
        --config configs/cyclegan-fmnist-tint.yaml --seconds 600
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from ganforge.config import load_config
from ganforge.data.translation import load_translation
from ganforge.evaluation.translation import translate_images
from ganforge.games import GAMES
from ganforge.metrics.translation import edge_iou, mean_absolute_error, psnr
from ganforge.training.distributed import DistContext
from ganforge.training.speed import SpeedPlan


def translate(G: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """uint8 ``[N, C, H, W]`` -> G's uint8 translations (evaluation/translation.py's)."""
    return translate_images(G, images.cpu().numpy(), device=next(G.parameters()).device)


def scores(pred: np.ndarray, target: np.ndarray, edges: bool) -> dict[str, float]:
    result = {"mae": mean_absolute_error(pred, target), "psnr": psnr(pred, target)}
    if edges:
        result["edge_iou"] = edge_iou(pred, target)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--eval-every", type=float, default=120)
    parser.add_argument("--test", type=int, default=2000, help="test pairs scored")
    args = parser.parse_args()
    cfg = load_config(args.config, args.set)
    game_name = "pix2pix" if "pix2pix" in args.config else "cyclegan"
    torch.manual_seed(cfg.run.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    test = load_translation(cfg.data, paired=False)
    test_a, test_b = test.test_a[: args.test], test.test_b[: args.test].numpy()
    edges = cfg.data.name == "fmnist-edges"
    identity = scores(test_a.numpy(), test_b, edges)
    print(f"load: {os.getloadavg()}  threads: {torch.get_num_threads()}  identity: {identity}", flush=True)
    game = GAMES[game_name](cfg, torch.device("cpu"), DistContext(), SpeedPlan())
    G = game.inference()["AtoB"][0]
    spent, steps, next_eval = 0.0, 0, args.eval_every
    while spent < args.seconds:
        start = time.perf_counter()
        stats = game.iteration()
        spent += time.perf_counter() - start
        steps += 1
        if spent >= next_eval or spent >= args.seconds:
            next_eval += args.eval_every
            found = scores(translate(G, test_a), test_b, edges)
            ratio = found["mae"] / identity["mae"]
            losses = {k: round(v.item(), 3) for k, v in stats.items() if k.startswith("loss")}
            print(
                f"{spent:7.1f}s  steps {steps:6d}  {found}  mae/identity {ratio:.3f}  "
                f"load {os.getloadavg()[0]:.1f}  {losses}",
                flush=True,
            )


if __name__ == "__main__":
    main()
