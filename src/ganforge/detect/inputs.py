"""Images in for the detectors: data sets and generator runs for training and evaluation,
files, folders and ``.npy`` arrays for scoring; all become uint8 ``[N, C, H, W]`` of the
detector's size and channel count.

Other sizes and channel counts are converted, never refused: RGB becomes gray by ITU-R 601-2
luma and gray becomes RGB by repeating the plane; a different side is center-cropped to a
square and resized with Pillow's antialiased bicubic filter. Resizing smooths exactly the
high-frequency traces the spectrum detector looks for, so every conversion is reported as a
note and a resized image's score deserves less trust.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.data.folder import EXTENSIONS, list_images
from ganforge.data.image_ops import convert_channels, resize_images
from ganforge.errors import GanforgeError
from ganforge.evaluation.sources import images_from_array, load_source, parse_source


class DetectError(GanforgeError, ValueError):
    """Input the detector cannot use: missing or unreadable files, an empty set, a bad folder."""


def load_set(spec: str, n: int, seed: int) -> np.ndarray:
    """``n`` images of a data set (``fashion-mnist[:test]``), a run folder (sampled from its
    generator with seeded noise and, if conditional, uniform classes), a folder or a ``.npy``."""
    images, _notes = load_source(parse_source(spec), n, seed)
    return images


def fit_images(
    images: np.ndarray, channels: int, size: int, label: str = "images"
) -> tuple[np.ndarray, list[str]]:
    """uint8 ``[N, C, H, W]`` -> ``[N, channels, size, size]`` and notes on what changed."""
    notes = []
    if images.shape[1] != channels:
        notes.append(f"{label}: {images.shape[1]}-channel images converted to {channels} channel(s)")
        images = convert_channels(images, channels)
    if images.shape[2:] != (size, size):
        notes.append(
            f"{label}: {images.shape[2]}x{images.shape[3]} images resized to "
            f"{size}x{size} (center crop + bicubic: weakens spectral traces)"
        )
        images = resize_images(images, size)
    return np.ascontiguousarray(images), notes


def read_image_file(path: Path) -> np.ndarray:
    """One image file at its own size -> uint8 ``[C, H, W]`` (C = 1 for gray files, else 3)."""
    with Image.open(path) as image:
        gray = image.mode in ("1", "L", "LA", "I", "I;16", "F")  # palette, RGB(A), CMYK: RGB
        pixels = np.asarray(image.convert("L" if gray else "RGB"))
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


# The largest .npy array scored in one go (2.7 M images of 28x28, 170 k of 64x64 RGB): the
# array, its converted copy and the detector's batches must fit in memory together.
MAX_NPY_BYTES = 2 << 30


def read_npy(path: Path) -> np.ndarray:
    """A ``.npy`` file -> array, never unpickling, after checking its header: an array larger
    than MAX_NPY_BYTES, or one the file is too short to hold, is refused before any read."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version not in readers:
                raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
            shape, _, dtype = readers[version](handle)
            data_start = handle.tell()
        claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if claimed > MAX_NPY_BYTES:
            raise DetectError(
                f"{path} holds an array of shape {shape} ({claimed / 2**30:.1f} GiB); at most "
                f"{MAX_NPY_BYTES / 2**30:.0f} GiB are scored at once: split it"
            )
        if path.stat().st_size - data_start < claimed:
            raise DetectError(f"{path} is truncated: its header claims shape {shape}, the file is shorter")
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DetectError(f"cannot read {path} as a .npy array ({err})") from None


def read_for_scoring(path: str | Path, channels: int, size: int) -> tuple[np.ndarray, list[str], list[str]]:
    """An image file, a folder of them, or a ``.npy`` array -> (uint8 ``[N, channels, size,
    size]``, one name per image, notes). Unreadable files in a folder are skipped and named
    in the notes; an unreadable single file, or a folder with nothing readable, is an error."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DetectError(f"{path} does not exist")
    if path.suffix == ".npy":
        array = read_npy(path)
        images, notes = images_from_array(array, str(path))
        images, more = fit_images(images, channels, size, str(path))
        return images, [f"{path.name}[{i}]" for i in range(len(images))], notes + more
    files = list_images(path) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise DetectError(f"{path} holds no image files ({', '.join(sorted(EXTENSIONS))})")
    images, names, unreadable, notes = [], [], [], []
    for file in files:
        try:
            image = read_image_file(file)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            if not path.is_dir():
                raise DetectError(f"cannot read image {file} ({err})") from None
            unreadable.append(file.name)
            continue
        fitted, changed = fit_images(image[None], channels, size, file.name)
        images.append(fitted[0])
        names.append(str(file.relative_to(path)) if path.is_dir() else file.name)
        notes += changed
    if unreadable:
        notes.append(f"skipped {len(unreadable)} unreadable file(s): " + ", ".join(unreadable))
    if not images:
        raise DetectError(
            f"none of the {len(files)} image files in {path} could be read: " + ", ".join(unreadable[:5])
        )
    return np.stack(images), names, notes
