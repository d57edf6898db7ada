"""Where images come from: a data set split, a .npy of uint8 images, an image folder, or a
run folder whose exported generator is sampled. Each becomes uint8 ``[N, C, H, W]``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.checkpoint import load_generator
from ganforge.config import DataConfig, load_config
from ganforge.data import DATASETS, load_dataset
from ganforge.data.batches import from_unit_range
from ganforge.data.folder import list_images, read_images
from ganforge.metrics.errors import MetricError
from ganforge.sampling import sample_generator

DEFAULT_N = 10_000  # samples drawn from a generator unless told otherwise


@dataclass
class Source:
    """Where images come from; ``load`` turns it into uint8 ``[N, C, H, W]``."""

    kind: str  # "dataset" | "npy" | "folder" | "run"
    label: str  # as printed and stored in the card
    data_cfg: DataConfig | None = None  # data sets (and the real data of a run)
    path: Path | None = None  # files, folders, runs
    which: str = "last"  # runs: which exported generator

    @property
    def dataset(self) -> str | None:
        return self.data_cfg.name if self.data_cfg is not None else None


def dataset_source(name: str, split: str = "train", data_cfg: DataConfig | None = None) -> Source:
    cfg = DataConfig(**{**(vars(data_cfg) if data_cfg else {}), "name": name, "split": split})
    return Source("dataset", f"{name}:{split}", data_cfg=cfg)


def parse_source(text: str, which: str = "last") -> Source:
    """``fashion-mnist:test`` | ``x.npy`` | image folder | run folder -> ``Source``."""
    path = Path(text).expanduser()
    if path.is_dir():
        if any((path / name).is_file() for name in ("generator.json", "generator-best.json")):
            return Source("run", f"{path} ({which})", path=path, which=which)
        return Source("folder", str(path), path=path)
    if path.suffix == ".npy":
        if not path.is_file():
            raise MetricError(f"{path} does not exist")
        return Source("npy", str(path), path=path)
    name, _, split = text.partition(":")
    if name in DATASETS:
        if DATASETS[name].kind != "image":
            raise MetricError(f"{name} is a point set; image metrics need images")
        split = split or "train"
        if split not in ("train", "test"):
            raise MetricError(f"{text}: the split must be train or test, got '{split}'")
        return dataset_source(name, split)
    raise MetricError(
        f"'{text}' is neither a data set name[:split] ({', '.join(DATASETS)}), a "
        ".npy file, an image folder nor a run folder"
    )


def subset_indices(total: int, n: int | None, seed: int) -> np.ndarray:
    """All indices when ``n`` covers the set, else a seeded random subset (sorted)."""
    if n is None or n >= total:
        return np.arange(total)
    return np.sort(np.random.RandomState(seed).permutation(total)[:n])


def images_from_array(array: np.ndarray, label: str) -> tuple[np.ndarray, list[str]]:
    """A .npy array -> uint8 ``[N, C, H, W]`` (C in 1, 3) and notes on what was changed.

    Layouts: ``[N, H, W]`` (gray), ``[N, H, W, C]`` or ``[N, C, H, W]`` with C in 1, 3, 4
    (alpha is dropped). Anything else, or a non-uint8 array, is a ``MetricError``.
    """
    notes: list[str] = []
    if array.dtype != np.uint8:
        raise MetricError(
            f"{label} holds {array.dtype}; save images as uint8 0..255 (`ganforge sample --out x.npy` does)"
        )
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3, 4) and array.shape[1] not in (1, 3, 4):
        array = array.transpose(0, 3, 1, 2)
    elif not (array.ndim == 4 and array.shape[1] in (1, 3, 4)):
        raise MetricError(
            f"{label} has shape {tuple(array.shape)}; expected uint8 images "
            "[N, H, W], [N, H, W, C] or [N, C, H, W] with C = 1, 3 or 4"
        )
    if array.shape[1] == 4:
        notes.append(f"{label}: alpha channel dropped")
        array = array[:, :3]
    if len(array) == 0:
        raise MetricError(f"{label} holds no images")
    return np.ascontiguousarray(array), notes


def read_folder(path: Path, n: int | None, seed: int) -> tuple[np.ndarray, list[str]]:
    paths = list_images(path)
    if not paths:
        raise MetricError(f"{path} holds no image files")
    paths = [paths[i] for i in subset_indices(len(paths), n, seed)]
    side, channels = _first_readable_shape(paths, path)
    # Every file is center-cropped to a square and resized to the first file's side.
    images, _ = read_images(paths, side, channels, on_corrupt="skip")
    return images, [
        f"{path}: images read as {side}x{side}, {channels} channel(s) (center crop, "
        "Pillow bicubic where a file differs)"
    ]


def _first_readable_shape(paths: list[Path], folder: Path) -> tuple[int, int]:
    """``(side, channels)`` of the first image that opens: what the whole folder is read as.
    An unreadable file is skipped here as ``read_images`` skips it, not a traceback."""
    for path in paths:
        try:
            with Image.open(path) as image:
                return min(image.size), 1 if image.mode in ("1", "L", "I", "I;16") else 3
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            continue
    raise MetricError(f"none of the {len(paths)} image files in {folder} could be read")


def to_uint8_images(samples: torch.Tensor) -> np.ndarray:
    """``[N, C, H, W]`` in [-1, 1] -> uint8 ``[N, C, H, W]`` (quantized as a saved image is)."""
    return from_unit_range(samples).numpy()


def run_data_config(run_dir: Path, meta: dict) -> DataConfig:
    """The data settings a run trained on (its config.yaml), for its real reference."""
    saved = run_dir / "config.yaml"
    if saved.is_file():
        return load_config(saved).data
    return DataConfig(name=meta["data"]["name"])


def load_source(
    source: Source, n: int | None, seed: int, device: str | torch.device = "cpu"
) -> tuple[np.ndarray, list[str]]:
    """Images of ``source`` as uint8 ``[N, C, H, W]`` (at most ``n``) and conversion notes."""
    if source.kind == "dataset":
        dataset = load_dataset(source.data_cfg, seed=0)
        if dataset.kind != "image":
            raise MetricError(f"{source.label} is a point set; image metrics need images")
        index = subset_indices(len(dataset), n, seed)
        return dataset.data[torch.from_numpy(index)].numpy(), []
    if source.kind == "npy":
        try:
            array = np.load(source.path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise MetricError(f"cannot read {source.path} as a .npy array ({error})") from None
        if array.ndim == 0:  # one number, not a stack of images: images_from_array names it
            return images_from_array(np.asarray(array), source.label)
        index = subset_indices(len(array), n, seed)
        return images_from_array(np.asarray(array[index]), source.label)
    if source.kind == "folder":
        return read_folder(source.path, n, seed)
    G, meta = load_generator(source.path, source.which, device=device)
    if meta["data"]["kind"] != "image":
        raise MetricError(f"{source.path} generates points; use `ganforge eval --run` for mode coverage")
    samples = sample_generator(G, meta, n or DEFAULT_N, seed, device=device, progress=True)
    return to_uint8_images(samples), []
