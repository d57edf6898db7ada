"""Real-data features and their cache.

Features of a real image set are cached once per (data set, split, data settings, feature
network and its weights' hash, n, seed) in ``$GANFORGE_CACHE/stats`` (default
``~/.cache/ganforge/stats``), written atomically; a damaged file is recomputed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganforge.evaluation.sources import Source, load_source, subset_indices
from ganforge.files import atomic_write, cache_root
from ganforge.metrics.features import FeatureNetwork, Features

CACHE_FORMAT = 1  # bump when the cached arrays change meaning


def stats_dir() -> Path:
    return cache_root() / "stats"


@dataclass
class RealFeatures:
    """Features of a real image set and what the context baselines need from it."""

    features: Features
    image_shape: tuple[int, int, int]  # (C, H, W) of the source images
    example: np.ndarray  # one source image, uint8 [C, H, W] (the repeated-image baseline)
    label: str
    notes: list[str] = field(default_factory=list)
    cached: bool = False  # True when read from the cache


def cache_key(source: Source, network: FeatureNetwork, n: int | None, seed: int) -> dict:
    cfg = source.data_cfg
    return {
        "format": CACHE_FORMAT,
        "dataset": cfg.name,
        "split": cfg.split,
        "root": str(Path(cfg.root).expanduser().resolve()) if cfg.root else None,
        "image_size": cfg.image_size,
        "channels": cfg.channels,
        "limit": cfg.limit,
        "n": n,
        "seed": seed,
        "network": network.name,
        "network_sha256": network.sha256,
        "input_size": network.image_size,
    }


def cache_path(key: dict, kind: str) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    res = f"{key['image_size']}px" if key["image_size"] else "native"
    return stats_dir() / (
        f"{kind}-{key['dataset']}-{key['split']}-{key['network']}-{res}-n{key['n']}-{digest}"
    )


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:  # a handle: np.savez would append .npz to a name
            np.savez(handle, **arrays)

    atomic_write(path, write)


def real_features(
    source: Source,
    network: FeatureNetwork,
    n: int | None,
    seed: int,
    device: str | torch.device = "cpu",
    cache: bool = True,
    images: np.ndarray | None = None,
) -> RealFeatures:
    """Features of ``source`` (at most ``n`` images, seeded subset); cached for data sets.

    ``images`` (uint8 ``[N, C, H, W]``, the whole set) skips reading the data set again, e.g.
    during training, where it is already in memory.
    """
    path = None
    if source.kind == "dataset" and cache:
        path = cache_path(cache_key(source, network, n, seed), "real").with_suffix(".npz")
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as stored:
                    probs = stored["probs"] if stored["probs"].size else None
                    return RealFeatures(
                        Features(
                            stored["features"].astype(np.float64),
                            None if probs is None else probs.astype(np.float64),
                        ),
                        tuple(int(v) for v in stored["image_shape"]),
                        stored["example"],
                        source.label,
                        json.loads(str(stored["notes"])),
                        cached=True,
                    )
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file is recomputed and replaced
    if images is not None:
        notes: list[str] = []
        images = images[subset_indices(len(images), n, seed)]
    else:
        images, notes = load_source(source, n, seed, device)
    feats, more = network.extract(images, device, label=source.label)
    notes += more
    result = RealFeatures(feats, tuple(images.shape[1:]), images[0].copy(), source.label, notes)
    if path is not None:
        # The network computes in float32, so storing float32 features loses nothing.
        save_npz(
            path,
            {
                "features": feats.features.astype(np.float32),
                "probs": feats.probs if feats.probs is not None else np.zeros(0),
                "image_shape": np.array(result.image_shape),
                "example": result.example,
                "notes": np.array(json.dumps(notes)),
            },
        )
    return result
