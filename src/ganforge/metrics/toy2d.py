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
import torch
from scipy.special import xlogy

from ganforge.metrics.errors import MetricError, as_features, check_same_dim
from ganforge.models.noise import sample_noise

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


def evaluate_points(
    G: torch.nn.Module, meta: dict, n: int = PACGAN_SAMPLES, seed: int = 0, batch_size: int = 10_000
) -> dict:
    """Draw ``n`` points from a point-set generator and score them with ``mode_coverage``.

    Args:
        G: a generator mapping ``z [N, z_dim]`` to points ``[N, 2]``, e.g. from
            ``checkpoint.load_generator``; it runs in eval mode (its mode is restored after).
        meta: the exported generator's metadata (``generator.json``): ``model.z_dim``,
            ``model.noise``, ``data.modes`` ``[K, 2]`` and ``data.mode_std``.
        n: number of generated points (PacGAN: 2,500).
        seed: seed of the noise, drawn on the CPU so a result does not depend on the device.
        batch_size: points per forward pass (bounds memory for large ``n``).

    Returns:
        ``mode_coverage``'s dict plus ``n_samples`` and ``seed``.
    """
    data = meta.get("data", {})
    if data.get("modes") is None or data.get("mode_std") is None:
        raise MetricError(
            f"data set {data.get('name')!r} has no mode centres; mode coverage "
            "needs a Gaussian mixture such as ring8 or grid25"
        )
    if n < 1:
        raise MetricError(f"n must be at least 1 generated point, got {n}")
    z = sample_noise(
        n, meta["model"]["z_dim"], meta["model"]["noise"], generator=torch.Generator().manual_seed(seed)
    )
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    try:
        with torch.no_grad():
            points = torch.cat([G(chunk.to(device)).float().cpu() for chunk in z.split(batch_size)])
    finally:
        G.train(was_training)
    result = mode_coverage(points.flatten(1).numpy(), np.asarray(data["modes"]), data["mode_std"])
    return {**result, "n_samples": n, "seed": seed}
