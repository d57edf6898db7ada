"""The one conversion between stored pixels and what the networks see.

Data sets keep images as uint8 in 0..255 (4x less memory than floats); G's tanh output and
D's input live in [-1, 1]. ``from_unit_range(to_unit_range(x)) == x`` for every uint8 x.
"""

from __future__ import annotations

import torch


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` in 0..255 -> float32 of the same shape in [-1, 1] (x/127.5 - 1)."""
    if images.dtype != torch.uint8:
        raise TypeError(f"to_unit_range expects uint8 images, got {images.dtype}")
    return images.float() / 127.5 - 1.0


def from_unit_range(x: torch.Tensor) -> torch.Tensor:
    """float ``[N, C, H, W]`` in [-1, 1] -> uint8 in 0..255; values outside are clamped."""
    return ((x.float() + 1.0) * 127.5).clamp(0, 255).round().to(torch.uint8)
