"""GAN objectives as pure functions of D's logits.

Each ``d_*`` function takes ``real_logits [N]`` and ``fake_logits [N]`` and each ``g_*``
function takes ``fake_logits [N]``; both return the scalar to *minimise*. Nothing here calls
``backward``: the training step does. The BCE-based losses are written with ``softplus``
(``-log sigmoid(l) = softplus(-l)``, ``-log(1 - sigmoid(l)) = softplus(l)``), which stays finite
where ``log(sigmoid(l))`` would underflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError


def d_bce(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """D's side of the minimax game (Goodfellow et al. 2014, eq. 1), as binary cross-entropy.

    D maximises E[log D(x)] + E[log(1 - D(G(z)))]; we minimise the negation,
    ``-log sigmoid(real) - log(1 - sigmoid(fake))``. Shared by ``minimax`` and ``nonsaturating``.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_minimax(fake_logits: Tensor) -> Tensor:
    """The paper's exact G objective: minimise E[log(1 - D(G(z)))] (eq. 1).

    It saturates: when D confidently rejects fakes (D(G(z)) -> 0) the gradient vanishes,
    which is why the paper itself suggests the non-saturating form for early training.
    """
    return -F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating G objective (Goodfellow et al. 2014, sec. 3): maximise E[log D(G(z))]."""
    return F.softplus(-fake_logits).mean()


def d_lsgan(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Least-squares GAN (Mao et al. 2017, eq. 2 with a=0, b=1): 1/2 E[(D(x)-1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


def g_lsgan(fake_logits: Tensor) -> Tensor:
    """Least-squares GAN G objective (Mao et al. 2017, eq. 2 with c=1): 1/2 E[(D(G(z))-1)^2]."""
    return 0.5 * (fake_logits - 1).pow(2).mean()


def d_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_critic(fake_logits: Tensor) -> Tensor:
    """G objective of the hinge and Wasserstein losses: minimise -E[D(G(z))]."""
    return -fake_logits.mean()


def d_wasserstein(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """WGAN critic (Arjovsky et al. 2017, eq. 3): minimise E[D(G(z))] - E[D(x)].

    Trained with ``gradient_penalty`` (Gulrajani et al. 2017, eq. 3) to keep D 1-Lipschitz.
    """
    return fake_logits.mean() - real_logits.mean()


def gradient_penalty(D: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP's penalty E[(||grad_x D(x_hat)||_2 - 1)^2] on random interpolates x_hat.

    ``real`` and ``fake`` are batches of the same shape; the interpolation weight is drawn
    per example from U[0, 1]. The graph is kept so the penalty can be back-propagated to D.
    """
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def class_cross_entropy(class_logits: Tensor, labels: Tensor) -> Tensor:
    """ACGAN's class term (Odena et al. 2017, eq. 3): -E[log P(C = c | X)] as mean cross-entropy.

    ``class_logits [N, K]`` from D's auxiliary classifier, ``labels`` int64 ``[N]``. D minimises
    it on real images (the paper: on generated ones too; see training/steps.py), G on its
    generated images with the classes it was asked for, each next to its adversarial loss,
    whichever loss that is.
    """
    return F.cross_entropy(class_logits.float(), labels)


@dataclass(frozen=True)
class GANLoss:
    d: Callable[[Tensor, Tensor], Tensor]  # d(real_logits, fake_logits) -> scalar to minimise
    g: Callable[[Tensor], Tensor]  # g(fake_logits) -> scalar to minimise
    summary: str  # one line for `ganforge info`
    probabilistic: bool  # sigmoid(logit) is D's probability "real" (BCE losses only)
    gradient_penalty: bool = False  # add train.gp_weight * gradient_penalty to D's loss


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss(
        d_bce,
        g_minimax,
        "the paper's exact value function; G minimises log(1 - D(G(z))) (saturates)",
        probabilistic=True,
    ),
    "nonsaturating": GANLoss(
        d_bce,
        g_nonsaturating,
        "BCE for D; G maximises log D(G(z)) (the practical default)",
        probabilistic=True,
    ),
    "lsgan": GANLoss(d_lsgan, g_lsgan, "least squares (Mao et al. 2017)", probabilistic=False),
    "hinge": GANLoss(d_hinge, g_critic, "hinge loss (Lim & Ye 2017, SN-GAN)", probabilistic=False),
    "wgan-gp": GANLoss(
        d_wasserstein,
        g_critic,
        "Wasserstein critic + gradient penalty (Gulrajani et al. 2017)",
        probabilistic=False,
        gradient_penalty=True,
    ),
}


class LossError(GanforgeError, ValueError):
    """An unknown loss name."""


def get_loss(name: str) -> GANLoss:
    if name not in LOSSES:
        raise LossError(f"unknown loss '{name}'; choose one of: " + ", ".join(LOSSES))
    return LOSSES[name]
