"""What do a run's fmnist-edges translations get wrong? (docs/translation.md, "Results", session 6)

Translates the first ``--n`` test garments with each run's ``generator-AtoB`` and says how its
edge maps differ from the true ones, beside two references computed the same way: identity
(output = the garment) and an all-black map (no edges at all). Columns:

- ``edge %``: share of output pixels >= 128 (the true maps: ``true edge %``);
- ``gray %``: share of output pixels strictly between 32 and 223 (neither black nor white);
- ``PSNR``, ``MAE``: the table's scores; ``PSNR thr``: PSNR after thresholding the output at 128
  (a diagnosis only: how much of the PSNR is lost to gray levels rather than to wrong pixels);
- ``recall`` / ``precision``: of the true / the output edge pixels, the share matched exactly,
  and ``~1px``: matched within one pixel (3x3), so offsets and thickness count as found;
- ``FP far %``: output edge pixels more than one pixel from any true edge (blotches, speckle),
  as a share of all pixels; ``FP near %``: those within one pixel (thick or offset outlines);
  ``miss %``: true edge pixels with no output edge within one pixel (broken outlines);
- ``recall in`` / ``recall out``: recall of the true edge pixels on the garment (gray > 0) and
  on the background around it (the Sobel outline straddles the silhouette: about a quarter of
  the true edge pixels are the ring of background just outside it).

Then, per run, the **convention** its generators share (session 9): the share of its edge pixels
on the garment (gray > 10; the true maps' share beside it), and, for a CycleGAN, how large
G_BA fills garments (gray > 10) from the *true* edge maps and from G_AB's own, against the
true garments' area. A G_AB that draws inward with a G_BA that fills outward closes the cycle
while both are wrong.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_edge_errors.py --run RUN [--run RUN2]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ganforge.checkpoint import CheckpointError, load_inference
from ganforge.config import load_config
from ganforge.data.translation import load_translation
from ganforge.evaluation.translation import translate_images
from ganforge.metrics.translation import EDGE_LEVEL, mean_absolute_error, psnr

GARMENT_LEVEL = 10  # gray above this is garment, for the convention's areas


def near(mask: np.ndarray) -> np.ndarray:
    """bool ``[N, H, W]`` -> bool: True within one pixel (3x3 neighbourhood) of a True pixel."""
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    h, w = mask.shape[1:]
    out = np.zeros_like(mask)
    for dy in range(3):
        for dx in range(3):
            out |= padded[:, dy : dy + h, dx : dx + w]
    return out


def describe(pred: np.ndarray, true: np.ndarray, garment: np.ndarray) -> dict[str, float]:
    """uint8 ``[N, 1, H, W]`` output, true edge map and input garment -> the docstring's columns."""
    p, t, on = pred[:, 0] >= EDGE_LEVEL, true[:, 0] >= EDGE_LEVEL, garment[:, 0] > 0
    binary = np.where(p, 255, 0).astype(np.uint8)[:, None]
    p_near, t_near = near(p), near(t)
    return {
        "edge %": 100 * p.mean(),
        "gray %": 100 * ((pred > 32) & (pred < 223)).mean(),
        "MAE": mean_absolute_error(pred, true),
        "PSNR": psnr(pred, true),
        "PSNR thr": psnr(binary, true),
        "recall": (p & t).sum() / max(t.sum(), 1),
        "recall ~1px": (p_near & t).sum() / max(t.sum(), 1),
        "precision": (p & t).sum() / max(p.sum(), 1),
        "precision ~1px": (t_near & p).sum() / max(p.sum(), 1),
        "FP far %": 100 * (p & ~t_near).mean(),
        "FP near %": 100 * (p & t_near & ~t).mean(),
        "miss %": 100 * (t & ~p_near).mean(),
        "recall in": (p & t & on).sum() / max((t & on).sum(), 1),
        "recall out": (p & t & ~on).sum() / max((t & ~on).sum(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="a run trained on fmnist-edges")
    parser.add_argument("--n", type=int, default=2000, help="test pairs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_translation(load_config(None, ["data.name=fmnist-edges"]).data, paired=False)
    a, b = data.test_a[: args.n].numpy(), data.test_b[: args.n].numpy()
    rows = {"identity": a, "all black": np.zeros_like(b)}
    for run in args.run:
        rows[run] = translate_images(load_inference(run, "AtoB")[0], a)
    print(f"true edge %: {100 * (b >= EDGE_LEVEL).mean():.1f} ({args.n} test pairs)")
    for name, pred in rows.items():
        print(name)
        print("  " + "  ".join(f"{k} {v:.3f}" for k, v in describe(pred, b, a).items()))
    for run in args.run:
        print(f"convention of {run}")
        print("  " + "  ".join(f"{k} {v:.3f}" for k, v in convention(run, a, b, rows[run]).items()))


def convention(run: str, a: np.ndarray, b: np.ndarray, fake_b: np.ndarray) -> dict[str, float]:
    """The module docstring's last paragraph, for one run; ``fake_b`` = its G_AB(a)."""
    garment = a[:, 0] > GARMENT_LEVEL

    def inside(edges: np.ndarray) -> float:
        on = edges[:, 0] >= EDGE_LEVEL
        return (on & garment).sum() / max(on.sum(), 1)

    out = {"edges on garment (true)": inside(b), "edges on garment": inside(fake_b)}
    try:
        G_BA = load_inference(run, "BtoA")[0]
    except CheckpointError:  # pix2pix: one direction
        return out
    for name, edges in (("true edges", b), ("own edges", fake_b)):
        filled = translate_images(G_BA, edges)[:, 0] > GARMENT_LEVEL
        out[f"G_BA({name}) area / true"] = filled.sum() / garment.sum()
        out[f"G_BA({name}) px outside / image"] = (filled & ~garment).sum((1, 2)).mean()
    return out


if __name__ == "__main__":
    main()
