"""Toy 'real' and 'generated' images for the detector tests, uint8 [n, 1, side, side]."""

import numpy as np
from scipy.ndimage import gaussian_filter


def smooth_images(n, seed, side, sigma=1.5, mean=128):
    """Blurred noise: 'real' images with little high-frequency energy."""
    rng = np.random.RandomState(seed)
    fields = gaussian_filter(rng.randn(n, side, side), sigma=(0, sigma, sigma))
    fields = fields / fields.std() * 50 + mean
    return np.clip(fields, 0, 255).round().astype(np.uint8)[:, None]


def with_checkerboard(images, amplitude):
    """Add the period-2 pattern that stride-2 transposed convolutions tend to leave."""
    side = images.shape[-1]
    board = np.indices((side, side)).sum(0) % 2 * 2 - 1  # +1 / -1 alternating
    return np.clip(images.astype(np.int32) + amplitude * board, 0, 255).astype(np.uint8)
