"""The data-set registry: every reader returns one in-memory ``Dataset``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError


class DataError(GanforgeError, ValueError):
    """A data set that cannot be read; the message says where it looked and how to fix it."""


@dataclass
class Dataset:
    """A whole data set held in memory.

    ``data`` is uint8 ``[N, C, H, W]`` for images (kind ``"image"``) or float32 ``[N, D]``
    for point sets (kind ``"points"``). ``labels`` is int64 ``[N]`` where the set has them.
    ``attributes`` is float32 ``[N, K]`` in {0, 1} for multi-label sets (StarGAN's CelebA
    attributes, fmnist-styles), one column per name in ``attribute_names``.
    """

    name: str
    kind: str  # "image" | "points"
    data: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] | None = None
    modes: torch.Tensor | None = None  # mixture centres [K, D] for the 2-D sets
    mode_std: float | None = None  # their standard deviation
    attributes: torch.Tensor | None = None  # multi-hot float32 [N, K] (multi-label domains)
    attribute_names: list[str] | None = None  # the K column names of ``attributes``

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example: ``(C, H, W)`` or ``(D,)``."""
        return tuple(self.data.shape[1:])

    def __len__(self) -> int:
        return self.data.shape[0]


@dataclass
class DatasetSpec:
    loader: Callable[..., Dataset]  # loader(cfg: DataConfig, seed: int) -> Dataset
    summary: str  # one line for `ganforge info`
    kind: str  # "image" | "points"


DATASETS: dict[str, DatasetSpec] = {}


def register(name: str, summary: str, kind: str):
    def wrap(loader: Callable[..., Dataset]) -> Callable[..., Dataset]:
        DATASETS[name] = DatasetSpec(loader, summary, kind)
        return loader

    return wrap
