"""Translation scores on hand-computed cases."""

import math

import numpy as np
import pytest

from ganforge.metrics.translation import edge_iou, mean_absolute_error, psnr


def test_mae_on_the_unit_scale():
    target = np.zeros((2, 1, 2, 2), np.uint8)
    pred = target.copy()
    pred[0, 0, 0, 0] = 255  # one pixel of eight off by 1
    assert mean_absolute_error(pred, target) == pytest.approx(1 / 8)
    assert mean_absolute_error(target, target) == 0


def test_psnr_known_values_and_cap():
    target = np.zeros((2, 1, 4, 4), np.uint8)
    pred = np.full_like(target, 51)  # 0.2 everywhere: MSE 0.04 -> 13.979 dB
    assert psnr(pred, target) == pytest.approx(10 * math.log10(1 / 0.04))
    assert psnr(target, target) == 100.0
    mixed = pred.copy()
    mixed[1] = 0
    assert psnr(mixed, target) == pytest.approx((10 * math.log10(25) + 100) / 2)


def test_edge_iou():
    target = np.zeros((2, 1, 2, 2), np.uint8)
    target[0, 0, 0] = 255  # two edge pixels
    pred = np.zeros_like(target)
    pred[0, 0, 0, 0] = 200  # one of them, and one extra
    pred[0, 0, 1, 1] = 130
    assert edge_iou(pred, target) == pytest.approx((1 / 3 + 1) / 2)  # image 2: both empty


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in shape"):
        mean_absolute_error(np.zeros((1, 1, 2, 2)), np.zeros((1, 3, 2, 2)))
