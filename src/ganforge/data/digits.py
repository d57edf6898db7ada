"""scikit-learn's bundled 8x8 handwritten digits: 1,797 images, no download, seconds to train.

The values 0..16 are scaled to 0..255. The set has no official split; this reader uses a
fixed one: the first 80% (1,437 images) are ``train``, the last 360 are ``test``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from ganforge.data.image_ops import fit_images
from ganforge.data.registry import DataError, Dataset, register

TRAIN_FRACTION = 0.8  # leading share of the file order used for training


@register("digits", "scikit-learn's bundled 8x8 gray digits, 10 classes, 1437/360", "image")
def load_digits(cfg, seed: int) -> Dataset:
    """uint8 ``[N, 1, 8, 8]`` in 0..255 and labels 0..9 (in the bundled file's order)."""
    del seed  # the split is fixed by position, not drawn
    table = _bundled_table()
    # 0..16 -> 0..255, rounded to the nearest integer
    images = np.rint(table[:, :64].reshape(-1, 1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)
    labels = table[:, 64].astype(np.int64)
    cut = int(len(images) * TRAIN_FRACTION)
    part = slice(0, cut) if cfg.split == "train" else slice(cut, None)
    data = fit_images(images[part], cfg.image_size, cfg.channels)
    return Dataset(
        name="digits",
        kind="image",
        data=torch.from_numpy(data),
        labels=torch.from_numpy(labels[part]),
        class_names=[str(digit) for digit in range(10)],
    )


def _bundled_table() -> np.ndarray:
    """float ``[1797, 65]``: 64 pixels in 0..16, then the digit; the file scikit-learn's
    ``load_digits`` reads, found without importing scikit-learn (1-3 s of start-up)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("data.name=digits reads scikit-learn's bundled file: pip install scikit-learn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():  # a scikit-learn that moved the file: ask it
        from sklearn.datasets import load_digits as sklearn_digits

        bundle = sklearn_digits()
        return np.column_stack([bundle.data, bundle.target])
    return np.loadtxt(path, delimiter=",")
