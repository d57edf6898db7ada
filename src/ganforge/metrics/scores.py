"""Scores computed from a classifier's predictions on generated samples.

* ``inception_score``: Salimans et al. 2016, "Improved techniques for training GANs", sec. 4:
  IS = exp(E_x KL(p(y|x) || p(y))), computed per split as in the authors' original code.
* ``class_coverage``: how generated samples spread over the classes (mode collapse shows as
  few covered classes and low entropy), optionally compared with the real label histogram.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import xlogy

from ganforge.metrics.errors import MetricError, as_float_array


def _check_probs(probs, name: str = "probs") -> np.ndarray:
    """Softmax outputs ``[N, C]``: finite, in [0, 1], each row summing to 1."""
    probs = as_float_array(probs, name, ndim=2)
    if probs.shape[0] < 1 or probs.shape[1] < 1:
        raise MetricError(f"{name} must be a non-empty [N, C] array, got {tuple(probs.shape)}")
    if probs.min() < 0 or probs.max() > 1:
        raise MetricError(f"{name} must hold probabilities in [0, 1]; apply softmax to logits")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise MetricError(f"{name} rows must sum to 1; apply softmax to logits")
    return probs


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score of class probabilities ``probs [N, C]`` (softmax rows), float64.

    The samples are cut into ``splits`` consecutive parts (rows ``i*N//splits`` to
    ``(i+1)*N//splits``, as the original code does); each part scores
    ``exp(mean_x KL(p(y|x) || p(y)))`` with ``p(y)`` that part's mean prediction. Terms with
    ``p(y|x) = 0`` count as 0 (``0 log 0 = 0``), where the original code would give NaN.

    Returns:
        ``(mean, std)`` over splits (``ddof=0``). IS lies in [1, C]: 1 when every sample gets
        the same prediction, C when predictions are confident and spread evenly over C classes.
    """
    probs = _check_probs(probs)
    count = probs.shape[0]
    if splits < 1 or splits > count:
        raise MetricError(f"inception_score needs 1 <= splits <= N = {count}, got {splits}")
    scores = []
    for index in range(splits):
        part = probs[index * count // splits : (index + 1) * count // splits]
        marginal = part.mean(axis=0, keepdims=True)
        kl = xlogy(part, part) - xlogy(part, marginal)  # p log p - p log p(y), 0 where p = 0
        scores.append(np.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _normalized_histogram(values, name: str, num_classes: int) -> np.ndarray:
    hist = as_float_array(values, name, ndim=1)
    if hist.shape[0] != num_classes or hist.min() < 0 or hist.sum() <= 0:
        raise MetricError(f"{name} must hold {num_classes} non-negative counts or shares with a positive sum")
    return hist / hist.sum()


def class_coverage(
    predictions: np.ndarray,
    num_classes: int,
    real_label_hist: np.ndarray | None = None,
    min_share: float = 0.02,
    eps: float = 1e-6,
) -> dict:
    """Class histogram of generated samples and how evenly it covers ``num_classes`` classes.

    Args:
        predictions: predicted labels ``[N]`` (integers in ``[0, num_classes)``) or class
            probabilities ``[N, num_classes]`` (their argmax is taken).
        num_classes: number of classes C (>= 2).
        real_label_hist: optional counts or shares ``[C]`` of the real labels.
        min_share: a class counts as covered when it holds at least this share of samples.
        eps: smoothing added to both histograms before the KL so empty classes stay finite.

    Returns:
        dict with ``histogram`` (list of C shares summing to 1), ``classes_covered`` (int),
        ``entropy`` (nats, 0 = all one class, log C = uniform), ``normalized_entropy``
        (entropy / log C in [0, 1]) and ``kl_to_real``: KL(fake || real) in nats between the
        eps-smoothed, renormalised histograms, or None without ``real_label_hist``.
    """
    if int(num_classes) != num_classes or num_classes < 2:
        raise MetricError(f"num_classes must be an integer >= 2, got {num_classes}")
    if np.ndim(predictions) == 2:
        probs = _check_probs(predictions, "predictions")
        if probs.shape[1] != num_classes:
            raise MetricError(f"predictions have {probs.shape[1]} classes but num_classes is {num_classes}")
        labels = probs.argmax(axis=1)
    else:
        values = as_float_array(predictions, "predictions", ndim=1)
        if values.size == 0:
            raise MetricError("predictions is empty; generate at least one sample")
        if (values != np.round(values)).any() or values.min() < 0 or values.max() >= num_classes:
            raise MetricError(f"predicted labels must be integers in [0, {num_classes})")
        labels = values.astype(np.int64)

    shares = np.bincount(labels, minlength=num_classes) / labels.shape[0]
    entropy = float(-xlogy(shares, shares).sum())
    kl_to_real = None
    if real_label_hist is not None:
        real = _normalized_histogram(real_label_hist, "real_label_hist", num_classes)
        fake_smooth = (shares + eps) / (1 + num_classes * eps)
        real_smooth = (real + eps) / (1 + num_classes * eps)
        kl_to_real = float(np.sum(fake_smooth * np.log(fake_smooth / real_smooth)))
    return {
        "histogram": shares.tolist(),
        "classes_covered": int((shares >= min_share).sum()),
        "entropy": entropy,
        "normalized_entropy": entropy / math.log(num_classes),
        "kl_to_real": kl_to_real,
    }
