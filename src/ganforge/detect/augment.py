"""What happens to images in the wild, as functions of uint8 ``[N, C, H, W]`` arrays.

Used twice: to test a detector's robustness (every perturbation applied to the real *and* the
generated test images alike) and to train the augmented detectors (``*-aug``), after Wang et
al. 2020 ("CNN-generated images are surprisingly easy to spot... for now"), whose detector
trained with random blur and JPEG generalised across eleven GAN architectures. Every function
returns a new uint8 array of the input's shape and leaves the input untouched.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

# Wang et al.'s "Blur+JPEG (0.5)": each image is blurred with probability 0.5 and JPEG-coded
# with probability 0.5, independently. Their sigma ~ U[0, 3] is for 256 px images; at 28 px a
# sigma of 3 erases the garment, so the range stops at 2 (the robustness test's largest blur).
AUG_PROBABILITY = 0.5
AUG_SIGMA = (0.0, 2.0)  # Gaussian blur sigma, pixels
AUG_QUALITY = (30, 100)  # JPEG quality, as Wang et al.


def _pil(image: np.ndarray) -> Image.Image:
    """``[C, H, W]`` uint8 (C = 1 or 3) -> a Pillow image."""
    return Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))


def _array(image: Image.Image, channels: int) -> np.ndarray:
    pixels = np.asarray(image)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def jpeg_one(image: np.ndarray, quality: int) -> np.ndarray:
    """One ``[C, H, W]`` uint8 image through Pillow's JPEG encoder and decoder at ``quality``."""
    buffer = io.BytesIO()
    _pil(image).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return _array(decoded.convert("L" if image.shape[0] == 1 else "RGB"), image.shape[0])


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-compress every image at ``quality`` (1-95; 75 is Pillow's default)."""
    return np.stack([jpeg_one(image, quality) for image in images]) if len(images) else images.copy()


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` pixels over H and W (reflected at the border)."""
    smooth = gaussian_filter(images.astype(np.float32), sigma=(0, 0, sigma, sigma), mode="reflect")
    return np.clip(np.round(smooth), 0, 255).astype(np.uint8)


def resize_half(images: np.ndarray) -> np.ndarray:
    """Down to half the side and back up, both with Pillow's bicubic filter (a re-shared thumbnail)."""
    side = images.shape[-1]

    def one(image: np.ndarray) -> np.ndarray:
        small = _pil(image).resize((side // 2, side // 2), Image.BICUBIC)
        return _array(small.resize((side, side), Image.BICUBIC), image.shape[0])

    return np.stack([one(image) for image in images]) if len(images) else images.copy()


def add_noise(images: np.ndarray, std: float, seed: int = 0) -> np.ndarray:
    """Add Gaussian noise of ``std`` gray levels (of 255), seeded, then round and clip."""
    noise = np.random.RandomState(seed).randn(*images.shape) * std
    return np.clip(np.round(images + noise), 0, 255).astype(np.uint8)


def wild_perturbations() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The robustness table's columns: name -> perturbation (issue 15's list)."""
    return {
        "jpeg-q90": lambda x: jpeg(x, 90),
        "jpeg-q75": lambda x: jpeg(x, 75),
        "blur-0.5": lambda x: blur(x, 0.5),
        "blur-1": lambda x: blur(x, 1.0),
        "blur-2": lambda x: blur(x, 2.0),
        "resize-0.5x": resize_half,
        "noise-5": lambda x: add_noise(x, 5.0, seed=0),
    }


def random_blur_jpeg(images: np.ndarray, seed: int) -> np.ndarray:
    """Wang et al.'s training augmentation, one fixed random draw per image (seeded): blur with
    sigma ~ U``AUG_SIGMA`` with probability 0.5, then JPEG at quality ~ U``AUG_QUALITY`` with
    probability 0.5."""
    rng = np.random.RandomState(seed)
    out = images.copy()
    blurred = rng.rand(len(images)) < AUG_PROBABILITY
    sigmas = rng.uniform(*AUG_SIGMA, len(images))
    coded = rng.rand(len(images)) < AUG_PROBABILITY
    qualities = rng.randint(AUG_QUALITY[0], AUG_QUALITY[1] + 1, len(images))
    for i in np.flatnonzero(blurred):
        out[i] = blur(out[i : i + 1], sigmas[i])[0]
    for i in np.flatnonzero(coded):
        out[i] = jpeg_one(out[i], qualities[i])
    return out
