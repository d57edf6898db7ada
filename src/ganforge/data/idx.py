"""MNIST and Fashion-MNIST: the IDX file format, parsed with numpy.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order. Both sets
ship as four gzip-compressed IDX files; unpacked copies (no ``.gz``) are read as well.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganforge.data.download import cache_dir, candidate_folders, fetch, looked_in
from ganforge.data.image_ops import fit_images
from ganforge.data.registry import DataError, Dataset, register

_UBYTE = 0x08  # the IDX type code of unsigned bytes, the only type these sets use


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed when its name ends in .gz) as a uint8 array.

    Returns an array of the shape the header declares, e.g. ``[60000, 28, 28]``. A bad
    magic number, an unsupported type, or a size that disagrees with the header raises
    ``DataError`` naming the file.
    """
    fix = "delete it and fetch the file again"
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
        raise DataError(f"cannot read IDX file {path} ({error}); {fix}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file (bad magic number); {fix}")
    type_code, ndim = raw[2], raw[3]
    if type_code != _UBYTE:
        raise DataError(f"{path} holds IDX type 0x{type_code:02x}; only unsigned bytes (0x08) are supported")
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise DataError(f"{path} is truncated inside its header; {fix}")
    dims = struct.unpack(f">{ndim}I", raw[4:header_bytes])
    expected = math.prod(dims)
    if len(raw) - header_bytes != expected:
        raise DataError(
            f"{path} declares shape {list(dims)} ({expected} bytes) but holds "
            f"{len(raw) - header_bytes} bytes; {fix}"
        )
    # copy: frombuffer over bytes is read-only, and torch wants a writable array
    return np.frombuffer(raw, np.uint8, count=expected, offset=header_bytes).reshape(dims).copy()


@dataclass(frozen=True)
class IdxSource:
    """One MNIST-like set: where to get it and how to check what was fetched."""

    name: str
    mirror: str  # base URL; file names are appended
    algorithm: str  # hashlib name of the digests below
    digests: dict[str, str]  # .gz file name -> hex digest
    class_names: list[str]
    extra_folders: tuple[str, ...]  # searched after the usual places
    how_to_get: str  # the fix, for the not-found message


_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    mirror="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    # SHA-256 as recorded by tensorflow-datasets (url_checksums/fashion_mnist.txt) for these
    # exact URLs; the byte sizes there equal the official README's. The Debian package's files
    # are re-compressed, so their .gz digests differ; local files are never checked.
    algorithm="sha256",
    digests={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    class_names=[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    extra_folders=("/usr/share/datasets/fashion-mnist",),  # Debian: dataset-fashion-mnist
    how_to_get="apt-get install dataset-fashion-mnist, or put the 4 .gz files from "
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ in "
    "~/.cache/ganforge/fashion-mnist, or pass --set data.root=DIR",
)

MNIST = IdxSource(
    name="mnist",
    mirror="https://ossci-datasets.s3.amazonaws.com/mnist/",
    # MD5 from torchvision's MNIST.resources, which it checks against this same mirror;
    # no SHA-256 list for this mirror was found.
    algorithm="md5",
    digests={
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    class_names=[str(digit) for digit in range(10)],
    extra_folders=(),
    how_to_get="put the 4 .gz files from https://ossci-datasets.s3.amazonaws.com/mnist/ in "
    "~/.cache/ganforge/mnist, or pass --set data.root=DIR",
)


def _existing(folder: Path, stem: str) -> Path | None:
    for path in (folder / f"{stem}.gz", folder / stem):
        if path.is_file():
            return path
    return None


def locate_idx(source: IdxSource, split: str, root: str | None, download: bool) -> list[Path]:
    """Paths of the (images, labels) files of ``split``, fetching them when allowed."""
    stems = _FILES[split]
    folders = candidate_folders(source.name, root, source.extra_folders)
    for folder in folders:
        found = [_existing(folder, stem) for stem in stems]
        if all(found):
            return found  # type: ignore[return-value]
    missing = f"{source.name} {split} files ({', '.join(stems)}[.gz]) not found in: {looked_in(folders)}"
    if not download:
        raise DataError(f"{missing}; {source.how_to_get} (or set data.download=true)")
    target = cache_dir(source.name)
    try:
        return [
            fetch(
                source.mirror + f"{stem}.gz",
                target / f"{stem}.gz",
                source.algorithm,
                source.digests[f"{stem}.gz"],
            )
            for stem in stems
        ]
    except DataError as error:
        raise DataError(f"{missing}; {error}; {source.how_to_get}") from None


def load_idx_set(source: IdxSource, cfg, seed: int) -> Dataset:
    """Read one split of an MNIST-like set: uint8 ``[N, 1, 28, 28]`` and labels ``[N]``."""
    del seed  # the files fix the order; nothing is random here
    images_path, labels_path = locate_idx(source, cfg.split, cfg.root, cfg.download)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{images_path} (shape {list(images.shape)}) and {labels_path} (shape "
            f"{list(labels.shape)}) do not form an image set with one label each"
        )
    if labels.size and labels.max() >= len(source.class_names):
        raise DataError(f"{labels_path} holds label {labels.max()}; expected 0..9")
    data = fit_images(images[:, None], cfg.image_size, cfg.channels)
    return Dataset(
        name=source.name,
        kind="image",
        data=torch.from_numpy(data),
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=list(source.class_names),
    )


@register("fashion-mnist", "Zalando's 28x28 gray clothing images, 10 classes, 60k/10k", "image")
def load_fashion_mnist(cfg, seed: int) -> Dataset:
    return load_idx_set(FASHION_MNIST, cfg, seed)


@register("mnist", "LeCun's 28x28 gray handwritten digits, 10 classes, 60k/10k", "image")
def load_mnist(cfg, seed: int) -> Dataset:
    return load_idx_set(MNIST, cfg, seed)
