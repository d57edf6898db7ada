"""The U-Net generator of pix2pix (Isola et al. 2017, sec. 3.1 and appendix 6.1.1).

Same layers as ``UnetGenerator`` / ``UnetSkipConnectionBlock`` in
junyanz/pytorch-CycleGAN-and-pix2pix ``networks.py``: 4x4 stride-2 convolutions down to a
1x1 bottleneck, transposed convolutions up, and each level's input concatenated to its
output (the skip connections that carry low-level detail across). Widths: ngf, 2 ngf, 4 ngf,
then 8 ngf for every deeper level; dropout 0.5 on the 8 ngf decoder levels between the 4 ngf one
and the bottleneck when ``dropout`` (pix2pix's noise source; three at 256 px, none at 32 px).

Depth from the size: ``ceil(log2(image_size))`` levels, so 32 px gets 5 (1x1 bottleneck),
128 px 7 (the reference's ``unet_128``) and 256 px 8 (``unet_256``). A side that is not a
power of two (28 px) is reflection-padded to the next one (32) on the way in and cropped back
on the way out, so 28 px gets the 32 px network and its 1x1 bottleneck. Above 256 px the depth
stays 8 and the bottleneck grows.

``full_res`` (not in the paper; ``model.full_res``): the reference's network never computes at
the image's own resolution. Its first layer is already stride 2 and its last a stride-2
transposed convolution of half-size features, so every output pixel is interpolated, which
blurs maps that are sharp per pixel (a colour map, an outline). ``full_res`` adds a full-size
level around it: a 3x3 convolution of the input before the first down-sampling, and at the end
its features concatenated with the network's (now width-channel, un-squashed) output, then a
3x3 convolution, ReLU and a 1x1 convolution to the image channels, tanh.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MAX_DEPTH = 8  # unet_256


def unet_depth(image_size: int) -> int:
    """Down-sampling levels for a square image: enough to reach 1x1, at most 8."""
    return min(MAX_DEPTH, max(2, math.ceil(math.log2(image_size))))


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class SkipBlock(nn.Module):
    """One U-Net level: down, the inner levels, up; ``cat([x, up(...)])`` unless outermost."""

    def __init__(
        self,
        outer: int,
        inner: int,
        sub: nn.Module | None,
        norm: str,
        in_channels: int | None = None,
        out_channels: int | None = None,
        dropout: bool = False,
        squash: bool = True,
    ):
        super().__init__()
        self.outermost = out_channels is not None
        bias = norm != "batch"  # batch norm has its own shift; instance norm (no affine) does not
        down = nn.Conv2d(in_channels or outer, inner, 4, stride=2, padding=1, bias=bias)
        if self.outermost:
            up = nn.ConvTranspose2d(inner * 2, out_channels, 4, stride=2, padding=1)
            layers = [down, sub, nn.ReLU(True), up] + ([nn.Tanh()] if squash else [])
        elif sub is None:  # innermost: no norm on the 1x1 bottleneck, no skip below
            up = nn.ConvTranspose2d(inner, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, _norm(norm, outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, _norm(norm, inner), sub]
            layers += [nn.ReLU(True), up, _norm(norm, outer)] + ([nn.Dropout(0.5)] if dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class _FullSizeSkip(nn.Module):
    """``cat([x, inner(x)])`` at the image's own size: the full-res level's skip connection."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.inner(x)], 1)


class UnetGenerator(nn.Module):
    """``[N, in_channels, S, S]`` in [-1, 1] -> ``[N, out_channels, S, S]`` in [-1, 1].

    ``image_size`` fixes the depth (see the module docstring); other sizes run too when they
    are multiples of ``2 ** depth`` after the same padding. ``norm``: "batch" (the reference's
    pix2pix default) or "instance". ``full_res``: the full-size level of the module docstring.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        image_size: int,
        width: int = 64,
        norm: str = "batch",
        dropout: bool = True,
        full_res: bool = False,
    ):
        super().__init__()
        self.depth = unet_depth(image_size)
        # channels after the d-th down convolution: ngf, 2 ngf, 4 ngf, then 8 ngf (index 0 unused)
        channels = [in_channels] + [width * min(2 ** (d - 1), 8) for d in range(1, self.depth + 1)]
        block = SkipBlock(channels[-2], channels[-1], None, norm)  # innermost
        for d in range(self.depth - 1, 1, -1):
            # the reference's dropout levels: 8 ngf both sides, below the 4 ngf level
            use_dropout = dropout and channels[d - 1] == width * 8
            block = SkipBlock(channels[d - 1], channels[d], block, norm, dropout=use_dropout)
        if not full_res:
            self.model = SkipBlock(width, channels[1], block, norm, in_channels, out_channels)
            return
        # The stem's features skip the whole network (no norm on them: they keep the input's
        # absolute levels, which a colour map is a function of; tests/models/test_translation_nets.py).
        stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.LeakyReLU(0.2, True))
        core = SkipBlock(width, channels[1], block, norm, width, width, squash=False)
        head = [nn.ReLU(True), nn.Conv2d(2 * width, width, 3, padding=1), nn.ReLU(True)]
        head += [nn.Conv2d(width, out_channels, 1), nn.Tanh()]
        self.model = nn.Sequential(stem, _FullSizeSkip(core), *head)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        step = 2**self.depth
        pad_h, pad_w = (-height) % step, (-width) % step
        if pad_h or pad_w:  # e.g. 28 -> 32: reflect, run, crop back
            top, left = pad_h // 2, pad_w // 2
            x = F.pad(x, (left, pad_w - left, top, pad_h - top), mode="reflect")
            return self.model(x)[..., top : top + height, left : left + width]
        return self.model(x)
