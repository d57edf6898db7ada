"""One round of the minimax game: D updates, then a G update (alternating gradient descent).

Every function here stays on the device: no ``.item()``, no printing. They return detached
tensors that the loop accumulates and logs every few steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ganforge.losses import GANLoss, class_cross_entropy, gradient_penalty


def d_outputs(logits: Tensor, loss: GANLoss) -> Tensor:
    """Mean D output to log: the probability "real" for BCE losses, else the raw score."""
    return (torch.sigmoid(logits) if loss.probabilistic else logits).mean()


def judge(D: nn.Module, x: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """D's logits ``[N]``, and class logits ``[N, K]`` from an auxiliary-classifier D (else None).

    ``labels`` (int64 ``[N]``) go to conditional discriminators; None means unconditional.
    """
    out = D(x) if labels is None else D(x, labels)
    return out if isinstance(out, tuple) else (out, None)


def d_step(
    D: nn.Module,
    opt_d: torch.optim.Optimizer,
    loss: GANLoss,
    real: Tensor,
    fake: Tensor,
    gp_weight: float = 0.0,
    real_labels: Tensor | None = None,
    fake_labels: Tensor | None = None,
    aux_weight: float = 1.0,
) -> dict[str, Tensor]:
    """(1) Update D: push D(real) up and D(fake) down. ``fake`` must be detached from G.

    Conditional models pass the labels of both batches; an ACGAN D also learns to name them.
    """
    (real_logits, real_classes), (fake_logits, _) = (judge(D, real, real_labels), judge(D, fake, fake_labels))
    d_loss = loss.d(real_logits, fake_logits)
    stats = {"d_real": d_outputs(real_logits.detach(), loss), "d_fake": d_outputs(fake_logits.detach(), loss)}
    if real_classes is not None:
        # ACGAN: D's classifier learns from real images only. Odena et al. also train it on
        # generated ones, but then D and G agree on a class code of their own: G's class loss
        # falls while a classifier of real images finds ~chance accuracy in its samples.
        aux = class_cross_entropy(real_classes, real_labels)
        d_loss = d_loss + aux_weight * aux
        stats["d_aux"] = aux.detach()
    if loss.gradient_penalty:
        # A conditional D is judged on the interpolates under the real batch's labels.
        critic = D if real_labels is None else (lambda x: judge(D, x, real_labels)[0])
        penalty = gradient_penalty(critic, real, fake)
        d_loss = d_loss + gp_weight * penalty
        stats["gp"] = penalty.detach()
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    stats["d_loss"] = d_loss.detach()
    return stats


def g_step(
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    loss: GANLoss,
    fake: Tensor,
    fake_labels: Tensor | None = None,
    aux_weight: float = 1.0,
) -> dict[str, Tensor]:
    """(2) Update G through D's judgement of ``fake`` (which must carry G's graph).

    ``fake_labels``: the classes a conditional G was asked for (an ACGAN G must also make D
    name them).
    """
    D.requires_grad_(False)  # only G learns here; skip D's weight gradients
    fake_logits, fake_classes = judge(D, fake, fake_labels)
    g_loss = loss.g(fake_logits)
    stats = {}
    if fake_classes is not None:
        aux = class_cross_entropy(fake_classes, fake_labels)
        g_loss = g_loss + aux_weight * aux
        stats["g_aux"] = aux.detach()
    D.requires_grad_(True)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    stats["g_loss"] = g_loss.detach()
    return stats


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, decay: float) -> None:
    """G_ema <- decay * G_ema + (1 - decay) * G for weights; buffers (BN statistics) copied."""
    ema_params, params = list(G_ema.parameters()), list(G.parameters())
    torch._foreach_lerp_(ema_params, params, 1.0 - decay)
    for ema_buffer, buffer in zip(G_ema.buffers(), G.buffers()):
        ema_buffer.copy_(buffer)


@torch.no_grad()
def recompute_bn_stats(G: nn.Module, inputs: Iterable[tuple[Tensor, ...]]) -> None:
    """Re-estimate G's batch-norm running statistics on its own output: the cumulative mean and
    variance of each BN layer's input over the batches ``G(*args) for args in inputs`` (noise
    ``[N, z_dim]``, and classes ``[N]`` for a conditional G), as
    ``torch.optim.swa_utils.update_bn`` does for averaged weights.

    Why: an EMA G averages weights over ~1/(1 - decay) steps, but ``update_ema`` copies the
    statistics of the trained G's recent batches, which do not describe the averaged network's
    activations; in eval mode the mismatch shifts every BN layer. Weights are untouched; G is
    left in the train/eval mode it was in. A G without batch norm is left as it is.
    """
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    was_training = G.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average over every batch below
    G.train()
    try:
        for args in inputs:
            G(*args)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        G.train(was_training)
