"""Does the CycleGAN preset learn a domain pair it was not tuned on? (issue 10, section 6)

The pair: sklearn's 8x8 digits, upscaled to 28 px (bicubic) -> the same digit *thickened*
(3x3 grey dilation). Written as the reference's unpaired layout (trainA: digits 0-699,
trainB: thickened digits 700-1,399, so no digit is seen in both domains; testA/testB: digits
1,400-1,796 and their true thickened versions, same file names). The preset is trained on it
through ``ganforge.training.train`` with only data settings changed, then G_AB is scored on
the test pairs (MAE, PSNR against the true thickened digit, beside identity) and a grid
``input | G_AB(input) | true`` is written.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_own_pair.py --steps 600 \\
        --grid docs/cyclegan-own-pair.png
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import grey_dilation
from sklearn.datasets import load_digits
from translation_table import translate

from ganforge.config import load_config
from ganforge.data.translation import load_translation
from ganforge.metrics.translation import mean_absolute_error, psnr
from ganforge.training import train
from ganforge.viz.grid import image_grid


def digits28() -> np.ndarray:
    """sklearn's 1,797 digits as uint8 [N, 28, 28] (0..16 scaled to 0..255, bicubic upscale)."""
    small = (load_digits().images * (255 / 16)).round().astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(d).resize((28, 28), Image.BICUBIC)) for d in small])


def thicken(images: np.ndarray) -> np.ndarray:
    """The B domain: each stroke dilated by one pixel (3x3 grey dilation), uint8 [N, 28, 28]."""
    return np.stack([grey_dilation(d, size=(3, 3)) for d in images])


def write_pair(root: Path) -> Path:
    digits = digits28()
    parts = {
        "trainA": digits[:700],
        "trainB": thicken(digits[700:1400]),
        "testA": digits[1400:],
        "testB": thicken(digits[1400:]),
    }
    for part, images in parts.items():
        (root / part).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(root / part / f"{i:04d}.png")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="configs/cyclegan-fmnist-tint.yaml")
    parser.add_argument("--steps", type=int, default=None, help="default: the preset's")
    parser.add_argument("--root", default="/tmp/ganforge-own-pair", help="where the folders are written")
    parser.add_argument("--grid", default=None, help="PNG of input | translation | truth, 8 test digits")
    parser.add_argument("--set", action="append", default=[], help="extra KEY=VALUE (data.* only, please)")
    args = parser.parse_args()
    root = write_pair(Path(args.root) / "data")
    sets = [
        "data.name=unpaired",
        f"data.root={root}",
        "data.image_size=28",
        "data.channels=1",
        f"run.dir={Path(args.root) / 'run'}",
        "run.progress=false",
        "run.threads=1",
        "eval.every=0",  # no true pairs in the folders: the scorer would compute FID (not an update)
        *([f"train.steps={args.steps}"] if args.steps else []),
        *args.set,
    ]
    cfg = load_config(args.preset, sets)
    load, start = os.getloadavg()[0], time.perf_counter()
    state = train(cfg)
    wall = time.perf_counter() - start
    data = load_translation(cfg.data, paired=False)
    pred, truth = translate(state.inference()["AtoB"][0], data.test_a), data.test_b.numpy()
    ident = data.test_a.numpy()
    row = {
        "steps": state.step,
        "train_seconds": round(wall, 1),
        "load_at_start": round(load, 1),
        "test_pairs": len(truth),
        "mae": mean_absolute_error(pred, truth),
        "mae_identity": mean_absolute_error(ident, truth),
        "psnr": psnr(pred, truth),
        "psnr_identity": psnr(ident, truth),
    }
    row["mae_x_identity"] = row["mae"] / row["mae_identity"]
    print(json.dumps(row))
    if args.grid:
        rows = np.concatenate([ident[:8], pred[:8], truth[:8]]).transpose(0, 2, 3, 1)
        image_grid(rows, columns=8, min_side=512).save(args.grid, optimize=True)


if __name__ == "__main__":
    main()
