"""StarGAN's networks (Choi et al. 2018), after the reference ``yunjey/stargan`` ``model.py``.

G translates an image into the domains named by a target label vector ``c`` (one-hot for
single-label domains, multi-hot for attributes). ``c`` is tiled over the image and
concatenated to it as extra input channels; then a 7x7 convolution, two stride-2
down-samplings, ``res_blocks`` residual blocks, two stride-2 up-samplings and a 7x7
convolution to the image channels, with tanh. Instance norm (with its affine scale and shift)
after every hidden convolution, ReLU, no biases (the norm cancels them).

D has no normalisation and LeakyReLU(0.01): stride-2 4x4 convolutions doubling the width from
``d_width``, then two heads on the last feature map: a 3x3 PatchGAN head (one real/fake score
per patch) and a classification head whose kernel covers the whole map (one logit per domain).

**D's depth rule.** The reference fixes 6 down-samplings (128 px -> a 2x2 map) and so
crashes below 64 px. Here the depth is the largest number of halvings, at most 6, that leaves
a map of at least 2x2: ``n = min(6, max{k : floor(S / 2^k) >= 2})``, and the classification
kernel is that map's side. 128 and 256 px get the reference's 6 layers (2x2 and 4x4 maps),
64 px 5 (2x2), 32 px 4 (2x2), 28 px 3 (28 -> 14 -> 7 -> 3: a 3x3 map).

One departure from the reference: its instance norms track running statistics, which
``.eval()`` would then use in place of the image's own; here they never do, so G translates
alike in training and in inference (the reference never calls ``.eval()`` on G either).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

MAX_DOWNSAMPLINGS = 6  # the reference's D depth (repeat_num) at 128 px


class StarGANShapeError(GanforgeError, ValueError):
    """An image size StarGAN's networks cannot take."""


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)


class ResidualBlock(nn.Module):
    """``x + (conv3x3 -> IN -> ReLU -> conv3x3 -> IN)(x)``, shape kept ``[N, C, H, W]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            _norm(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            _norm(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


def check_image_size(image_size: int) -> None:
    """G halves the image twice and doubles it back: the side must be a multiple of 4."""
    if image_size < 8 or image_size % 4:
        raise StarGANShapeError(
            f"StarGAN needs an image side that is a multiple of 4 and at least 8, got "
            f"{image_size}; set data.image_size to e.g. {max(8, image_size // 4 * 4)}"
        )


class StarGenerator(nn.Module):
    """``G(x, c)``: images ``[N, C, S, S]`` in [-1, 1] and target labels ``[N, K]`` (float, 0/1)
    -> translated images ``[N, C, S, S]`` in [-1, 1]."""

    def __init__(
        self, channels: int, num_domains: int, image_size: int, width: int = 64, res_blocks: int = 6
    ):
        super().__init__()
        check_image_size(image_size)
        self.num_domains = num_domains
        layers: list[nn.Module] = [
            nn.Conv2d(channels + num_domains, width, 7, 1, 3, bias=False),
            _norm(width),
            nn.ReLU(inplace=True),
        ]
        current = width
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(current, current * 2, 4, 2, 1, bias=False), _norm(current * 2)]
            layers.append(nn.ReLU(inplace=True))
            current *= 2
        layers += [ResidualBlock(current) for _ in range(res_blocks)]
        for _ in range(2):  # up-sampling
            layers += [nn.ConvTranspose2d(current, current // 2, 4, 2, 1, bias=False), _norm(current // 2)]
            layers.append(nn.ReLU(inplace=True))
            current //= 2
        layers += [nn.Conv2d(current, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        # The label as K constant planes beside the image's channels.
        planes = c.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.main(torch.cat([x, planes], dim=1))


def discriminator_depth(image_size: int) -> tuple[int, int]:
    """``(down-samplings, side of the last feature map)`` by the rule in the module docstring."""
    depth, side = 0, image_size
    while depth < MAX_DOWNSAMPLINGS and side // 2 >= 2:
        depth, side = depth + 1, side // 2
    return depth, side


class StarDiscriminator(nn.Module):
    """``D(x)``: images ``[N, C, S, S]`` -> (PatchGAN scores ``[N, P]``, domain logits ``[N, K]``),
    ``P`` = patches of the last feature map (its side squared)."""

    def __init__(self, channels: int, num_domains: int, image_size: int, width: int = 64):
        super().__init__()
        check_image_size(image_size)
        depth, side = discriminator_depth(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.01)]
        current = width
        for _ in range(depth - 1):
            layers += [nn.Conv2d(current, current * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            current *= 2
        self.main = nn.Sequential(*layers)
        self.patch_head = nn.Conv2d(current, 1, 3, 1, 1, bias=False)
        self.class_head = nn.Conv2d(current, num_domains, side, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.main(x)
        return self.patch_head(h).flatten(1), self.class_head(h).flatten(1)


def generator_meta(channels: int, num_domains: int, image_size: int, width: int, res_blocks: int) -> dict:
    """What ``build_generator`` needs to rebuild G (stored beside exported weights)."""
    return {
        "family": "stargan",
        "channels": channels,
        "num_domains": num_domains,
        "image_size": image_size,
        "g_width": width,
        "res_blocks": res_blocks,
    }


def build_generator(meta: dict[str, Any]) -> StarGenerator:
    """An untrained G of the shape ``meta`` (from ``generator_meta``) describes."""
    return StarGenerator(
        meta["channels"], meta["num_domains"], meta["image_size"], meta["g_width"], meta["res_blocks"]
    )
