"""Data sets: readers for real image sets and generators for 2-D mixtures.

``load_dataset(cfg, seed)`` is the one entry point; it returns a ``Dataset`` held in memory.
"""

from __future__ import annotations

# Importing the reader modules registers their data sets.
# translation: the two-domain sets (kind "pair") for CycleGAN and pix2pix; attributes and
# styles: the multi-domain sets for StarGAN.
from ganforge.data import attributes, cifar, digits, folder, idx, mixtures, styles, translation  # noqa: F401
from ganforge.data.registry import DATASETS, DataError, Dataset, register

__all__ = ["DATASETS", "Dataset", "DataError", "load_dataset", "register"]


def load_dataset(cfg, seed: int = 0) -> Dataset:
    """Load the data set named by ``cfg.name`` (a ``DataConfig``)."""
    if cfg.name not in DATASETS:
        raise DataError(f"unknown data set '{cfg.name}'; choose one of: " + ", ".join(DATASETS))
    dataset = DATASETS[cfg.name].loader(cfg, seed)
    if dataset.kind == "pair":  # a translation.TranslationData; its reader applied the limit
        return dataset
    if cfg.limit is not None:
        dataset.data = dataset.data[: cfg.limit]
        if dataset.labels is not None:
            dataset.labels = dataset.labels[: cfg.limit]
        if dataset.attributes is not None:
            dataset.attributes = dataset.attributes[: cfg.limit]
    return dataset
