"""Mode coverage on Gaussian mixtures with known centres (the 2-D ring and grid benchmarks).

Protocol of Lin et al. 2018, "PacGAN: the power of two samples in generative adversarial
networks", sec. 4 / Table 1 (after Srivastava et al. 2017, VEEGAN, sec. 5.1):

* each sample is assigned to its nearest mode centre;
* it is *high quality* when that distance is below ``hq_threshold`` (3) standard deviations;
* a mode is *covered* when it holds at least one high-quality sample (as in PacGAN's
  ``MetricLogger``, which counts the modes with a non-zero high-quality count; some other
  implementations demand a minimum count per mode instead);
* reverse KL = KL(p_fake || uniform), with p_fake the histogram of high-quality samples over
  the K modes: ``sum_k p_k log(K p_k)`` = ``log K - entropy(p_fake)``. It is 0 when the good
  samples spread evenly over all modes and log K when they all sit on one mode. (PacGAN's
  public code logs the entropy and a JSD of this same histogram; the paper reports this KL.)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import xlogy

from ganforge.metrics.errors import MetricError, as_features, check_same_dim

PACGAN_SAMPLES = 2500  # generated points per evaluation in PacGAN's protocol


def mode_coverage(samples: np.ndarray, modes: np.ndarray, std: float, hq_threshold: float = 3.0) -> dict:
    """Mode coverage of generated points ``samples [N, 2]`` on a mixture ``modes [K, 2]``.

    Args:
        samples: generated points ``[N, D]`` (D = 2 for the ring/grid sets).
        modes: mixture centres ``[K, D]``.
        std: the (shared, isotropic) standard deviation of each mixture component, > 0.
        hq_threshold: distance to the nearest centre, in units of ``std``, below which a
            sample is high quality.

    Returns:
        dict with ``modes_covered`` (int in [0, K]), ``high_quality_share`` (float in [0, 1]),
        ``reverse_kl`` (float in [0, log K] nats, or None when no sample is high quality, as
        the histogram is then undefined) and ``mode_counts`` (list of K high-quality counts).
    """
    samples = as_features(samples, "samples", min_samples=1)
    modes = as_features(modes, "modes", min_samples=1)
    check_same_dim(samples, modes, "samples", "modes")
    if not (math.isfinite(std) and std > 0):
        raise MetricError(f"std must be a positive number, got {std}")
    if not (math.isfinite(hq_threshold) and hq_threshold > 0):
        raise MetricError(f"hq_threshold must be a positive number, got {hq_threshold}")

    # [N, K] distances in units of std; K is small (tens), so no chunking is needed.
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=2) / std
    nearest = distances.argmin(axis=1)
    high_quality = distances[np.arange(samples.shape[0]), nearest] < hq_threshold
    counts = np.bincount(nearest[high_quality], minlength=modes.shape[0])

    reverse_kl = None
    if counts.sum() > 0:
        shares = counts / counts.sum()
        reverse_kl = float(math.log(modes.shape[0]) + xlogy(shares, shares).sum())
    return {
        "modes_covered": int((counts > 0).sum()),
        "high_quality_share": float(high_quality.mean()),
        "reverse_kl": reverse_kl,
        "mode_counts": counts.tolist(),
    }
