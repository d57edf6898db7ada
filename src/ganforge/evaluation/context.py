"""Context numbers: the same metrics for reference "generators", printed beside a run's figure.

real-vs-real (the data set's other split: the best a perfect generator reaches at this sample
size), one training image repeated (quality without diversity) and uniform noise (nothing
learned); cached as JSON for data-set sources.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch

from ganforge.errors import GanforgeError
from ganforge.evaluation.cache import RealFeatures, cache_key, cache_path, real_features
from ganforge.evaluation.scoring import compute_scores
from ganforge.evaluation.sources import Source, dataset_source
from ganforge.files import atomic_write
from ganforge.metrics.features import FeatureNetwork, Features


def _other_split(source: Source) -> Source | None:
    if source.kind != "dataset":
        return None
    other = "test" if source.data_cfg.split == "train" else "train"
    return dataset_source(source.dataset, other, source.data_cfg)


def context_scores(
    real: RealFeatures,
    source: Source,
    network: FeatureNetwork,
    metrics: list[str],
    n: int,
    seed: int,
    device: str | torch.device = "cpu",
    cache: bool = True,
) -> dict[str, dict[str, Any]]:
    """Metric values of reference "generators" next to which a run's figure is read.

    * ``real_<other split>``: ``n`` images of the data set's other split (the floor: a perfect
      generator scores about this at this sample size); only for data-set sources;
    * ``one_repeated_image``: one real image ``n`` times (perfect quality, no diversity);
    * ``uniform_noise``: ``n`` images of uniform random pixels (nothing learned).

    Returns ``{baseline: {metric column: value}}``; cached as JSON for data-set sources.
    """
    path = None
    if source.kind == "dataset" and cache:
        key = {**cache_key(source, network, len(real.features), seed), "context_n": n, "metrics": metrics}
        path = cache_path(key, "context").with_suffix(".json")
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except ValueError:
                pass
    baselines: dict[str, Features] = {}
    other = _other_split(source)
    if other is not None:
        try:
            baselines[f"real_{other.data_cfg.split}"] = real_features(
                other, network, n, seed, device, cache
            ).features
        except GanforgeError:
            pass  # e.g. a folder without a test/ split: no floor then (evaluate notes it)
    rng = np.random.RandomState(seed)
    noise = rng.randint(0, 256, size=(n, *real.image_shape), dtype=np.uint8)
    baselines["uniform_noise"] = network.extract(noise, device)[0]
    repeated = np.repeat(real.example[None], n, axis=0)
    baselines["one_repeated_image"] = network.extract(repeated, device)[0]
    out = {}
    for name, feats in baselines.items():
        with warnings.catch_warnings():
            # The repeated image has zero covariance: sqrtm warns it is singular, and the
            # result (0) is exact.
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            scores = compute_scores(real.features, feats, metrics, network.name)
        out[name] = {column: score["value"] for column, score in scores.items()}
    if path is not None:
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(out, indent=2)))
    return out
