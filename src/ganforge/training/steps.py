"""One round of the minimax game: D updates, then a G update (alternating gradient descent).

Every function here stays on the device: no ``.item()``, no printing. They return detached
tensors that the loop accumulates and logs every few steps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge.losses import GANLoss, gradient_penalty


def d_outputs(logits: Tensor, loss: GANLoss) -> Tensor:
    """Mean D output to log: the probability "real" for BCE losses, else the raw score."""
    return (torch.sigmoid(logits) if loss.probabilistic else logits).mean()


def d_step(D: nn.Module, opt_d: torch.optim.Optimizer, loss: GANLoss, real: Tensor,
           fake: Tensor, gp_weight: float = 0.0) -> dict[str, Tensor]:
    """(1) Update D: push D(real) up and D(fake) down. ``fake`` must be detached from G."""
    real_logits, fake_logits = D(real), D(fake)
    d_loss = loss.d(real_logits, fake_logits)
    stats = {"d_real": d_outputs(real_logits.detach(), loss),
             "d_fake": d_outputs(fake_logits.detach(), loss)}
    if loss.gradient_penalty:
        penalty = gradient_penalty(D, real, fake)
        d_loss = d_loss + gp_weight * penalty
        stats["gp"] = penalty.detach()
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    stats["d_loss"] = d_loss.detach()
    return stats


def g_step(D: nn.Module, opt_g: torch.optim.Optimizer, loss: GANLoss,
           fake: Tensor) -> dict[str, Tensor]:
    """(2) Update G through D's judgement of ``fake`` (which must carry G's graph)."""
    D.requires_grad_(False)  # only G learns here; skip D's weight gradients
    g_loss = loss.g(D(fake))
    D.requires_grad_(True)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"g_loss": g_loss.detach()}


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, decay: float) -> None:
    """G_ema <- decay * G_ema + (1 - decay) * G for weights; buffers (BN statistics) copied."""
    ema_params, params = list(G_ema.parameters()), list(G.parameters())
    torch._foreach_lerp_(ema_params, params, 1.0 - decay)
    for ema_buffer, buffer in zip(G_ema.buffers(), G.buffers()):
        ema_buffer.copy_(buffer)
