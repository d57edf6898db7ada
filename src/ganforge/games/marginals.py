"""The marginal term of a translation game: how far the *pixel values* of a batch of
translations are, as a distribution, from those of the real images of their target domain
(``train.marginal_weight``; off by default, not in the CycleGAN paper).

Why: a pair of generators can agree on a convention that both cycles accept and no
per-image term can see, such as painting each gray level with the colour of a level a little
off and reading it back the same way (fmnist-tint), or drawing an outline one pixel inside and
filling one pixel outside (fmnist-edges); docs/translation.md, "Session 9". Only the
discriminators can see it, through the distribution of levels, and a patch discriminator sees
that weakly. This term measures that distribution directly: the 1-D Wasserstein distance of the
pixel values projected on a few fixed colour directions (a sliced Wasserstein distance), against
quantiles of a fixed sample of the target domain's training images, so that only the batch of
translations is a source of noise.

It does not move the game's goal: a generator whose translations are distributed as the target
domain's images (the adversarial optimum) has the target's pixel marginals too, so the term is
then only the sampling noise of the batch. It matches pixel values, not images; it says nothing
about where a value goes, which the adversarial and cycle terms still decide.

Under torchrun each rank scores its own slice of the batch (a sort does not split across
ranks), so a 2-process run's term is the mean over the slices, not the whole batch's: close,
not bit-identical to one process of the global batch, unlike the game's other terms.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

QUANTILES = 4096  # reference quantiles kept per direction
REFERENCE_IMAGES = 512  # training images of the target domain they are computed from


def directions(channels: int) -> Tensor:
    """Unit vectors ``[channels, K]`` the pixels are projected on: each channel, and their sum
    (for colour, two chroma axes as well). Fixed, so a resumed run computes the same term."""
    eye = torch.eye(channels)
    if channels == 1:
        return eye
    if channels != 3:
        return torch.cat([eye, torch.ones(channels, 1) / math.sqrt(channels)], dim=1)
    mixes = torch.tensor([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]).T
    return torch.cat([eye, mixes / mixes.norm(dim=0)], dim=1)


def projected(images: Tensor, axes: Tensor) -> Tensor:
    """``[N, C, H, W]`` -> every pixel's value along each axis, sorted: ``[N*H*W, K]``."""
    return (images.movedim(1, -1).reshape(-1, images.shape[1]) @ axes).sort(dim=0).values


class MarginalReference:
    """The pixel-value quantiles of one domain, from an evenly spaced sample of uint8 images
    ``[N, C, H, W]`` (the game's training set of that domain)."""

    def __init__(self, images: Tensor, device: torch.device | str = "cpu"):
        pick = torch.linspace(0, len(images) - 1, min(REFERENCE_IMAGES, len(images))).round().long()
        sample = images[pick].float() / 127.5 - 1
        self.axes = directions(images.shape[1])
        values = projected(sample, self.axes)
        ranks = ((torch.arange(QUANTILES) + 0.5) / QUANTILES * len(values)).long()
        self.quantiles = values[ranks].to(device)  # [QUANTILES, K]
        self.axes = self.axes.to(device)

    def distance(self, fake: Tensor) -> Tensor:
        """Sliced 1-D Wasserstein distance of ``fake``'s pixel values (``[N, C, H, W]`` in
        [-1, 1]) from the reference's, averaged over the axes: a scalar in image units."""
        values = projected(fake, self.axes.to(fake.dtype))
        ranks = ((torch.arange(len(values), device=fake.device) + 0.5) / len(values) * QUANTILES).long()
        return (values - self.quantiles[ranks].to(fake.dtype)).abs().mean()
