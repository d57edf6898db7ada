"""Why does CycleGAN stop at 0.35x identity's MAE on fmnist-tint? (docs/translation.md, session 7)

Two probes of one trained run, each able to come out either way:

(a) *Detectability*: fresh critics, trained to tell real B images (tinted test garments
5,000-9,999) from the run's G_AB translations of test garments 0-4,999, scored on held-out
images (the last ``--held`` of each). High accuracy: a critic can see the error, so the game's
D is what stops; near chance: the wrong translations are as "real" as the truth to that critic.
Critics: a small CNN over the whole image; the game's own D architecture (16 px PatchGAN,
instance norm), fresh; the same without the norm; a per-pixel net (1x1 convolutions, logits
averaged over the image: it sees only the colour histogram). Fakes: the run's translations;
the run's average colour per gray level applied sharply (its colour error alone); the true
colours plus the run's scatter around its own average (its blur alone); and real B images of
other garments (the control: every critic should be at chance). The run's own D_B is scored
too (AUC; it needs no training).

(b) *The colour map*: the run's mean output colour per input gray level against the true map
and against the map *distribution matching* implies (the monotone transport of A's gray-level
histogram onto B's luminance histogram, training images): if the run sits near a different
distribution-preserving map, the unpaired game cannot pin the colours; if the transport
equals the true map and the run is off both, it can.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_tint_probe.py --run RUN
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.checkpoint import load_inference, load_latest_checkpoint
from ganforge.config import load_config
from ganforge.data.translation import load_translation, tint
from ganforge.evaluation.translation import translate_images
from ganforge.metrics.separation import auc
from ganforge.models.translation import build_discriminator

LUMA = np.array([0.299, 0.587, 0.114])  # Rec. 601 luminance of an RGB colour
SHOW_LEVELS = (16, 48, 80, 112, 144, 176, 208, 240)


# ---- (b) the colour map -------------------------------------------------------------------


def level_means(gray: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``gray`` uint8 [N, H, W], ``values`` [N, C, H, W] (e.g. RGB on 0-255) -> [256, C] mean per
    gray level (NaN where a level never occurs)."""
    levels = gray.reshape(-1)
    flat = values.transpose(1, 0, 2, 3).reshape(values.shape[1], -1).astype(np.float64)
    counts = np.bincount(levels, minlength=256).astype(np.float64)
    sums = np.stack([np.bincount(levels, flat[c], 256) for c in range(len(flat))], 1)
    with np.errstate(invalid="ignore"):
        return sums / counts[:, None]


def transport_map(gray_a: np.ndarray, rgb_b: np.ndarray) -> np.ndarray:
    """The monotone transport of A's gray levels onto B's luminances: the k-th darkest A pixel
    gets the colour of the k-th darkest B pixel; [256, 3] mean colour given per gray level."""
    levels = np.sort(gray_a.reshape(-1), kind="stable")
    colours = rgb_b.transpose(1, 0, 2, 3).reshape(3, -1).T.astype(np.float64)
    colours = colours[np.argsort(colours @ LUMA, kind="stable")]
    # equal pixel counts: take B's colours at A's quantiles
    index = np.linspace(0, len(colours) - 1, len(levels)).round().astype(np.int64)
    return level_means(levels[None, None], colours[index].T[None, :, None])


def curve_distance(rgb: np.ndarray, gray: np.ndarray) -> float:
    """Mean distance (0-1 scale, RGB Euclidean) of garment pixels' colours to B's colour curve."""
    curve = tint(np.arange(256, dtype=np.uint8).reshape(1, 1, 1, 256))[0, :, 0].T.astype(np.float64)
    pixels = rgb.transpose(1, 0, 2, 3).reshape(3, -1).T[gray.reshape(-1) > 0].astype(np.float64)
    pixels = pixels[:: max(1, len(pixels) // 200_000)]
    d2 = (pixels**2).sum(1, keepdims=True) - 2 * pixels @ curve.T + (curve**2).sum(1)
    return float(np.sqrt(np.maximum(d2.min(1), 0)).mean() / 255)


def map_report(gray_test: np.ndarray, pred: np.ndarray, data) -> dict:
    """Compare the run's mean colour map with the true map and the transport map."""
    true_map = tint(np.arange(256, dtype=np.uint8).reshape(1, 1, 1, 256))[0, :, 0].T.astype(np.float64)
    run_map = level_means(gray_test, pred)
    ot_map = transport_map(data.train_a[:5000, 0].numpy(), data.train_b[:5000].numpy())
    weights = np.bincount(gray_test[gray_test > 0].reshape(-1), minlength=256).astype(np.float64)
    weights /= weights.sum()

    def gap(m1: np.ndarray, m2: np.ndarray) -> float:  # garment-pixel-weighted mean |diff|, 0-1
        diff = np.nan_to_num(np.abs(m1 - m2).mean(1))
        return float((weights * diff).sum() / 255)

    report = {
        "texture": texture_split(
            gray_test, pred.astype(np.float64), tint(gray_test[:, None]).astype(np.float64)
        ),
        "run_vs_true": gap(run_map, true_map),
        "run_vs_transport": gap(run_map, ot_map),
        "transport_vs_true": gap(ot_map, true_map),
        "curve_distance_run": curve_distance(pred, gray_test),
        "curve_distance_run_mean_map": curve_distance(
            np.nan_to_num(run_map)[gray_test].transpose(0, 3, 1, 2), gray_test
        ),
        "levels": {
            int(g): {
                "true": true_map[g].round().tolist(),
                "transport": ot_map[g].round().tolist(),
                "run": run_map[g].round().tolist(),
            }
            for g in SHOW_LEVELS
        },
    }
    return report


SPREADS = ((0, 9), (9, 25), (25, 60), (60, 256))  # max - min gray level in a pixel's 3x3 neighbourhood


def spread3x3(gray: np.ndarray) -> np.ndarray:
    """uint8 ``[N, H, W]`` -> int16 ``[N, H, W]``: max - min gray level in each pixel's 3x3
    neighbourhood (edges repeated): 0 on flat regions, large on texture and edges."""
    g = np.pad(gray.astype(np.int16), ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = gray.shape[1:]
    near = np.stack(
        [g[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    )
    return near.max(0) - near.min(0)


def texture_split(gray: np.ndarray, pred: np.ndarray, true: np.ndarray) -> dict[str, dict[str, float]]:
    """Garment pixels by their 3x3 neighbourhood's gray-level spread (flat .. edges): share of all
    pixels, MAE, and the MAE left if each got the mean output of *its bin's* pixels of its level
    (the colour map as seen on flat pixels, on textured ones...). ``gray`` [N, H, W]; 0-255."""
    spread = spread3x3(gray)
    out = {}
    for lo, hi in SPREADS:
        m = (gray > 0) & (spread >= lo) & (spread < hi)
        if not m.any():
            continue
        levels, p, t = gray[m], pred.transpose(1, 0, 2, 3)[:, m], true.transpose(1, 0, 2, 3)[:, m]
        means = np.nan_to_num(level_means(levels[None, None], p[None, :, None]))
        out[f"spread {lo}-{hi - 1}"] = {
            "share": round(float(m.mean()), 3),
            "mae": round(float(np.abs(p - t).mean() / 255), 4),
            "level_mean_mae": round(float(np.abs(means[levels].T - t).mean() / 255), 4),
        }
    return out


# ---- (a) detectability --------------------------------------------------------------------


def small_cnn() -> nn.Module:
    """A critic over the whole 28 px image, no normalisation."""
    act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(3, 32, 4, 2, 1), act(), nn.Conv2d(32, 64, 4, 2, 1), act(),
        nn.Conv2d(64, 64, 3, 1, 1), act(), nn.Flatten(), nn.Linear(64 * 7 * 7, 1),
    )  # fmt: skip


def pixel_net() -> nn.Module:
    """A per-pixel critic: its logits, averaged over the image, see only the colour histogram."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 1), nn.LeakyReLU(0.2), nn.Conv2d(32, 32, 1), nn.LeakyReLU(0.2), nn.Conv2d(32, 1, 1)
    )


CRITICS = {
    "cnn": small_cnn,
    "patch16-instance (the game's D)": lambda: build_discriminator(3, 28, 16, 1, norm="instance"),
    "patch16-no-norm": lambda: build_discriminator(3, 28, 16, 1, norm="none"),
    "per-pixel": pixel_net,
}


def scores(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Per-image mean logit of uint8 [N, 3, H, W] images."""
    with torch.no_grad():
        return torch.cat([net(x.float() / 127.5 - 1).flatten(1).mean(1) for x in images.split(500)])


def fit_critic(net: nn.Module, x: torch.Tensor, labels: torch.Tensor, steps: int) -> nn.Module:
    """Adam 1e-3, random batches of 64 of ``x`` (float [N, 3, H, W] in [-1, 1]), binary
    cross-entropy of the mean logit against ``labels`` (1 = real). Returns ``net``."""
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(steps):
        idx = torch.randint(len(x), (64,))
        loss = F.binary_cross_entropy_with_logits(net(x[idx]).flatten(1).mean(1), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def train_critic(make, real: torch.Tensor, fake: torch.Tensor, held: int, steps: int, seed: int) -> dict:
    """Train ``make()`` on all but the last ``held`` of each uint8 set; held-out accuracy and AUC."""
    torch.manual_seed(seed)
    train_x = torch.cat([real[:-held], fake[:-held]]).float() / 127.5 - 1
    train_y = torch.cat([torch.ones(len(real) - held), torch.zeros(len(fake) - held)])
    net = fit_critic(make(), train_x, train_y, steps)
    r, f = scores(net, real[-held:]), scores(net, fake[-held:])
    return {"acc": float(((r > 0).float().mean() + (f <= 0).float().mean()) / 2), "auc": auc(r, f)}


def game_d_auc(run: str, real: torch.Tensor, fake: torch.Tensor, held: int) -> float:
    """AUC of the run's own D_B (last checkpoint) on the held-out images."""
    _, payload = load_latest_checkpoint(run, quiet=True)
    cfg = payload["config"]["model"]
    D = build_discriminator(3, 28, cfg["d_width"], cfg["d_layers"])
    D.load_state_dict(payload["D_B"])
    return auc(scores(D.eval(), real[-held:]), scores(D.eval(), fake[-held:]))


def d_gaps(run: str, parts: int = 4) -> dict[str, list[float]]:
    """Mean ``d_real - d_fake`` of each D over each ``parts``-th of the run (metrics.csv): how
    well the game's Ds told its reals from its fakes as it trained (0: a D that gave up)."""
    import csv

    rows = list(csv.DictReader(open(f"{run}/metrics.csv")))
    gaps = {}
    for d in ("A", "B"):
        diffs = [float(r[f"d_real_{d}"]) - float(r[f"d_fake_{d}"]) for r in rows if r.get(f"d_real_{d}")]
        chunks = np.array_split(np.array(diffs), parts)
        gaps[f"D_{d}"] = [round(float(c.mean()), 3) for c in chunks if len(c)]
    return gaps


def cycle_report(run: str, data, n: int = 2000) -> dict[str, float]:
    """Does G_AB read a hidden signal in G_BA's output (Chu et al. 2017)? MAE against the true
    B of: G_AB on test gray garments; G_AB on G_BA(b) (the B cycle); G_AB on G_BA(b) made exactly
    gray (any colour G_BA hid in its channels removed). Also G_BA(b)'s MAE against the true gray
    and its chroma (mean |channel difference|, 0-255) on garment pixels."""
    G_AB, G_BA = load_inference(run, "AtoB")[0], load_inference(run, "BtoA")[0]
    a, b = data.test_a[:n].numpy(), data.test_b[:n].numpy().astype(np.float64)
    fake_a = translate_images(G_BA, b.astype(np.uint8))
    gray = np.repeat(fake_a.astype(np.float64).mean(1, keepdims=True).round(), 3, 1).astype(np.uint8)
    mae = lambda x: float(np.abs(x.astype(np.float64) - b).mean() / 255)  # noqa: E731
    f = fake_a.astype(np.float64)
    chroma = (np.abs(f[:, 0] - f[:, 1]) + np.abs(f[:, 1] - f[:, 2]) + np.abs(f[:, 0] - f[:, 2])) / 3
    return {
        "G_AB(a)": mae(translate_images(G_AB, a)),
        "G_AB(G_BA(b))": mae(translate_images(G_AB, fake_a)),
        "G_AB(gray(G_BA(b)))": mae(translate_images(G_AB, gray)),
        "G_BA(b) vs true a": float(np.abs(f - a).mean() / 255),
        "G_BA(b) chroma on garment": float(chroma[a[:, 0] > 0].mean()),
    }


def fake_sets(a: np.ndarray, pred: np.ndarray, test_b: np.ndarray) -> dict[str, np.ndarray]:
    """The fakes each critic is trained against (uint8 [n, 3, H, W]); ``a`` gray uint8 [n, H, W]."""
    run_map = np.nan_to_num(level_means(a, pred))
    mean_out = run_map[a].transpose(0, 3, 1, 2)  # the run's average colour per level, sharp
    true = tint(a[:, None]).astype(np.float64)
    blur_only = np.clip(true + pred - mean_out, 0, 255).round().astype(np.uint8)
    return {
        "the run's G_AB(a)": pred,
        "its colour map alone (sharp)": mean_out.round().astype(np.uint8),
        "true colours + its scatter (blur alone)": blur_only,
        "control: real B of other garments": test_b,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a CycleGAN run folder trained on fmnist-tint")
    parser.add_argument("--held", type=int, default=1000, help="held-out images per class")
    parser.add_argument("--steps", type=int, default=400, help="critic training steps (batch 64)")
    parser.add_argument("--critics", default=",".join(CRITICS), help="comma list ('' for none)")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    data = load_translation(load_config(None, ["data.name=fmnist-tint"]).data, paired=False)
    a = data.test_a[:5000].numpy()
    pred = translate_images(load_inference(args.run, "AtoB")[0], a)
    out = {"map": map_report(a[:, 0], pred, data)}
    print(json.dumps(out["map"], indent=1), flush=True)
    out["cycle"] = cycle_report(args.run, data)
    print(f"MAE against the true B: {out['cycle']}", flush=True)
    real = data.test_b[5000:10000]
    fakes = fake_sets(a[:, 0], pred, data.test_b[:5000].numpy())
    out["game_D_B_auc"] = game_d_auc(args.run, real, torch.from_numpy(pred), args.held)
    print(f"the run's own D_B, AUC on held-out real B vs its G_AB(a): {out['game_D_B_auc']:.3f}", flush=True)
    out["d_gaps"] = d_gaps(args.run)
    print(f"the game's d_real - d_fake by quarter of the run: {out['d_gaps']}", flush=True)
    out["critics"] = {}
    for name in filter(None, args.critics.split(",")):
        for fake_name, fake in fakes.items():
            row = train_critic(CRITICS[name], real, torch.from_numpy(fake), args.held, args.steps, 0)
            out["critics"][f"{name} | {fake_name}"] = row
            print(f"{name:32s} | {fake_name:40s} acc {row['acc']:.3f} AUC {row['auc']:.3f}", flush=True)
    out["cpu_seconds"] = round(time.process_time() - start, 1)
    print(f"CPU seconds: {out['cpu_seconds']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
