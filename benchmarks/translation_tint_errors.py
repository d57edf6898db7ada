"""Where does a CycleGAN's fmnist-tint G_AB go wrong? (docs/translation.md, "Results", session 5)

Translates the first ``--n`` test garments with a run's ``generator-AtoB`` and splits the
error against the true colour map two ways: (1) the *map*: the MAE left if every pixel got
the mean output of all pixels of its gray level (a perfectly sharp G with this run's average
colour per level), and the spread of outputs around that mean (blur, texture); (2) by gray
level band and by the size of the input's local gray-level change (flat areas vs edges).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_tint_errors.py --run RUN
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ganforge.checkpoint import load_inference
from ganforge.config import load_config
from ganforge.data.translation import load_translation
from ganforge.evaluation.translation import translate_images

BANDS = ((0, 1), (1, 32), (32, 96), (96, 160), (160, 224), (224, 256))  # gray levels [lo, hi)
CHANGES = ((0, 1), (1, 40), (40, 120), (120, 10**9))  # |dx| + |dy| of the gray level, 0-255 scale


def split_by_level(gray: np.ndarray, pred: np.ndarray, true: np.ndarray) -> None:
    """``gray`` uint8 [N, H, W]; ``pred``, ``true`` float [N, 3, H, W] on 0-255."""
    levels = gray.reshape(-1)
    p, t = (x.transpose(1, 0, 2, 3).reshape(3, -1) for x in (pred, true))
    counts = np.maximum(np.bincount(levels, minlength=256), 1)
    mean_map = np.stack([np.bincount(levels, p[c], 256) for c in range(3)]) / counts  # [3, 256]
    mapped = mean_map[:, levels]
    print(f"MAE {np.abs(p - t).mean() / 255:.4f}")
    map_mae = np.abs(mapped - t).mean() / 255
    print(f"MAE with each pixel at its level's mean output (the map's error): {map_mae:.4f}")
    print(f"mean |output - its level's mean output| (blur, texture): {np.abs(p - mapped).mean() / 255:.4f}")
    for lo, hi in BANDS:
        m = (levels >= lo) & (levels < hi)
        if m.any():
            bias = ((p[:, m] - t[:, m]).mean(1) / 255).round(3)
            mae, band_map = (
                np.abs(p[:, m] - t[:, m]).mean() / 255,
                np.abs(mapped[:, m] - t[:, m]).mean() / 255,
            )
            print(
                f"gray {lo:3d}-{hi - 1:3d}: share {m.mean():.3f} MAE {mae:.4f} "
                f"map MAE {band_map:.4f} bias RGB {bias}"
            )


def split_by_change(gray: np.ndarray, pred: np.ndarray, true: np.ndarray) -> None:
    g = gray.astype(np.float64)
    change = np.zeros_like(g)
    change[:, 1:-1, 1:-1] = np.abs(g[:, 2:, 1:-1] - g[:, :-2, 1:-1]) + np.abs(
        g[:, 1:-1, 2:] - g[:, 1:-1, :-2]
    )
    error = np.abs(pred - true).mean(1) / 255
    for lo, hi in CHANGES:
        m = (change >= lo) & (change < hi) & (gray > 0)
        print(f"garment pixels with gray change {lo}-{hi}: share {m.mean():.3f} MAE {error[m].mean():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a CycleGAN run folder trained on fmnist-tint")
    parser.add_argument("--n", type=int, default=2000, help="test pairs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_translation(load_config(None, ["data.name=fmnist-tint"]).data, paired=False)
    a, b = data.test_a[: args.n].numpy(), data.test_b[: args.n].numpy().astype(np.float64)
    G, _ = load_inference(args.run, "AtoB")
    pred = translate_images(G, a).astype(np.float64)
    split_by_level(a[:, 0], pred, b)
    split_by_change(a[:, 0], pred, b)


if __name__ == "__main__":
    main()
