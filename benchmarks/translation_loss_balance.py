"""Which of CycleGAN's generator terms pushes G_AB toward the *true* colours? (docs/translation.md,
session 8, fmnist-tint)

The hypothesis it tests: only the adversarial term pins the true colour map (the cycle and
identity terms are satisfied by any invertible map, the identity term also by leaving colour
images alone), and on G_AB it is drowned by the reconstruction terms (weights 10 and 5 against 1).
For a run's checkpoints, on fixed training batches, each G-side term of ``games/cyclegan.py``'s
``g_step`` (GAN A->B, GAN B->A, cycle A, cycle B, identity A, identity B) is differentiated
separately, with the Ds frozen as there:

- w.r.t. G_AB's parameters: norms, cosines between terms, and the cosine with the gradient of
  the *supervised* error ``(G_AB(a) - truth)^2 / 2`` (truth = ``tint(a)``, which the game never
  sees; the L1 error's too, whose gradient weighs every pixel's sign alike, background included):
  positive = descending that term also descends the error to the truth. The same through the
  checkpoint's Adam preconditioner (``g / (sqrt(v_hat) + eps)``, what a step actually follows):
  ``g_sup . P g_k`` is the first-order fall of the supervised error per unit learning rate
  that term k's share of a step buys (negative: it pushes away from the truth);
- w.r.t. G_AB's output image ``G_AB(a)`` (only GAN A->B and cycle A reach it): the descent
  direction ``-dL/do`` projected onto ``truth - o`` (its cosine, and its component along the
  unit direction): does the term push the output toward the true colours? And onto that
  direction's two parts: the colour map's error (G_AB's mean colour per gray level against the
  true one, the same for every pixel of a level) and the scatter around that mean (blur).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_loss_balance.py --run RUN

``--continue-from CHECKPOINT --factors 0.67,0.067``: instead, play the game on from a checkpoint
for ``--steps`` iterations at each fixed learning rate (x the configured one), scoring G_AB's
true MAE every 50: does the game at that rate move toward the truth, or only jitter around a
point the lower rate gets closer to?
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.checkpoint import checkpoint_config, list_checkpoints, load_checkpoint
from ganforge.data.translation import tint
from ganforge.evaluation.translation import translate_images
from ganforge.games.cyclegan import CycleGAN
from ganforge.games.translation_common import to_unit
from ganforge.metrics.translation import mean_absolute_error
from ganforge.models.translation import set_requires_grad
from ganforge.training.state import build_state

TERMS = ("loss_G_AB", "loss_G_BA", "loss_cycle_A", "loss_cycle_B", "loss_idt_A", "loss_idt_B")
TERMS += ("loss_marginal_A", "loss_marginal_B")  # the tint preset's since session 9 (games/marginals.py)
SUPERVISED = "truth L2"  # 1/2 mean (G_AB(a) - tint(a))^2: its gradient weighs pixels by their error
SUPERVISED_L1 = "truth L1"  # the metric's own loss (its gradient: the error's sign, every pixel alike)
RECONSTRUCTION = ("loss_cycle_A", "loss_cycle_B", "loss_idt_B")  # the terms besides GAN A->B on G_AB


def load_game(checkpoint: str | Path) -> tuple[CycleGAN, int]:
    """The CycleGAN game of a checkpoint, nets and optimizers restored; and its step."""
    payload = load_checkpoint(checkpoint)
    state = build_state(checkpoint_config(payload, checkpoint))
    state.restore(payload)
    if not isinstance(state.game, CycleGAN):
        raise SystemExit(f"{checkpoint} is a {state.game.name} checkpoint; this probe reads CycleGAN ones")
    return state.game, state.step


def flat_grad(loss: Tensor, params: list[Tensor]) -> Tensor:
    """d loss / d params as one vector (zeros where the loss does not reach a parameter)."""
    if not loss.requires_grad:  # a G_BA-only term once G_BA is frozen
        return torch.cat([torch.zeros_like(p).flatten() for p in params])
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.cat(
        [torch.zeros_like(p).flatten() if g is None else g.flatten() for g, p in zip(grads, params)]
    )


def adam_scale(game: CycleGAN, params: list[Tensor]) -> Tensor:
    """1 / (sqrt(v_hat) + eps) per G_AB parameter from ``opt_g``'s state: the preconditioner of
    Adam's step (ones before any step)."""
    opt = game.optimizers["opt_g"]
    beta2, eps = opt.param_groups[0]["betas"][1], opt.param_groups[0]["eps"]
    scales = []
    for p in params:
        s = opt.state.get(p, {})
        if "exp_avg_sq" not in s:
            scales.append(torch.ones_like(p).flatten())
            continue
        v_hat = s["exp_avg_sq"] / (1 - beta2 ** float(s["step"]))
        scales.append((1 / (v_hat.sqrt() + eps)).flatten())
    return torch.cat(scales)


def colour_map(G, gray_a: Tensor) -> Tensor:
    """G's mean output colour per input gray level over ``gray_a`` (uint8 [N, 3, H, W], gray as
    RGB): [256, 3] in [-1, 1]; levels that never occur get the true colour (no direction)."""
    with torch.no_grad():
        out = torch.cat([G(to_unit(x)) for x in gray_a.split(250)])
    levels = gray_a[:, 0].flatten().long()
    counts = torch.bincount(levels, minlength=256).float()
    sums = torch.stack([torch.bincount(levels, out[:, c].flatten(), 256) for c in range(3)], 1)
    true = to_unit(torch.from_numpy(tint(np.arange(256, dtype=np.uint8).reshape(1, 1, 1, 256))))[0, :, 0].T
    return torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], true)


def batch_gradients(game: CycleGAN, gray_a: Tensor, real_b: Tensor, mean_map: Tensor) -> dict:
    """One batch: each term's gradient on G_AB's parameters, and on G_AB(a) for the terms reaching it.

    ``gray_a`` uint8 [N, 3, H, W] (A: gray as RGB), ``real_b`` uint8 [N, 3, H, W]; ``mean_map``
    [256, 3] G_AB's mean colour per gray level (``colour_map``). On the output, each term's
    descent direction is compared with ``truth - o`` and its two parts: the colour map's error
    ``truth - mean_map[a]`` (the same for every pixel of a level) and the scatter ``mean_map[a] - o``.
    """
    params = list(game.G_AB.parameters())
    real_a = to_unit(gray_a)
    truth = to_unit(torch.from_numpy(tint(gray_a[:, :1].numpy())))
    fake_b, _, terms = game.g_losses(real_a, to_unit(real_b))
    terms[SUPERVISED] = 0.5 * F.mse_loss(fake_b, truth)
    terms[SUPERVISED_L1] = F.l1_loss(fake_b, truth)
    param_grads = {name: flat_grad(loss, params) for name, loss in terms.items()}
    o = fake_b.detach()
    mapped = mean_map[gray_a[:, 0].long()].permute(0, 3, 1, 2)
    directions = {"truth": truth - o, "map error": truth - mapped, "scatter": mapped - o}
    output = {}
    for name in ("loss_G_AB", "loss_cycle_A"):
        (g,) = torch.autograd.grad(terms[name], fake_b, retain_graph=True)
        row = {"norm": float(g.norm())}
        for d_name, d in directions.items():  # -g: the term's descent direction on the output
            row[f"cos to {d_name}"] = cos(-g.flatten(), d.flatten())
            row[f"along {d_name}"] = float((-g * d).sum() / d.norm())
        output[name] = row
    return {"param": param_grads, "output": output, "mae_to_truth": float((o - truth).abs().mean() / 2)}


def cos(x: Tensor, y: Tensor) -> float:
    return float(F.cosine_similarity(x, y, dim=0)) if x.norm() > 0 and y.norm() > 0 else 0.0


def summarise(batches: list[dict], scale: Tensor) -> dict:
    """Statistics of the batch-mean gradients (what Adam's momentum averages), per-batch spreads."""
    names = list(batches[0]["param"])
    mean = {n: torch.stack([b["param"][n] for b in batches]).mean(0) for n in names}
    recon = sum(mean[n] for n in RECONSTRUCTION if n in mean)
    sup, sup_l1 = mean[SUPERVISED], mean[SUPERVISED_L1]
    terms = [n for n in names if n not in (SUPERVISED, SUPERVISED_L1)]
    per_batch = {n: [cos(b["param"][n], b["param"][SUPERVISED]) for b in batches] for n in terms}
    rows = {}
    for n in terms:
        rows[n] = {
            "norm": float(mean[n].norm()),
            "norm_per_batch": float(np.mean([b["param"][n].norm().item() for b in batches])),
            "norm_over_reconstruction": float(mean[n].norm() / recon.norm()),
            "cos_with_reconstruction": cos(mean[n], recon),
            "cos_to_truth": cos(mean[n], sup),
            "cos_to_truth_per_batch": [
                round(float(np.mean(per_batch[n])), 3),
                round(float(np.std(per_batch[n])), 3),
            ],
            # first-order fall of the supervised error per unit lr from this term's share of a step
            "adam_truth_progress": float((sup * scale * mean[n]).sum()),
            "adam_norm": float((scale * mean[n]).norm()),
            "adam_cos_to_truth": cos(scale * mean[n], scale * sup),
            "cos_to_truth_l1": cos(mean[n], sup_l1),
            "adam_truth_progress_l1": float((sup_l1 * scale * mean[n]).sum()),
        }
    total = sum(mean[n] for n in terms)
    rows["all terms (the step)"] = {
        "norm": float(total.norm()),
        "cos_to_truth": cos(total, sup),
        "adam_truth_progress": float((sup * scale * total).sum()),
        "adam_cos_to_truth": cos(scale * total, scale * sup),
        "cos_to_truth_l1": cos(total, sup_l1),
        "adam_truth_progress_l1": float((sup_l1 * scale * total).sum()),
    }
    pairs = {
        f"{x} . {y}": round(cos(mean[x], mean[y]), 3) for i, x in enumerate(terms) for y in terms[i + 1 :]
    }
    output = {
        n: {k: float(np.mean([b["output"][n][k] for b in batches])) for k in batches[0]["output"][n]}
        for n in batches[0]["output"]
    }
    mae = float(np.mean([b["mae_to_truth"] for b in batches]))
    return {"params": rows, "cosines": pairs, "output": output, "batch_mae_to_truth": mae}


def probe_checkpoint(checkpoint: str | Path, batches: int, batch_size: int, seed: int) -> dict:
    """All figures for one checkpoint on ``batches`` fixed training batches (the same for each one)."""
    game, step = load_game(checkpoint)
    set_requires_grad([game.D_A, game.D_B, game.G_BA], False)  # gradients still flow *through* them
    data = game.dataset
    mean_map = colour_map(game.G_AB, data.train_a[:1000])
    rng = torch.Generator().manual_seed(seed)
    found = []
    for _ in range(batches):
        ia = torch.randint(len(data.train_a), (batch_size,), generator=rng)
        ib = torch.randint(len(data.train_b), (batch_size,), generator=rng)
        found.append(batch_gradients(game, data.train_a[ia], data.train_b[ib], mean_map))
    out = summarise(found, adam_scale(game, list(game.G_AB.parameters())))
    out["step"], out["lr_g"] = step, game.optimizers["opt_g"].param_groups[0]["lr"]
    return out


def true_mae(game: CycleGAN, n: int) -> float:
    """G_AB's MAE against the true translations of the first ``n`` test pairs (0-1 scale)."""
    data = game.dataset
    pred = translate_images(game.G_AB, data.test_a[:n].numpy())
    return mean_absolute_error(pred, data.test_b[:n].numpy())


def continue_at(checkpoint: str | Path, steps: int, factor: float, every: int, n_test: int) -> list:
    """Play ``steps`` more iterations of a checkpoint's game with every learning rate held at
    ``factor`` x the configured one (no schedule): [(step, G_AB's true MAE)] every ``every``.
    Separates what the game's drift does to the true error at a given rate from annealing
    (a lower rate: less jitter around wherever the game sits)."""
    game, step = load_game(checkpoint)
    game.set_lr_factor(factor)
    found = [(step, true_mae(game, n_test))]
    for i in range(1, steps + 1):
        game.iteration()
        if i % every == 0:
            found.append((step + i, true_mae(game, n_test)))
    return found


def print_summary(name: str, found: dict) -> None:
    print(f"\n== {name}: step {found['step']}, lr_g {found['lr_g']:.2e}, batch MAE to truth "
          f"{found['batch_mae_to_truth']:.4f}")  # fmt: skip
    keys = ("norm", "norm_over_reconstruction", "cos_with_reconstruction", "cos_to_truth")
    keys += ("adam_truth_progress", "cos_to_truth_l1", "adam_truth_progress_l1")
    print(f"{'term':20s} " + " ".join(f"{k[-13:]:>13s}" for k in keys))
    for term, row in found["params"].items():
        print(f"{term[:20]:20s} " + " ".join(f"{row[k]:13.4g}" if k in row else " " * 13 for k in keys))
    for term, row in found["output"].items():
        print(f"on G_AB(a), {term}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="a CycleGAN run folder (its checkpoints/step_*.pt)")
    parser.add_argument("--batches", type=int, default=16, help="fixed training batches per checkpoint")
    parser.add_argument("--batch-size", type=int, default=8, help="the preset's train.batch_size")
    parser.add_argument("--seed", type=int, default=0, help="which training images form the batches")
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--continue-from", default=None, help="a checkpoint: play on at fixed rates instead")
    parser.add_argument("--factors", default="1,0.1", help="rate factors (x the configured lr) to play on at")
    parser.add_argument("--steps", type=int, default=200, help="iterations to play on")
    parser.add_argument("--test", type=int, default=2000, help="test pairs for the true MAE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    out = {}
    if args.continue_from:
        for factor in [float(f) for f in args.factors.split(",")]:
            out[f"lr x {factor}"] = continue_at(args.continue_from, args.steps, factor, 50, args.test)
            print(f"lr x {factor}: (step, true MAE) {out[f'lr x {factor}']}", flush=True)
    for path in [] if args.continue_from else list_checkpoints(args.run):
        out[path.name] = probe_checkpoint(path, args.batches, args.batch_size, args.seed)
        print_summary(path.name, out[path.name])
    out["cpu_seconds"] = round(time.process_time() - start, 1)
    print(f"CPU seconds: {out['cpu_seconds']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
