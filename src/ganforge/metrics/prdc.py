"""Precision/recall and density/coverage of feature manifolds.

* Improved precision and recall: Kynkaanniemi et al. 2019, "Improved precision and recall
  metric for assessing generative models", eq. 1-3 (k = 3).
* Density and coverage: Naeem et al. 2020, "Reliable fidelity and diversity metrics for
  generative models", eq. 3-4 (k = 5).

Each sample gets a ball whose radius is the distance to its k-th nearest neighbour within its
own set (self excluded). The formulas match the ``prdc`` package (clovaai/generative-evaluation-
prdc) exactly, strict ``<`` comparisons included; distances are computed in row chunks so that
10k x 10k sets never hold a full distance matrix in memory.
"""

from __future__ import annotations

import numpy as np

from ganforge.metrics.errors import MetricError, as_features, check_same_dim

# Upper bound on the float64 entries of one distance chunk (2**23 entries = 64 MiB).
_CHUNK_ELEMENTS = 2**23


def _distance_chunks(feats_x: np.ndarray, feats_y: np.ndarray, same_set: bool = False):
    """Yield ``(start, distances [rows, N_y])`` over row chunks of ``feats_x``.

    Euclidean distances via |x|^2 + |y|^2 - 2 x.y, clamped at 0, as scikit-learn computes them
    for the reference package; with ``same_set`` the self-distances are set to exactly 0.
    """
    sq_x = np.einsum("ij,ij->i", feats_x, feats_x)
    sq_y = np.einsum("ij,ij->i", feats_y, feats_y)
    rows = max(1, _CHUNK_ELEMENTS // feats_y.shape[0])
    for start in range(0, feats_x.shape[0], rows):
        stop = min(start + rows, feats_x.shape[0])
        squared = sq_x[start:stop, None] + sq_y[None, :] - 2.0 * (feats_x[start:stop] @ feats_y.T)
        distances = np.sqrt(np.maximum(squared, 0.0, out=squared), out=squared)
        if same_set:
            own = np.arange(start, stop)
            distances[own - start, own] = 0.0
        yield start, distances


def knn_radii(feats: np.ndarray, nearest_k: int) -> np.ndarray:
    """Distance ``[N]`` from each row of ``feats [N, D]`` to its k-th nearest other row.

    Taken as the (k+1)-th smallest distance including the row itself, as the prdc package does.
    """
    radii = np.empty(feats.shape[0])
    for start, distances in _distance_chunks(feats, feats, same_set=True):
        kth_smallest = np.partition(distances, nearest_k, axis=1)[:, nearest_k]
        radii[start : start + len(kth_smallest)] = kth_smallest
    return radii


def _check_inputs(real_feats, fake_feats, nearest_k: int) -> tuple[np.ndarray, np.ndarray]:
    if int(nearest_k) != nearest_k or nearest_k < 1:
        raise MetricError(f"nearest_k must be a positive integer, got {nearest_k}")
    # The k-th neighbour other than oneself needs at least k + 1 samples per set.
    real = as_features(real_feats, "real_feats", min_samples=nearest_k + 1)
    fake = as_features(fake_feats, "fake_feats", min_samples=nearest_k + 1)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    return real, fake


def prdc(real_feats: np.ndarray, fake_feats: np.ndarray, nearest_k: int) -> dict[str, float]:
    """Precision, recall, density and coverage of fakes ``[M, D]`` against reals ``[N, D]``.

    With ``r_i`` the k-NN radius of real ``i`` and ``f_j`` that of fake ``j`` (within each set):

    * precision = mean over fakes j of [exists i: |real_i - fake_j| < r_i]  (fidelity)
    * recall    = mean over reals i of [exists j: |real_i - fake_j| < f_j]  (diversity)
    * density   = (1/k) mean over fakes j of #{i: |real_i - fake_j| < r_i}  (can exceed 1)
    * coverage  = mean over reals i of [min_j |real_i - fake_j| < r_i]

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as Python floats; all in [0, 1]
        except density, whose expected value is 1 when fakes follow the real distribution.
    """
    real, fake = _check_inputs(real_feats, fake_feats, nearest_k)
    return _manifold_scores(real, fake, nearest_k, with_recall=True)


def precision_recall(real_feats: np.ndarray, fake_feats: np.ndarray, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019; k = 3 as in the paper)."""
    scores = prdc(real_feats, fake_feats, nearest_k=k)
    return {"precision": scores["precision"], "recall": scores["recall"]}


def density_coverage(real_feats: np.ndarray, fake_feats: np.ndarray, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020; k = 5 as in the paper). Skips the fake radii."""
    real, fake = _check_inputs(real_feats, fake_feats, k)
    scores = _manifold_scores(real, fake, k, with_recall=False)
    return {"density": scores["density"], "coverage": scores["coverage"]}


def _manifold_scores(
    real: np.ndarray, fake: np.ndarray, nearest_k: int, with_recall: bool
) -> dict[str, float]:
    """One chunked pass over real-vs-fake distances gives all four scores."""
    real_radii = knn_radii(real, nearest_k)
    fake_radii = knn_radii(fake, nearest_k) if with_recall else None
    balls_per_fake = np.zeros(fake.shape[0], dtype=np.int64)  # real balls holding each fake
    recalled = np.zeros(real.shape[0], dtype=bool)
    covered = np.zeros(real.shape[0], dtype=bool)
    for start, distances in _distance_chunks(real, fake):
        stop = start + distances.shape[0]
        inside_real_ball = distances < real_radii[start:stop, None]
        balls_per_fake += inside_real_ball.sum(axis=0)
        covered[start:stop] = distances.min(axis=1) < real_radii[start:stop]
        if fake_radii is not None:
            recalled[start:stop] = (distances < fake_radii[None, :]).any(axis=1)
    return {
        "precision": float((balls_per_fake > 0).mean()),
        "recall": float(recalled.mean()) if fake_radii is not None else float("nan"),
        "density": float((1.0 / nearest_k) * balls_per_fake.mean()),
        "coverage": float(covered.mean()),
    }
