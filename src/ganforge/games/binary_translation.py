"""Binary translations for a binary target domain (``train.binary_b``; off by default, not in the
CycleGAN paper).

Why: on fmnist-edges the B images are exactly black or white, and G_AB's tanh outputs never
are. D_B then wins on that cue alone: the preset's trained D_B scores G_AB's translations 0.10-0.16
(LSGAN, 1 = real) against 0.87-0.90 for true maps, 0.64-0.68 once the same translations are
thresholded, and 0.81-0.87 for true maps drawn one pixel inside the garment (docs/translation.md,
"Results", session 7; ``benchmarks/translation_edge_shift.py``). With the gray levels gone from
what D_B sees, its verdict has to rest on where the edges are.

``straight_through_binary`` is the straight-through estimator (Bengio et al. 2013): forward, the
sign of each pixel (-1 or 1); backward, the identity, so G_AB is trained as if D_B and the cycle
had seen its soft output. Both D_B (through its pool) and G_BA's cycle input get the binary
translation, so G_AB cannot hide its input in gray levels that D_B no longer sees.
"""

from __future__ import annotations

import torch
from torch import Tensor


def straight_through_binary(images: Tensor) -> Tensor:
    """``[N, C, H, W]`` in [-1, 1] -> the same shape, every value -1 or 1 (pixels >= 0 -> 1; the
    uint8 threshold 128 of ``metrics/translation.py`` up to rounding); the gradient passes unchanged."""
    hard = torch.where(images >= 0, torch.ones_like(images), -torch.ones_like(images))
    return images + (hard - images).detach()
