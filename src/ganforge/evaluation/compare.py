"""Comparing two image sources: ``evaluate(real, fake, settings)`` -> the report.

Images -> features (``metrics/features.py``) -> the registered metrics -> scores with their
protocol cards, and the context baselines beside them. Metric names carry the feature
network: ``fid_fmnist`` is FID on the Fashion-MNIST classifier's features, ``fid_inception``
the standard Inception FID.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ganforge import __version__
from ganforge.checkpoint import generator_paths
from ganforge.evaluation.cache import real_features
from ganforge.evaluation.context import context_scores
from ganforge.evaluation.scoring import compute_scores, image_offers, parse_metrics, with_cards
from ganforge.evaluation.sources import DEFAULT_N, Source, load_source
from ganforge.metrics.errors import MetricError
from ganforge.metrics.features import get_feature_network


@dataclass
class EvalSettings:
    metrics: str = "auto"  # comma list of base metrics, or auto
    n: int | None = None  # generated (= real) samples; None: 10,000 from a generator (2,500
    # points for a 2-D run), all of a file or folder
    seed: int = 0  # subsets, generator noise, KID subsets, baselines
    feature_net: str = "auto"  # auto | inception | fmnist | mnist | cifar10 | path
    inception_weights: str | None = None
    device: str = "cpu"
    context: bool = True  # compute the real-vs-real and trivial baselines
    cache: bool = True  # read/write cached real statistics


def evaluate(
    real: Source, fake: Source, settings: EvalSettings, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Compare two image sources; returns the report (also what metrics.json holds)."""
    dataset = real.dataset
    if dataset is None and fake.kind == "run":
        meta_path = generator_paths(fake.path, fake.which)[1]
        if meta_path.is_file():
            dataset = json.loads(meta_path.read_text())["data"]["name"]
    network = get_feature_network(settings.feature_net, dataset, settings.inception_weights)
    metrics = parse_metrics(
        settings.metrics, image_offers(network), f"{fake.label} ({network.name} features)"
    )
    say = log or (lambda text: None)

    say(f"features of {fake.label} ({network.name}) ...")
    n = settings.n if settings.n is not None else (DEFAULT_N if fake.kind == "run" else None)
    fake_images, notes = load_source(fake, n, settings.seed, settings.device)
    check_enough_for_fid(metrics, len(fake_images), network, fake.label)
    fake_feats, more = network.extract(fake_images, settings.device, label=fake.label)
    notes += more
    n_fake = len(fake_feats)
    say(f"features of {real.label} ({network.name}) ...")
    real_feats = real_features(real, network, n_fake, settings.seed, settings.device, settings.cache)
    notes += real_feats.notes
    scores = compute_scores(real_feats.features, fake_feats, metrics, network.name)
    with_cards(scores, network, real_feats.label, len(real_feats.features), fake.label, n_fake, settings.seed)
    report: dict[str, Any] = {
        "real": real.label,
        "fake": fake.label,
        "ganforge_version": __version__,
        "feature_network": network.card(),
        "n_real": len(real_feats.features),
        "n_fake": n_fake,
        "seed": settings.seed,
        "real_cached": real_feats.cached,
        "scores": scores,
        "notes": notes,
    }
    if settings.context:
        say("context baselines ...")
        report["context"] = context_scores(
            real_feats, real, network, metrics, n_fake, settings.seed, settings.device, settings.cache
        )
        if not any(name.startswith("real_") for name in report["context"]):
            notes.append(
                f"no real-vs-real floor: {real.label} is not a data set with both a train and a test split"
            )
    return report


def check_enough_for_fid(metrics: list[str], count: int, network, label: str) -> None:
    """FID fits a covariance to the network's D features: D or fewer images make it singular.
    Said before any feature is computed, in the user's terms (images, --n, --metrics)."""
    if "fid" in metrics and count <= network.dim:
        raise MetricError(
            f"FID on {network.name} features ({network.dim} dimensions) needs at least "
            f"{network.dim + 1} samples, and {label} gives {count} images: use more (--n), or "
            "--metrics without fid (kid works at small sizes)"
        )
