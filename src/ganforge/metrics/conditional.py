"""Metrics of conditional generators: does G make the class it is asked for, and how well?

* **Class accuracy**: the share of samples asked for class ``y`` that the data set's evaluator
  classifier (``classifier.py``) assigns to ``y`` (argmax of its softmax). Real test images
  score the classifier's own test accuracy (Fashion-MNIST: ~0.91), which is the ceiling.
* **Intra-class FID** (Miyato & Koyama 2018, sec. 5): FID between the generated and the real
  images of each class separately, on the evaluator's features, averaged over classes. It
  punishes a G that draws the right class but too few kinds of it, which the overall FID
  can miss when classes are swapped around.

Pure functions of arrays; ``ganforge.evaluation.conditional`` samples a run's G per class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganforge.metrics.errors import MetricError, as_features, as_float_array
from ganforge.metrics.fid import fid_from_features


def class_accuracy(probs: np.ndarray, requested: np.ndarray) -> float:
    """Share of rows whose argmax of ``probs [N, K]`` equals ``requested`` (int ``[N]``)."""
    probs = as_float_array(probs, "probs", ndim=2)
    requested = np.asarray(requested)
    if requested.shape != (probs.shape[0],):
        raise MetricError(f"requested classes must be [N] = [{probs.shape[0]}], got {tuple(requested.shape)}")
    if len(requested) == 0:
        raise MetricError("class accuracy needs at least one sample")
    if requested.min() < 0 or requested.max() >= probs.shape[1]:
        raise MetricError(f"requested classes must be in 0..{probs.shape[1] - 1}, the classifier's classes")
    return float(np.mean(probs.argmax(axis=1) == requested))


def intra_class_fid(
    fake_features: np.ndarray, fake_labels: np.ndarray, real_features: np.ndarray, real_labels: np.ndarray
) -> dict[str, Any]:
    """FID per class between features ``[N, D]`` of generated and real images grouped by their
    int labels ``[N]``; returns ``{"mean": float, "per_class": {class: fid}}``.

    Every class present in ``fake_labels`` must have more than D samples on both sides.
    """
    fake_features = as_features(fake_features, "fake_features")
    real_features = as_features(real_features, "real_features")
    fake_labels, real_labels = np.asarray(fake_labels), np.asarray(real_labels)
    per_class = {}
    for label in np.unique(fake_labels):
        fake = fake_features[fake_labels == label]
        real = real_features[real_labels == label]
        if min(len(fake), len(real)) <= fake_features.shape[1]:
            raise MetricError(
                f"class {label}: {len(fake)} generated and {len(real)} real images, "
                f"but intra-class FID needs more than {fake_features.shape[1]} "
                "(the feature dimension) of each; draw more per class"
            )
        per_class[int(label)] = fid_from_features(fake, real)
    return {"mean": float(np.mean(list(per_class.values()))), "per_class": per_class}
