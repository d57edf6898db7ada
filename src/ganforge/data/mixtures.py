"""2-D toy distributions for watching mode collapse: Gaussian mixtures, a spiral, two moons.

Each loader draws ``data.n_points`` points once, from a ``torch.Generator`` seeded with the run
seed (the test split uses a different, equally fixed, seed), so a run always sees the same
points. Mixtures give every mode the same number of points (up to one), in shuffled order,
so the real data itself never under-represents a mode; ``labels`` holds each point's mode.
"""

from __future__ import annotations

import itertools
import math

import torch

from ganforge.data.registry import DataError, Dataset, register

TEST_SEED_OFFSET = 1_000_003  # test points come from seed + this: disjoint from training draws

# PacGAN's settings (Lin et al. 2018, synthetic_data_experiments/*/config.py):
RING8_RADIUS = 1.0  # circle through the 8 centres
RING8_STD = 0.01  # per-coordinate standard deviation of each mode (variance 1e-4)
GRID25_STD = 0.05  # modes at {-4, -2, 0, 2, 4}^2 (variance 0.0025)
SPIRAL_TURNS = 2.0  # full turns from the centre to radius 1
SPIRAL_NOISE = 0.02  # Gaussian noise added to each coordinate
MOONS_NOISE = 0.05  # Gaussian noise added to each coordinate (sklearn's `noise`)


def _generator(seed: int, split: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed + (TEST_SEED_OFFSET if split == "test" else 0))


def _check_count(n_points: int) -> None:
    if n_points < 1:
        raise DataError(f"data.n_points must be at least 1, got {n_points}")


def balanced_components(n_points: int, n_components: int, generator: torch.Generator):
    """int64 ``[n_points]`` component indices: equal counts (up to one), shuffled."""
    components = torch.arange(n_points) % n_components
    return components[torch.randperm(n_points, generator=generator)]


def sample_mixture(
    centres: torch.Tensor, std: float, n_points: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of an isotropic Gaussian mixture with equal weights.

    ``centres`` is ``[K, 2]``; returns float32 points ``[n_points, 2]`` and int64 mode
    indices ``[n_points]``.
    """
    components = balanced_components(n_points, len(centres), generator)
    noise = torch.randn(n_points, centres.shape[1], generator=generator)
    return centres[components] + std * noise, components


def ring8_centres() -> torch.Tensor:
    """float32 ``[8, 2]``: evenly spaced on a circle of radius ``RING8_RADIUS``."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (RING8_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid25_centres() -> torch.Tensor:
    """float32 ``[25, 2]``: the grid {-4, -2, 0, 2, 4}^2."""
    return torch.tensor(list(itertools.product(range(-4, 5, 2), repeat=2)), dtype=torch.float32)


def _mixture_set(name: str, centres: torch.Tensor, std: float, cfg, seed: int) -> Dataset:
    _check_count(cfg.n_points)
    points, components = sample_mixture(centres, std, cfg.n_points, _generator(seed, cfg.split))
    return Dataset(name=name, kind="points", data=points, labels=components, modes=centres, mode_std=std)


@register("ring8", "8 Gaussians on a circle of radius 1, std 0.01 (PacGAN's 2D-ring)", "points")
def load_ring8(cfg, seed: int) -> Dataset:
    return _mixture_set("ring8", ring8_centres(), RING8_STD, cfg, seed)


@register("grid25", "25 Gaussians on a 5x5 grid, spacing 2, std 0.05 (PacGAN's 2D-grid)", "points")
def load_grid25(cfg, seed: int) -> Dataset:
    return _mixture_set("grid25", grid25_centres(), GRID25_STD, cfg, seed)


@register("spiral", "a noisy two-turn spiral inside the unit disc (no discrete modes)", "points")
def load_spiral(cfg, seed: int) -> Dataset:
    """Archimedean spiral r = angle / max_angle with Gaussian noise; no modes."""
    _check_count(cfg.n_points)
    generator = _generator(seed, cfg.split)
    # sqrt makes the density even along the curve (arc length grows with angle squared)
    fraction = torch.rand(cfg.n_points, generator=generator).sqrt()
    angle = fraction * (2 * math.pi * SPIRAL_TURNS)
    curve = torch.stack([fraction * angle.cos(), fraction * angle.sin()], dim=1)
    noise = SPIRAL_NOISE * torch.randn(cfg.n_points, 2, generator=generator)
    return Dataset(name="spiral", kind="points", data=curve + noise)


@register("moons", "two interleaving half circles, like sklearn's make_moons (noise 0.05)", "points")
def load_moons(cfg, seed: int) -> Dataset:
    """sklearn's make_moons geometry with random positions along each moon; labels: 0 upper."""
    _check_count(cfg.n_points)
    generator = _generator(seed, cfg.split)
    moon = balanced_components(cfg.n_points, 2, generator)
    angle = torch.rand(cfg.n_points, generator=generator) * math.pi
    upper = torch.stack([angle.cos(), angle.sin()], dim=1)
    lower = torch.stack([1 - angle.cos(), 0.5 - angle.sin()], dim=1)
    curve = torch.where((moon == 0)[:, None], upper, lower)
    noise = MOONS_NOISE * torch.randn(cfg.n_points, 2, generator=generator)
    return Dataset(name="moons", kind="points", data=curve + noise, labels=moon)
