import numpy as np
import pytest

from ganforge.detect.calibration import balanced_threshold, calibrate, false_positive_rate


def test_threshold_separates_separable_scores():
    real = np.array([0.1, 0.2, 0.3])
    fake = np.array([0.6, 0.7, 0.9])
    t = balanced_threshold(real, fake)
    assert 0.3 < t < 0.6
    assert false_positive_rate(real, t) == 0.0


def test_threshold_moves_with_a_shifted_detector():
    # a detector that scores everything high: 0.5 would call all real images generated
    rng = np.random.default_rng(0)
    real = rng.uniform(0.6, 0.8, 500)
    fake = rng.uniform(0.75, 0.95, 500)
    t = balanced_threshold(real, fake)
    assert 0.7 < t < 0.85
    assert false_positive_rate(real, 0.5) == 1.0
    assert false_positive_rate(real, t) < 0.3


def test_calibrate_reports_fpr_on_test_scores():
    out = calibrate(np.array([0.1, 0.2]), np.array([0.8, 0.9]), np.array([0.1, 0.6, 0.7, 0.2]), "x:test")
    assert 0.2 < out["threshold"] < 0.8
    assert out["n_real"] == 4 and out["real_source"] == "x:test"
    assert out["fpr"] == pytest.approx(0.5 if out["threshold"] < 0.6 else 0.25)


def test_empty_sets_are_refused():
    with pytest.raises(ValueError):
        balanced_threshold(np.array([]), np.array([0.5]))
