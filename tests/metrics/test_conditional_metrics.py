"""Class accuracy and intra-class FID on hand-made arrays whose answers are known."""

import numpy as np
import pytest

from ganforge.metrics import MetricError
from ganforge.metrics.conditional import class_accuracy, intra_class_fid


def test_class_accuracy_counts_argmax_matches():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    assert class_accuracy(probs, np.array([0, 1, 2, 2])) == 0.75
    with pytest.raises(MetricError, match=r"0\.\.2"):
        class_accuracy(probs, np.array([0, 1, 2, 3]))
    with pytest.raises(MetricError, match=r"\[N\]"):
        class_accuracy(probs, np.array([0, 1]))


def test_intra_class_fid_is_per_class_and_averaged():
    rng = np.random.RandomState(0)
    dim, n = 3, 4000
    real = rng.randn(2 * n, dim)
    real_labels = np.repeat([0, 1], n)
    real[real_labels == 1] += 5  # two well separated classes
    fake = real.copy()
    fake[real_labels == 1, 0] += 2  # class 1 is off by 2 along one axis: FID = 2^2 = 4
    result = intra_class_fid(fake, real_labels, real, real_labels)
    assert result["per_class"][0] == pytest.approx(0, abs=1e-6)
    assert result["per_class"][1] == pytest.approx(4, rel=1e-6)
    assert result["mean"] == pytest.approx(2, rel=1e-6)
    # Swapping the classes keeps the overall distribution but is caught per class.
    swapped = intra_class_fid(real, 1 - real_labels, real, real_labels)
    assert swapped["mean"] > 70  # |5 * (1, 1, 1)|^2 = 75 per class


def test_intra_class_fid_needs_more_samples_than_features():
    feats = np.random.RandomState(1).randn(16, 8)
    labels = np.repeat([0, 1], 8)
    with pytest.raises(MetricError, match="more than 8"):
        intra_class_fid(feats, labels, feats, labels)
