"""G's input distribution: the article's 100-dim uniform noise in [-1, 1], or a standard normal."""

from __future__ import annotations

import torch


def sample_noise(
    n: int, z_dim: int, kind: str, device=None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``z`` of shape ``[n, z_dim]``: U[-1, 1] for ``"uniform"``, N(0, I) for ``"normal"``."""
    if kind == "uniform":
        return torch.rand(n, z_dim, device=device, generator=generator) * 2 - 1
    if kind == "normal":
        return torch.randn(n, z_dim, device=device, generator=generator)
    raise ValueError(f"unknown noise kind {kind!r}; choose uniform or normal")
