"""CIFAR-10 from the official "python version" pickle batches, read without trusting pickle.

The batches (``cifar-10-batches-py/data_batch_1`` .. ``_5``, ``test_batch``, ``batches.meta``)
are Python 2 pickles of dicts. Plain ``pickle.load`` would run any code a tampered file
names, so ``SafeUnpickler`` refuses every global except the three numpy needs to rebuild a
plain array. Each batch holds ``data``: uint8 ``[10000, 3072]``, one image per row as the
1024 red, then 1024 green, then 1024 blue bytes, rows top to bottom; and ``labels``: 0..9.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

from ganforge.data.download import cache_dir, candidate_folders, extract_tar, fetch, looked_in
from ganforge.data.image_ops import fit_images
from ganforge.data.registry import DataError, Dataset, register

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# MD5 from the official page (https://www.cs.toronto.edu/~kriz/cifar.html), also torchvision's.
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]  # used when batches.meta is absent


def _numpy_reconstruct():
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class SafeUnpickler(pickle.Unpickler):
    """Unpickles only builtin containers, strings, numbers and plain numpy arrays.

    ``find_class`` is the only door through which a pickle reaches code; it opens for
    exactly ``_reconstruct`` (under its numpy 1 and numpy 2 module names), ``ndarray`` and
    ``dtype``. The loaded arrays are checked to be uint8 by the caller.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed")
        if name == "_reconstruct":
            return _numpy_reconstruct()
        return getattr(np, name)


def safe_load(path: Path) -> dict:
    """Load one CIFAR pickle as a dict with str keys; ``DataError`` on anything unexpected."""
    try:
        # encoding="bytes": the files are Python 2 pickles whose str values are raw bytes
        content = SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        OSError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
    ) as error:
        raise DataError(
            f"cannot read CIFAR batch {path} ({error}); delete it and fetch the archive again"
        ) from None
    if not isinstance(content, dict):
        raise DataError(f"{path} is not a CIFAR batch (holds a {type(content).__name__})")
    return {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in content.items()}


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (uint8 ``[N, 3, 32, 32]`` images, int64 ``[N]`` labels)."""
    batch = safe_load(path)
    data, labels = batch.get("data"), batch.get("labels")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3 * 32 * 32
        or labels is None
        or len(labels) != len(data)
    ):
        raise DataError(f"{path} does not hold uint8 'data' [N, 3072] with one label per row")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path} holds labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def _batch_folder(folder: Path, split: str) -> Path | None:
    for candidate in (folder, folder / FOLDER):
        if all((candidate / name).is_file() for name in BATCHES[split]):
            return candidate
    return None


def locate_cifar(split: str, root: str | None, download: bool) -> Path:
    """The folder holding the batches of ``split``, downloading the archive when allowed."""
    folders = candidate_folders("cifar10", root)
    for folder in folders:
        if found := _batch_folder(folder, split):
            return found
    how = f"download {URL} and unpack it into ~/.cache/ganforge/cifar10, or pass --set data.root=DIR"
    missing = f"cifar10 {split} batches ({FOLDER}/) not found in: {looked_in(folders)}"
    if not download:
        raise DataError(f"{missing}; {how} (or set data.download=true)")
    target = cache_dir("cifar10")
    archive = target / "cifar-10-python.tar.gz"
    try:
        fetch(URL, archive, "md5", ARCHIVE_MD5)
        extract_tar(archive, target)
    except DataError as error:
        raise DataError(f"{missing}; {error}; {how}") from None
    archive.unlink(missing_ok=True)  # the unpacked batches are what gets searched
    if found := _batch_folder(target, split):
        return found
    raise DataError(f"{archive} did not contain {FOLDER}/; {how}")


@register("cifar10", "Krizhevsky's 32x32 color photos, 10 classes, 50k/10k", "image")
def load_cifar10(cfg, seed: int) -> Dataset:
    """uint8 ``[N, 3, 32, 32]`` (RGB), labels ``[N]``, class names from ``batches.meta``."""
    del seed  # the files fix the order
    folder = locate_cifar(cfg.split, cfg.root, cfg.download)
    parts = [read_batch(folder / name) for name in BATCHES[cfg.split]]
    images = np.concatenate([images for images, _ in parts])
    labels = np.concatenate([labels for _, labels in parts])
    class_names = list(CLASS_NAMES)
    if (folder / "batches.meta").is_file():
        names = safe_load(folder / "batches.meta").get("label_names")
        if isinstance(names, list) and len(names) == 10:
            class_names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]
    data = fit_images(images, cfg.image_size, cfg.channels)
    return Dataset(
        name="cifar10",
        kind="image",
        data=torch.from_numpy(data),
        labels=torch.from_numpy(labels),
        class_names=class_names,
    )
