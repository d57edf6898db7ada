"""``MetricError`` and the input checks every metric function shares.

The metric functions take plain arrays (features, probabilities, points) and must refuse bad
input with a one-line message that names the problem and the fix, never a deep traceback.
"""

from __future__ import annotations

import numpy as np

from ganforge.errors import GanforgeError


class MetricError(GanforgeError, ValueError):
    """Metric input that cannot give a meaningful number (shape, NaN, too few samples)."""


class MetricWarning(UserWarning):
    """A metric ran, but with a setting changed to fit the input (e.g. a smaller KID subset)."""


def as_float_array(values, name: str, ndim: int) -> np.ndarray:
    """``values`` as a finite float64 array with ``ndim`` dimensions, or ``MetricError``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MetricError(f"{name} must be numeric, got {type(values).__name__}") from error
    if array.ndim != ndim:
        raise MetricError(f"{name} must be {ndim}-D, got shape {tuple(array.shape)}")
    if not np.isfinite(array).all():
        bad = int(array.size - np.isfinite(array).sum())
        raise MetricError(f"{name} holds {bad} NaN/inf values; check the generator output")
    return array


def as_features(values, name: str, min_samples: int = 1) -> np.ndarray:
    """``values`` as finite float64 features ``[N, D]`` with ``N >= min_samples`` and ``D >= 1``."""
    feats = as_float_array(values, name, ndim=2)
    if feats.shape[1] < 1:
        raise MetricError(f"{name} has no feature columns (shape {tuple(feats.shape)})")
    if feats.shape[0] < min_samples:
        raise MetricError(f"{name} has {feats.shape[0]} samples but this metric needs at least {min_samples}")
    return feats


def check_same_dim(feats_a: np.ndarray, feats_b: np.ndarray, name_a: str, name_b: str) -> None:
    """Both ``[N, D]`` arrays must share the feature dimension ``D``."""
    if feats_a.shape[1] != feats_b.shape[1]:
        raise MetricError(
            f"{name_a} has {feats_a.shape[1]} features per sample but {name_b} has "
            f"{feats_b.shape[1]}; extract both with the same feature network"
        )
