"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs", section 5 / eq. 3).

KID is the unbiased estimate of the squared maximum mean discrepancy (MMD^2) between two
feature sets under the cubic polynomial kernel ``k(x, y) = (x . y / D + 1)^3``. Unlike FID it
has an unbiased estimator, so small sample counts do not inflate it; its expected value is 0
when both sets come from the same distribution (single estimates may be slightly negative).

The estimate is averaged over random subsets, drawn exactly as torch-fidelity's
``kid_features_to_metric`` draws them (same RNG, same order), so equal seeds give equal numbers.
"""

from __future__ import annotations

import warnings

import numpy as np

from ganforge.metrics.errors import MetricError, MetricWarning, as_features, check_same_dim


def polynomial_kernel(feats_x: np.ndarray, feats_y: np.ndarray) -> np.ndarray:
    """Cubic kernel matrix ``[N_x, N_y]`` with entries ``(x . y / D + 1)^3``."""
    dim = feats_x.shape[1]
    return (feats_x @ feats_y.T / dim + 1.0) ** 3


def mmd2_unbiased(feats_x: np.ndarray, feats_y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equally sized sets ``[m, D]`` (m >= 2), Binkowski et al. eq. 3.

    MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
            - 2 sum_{i, j} k(x_i, y_j) / m^2
    """
    m = feats_x.shape[0]
    k_xx = polynomial_kernel(feats_x, feats_x)
    k_yy = polynomial_kernel(feats_y, feats_y)
    k_xy = polynomial_kernel(feats_x, feats_y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kid(
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
) -> dict[str, float]:
    """KID between feature sets ``[N_a, D]`` and ``[N_b, D]`` (float64).

    For each of ``subsets`` rounds, ``subset_size`` rows are drawn without replacement from
    each set (``numpy.random.RandomState(seed).choice``, set A then set B, as torch-fidelity
    does) and the unbiased MMD^2 of the pair is computed.

    If a set has fewer than ``subset_size`` samples, the subset size is clipped to the smaller
    set and a ``MetricWarning`` says so (torch-fidelity refuses instead); each subset is then a
    permutation of the smaller set, so its spread comes only from the larger one.

    Returns:
        ``{"kid_mean": float, "kid_std": float}``: mean and population standard deviation
        (numpy's default ``ddof=0``) over subsets. Lower is better; 0 means same distribution.
        Multiply by 1000 for the "KID x 10^3" usually reported.
    """
    feats_a = as_features(feats_a, "feats_a", min_samples=2)
    feats_b = as_features(feats_b, "feats_b", min_samples=2)
    check_same_dim(feats_a, feats_b, "feats_a", "feats_b")
    if subsets < 1:
        raise MetricError(f"KID needs subsets >= 1, got {subsets}")
    if subset_size < 2:
        raise MetricError(f"KID needs subset_size >= 2 (unbiased estimate), got {subset_size}")
    count_a, count_b = feats_a.shape[0], feats_b.shape[0]
    if subset_size > min(count_a, count_b):
        warnings.warn(
            f"KID subset_size {subset_size} exceeds the samples available "
            f"({count_a} and {count_b}); using {min(count_a, count_b)}",
            MetricWarning,
            stacklevel=2,
        )
        subset_size = min(count_a, count_b)

    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for index in range(subsets):
        subset_a = feats_a[rng.choice(count_a, subset_size, replace=False)]
        subset_b = feats_b[rng.choice(count_b, subset_size, replace=False)]
        mmds[index] = mmd2_unbiased(subset_a, subset_b)
    return {"kid_mean": float(np.mean(mmds)), "kid_std": float(np.std(mmds))}
