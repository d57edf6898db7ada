"""PatchGAN discriminators (Isola et al. 2017, sec. 3.2.2; ``NLayerDiscriminator`` in
junyanz/pytorch-CycleGAN-and-pix2pix ``networks.py``).

``d_layers`` stride-2 4x4 convolutions (widths ndf, 2 ndf, 4 ndf, 8 ndf at most), then a
stride-1 convolution and a stride-1 convolution to one channel: a grid of logits, each judging
one patch. With 3 layers the patches are 70x70 px and a 256 px image gives a 30x30 grid. The
grid side is ``floor(S / 2**d_layers) - 2``; small images need fewer layers to keep it > 1x1.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

MIN_GRID = 2  # patch-grid side a PatchGAN must keep (1x1 would judge the whole image at once)


class ModelConfigError(GanforgeError, ValueError):
    """A network setting that does not fit the image size."""


def patch_grid(image_size: int, d_layers: int) -> int:
    """Side of the logit grid a ``d_layers`` PatchGAN gives on ``image_size`` px images."""
    return image_size // 2**d_layers - 2


def receptive_field(d_layers: int) -> int:
    """Patch side in pixels: 16, 34, 70, 142 for 1..4 layers (4x4 kernels, strides 2..2, 1, 1)."""
    field = 1
    for stride in reversed([2] * d_layers + [1, 1]):
        field = field * stride + (4 - stride)
    return field


def default_d_layers(image_size: int) -> int:
    """3 layers (70 px patches, the reference) from 128 px; 2 (34 px) from 48 px; 1 (16 px) below.

    Smaller images get smaller patches so each patch stays about a quarter to a half of the
    image, as 70 px is of 256 px, rather than one patch that sees the whole image.
    """
    return 3 if image_size >= 128 else 2 if image_size >= 48 else 1


def check_d_layers(image_size: int, d_layers: int) -> None:
    """Raise a clear error when ``d_layers`` leaves a patch grid smaller than 2x2."""
    if d_layers < 1 or patch_grid(image_size, d_layers) < MIN_GRID:
        most = max((n for n in range(1, 9) if patch_grid(image_size, n) >= MIN_GRID), default=0)
        raise ModelConfigError(
            f"model.d_layers={d_layers} leaves a {max(patch_grid(image_size, d_layers), 0)}x"
            f"{max(patch_grid(image_size, d_layers), 0)} patch grid at {image_size} px; use 1..{most} "
            "(or none: from the image size)"
        )


NORMS = ("instance", "batch", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    """``instance`` (the reference's CycleGAN D), ``batch`` (pix2pix) or ``none``."""
    if kind not in NORMS:
        raise ModelConfigError(f"unknown discriminator norm '{kind}'; use one of {', '.join(NORMS)}")
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class PatchDiscriminator(nn.Module):
    """``[N, in_channels, S, S]`` in [-1, 1] -> logits ``[N, 1, G, G]``, G = ``patch_grid(S, d_layers)``.

    For pix2pix's conditional D(x, y), ``in_channels`` is the sum of both images' channels
    and the caller concatenates them (``ConditionalPatchDiscriminator``).
    """

    def __init__(self, in_channels: int, width: int = 64, d_layers: int = 3, norm: str = "instance"):
        super().__init__()
        bias = norm != "batch"  # a batch norm's shift replaces the conv's bias
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        channels = width
        for n in range(1, d_layers + 1):
            out = width * min(2**n, 8)
            stride = 2 if n < d_layers else 1  # the last widening conv keeps the resolution
            layers += [
                nn.Conv2d(channels, out, 4, stride, 1, bias=bias),
                _norm(norm, out),
                nn.LeakyReLU(0.2, True),
            ]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class ConditionalPatchDiscriminator(PatchDiscriminator):
    """pix2pix's D(x, y): judges ``y`` given ``x`` by concatenating them along channels."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:  # type: ignore[override]
        return self.model(torch.cat([x, y], 1))
