"""Where do G_AB's loss terms push its translations? (docs/translation.md, session 8)

For a trained fmnist-tint CycleGAN run (last checkpoint), on test garments ``a`` with true
colours ``b``: the gradient of each term of G_AB's loss with respect to its output ``y = G_AB(a)``
(the adversarial term through the run's own D_B, the A -> B -> A cycle through its G_BA, at the
game's weights), and how the descent direction ``-grad`` lines up with the error left,
``b - y``: the cosine (over garment pixels; > 0: the term pulls towards the truth, 0: it
is blind to the truth, < 0: it pulls away), and each term's share of the summed descent
direction's pull towards the truth. Split by the gray-level spread of each pixel's 3x3
neighbourhood (flat .. texture), as in translation_tint_probe.py. Batches of 8, the game's.

A measurement that can come out either way: a D_B that sees the error (session 7: AUC 0.98)
may or may not give G_AB a gradient towards the true colours; the cycle, satisfied by any map
G_BA can invert, may pull towards the truth, nowhere, or towards the run's own wrong colours.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_tint_gradients.py --run RUN \
        [--step N] [--fresh-critic]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from probe_output import emit
from translation_tint_probe import fit_critic, spread3x3

from ganforge.checkpoint import load_checkpoint, load_inference, load_latest_checkpoint
from ganforge.config import load_config
from ganforge.data.translation import load_translation
from ganforge.losses import get_loss
from ganforge.models.translation import build_discriminator

FRESH_STEPS = 400  # the fresh critic: translation_tint_probe.py's recipe (batch 64, Adam 1e-3)
SPREADS = ((0, 25), (25, 60), (60, 256))  # 3x3 gray-level spread: flat, between, texture/edges


def spread_masks(gray: np.ndarray) -> dict[str, np.ndarray]:
    """uint8 ``[N, H, W]`` -> boolean masks of garment pixels per 3x3 spread bin (plus 'all')."""
    spread = spread3x3(gray)
    masks = {"all garment": gray > 0}
    for lo, hi in SPREADS:
        masks[f"spread {lo}-{hi - 1}"] = (gray > 0) & (spread >= lo) & (spread < hi)
    return masks


def term_gradients(
    run: str, a: torch.Tensor, batch: int, step: int | None = None
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """G_AB(a) ``[N, 3, H, W]`` in [-1, 1] and d(term)/d(output) of each term, same shape."""
    if step is None:
        _, payload = load_latest_checkpoint(run, quiet=True)
    else:  # an earlier checkpoint: its Gs from the payload, built as the run's exports are
        payload = load_checkpoint(Path(run) / "checkpoints" / f"step_{step:07d}.pt")
    cfg = payload["config"]
    D_B = build_discriminator(3, 28, cfg["model"]["d_width"], cfg["model"]["d_layers"])
    D_B.load_state_dict(payload["D_B"])
    G_AB, G_BA = load_inference(run, "AtoB")[0], load_inference(run, "BtoA")[0]
    G_AB.load_state_dict(payload["G_AB"])
    G_BA.load_state_dict(payload["G_BA"])
    for net in (D_B, G_BA):
        net.requires_grad_(False)
    loss_g, lam = get_loss(cfg["train"]["loss"]).g, cfg["train"]["cycle_weight"]
    outs, grads = [], {"adversarial": [], "cycle A": []}
    for x in a.split(batch):
        x = x.float() / 127.5 - 1
        with torch.no_grad():
            y = G_AB(x)
        outs.append(y)
        for name, term in (
            ("adversarial", lambda y: loss_g(D_B(y))),
            ("cycle A", lambda y, x=x: lam * F.l1_loss(G_BA(y), x)),
        ):
            y = y.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(term(y), y)
            grads[name].append(g)
    return torch.cat(outs), {k: torch.cat(v) for k, v in grads.items()}


def fresh_critic_gradient(y: torch.Tensor, real: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Train a fresh critic of the game's D architecture (16 px PatchGAN, instance norm) to tell
    ``real`` B images from the fakes ``y`` (both [-1, 1]; the one that *sees*, session 7: AUC
    0.98) and return d(-mean logit)/dy: the direction that makes each fake look more real to it."""
    torch.manual_seed(seed)
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(y))])
    net = fit_critic(
        build_discriminator(3, 28, 16, 1, norm="instance"), torch.cat([real, y]), labels, FRESH_STEPS
    )
    net.requires_grad_(False)
    y = y.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(-net(y).flatten(1).mean(1).sum(), y)
    return g


def alignment(y: torch.Tensor, b: torch.Tensor, grads: dict, masks: dict) -> dict:
    """Per mask: cosine of each term's descent direction with the error ``b - y``, its pull
    towards the truth (``-grad . e / |e|``, summed), and the RMS gradient per pixel."""
    err = (b - y).permute(1, 0, 2, 3)  # [3, N, H, W]
    total = sum(g for name, g in grads.items() if not name.startswith("fresh"))  # the game's terms
    out = {}
    for mname, m in masks.items():
        mt = torch.from_numpy(m)
        e = err[:, mt]
        row = {"error_mae_0_1": round(float(e.abs().mean() / 2), 4)}
        for name, g in [*grads.items(), ("sum", total)]:
            d = -g.permute(1, 0, 2, 3)[:, mt]
            cos = float((d * e).sum() / (d.norm() * e.norm() + 1e-12))
            row[name] = {
                "cos_with_error": round(cos, 3),
                "pull_to_truth": float((d * e).sum() / (e.norm() + 1e-12)),
                "rms_grad": float(d.pow(2).mean().sqrt()),
            }
        out[mname] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a CycleGAN run folder trained on fmnist-tint")
    parser.add_argument("--n", type=int, default=1000, help="test garments (0..n-1)")
    parser.add_argument("--batch", type=int, default=8, help="the game's batch size")
    parser.add_argument("--step", type=int, default=None, help="checkpoints/step_N.pt (default: the last)")
    parser.add_argument("--fresh-critic", action="store_true", help="also a fresh critic's gradient")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    data = load_translation(load_config(None, ["data.name=fmnist-tint"]).data, paired=False)
    a, b = data.test_a[: args.n], data.test_b[: args.n].float() / 127.5 - 1
    y, grads = term_gradients(args.run, a, args.batch, args.step)
    if args.fresh_critic:  # real B: tinted test garments 5,000+ (no garment in both sets)
        real = data.test_b[5000 : 5000 + args.n].float() / 127.5 - 1
        grads = {**grads, "fresh critic (not in the sum)": fresh_critic_gradient(y, real)}
    out = alignment(y, b, grads, spread_masks(a[:, 0].numpy()))
    out["cpu_seconds"] = round(time.process_time() - start, 1)
    emit(out, args.json)


if __name__ == "__main__":
    main()
