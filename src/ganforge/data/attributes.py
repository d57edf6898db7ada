"""CelebA with its binary attributes (``list_attr_celeba.txt``): StarGAN's multi-label domains.

The attribute file, as CelebA ships it (Anno/): line 1 the number of images, line 2 the 40
attribute names, then one ``<image name> <+1 | -1> x 40`` line per image. ``data.attributes``
picks the columns (default: the reference's Black_Hair, Blond_Hair, Brown_Hair, Male, Young);
they become a float ``[N, K]`` tensor in {0, 1}. Images are read as the ``celeba`` data set
reads them (``folder.py``: ``img_align_celeba/``, the official split file when present).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganforge.data.download import candidate_folders, looked_in
from ganforge.data.folder import DEFAULT_CHANNELS, DEFAULT_SIZE, _celeba_paths, read_images
from ganforge.data.registry import DataError, Dataset, register

ATTRIBUTE_FILE = "list_attr_celeba.txt"


def read_attribute_file(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """``(the 40 names, {image name: int8 [40] of +1/-1})``; a malformed file is one DataError."""
    lines = path.read_text().splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DataError(f"{path} is not a CelebA attribute file (line 1: the image count; line 2: names)")
    names = lines[1].split()
    rows: dict[str, np.ndarray] = {}
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1 or any(v not in ("1", "-1") for v in parts[1:]):
            raise DataError(f"{path} line {number}: expected an image name and {len(names)} values of 1/-1")
        rows[parts[0]] = np.array(parts[1:], dtype=np.int8)
    return names, rows


def parse_attribute_names(text: str, valid: list[str]) -> list[str]:
    """``data.attributes`` as a list; an unknown name fails listing the valid ones."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in valid]
    if unknown or len(chosen) < 1:
        raise DataError(
            f"data.attributes: unknown attribute(s) {', '.join(unknown) or '(none given)'}; "
            f"valid: {', '.join(valid)}"
        )
    return chosen


def _find(root: str | None) -> tuple[Path, Path]:
    """``(img_align_celeba folder, attribute file)``, the file beside the images or above them."""
    folders = candidate_folders("celeba", root)
    for folder in folders:
        images_dir = folder / "img_align_celeba"
        if images_dir.is_dir():
            for candidate in (
                folder / ATTRIBUTE_FILE,
                folder / "Anno" / ATTRIBUTE_FILE,
                images_dir / ATTRIBUTE_FILE,
            ):
                if candidate.is_file():
                    return images_dir, candidate
    raise DataError(
        f"img_align_celeba/ with {ATTRIBUTE_FILE} beside it not found in: {looked_in(folders)}; get both "
        "from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, or pass --set data.root=DIR"
    )


@register("celeba-attributes", "CelebA faces with list_attr_celeba.txt attributes (StarGAN)", "image")
def load_celeba_attributes(cfg, seed: int) -> Dataset:
    del seed
    images_dir, attribute_path = _find(cfg.root)
    all_names, rows = read_attribute_file(attribute_path)
    chosen = parse_attribute_names(cfg.attributes, all_names)
    columns = [all_names.index(name) for name in chosen]
    paths = [path for path in _celeba_paths(images_dir, cfg.split) if path.name in rows]
    if not paths:
        raise DataError(f"none of the images in {images_dir} is listed in {attribute_path}")
    size, channels = cfg.image_size or DEFAULT_SIZE, cfg.channels or DEFAULT_CHANNELS
    data, kept = read_images(paths, size, channels, cfg.on_corrupt, cfg.limit)
    values = np.stack([rows[paths[i].name][columns] for i in kept])
    return Dataset(
        name="celeba-attributes",
        kind="image",
        data=torch.from_numpy(data),
        attributes=torch.from_numpy((values > 0).astype(np.float32)),
        attribute_names=chosen,
    )
