"""Paired scores of translated images against the true translation (pure functions of arrays).

Inputs are uint8 ``[N, C, H, W]`` in [0, 255] (or floats on the same scale), the translation
and its ground truth in the same order. Errors are reported on the [0, 1] scale.
"""

from __future__ import annotations

import numpy as np

PSNR_CAP = 100.0  # dB given to an exact match (its PSNR is infinite)
EDGE_LEVEL = 128  # a pixel is an edge from this level up (edge maps are 0 / 255)


def _pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred, np.float64) / 255, np.asarray(target, np.float64) / 255
    if pred.shape != target.shape:
        raise ValueError(f"translations {pred.shape} and ground truth {target.shape} differ in shape")
    return pred, target


def mean_absolute_error(pred, target) -> float:
    """Mean |pred - target| over every pixel and channel, on the [0, 1] scale."""
    pred, target = _pair(pred, target)
    return float(np.abs(pred - target).mean())


def psnr(pred, target) -> float:
    """Mean over images of 10 log10(1 / MSE) in dB (peak 1 on the [0, 1] scale), each capped at 100."""
    pred, target = _pair(pred, target)
    mse = ((pred - target) ** 2).reshape(len(pred), -1).mean(1)
    with np.errstate(divide="ignore"):
        per_image = np.where(mse > 0, 10 * np.log10(1 / np.maximum(mse, 1e-300)), PSNR_CAP)
    return float(np.minimum(per_image, PSNR_CAP).mean())


def edge_iou(pred, target) -> float:
    """Mean over images of |P and T| / |P or T| of the edge pixels (>= 128); 1 when both are empty."""
    pred, target = np.asarray(pred) >= EDGE_LEVEL, np.asarray(target) >= EDGE_LEVEL
    if pred.shape != target.shape:
        raise ValueError(f"edge maps {pred.shape} and {target.shape} differ in shape")
    inter = (pred & target).reshape(len(pred), -1).sum(1)
    union = (pred | target).reshape(len(pred), -1).sum(1)
    return float(np.where(union > 0, inter / np.maximum(union, 1), 1.0).mean())
