"""2-D mixture runs: mode coverage of points drawn from G (PacGAN's protocol: 2,500 samples)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganforge.metrics.errors import MetricError
from ganforge.metrics.registry import METRICS
from ganforge.metrics.toy2d import PACGAN_SAMPLES
from ganforge.sampling import sample_generator


def point_scores(
    G: torch.nn.Module, meta: dict, n: int = PACGAN_SAMPLES, seed: int = 0, batch_size: int = 10_000
) -> dict[str, dict[str, Any]]:
    """Draw ``n`` points from a point-set generator and score them with the registered
    ``mode_coverage`` metric.

    Args:
        G: a generator mapping ``z [N, z_dim]`` to points ``[N, 2]``, e.g. from
            ``checkpoint.load_generator``; it runs in eval mode (its mode is restored after).
        meta: the exported generator's metadata (``generator.json``): ``model.z_dim``,
            ``model.noise``, ``data.modes`` ``[K, 2]`` and ``data.mode_std``.
        n: number of generated points (PacGAN: 2,500).
        seed: seed of the noise, drawn on the CPU so a result does not depend on the device.
        batch_size: points per forward pass (bounds memory for large ``n``).

    Returns:
        ``{column: {"value": ..., ...}}`` for modes_covered (with ``of``: K, and the K
        ``mode_counts``), high_quality_share and reverse_kl (None when no sample is high quality).
    """
    data = meta.get("data", {})
    if data.get("modes") is None or data.get("mode_std") is None:
        raise MetricError(
            f"data set {data.get('name')!r} has no mode centres; mode coverage "
            "needs a Gaussian mixture such as ring8 or grid25"
        )
    if n < 1:
        raise MetricError(f"n must be at least 1 generated point, got {n}")
    points = sample_generator(G, meta, n, seed, batch_size=batch_size)
    return METRICS["mode_coverage"].function(
        points.flatten(1).numpy(), np.asarray(data["modes"]), data["mode_std"]
    )


def evaluate_points(
    G: torch.nn.Module, meta: dict, n: int = PACGAN_SAMPLES, seed: int = 0, batch_size: int = 10_000
) -> dict[str, Any]:
    """``point_scores`` as one flat dict: modes_covered, high_quality_share, reverse_kl,
    mode_counts, n_samples and seed (what the 2-D benchmark table prints)."""
    scores = point_scores(G, meta, n, seed, batch_size)
    flat = point_columns(scores)
    return {**flat, "mode_counts": scores["modes_covered"]["mode_counts"], "n_samples": n, "seed": seed}


def point_columns(scores: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """``point_scores``' result -> ``{column: value}`` as metrics.csv logs them."""
    return {name: score["value"] for name, score in scores.items()}
