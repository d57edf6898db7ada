"""Frechet Inception Distance (Heusel et al. 2017, "GANs trained by a two time-scale update
rule converge to a local Nash equilibrium", eq. 6).

FID fits one Gaussian to each feature set and measures the Frechet (2-Wasserstein) distance
between them:

    FID = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))

The matrix square root and its numerical fallbacks follow pytorch-fid's
``calculate_frechet_distance`` step by step, so numbers agree with that reference.
"""

from __future__ import annotations

import numpy as np
import scipy
import scipy.linalg

from ganforge.metrics.errors import MetricError, as_features, as_float_array, check_same_dim

# SciPy 1.16 deprecated sqrtm's `disp` argument (removed in 1.18) and its second return value
# (the error estimate); before 1.16, `disp=False` was the way to get the root without printing.
_SCIPY_VERSION = tuple(int(part) for part in scipy.__version__.split(".")[:2])


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """Principal matrix square root, on old and new SciPy alike (may be complex)."""
    if _SCIPY_VERSION >= (1, 16):
        return scipy.linalg.sqrtm(matrix)
    root, _error_estimate = scipy.linalg.sqrtm(matrix, disp=False)
    return root


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    Args:
        mu1, mu2: means ``[D]``.
        sigma1, sigma2: covariances ``[D, D]`` (symmetric, positive semi-definite).
        eps: diagonal offset added to both covariances when ``sqrtm(sigma1 @ sigma2)`` is not
            finite (a nearly singular product), as pytorch-fid does.

    Returns:
        The squared distance as a Python float (>= 0 up to rounding; lower is better).

    Raises:
        MetricError: mismatched shapes, NaN/inf, or a square root with a large imaginary part.
    """
    # atleast_1d/2d as in pytorch-fid, so a 1-feature problem may pass scalars.
    mu1 = as_float_array(np.atleast_1d(mu1), "mu1", ndim=1)
    mu2 = as_float_array(np.atleast_1d(mu2), "mu2", ndim=1)
    sigma1 = as_float_array(np.atleast_2d(sigma1), "sigma1", ndim=2)
    sigma2 = as_float_array(np.atleast_2d(sigma2), "sigma2", ndim=2)
    dim = mu1.shape[0]
    if mu2.shape != (dim,):
        raise MetricError(f"means must both be [D], got {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise MetricError(f"covariances must both be [{dim}, {dim}], got {sigma1.shape} and {sigma2.shape}")

    diff = mu1 - mu2
    # The product of two PSD matrices can be nearly singular; pytorch-fid then retries with a
    # small ridge on both covariances.
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(dim) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    # Rounding can leave a tiny imaginary part; a large one means the statistics are broken.
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            largest = float(np.max(np.abs(covmean.imag)))
            raise MetricError(
                f"FID matrix square root has imaginary part {largest:.3g}; the covariances are "
                "not valid (use more samples than feature dimensions)"
            )
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def feature_statistics(feats: np.ndarray, name: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and unbiased covariance ``[D, D]`` of features ``[N, D]`` (N > D needed).

    These are the statistics worth caching for a fixed real set (as ``fid50k_full`` does).
    """
    feats = as_features(feats, name)
    count, dim = feats.shape
    if count <= dim:
        raise MetricError(
            f"{name} has {count} samples for {dim} feature dimensions; FID needs at least "
            f"{dim + 1} samples (more than D) or the covariance is singular"
        )
    return feats.mean(axis=0), np.atleast_2d(np.cov(feats, rowvar=False))


def fid_from_features(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID between two feature sets ``[N_a, D]`` and ``[N_b, D]`` (float64, N > D each).

    The usual protocol compares Inception pool3 features (D = 2048) of 50k generated images
    against the training set; lower is better and 0 means identical Gaussian statistics.
    """
    feats_a = as_features(feats_a, "feats_a")
    feats_b = as_features(feats_b, "feats_b")
    check_same_dim(feats_a, feats_b, "feats_a", "feats_b")
    mu_a, sigma_a = feature_statistics(feats_a, "feats_a")
    mu_b, sigma_b = feature_statistics(feats_b, "feats_b")
    return frechet_distance(mu_a, sigma_a, mu_b, sigma_b)
