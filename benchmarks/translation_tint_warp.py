"""Do G_AB and G_BA share a gray-level warp the cycles cannot see? (docs/translation.md, session 8)

fmnist-tint's B colours lie on one curve, ``tint(g)`` for gray levels g. If a run's G_AB puts
gray level g at ``tint(h(g))`` (on the curve, at the wrong place) and its G_BA gives a B pixel of
level g the gray ``k(g)``, both cycles hold whenever ``k`` undoes ``h``, for *any* monotone warp
``h``: only the discriminators (the histograms of gray levels and colours) can pin ``h`` to the
identity. Measured on test garments: ``h`` (the gray level whose true colour is nearest to the
run's mean output for each input level), ``k`` (G_BA's mean gray per true level of its real-B
input), the compositions ``h(k(g))`` and ``k(h(g))`` (g itself if the pair is cycle-consistent),
and how much of G_AB's MAE the warp alone explains (``tint(h(a))`` against ``tint(a)``).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_tint_warp.py --run RUN [--step N]

``--step N`` reads the two generators of ``checkpoints/step_N.pt`` instead of the run's exports
(how the warp moves along one run: docs/translation.md, session 9), their averages when the run
kept them (``train.ema_decay``), as the exports are.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from probe_output import emit
from translation_tint_probe import level_means

from ganforge.checkpoint import load_checkpoint, load_inference
from ganforge.config import load_config
from ganforge.data.translation import load_translation, tint
from ganforge.evaluation.translation import translate_images

SHOW = (16, 48, 80, 112, 144, 176, 208, 240)


def fill(table: np.ndarray) -> np.ndarray:
    """Levels that never occur get their nearest occurring neighbour's value (for look-ups)."""
    ok = ~np.isnan(table)
    return np.interp(np.arange(256), np.flatnonzero(ok), table[ok])


def generators(run: str, step: int | None) -> tuple[torch.nn.Module, torch.nn.Module]:
    """G_AB and G_BA of the run: its exports, or (``step``) those of ``checkpoints/step_N.pt``:
    their averages where the run kept them (``train.ema_decay``), as the exports are."""
    G_AB, G_BA = load_inference(run, "AtoB")[0], load_inference(run, "BtoA")[0]
    if step is not None:  # the exports fix the architecture; the checkpoint carries the weights
        payload = load_checkpoint(Path(run) / "checkpoints" / f"step_{step:07d}.pt")
        for key, G in (("G_AB", G_AB), ("G_BA", G_BA)):
            G.load_state_dict(payload.get(f"{key}_ema", payload[key]))
    return G_AB, G_BA


def measure(run: str, n: int, step: int | None = None) -> dict:
    data = load_translation(load_config(None, ["data.name=fmnist-tint"]).data, paired=False)
    a, b = data.test_a[:n].numpy(), data.test_b[:n].numpy()
    gray = a[:, 0]
    curve = tint(np.arange(256, dtype=np.uint8).reshape(1, 1, 1, 256))[0, :, 0].T.astype(np.float64)
    G_AB, G_BA = generators(run, step)
    pred = translate_images(G_AB, a).astype(np.float64)
    colours = level_means(gray, pred)  # [256, 3]
    d2 = ((np.nan_to_num(colours)[:, None, :] - curve[None]) ** 2).sum(2)
    h = np.where(np.isnan(colours[:, 0]), np.nan, d2.argmin(1).astype(np.float64))
    k = level_means(gray, translate_images(G_BA, b).mean(1, keepdims=True))[:, 0]
    h_f, k_f = fill(h), fill(k)
    garment = gray > 0
    warped = tint(np.round(h_f[gray]).astype(np.uint8)[:, None]).astype(np.float64)
    warp_mae = np.abs(warped - b).transpose(1, 0, 2, 3)[:, garment].mean() / 255
    weights = np.bincount(gray[garment], minlength=256).astype(np.float64)
    weights /= weights.sum()
    lv = np.arange(256)
    return {
        "levels": {
            int(g): {
                "h": round(float(h[g]), 1),
                "k": round(float(k[g]), 1),
                "h(k(g))": round(float(h_f[int(round(k_f[g]))]), 1),
                "k(h(g))": round(float(k_f[int(round(h_f[g]))]), 1),
            }
            for g in SHOW
        },
        # garment-pixel-weighted mean |level difference| (0-255)
        "mean |h - g|": float((weights * np.abs(h_f - lv)).sum()),
        "mean |k - g|": float((weights * np.abs(k_f - lv)).sum()),
        "mean |h(k(g)) - g|": float((weights * np.abs(h_f[np.round(k_f).astype(int)] - lv)).sum()),
        "warp-alone MAE on garment pixels (0-1)": float(warp_mae),
        "G_AB MAE on garment pixels (0-1)": float(np.abs(pred - b).transpose(1, 0, 2, 3)[:, garment].mean())
        / 255,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a CycleGAN run folder trained on fmnist-tint")
    parser.add_argument("--n", type=int, default=2000, help="test garments (0..n-1)")
    parser.add_argument("--step", type=int, default=None, help="checkpoints/step_N.pt (default: the exports)")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = measure(args.run, args.n, args.step)
    emit(out, args.json)


if __name__ == "__main__":
    main()
