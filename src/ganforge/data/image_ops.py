"""Pixel-level preparation shared by the image readers: crop, resize, channel conversion.

All resizing goes through Pillow's antialiased BICUBIC filter (the filter clean-fid recommends
for FID), so a data set resized here matches what Pillow-based evaluation code would see.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ganforge.data.registry import DataError

_RESAMPLE = Image.Resampling.BICUBIC


def check_channels(channels: int | None) -> None:
    if channels not in (None, 1, 3):
        raise DataError(f"data.channels must be 1 (gray) or 3 (RGB), got {channels}")


def square_resize(image: Image.Image, size: int) -> Image.Image:
    """Center-crop ``image`` to a square, then resize it to ``size`` x ``size`` pixels."""
    width, height = image.size
    side = min(width, height)
    if width != height:
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), _RESAMPLE)
    return image


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 3, H, W]`` -> uint8 ``[N, 1, H, W]`` with Pillow's ITU-R 601-2 luma.

    Same integer arithmetic as Pillow's ``convert("L")``, so arrays and files agree exactly.
    """
    r, g, b = (rgb[:, i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)[:, None]


def convert_channels(images: np.ndarray, channels: int | None) -> np.ndarray:
    """uint8 ``[N, C, H, W]`` with C in {1, 3} -> ``[N, channels, H, W]`` (None: unchanged)."""
    check_channels(channels)
    if channels is None or images.shape[1] == channels:
        return images
    if channels == 3:  # gray -> RGB: replicate the plane
        return np.repeat(images, 3, axis=1)
    return to_gray(images)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``[N, C, H, W]`` (C in {1, 3}) -> uint8 ``[N, C, size, size]``, center-cropped."""
    if size < 1:
        raise DataError(f"data.image_size must be a positive number of pixels, got {size}")
    count, channels, height, width = images.shape
    if height == width == size:
        return images
    out = np.empty((count, channels, size, size), dtype=np.uint8)
    for i in range(count):
        if channels == 1:
            image = Image.fromarray(images[i, 0])  # 2-D uint8 -> mode "L"
            out[i, 0] = np.asarray(square_resize(image, size))
        else:
            # [H, W, 3] uint8 -> mode "RGB"
            image = Image.fromarray(np.ascontiguousarray(images[i].transpose(1, 2, 0)))
            out[i] = np.asarray(square_resize(image, size)).transpose(2, 0, 1)
    return out


def fit_images(images: np.ndarray, image_size: int | None, channels: int | None) -> np.ndarray:
    """Apply the config's ``image_size`` and ``channels`` to uint8 ``[N, C, H, W]`` arrays.

    Used by the readers whose files hold arrays (IDX, CIFAR, digits): nothing is resized when
    ``image_size`` is None or already the native side. Going to gray happens before resizing
    and going to RGB after, so the resize always runs on the fewest planes.
    """
    check_channels(channels)
    if channels == 1:
        images = convert_channels(images, 1)
    if image_size is not None:
        images = resize_images(images, image_size)
    return convert_channels(images, channels)
