"""Any folder of image files (and CelebA, which is one), read into one uint8 tensor.

Files are found recursively and read in sorted path order, so the same folder always gives
the same tensor. Each image is center-cropped to a square and resized to ``image_size``
(default 64). When every image sits in an immediate sub-folder, the sub-folder names
(sorted) are the classes. A folder with ``train/`` or ``test/`` sub-folders is split by them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.download import candidate_folders, looked_in
from ganforge.data.image_ops import check_channels, square_resize
from ganforge.data.registry import DataError, Dataset, register

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
DEFAULT_SIZE = 64  # pixels, when data.image_size is None
DEFAULT_CHANNELS = 3  # when data.channels is None
_NAMED_IN_WARNING = 5  # corrupt files named before "and N more"


def list_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursively, hidden ones left out), sorted."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.suffix.lower() in EXTENSIONS
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def read_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One file -> uint8 ``[channels, size, size]``; raises what Pillow raises on bad files."""
    with Image.open(path) as image:
        # JPEG only: decode at the smallest 1/2, 1/4 or 1/8 scale still >= size (much faster
        # for large photos; the antialiased resize below does the rest)
        image.draft("RGB" if channels == 3 else "L", (size, size))
        image = image.convert("RGB" if channels == 3 else "L")
    pixels = np.asarray(square_resize(image, size))
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def read_images(
    paths: list[Path], size: int, channels: int, on_corrupt: str, limit: int | None = None
) -> tuple[np.ndarray, list[int]]:
    """Read ``paths`` into uint8 ``[N, channels, size, size]``; also return the kept indices.

    An unreadable file raises ``DataError`` naming it (``on_corrupt="error"``) or is skipped
    (``"skip"``) with one warning that counts and names the skipped files. With ``limit``,
    reading stops after that many good images.
    """
    images, kept, skipped = [], [], []
    for index, path in enumerate(paths):
        if limit is not None and len(images) >= limit:
            break
        try:
            images.append(read_image(path, size, channels))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            if on_corrupt == "error":
                raise DataError(
                    f"cannot read image {path} ({error}); remove it, or set data.on_corrupt=skip"
                ) from None
            skipped.append(path)
            continue
        kept.append(index)
    if skipped:
        names = ", ".join(str(p) for p in skipped[:_NAMED_IN_WARNING])
        more = f" and {len(skipped) - _NAMED_IN_WARNING} more" if len(skipped) > _NAMED_IN_WARNING else ""
        warnings.warn(f"skipped {len(skipped)} unreadable image file(s): {names}{more}", stacklevel=2)
    if not images:
        raise DataError(f"none of the {len(paths)} image files could be read")
    return np.stack(images), kept


def _split_folder(root: Path, split: str) -> Path:
    """``root/<split>`` when the folder is split that way; else ``root`` for training."""
    if (root / "train").is_dir() or (root / "test").is_dir():
        if not (root / split).is_dir():
            raise DataError(f"{root} has no {split}/ sub-folder; add one or use the other split")
        return root / split
    if split != "train":
        raise DataError(
            f"{root} has no test/ sub-folder, so it has no test split; put "
            "held-out images in test/ (and the rest in train/)"
        )
    return root


def _labels(root: Path, paths: list[Path]) -> tuple[np.ndarray | None, list[str] | None]:
    """Class index per path from its immediate sub-folder, when every image has one."""
    relative = [path.relative_to(root).parts for path in paths]
    if not relative or any(len(parts) != 2 for parts in relative):
        return None, None
    class_names = sorted({parts[0] for parts in relative})
    index = {name: i for i, name in enumerate(class_names)}
    return np.array([index[parts[0]] for parts in relative], dtype=np.int64), class_names


def load_image_folder(name: str, root: Path, cfg, paths: list[Path] | None = None) -> Dataset:
    """Read the images under ``root`` (or the given ``paths``) as a ``Dataset``."""
    check_channels(cfg.channels)
    size = cfg.image_size or DEFAULT_SIZE
    channels = cfg.channels or DEFAULT_CHANNELS
    if paths is None:
        paths = list_images(root)
    if not paths:
        raise DataError(f"no image files ({', '.join(sorted(EXTENSIONS))}) under {root}")
    labels, class_names = _labels(root, paths)
    data, kept = read_images(paths, size, channels, cfg.on_corrupt, cfg.limit)
    return Dataset(
        name=name,
        kind="image",
        data=torch.from_numpy(data),
        labels=None if labels is None else torch.from_numpy(labels[kept]),
        class_names=class_names,
    )


@register("folder", "any folder of png/jpg/bmp/gif/webp images (data.root); sub-folders are classes", "image")
def load_folder(cfg, seed: int) -> Dataset:
    del seed  # sorted paths fix the order
    if not cfg.root:
        raise DataError("the folder data set needs a folder: pass --set data.root=DIR")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise DataError(f"data.root {root} is not a folder")
    return load_image_folder("folder", _split_folder(root, cfg.split), cfg)


# CelebA's official split file: one "<image name> <0 train | 1 validation | 2 test>" per line.
_CELEBA_PARTITION = "list_eval_partition.txt"
_CELEBA_SPLIT_CODE = {"train": "0", "test": "2"}


def _celeba_paths(images_dir: Path, split: str) -> list[Path]:
    """The split's images: by the official partition file when present beside the images."""
    paths = list_images(images_dir)
    partition = next(
        (p for p in (images_dir.parent / _CELEBA_PARTITION, images_dir / _CELEBA_PARTITION) if p.is_file()),
        None,
    )
    if partition is None:
        if split == "test":
            raise DataError(
                f"celeba's test split needs {_CELEBA_PARTITION} beside "
                f"{images_dir} (from the CelebA Eval folder)"
            )
        return paths  # no partition: all images are training images
    wanted = {
        line.split()[0]
        for line in partition.read_text().splitlines()
        if len(line.split()) == 2 and line.split()[1] == _CELEBA_SPLIT_CODE[split]
    }
    return [path for path in paths if path.name in wanted]


@register("celeba", "CelebA aligned faces from img_align_celeba/ (no download), 64x64 by default", "image")
def load_celeba(cfg, seed: int) -> Dataset:
    del seed
    folders = candidate_folders("celeba", cfg.root)
    for folder in folders:
        for images_dir in (folder / "img_align_celeba", folder):
            if images_dir.name == "img_align_celeba" and images_dir.is_dir():
                return load_image_folder("celeba", images_dir, cfg, _celeba_paths(images_dir, cfg.split))
    raise DataError(
        f"img_align_celeba/ not found in: {looked_in(folders)}; get "
        "img_align_celeba.zip from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
        "and unzip it into ~/.cache/ganforge/celeba, or pass --set data.root=DIR"
    )
