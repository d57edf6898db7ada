"""Inception-Score-style score and class coverage on hand-made predictions."""

import math

import numpy as np
import pytest

from ganforge.metrics import MetricError, class_coverage, inception_score


def original_inception_score(preds, splits):
    """The authors' per-split formula (improved-gan inception_score.py), for positive preds."""
    scores = []
    for i in range(splits):
        part = preds[(i * preds.shape[0] // splits) : ((i + 1) * preds.shape[0] // splits), :]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    return np.mean(scores), np.std(scores)


def one_hot(labels, num_classes):
    return np.eye(num_classes)[labels]


def test_identical_predictions_score_one():
    uniform = np.full((100, 10), 0.1)
    assert inception_score(uniform, splits=10) == pytest.approx((1.0, 0.0), abs=1e-12)
    collapsed = one_hot(np.zeros(100, dtype=int), 10)
    assert inception_score(collapsed, splits=5) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_confident_even_predictions_score_num_classes():
    # 10 splits of 20 samples, each split holding every one of the 10 classes twice.
    probs = one_hot(np.arange(200) % 10, 10)
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)
    assert isinstance(mean, float) and isinstance(std, float)


def test_matches_original_formula_on_softmax_outputs():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(103, 7))  # 103 = uneven split sizes
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = original_inception_score(probs, splits=4)
    got = inception_score(probs, splits=4)
    assert got == pytest.approx(expected, rel=1e-10)
    assert 1.0 < got[0] < 7.0


@pytest.mark.parametrize(
    "probs, splits, message",
    [
        (np.full((5, 2), 0.5), 6, "splits"),
        (np.full((5, 2), 0.4), 1, "sum to 1"),
        (np.array([[1.5, -0.5]] * 5), 1, r"\[0, 1\]"),
        (np.full((5, 2), np.nan), 1, "NaN"),
        (np.full(5, 0.5), 1, "2-D"),
    ],
)
def test_inception_score_rejects_bad_input(probs, splits, message):
    with pytest.raises(MetricError, match=message):
        inception_score(probs, splits=splits)


def test_collapsed_predictions_cover_one_class():
    got = class_coverage(np.full(50, 3), num_classes=10)
    assert got["classes_covered"] == 1
    assert got["entropy"] == 0.0
    assert got["normalized_entropy"] == 0.0
    assert got["histogram"][3] == 1.0 and sum(got["histogram"]) == 1.0
    assert got["kl_to_real"] is None


def test_balanced_predictions_cover_every_class():
    got = class_coverage(np.arange(100) % 10, num_classes=10)
    assert got["classes_covered"] == 10
    assert got["entropy"] == pytest.approx(math.log(10))
    assert got["normalized_entropy"] == pytest.approx(1.0)
    assert got["histogram"] == pytest.approx([0.1] * 10)


def test_probabilities_are_reduced_to_their_argmax():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(60, 5))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert class_coverage(probs, 5) == class_coverage(logits.argmax(axis=1), 5)


def test_min_share_threshold():
    labels = np.array([0] * 99 + [1])  # class 1 holds 1 %
    assert class_coverage(labels, 3)["classes_covered"] == 1
    assert class_coverage(labels, 3, min_share=0.01)["classes_covered"] == 2
    # A share exactly at the threshold counts: 50 balanced classes (2 % each) are all covered.
    assert class_coverage(np.arange(100) % 50, 50)["classes_covered"] == 50


def test_kl_to_real_histogram():
    real_counts = np.full(10, 500)  # counts or shares both work
    balanced = class_coverage(np.arange(100) % 10, 10, real_label_hist=real_counts)
    assert balanced["kl_to_real"] == pytest.approx(0.0, abs=1e-12)
    collapsed = class_coverage(np.zeros(100, dtype=int), 10, real_label_hist=real_counts / 5000)
    # All mass on one class against a uniform real: log 10, up to the tiny smoothing.
    assert collapsed["kl_to_real"] == pytest.approx(math.log(10), rel=1e-3)
    skewed_real = np.array([5.0] + [1.0] * 9)
    assert class_coverage(np.arange(100) % 10, 10, real_label_hist=skewed_real)["kl_to_real"] > 0


@pytest.mark.parametrize(
    "predictions, num_classes, kwargs, message",
    [
        (np.array([0, 1, 10]), 10, {}, r"\[0, 10\)"),
        (np.array([0.5, 1.0]), 10, {}, "integers"),
        (np.array([0, 1]), 1, {}, "num_classes"),
        (np.array([]), 3, {}, "empty"),
        (np.full((4, 3), 1 / 3), 4, {}, "num_classes is 4"),
        (np.array([0, 1]), 3, {"real_label_hist": np.ones(4)}, "real_label_hist"),
        (np.array([0, 1]), 3, {"real_label_hist": np.zeros(3)}, "positive sum"),
    ],
)
def test_class_coverage_rejects_bad_input(predictions, num_classes, kwargs, message):
    with pytest.raises(MetricError, match=message):
        class_coverage(predictions, num_classes, **kwargs)
