"""Can a discriminator see an outline drawn one pixel inside the garment? (docs/translation.md,
"Results", session 7)

Session 6 read CycleGAN's fmnist-edges error (outlines about one pixel inside the garment) as a
blind spot of the unpaired game: D_B judges edge maps alone and never sees the garment, so an
outline shifted inward should look as real to it as the true one. This checks that reading on
maps made to order, from the test garments:

- ``true``: the pair's own edge maps (``data/translation.py``, ``edges``);
- ``inward``: the edge maps of the garments shrunk by one pixel (``shrink``: the garment's
  boundary ring, 8-neighbour, set to background): the same kind of outline, as thick, but lying
  wholly on the original garment's pixels -- the convention CycleGAN drifts to;
- ``inner``: the true maps without their off-garment ring (thinner outlines; a positive control
  that a probe should find easy);

and asks (a) a fresh PatchGAN, trained to tell true maps from ``inward`` (or ``inner``) maps of
*other* garments (unpaired, as D_B is), its held-out accuracy and AUC: if high, the maps alone
show the shift and session 6's reading is wrong; (b) each ``--run``'s own D_B (last checkpoint)
its mean output (LSGAN: 1 = real, 0 = fake) on true, inward, inner maps and on the run's own
G_AB translations (as they are, and thresholded at 128: how much of D_B's verdict rests on
gray levels), and the AUC of true against each. It also scores ``inward`` and ``inner``
as if they were translations (MAE, PSNR, edge IoU, share of the identity -> pix2pix gap closed
against seed 0's pix2pix, ``PIX2PIX``): what a CycleGAN perfect but for the convention would reach.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_edge_shift.py [--run RUN ...]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from probe_output import emit

from ganforge.checkpoint import latest_checkpoint, load_checkpoint, load_inference
from ganforge.config import load_config
from ganforge.data.translation import edges, load_translation
from ganforge.evaluation.translation import translate_images
from ganforge.metrics.separation import auc
from ganforge.metrics.translation import EDGE_LEVEL, edge_iou, mean_absolute_error, psnr
from ganforge.models.patchgan import PatchDiscriminator

# pix2pix at 2,000 steps (the CycleGAN preset's) on the first 2,000 test pairs, seed 0
# (docs/translation.md, session 7; benchmarks/RESULTS-translation-edges-pix2pix-2000.md)
PIX2PIX = {"mae": 0.0820, "psnr": 13.48, "edge_iou": 0.768}


def shrink(gray: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 1, H, W]`` garments -> the same with every garment pixel (gray > 0) that has a
    background pixel among its 8 neighbours set to 0: the silhouette one pixel smaller, the
    texture inside unchanged. (The image border counts as garment, as ``edges`` pads by edge.)"""
    on = np.pad(gray[:, 0] > 0, ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = gray.shape[2:]
    kept = np.ones_like(on[:, 1:-1, 1:-1])
    for dy in range(3):
        for dx in range(3):
            kept &= on[:, dy : dy + h, dx : dx + w]
    return np.where(kept[:, None], gray, 0).astype(np.uint8)


def inward_maps(gray: np.ndarray) -> np.ndarray:
    """uint8 garments -> the edge maps of the garments shrunk by one pixel: every edge pixel lies
    on the original garment (a pixel of the Sobel outline is within one pixel of the shrunk one)."""
    return edges(shrink(gray))


def inner_maps(gray: np.ndarray) -> np.ndarray:
    """uint8 garments -> their true edge maps with the edge pixels on the background removed."""
    return np.where(gray > 0, edges(gray), 0).astype(np.uint8)


def patch_scores(D: torch.nn.Module, maps: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 1, H, W]`` -> float ``[N, G, G]``: D's output per patch, in eval mode, no grad."""
    out = []
    with torch.no_grad():
        for start in range(0, len(maps), 500):
            x = torch.from_numpy(maps[start : start + 500]).float() / 127.5 - 1
            out.append(D(x)[:, 0])
    return torch.cat(out).numpy()


def train_probe(
    real: np.ndarray, fake: np.ndarray, steps: int, width: int = 16, d_layers: int = 2, seed: int = 0
) -> PatchDiscriminator:
    """A fresh PatchGAN (D_B's architecture by default) trained by logistic loss on every patch
    to score uint8 maps ``real`` high and ``fake`` low: batches of 32 + 32, Adam 1e-3."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    D = PatchDiscriminator(1, width, d_layers)
    opt = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    for _ in range(steps):
        pick = [kind[rng.integers(len(kind), size=32)] for kind in (real, fake)]
        batch = np.concatenate(pick)
        logits = D(torch.from_numpy(batch).float() / 127.5 - 1)
        target = torch.cat([torch.ones(32), torch.zeros(32)]).view(-1, 1, 1, 1).expand_as(logits)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return D.eval()


def separation(D: torch.nn.Module, real: np.ndarray, fake: np.ndarray, threshold: float) -> dict[str, float]:
    """How well D's per-image mean (and each patch alone) tells ``real`` from ``fake`` maps."""
    r, f = patch_scores(D, real), patch_scores(D, fake)
    rm, fm = r.mean((1, 2)), f.mean((1, 2))
    return {
        "accuracy": float(((rm > threshold).mean() + (fm <= threshold).mean()) / 2),
        "patch accuracy": float(((r > threshold).mean() + (f <= threshold).mean()) / 2),
        "auc": auc(rm, fm),
        "mean real": float(rm.mean()),
        "mean fake": float(fm.mean()),
    }


def as_translation(pred: np.ndarray, true: np.ndarray, identity: np.ndarray) -> dict[str, float]:
    """Score ``pred`` like a translation, and the share of the identity -> pix2pix gap it closes."""
    row = {"mae": mean_absolute_error(pred, true), "psnr": psnr(pred, true), "edge_iou": edge_iou(pred, true)}
    base = {"mae": mean_absolute_error(identity, true), "psnr": psnr(identity, true)}
    base["edge_iou"] = edge_iou(identity, true)
    for key in list(row):
        row[f"{key} gap %"] = 100 * (row[key] - base[key]) / (PIX2PIX[key] - base[key])
    row["edge %"] = 100 * float((pred >= EDGE_LEVEL).mean())
    return row


def run_d_b(run: str) -> PatchDiscriminator:
    """The D_B of ``run``'s last checkpoint, in eval mode."""
    payload = load_checkpoint(latest_checkpoint(run))
    model = payload["config"]["model"]
    D = PatchDiscriminator(1, model["d_width"], model["d_layers"])
    D.load_state_dict(payload["D_B"])
    return D.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="a CycleGAN run on fmnist-edges")
    parser.add_argument("--n", type=int, default=2000, help="held-out maps of each kind")
    parser.add_argument("--train", type=int, default=20000, help="training maps of each kind (probe)")
    parser.add_argument("--steps", type=int, default=1500, help="probe training steps")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_translation(load_config(None, ["data.name=fmnist-edges"]).data, paired=False)
    n = args.n
    a, b = data.test_a.numpy(), data.test_b.numpy()
    # held out: true maps of test garments 0..n-1, made-up maps of the *other* garments n..2n-1
    true, garments = b[:n], a[n : 2 * n]
    made = {"inward": inward_maps(garments), "inner": inner_maps(garments)}
    train_true = data.train_b[: args.train].numpy()  # B's own training maps (garments 30,000+)
    train_garments = data.train_a[: args.train].numpy()  # other garments (0..29,999)
    out: dict = {"as translation": {}, "probe": {}, "runs": {}}
    for name, fn in (("inward", inward_maps), ("inner", inner_maps)):
        out["as translation"][name] = as_translation(fn(a[:n]), b[:n], a[:n])
        D = train_probe(train_true, fn(train_garments), args.steps)
        out["probe"][name] = separation(D, true, made[name], threshold=0.0)
    for run in args.run:
        D, G = run_d_b(run), load_inference(run, "AtoB")[0]
        fakes = translate_images(G, a[n : 2 * n])
        thresholded = np.where(fakes >= EDGE_LEVEL, 255, 0).astype(np.uint8)
        row = {"mean true": float(patch_scores(D, true).mean())}
        for name, maps in {**made, "G_AB": fakes, "G_AB thresholded": thresholded}.items():
            row[f"{name}: " + "mean"] = float(patch_scores(D, maps).mean())
            row[f"{name}: auc vs true"] = separation(D, true, maps, threshold=0.5)["auc"]
        out["runs"][run] = row
    emit(out, args.json)


if __name__ == "__main__":
    main()
