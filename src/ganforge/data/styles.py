"""``fmnist-styles``: Fashion-MNIST garments in styles, an offline multi-domain benchmark.

Five binary attributes (``STYLE_NAMES``): a colour tint, exactly one of red / green / blue
(an exclusive group, like CelebA's hair colours), ``inverted`` and ``striped``; 3 x 2 x 2 = 12
combinations. Each garment of a split carries one combination drawn with a fixed seed per
split (so the set is the same in every run) and is shown only in it (unpaired: no garment
appears in two styles). ``render`` draws any garment in any combination, which gives the true
translation of a test garment into every target, for scoring only: training never sees it.

The rendering, on the garment's gray level ``g`` in [0, 1] at side S:
1. striped: rows ``y`` with ``(y // STRIPE_ROWS) % 2 == 1`` are dimmed to ``STRIPE_LEVEL * g``;
2. inverted: ``g -> 1 - g`` (after the stripes, so they survive it);
3. tint: RGB = ``g * TINTS[colour]``.
Every step can be undone from the image (the dimming up to uint8 rounding), so a perfect
translator exists and the truth is unambiguous.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ganforge.data.idx import FASHION_MNIST, load_idx_set
from ganforge.data.image_ops import fit_images
from ganforge.data.registry import DataError, Dataset, register

STYLE_NAMES = ["red", "green", "blue", "inverted", "striped"]
TINTS = np.array([[1.0, 0.35, 0.35], [0.35, 1.0, 0.35], [0.35, 0.35, 1.0]], dtype=np.float32)  # RGB
STRIPE_ROWS = 2  # pixels per stripe (dark and light alternate)
STRIPE_LEVEL = 0.4  # brightness kept in the dark stripes
SPLIT_SEEDS = {"train": 20261129, "test": 20261130}  # fixed: the data set never depends on run.seed


def combinations(count: int, split: str) -> torch.Tensor:
    """The attributes of a split's garments: float32 ``[count, 5]`` in {0, 1}, one tint each."""
    generator = torch.Generator().manual_seed(SPLIT_SEEDS[split])
    tint = torch.randint(0, 3, (count,), generator=generator)
    flags = torch.randint(0, 2, (count, 2), generator=generator)
    return torch.cat([torch.nn.functional.one_hot(tint, 3), flags], dim=1).float()


def render(
    garments: torch.Tensor, attributes: torch.Tensor, stripe_level: float = STRIPE_LEVEL
) -> torch.Tensor:
    """Gray garments uint8 ``[N, 1, S, S]`` and attributes ``[N, 5]`` -> uint8 ``[N, 3, S, S]``.

    Exactly one tint must be on per row (``DataError`` otherwise). ``stripe_level`` is the
    brightness kept in the dark stripes: the data set's (``STRIPE_LEVEL``) unless a probe of
    the scoring's sensitivity draws stripes a little off (``benchmarks/stargan_sensitivity.py``)."""
    tints = attributes[:, :3]
    if not torch.all(tints.sum(1) == 1):
        raise DataError("fmnist-styles: every target needs exactly one of red, green, blue")
    g = garments.float() / 255.0
    rows = torch.arange(g.shape[2])
    dark = ((rows // STRIPE_ROWS) % 2 == 1).float()[None, None, :, None]
    striped = attributes[:, 4, None, None, None]
    g = g * (1 - striped * dark * (1 - stripe_level))
    inverted = attributes[:, 3, None, None, None]
    g = g + inverted * (1 - 2 * g)
    colour = tints @ torch.from_numpy(TINTS)  # [N, 3]
    return (g * colour[:, :, None, None] * 255).round().clamp(0, 255).to(torch.uint8)


def unrender(images: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """The gray garment uint8 ``[N, 1, S, S]`` under images ``[N, 3, S, S]`` read as drawn in
    ``attributes [N, 5]``: ``render`` undone step by step (the tint's full channel, inverted
    back, dark stripes brightened). Exact for real images up to rounding; for a translation it
    shows the garment it drew, if it drew the style it was asked for."""
    channel = attributes[:, :3].argmax(1)
    g = images.float().gather(1, channel[:, None, None, None].expand(-1, 1, *images.shape[2:])) / 255
    g = g + attributes[:, 3, None, None, None] * (1 - 2 * g)
    rows = torch.arange(g.shape[2])
    dark = ((rows // STRIPE_ROWS) % 2 == 1).float()[None, None, :, None]
    striped = attributes[:, 4, None, None, None] * dark
    g = g / (1 - striped * (1 - STRIPE_LEVEL))
    return (g * 255).round().clamp(0, 255).to(torch.uint8)


def _split_source(cfg) -> Dataset:
    """The split's Fashion-MNIST images at their own 28 px, all of them (an IDX decode)."""
    native = dataclasses.replace(cfg, image_size=None, channels=None, limit=None)
    return load_idx_set(FASHION_MNIST, native, 0)


def _fit_garments(source: Dataset, cfg) -> tuple[torch.Tensor, torch.Tensor]:
    # Only the first data.limit garments are resized: Pillow resizes one image at a time.
    data, labels = source.data[: cfg.limit], source.labels[: cfg.limit]
    return torch.from_numpy(fit_images(data.numpy(), cfg.image_size, None)), labels


def garments(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's gray garments uint8 ``[N, 1, S, S]`` (S = data.image_size or 28; N the
    split's size or data.limit) and their Fashion-MNIST classes int64 ``[N]``."""
    return _fit_garments(_split_source(cfg), cfg)


@register(
    "fmnist-styles", "Fashion-MNIST in 12 styles (tint, inverted, striped): StarGAN's benchmark", "image"
)
def load_fmnist_styles(cfg, seed: int) -> Dataset:
    del seed  # the split's own seed fixes the styles
    if cfg.channels == 1:
        raise DataError("fmnist-styles is in colour (its tints); set data.channels=3 or leave it empty")
    source = _split_source(cfg)
    images, labels = _fit_garments(source, cfg)
    # Drawn for the whole split, so a garment's styles do not depend on data.limit.
    attributes = combinations(len(source.data), cfg.split)[: len(images)]
    return Dataset(
        name="fmnist-styles",
        kind="image",
        data=render(images, attributes),
        labels=labels,
        class_names=list(FASHION_MNIST.class_names),
        attributes=attributes,
        attribute_names=list(STYLE_NAMES),
    )
