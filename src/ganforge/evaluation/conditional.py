"""Conditional runs: class accuracy and intra-class FID, sampling G per class.

The scores themselves are the registered ``conditional`` metric (``metrics/catalog.py``); this
module draws ``per_class`` samples of every class, takes the real reference per class from
the run's data set and adds the context of the other split (the classifier's own accuracy, the
real-vs-real intra-class FID).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge import __version__
from ganforge.checkpoint import load_generator
from ganforge.data import DataError, load_dataset
from ganforge.evaluation.sources import run_data_config, to_uint8_images
from ganforge.metrics.errors import MetricError
from ganforge.metrics.features import get_feature_network
from ganforge.metrics.registry import METRICS
from ganforge.sampling import generate, seeded_inputs

DEFAULT_PER_CLASS = 1000  # generated (and at most as many real) images per class


def sample_classes(
    G: torch.nn.Module,
    meta: dict,
    per_class: int,
    seed: int,
    device: str | torch.device = "cpu",
    batch_size: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` samples of every class from seeded noise: (uint8 ``[K * per_class, C, H,
    W]``, int64 labels ``[K * per_class]``, class 0 first). G's mode is restored after."""
    num_classes = meta.get("num_classes")
    if not num_classes:
        raise MetricError(
            "class accuracy and intra-class FID need a conditional generator "
            f"(cgan, cdcgan); this one is '{meta['model']['name']}'"
        )
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    z, _ = seeded_inputs(meta, len(labels), seed)
    samples = generate(G, z, labels, batch_size=batch_size, device=device)
    return to_uint8_images(samples), labels.numpy()


def _per_class(dataset, num_classes: int, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_class`` images of each class, in file order: (uint8 images, labels)."""
    labels = dataset.labels.numpy()
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(num_classes)])
    return dataset.data.numpy()[keep], labels[keep]


def evaluate_conditional(
    run_dir: str | Path,
    which: str = "last",
    per_class: int = DEFAULT_PER_CLASS,
    seed: int = 0,
    real_split: str = "train",
    feature_net: str = "auto",
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Class accuracy and intra-class FID of a conditional run, with context and protocol.

    Real reference: up to ``per_class`` images of each class from ``real_split`` of the run's
    data set (its config.yaml settings); features and classes from the data set's classifier.
    Context, from the other split: the classifier's accuracy on real images (the ceiling of
    class accuracy) and the intra-class FID of real images against the reference (the floor).
    """
    run_dir = Path(run_dir)
    G, meta = load_generator(run_dir, which, device=device)
    num_classes = meta.get("num_classes")
    fake, fake_labels = sample_classes(G, meta, per_class, seed, device)
    data_cfg = run_data_config(run_dir, meta)
    data_cfg.split, data_cfg.limit = real_split, None
    dataset = load_dataset(data_cfg, seed=0)
    network = get_feature_network(feature_net, dataset.name)
    if not network.has_classes or len(network.class_names) != num_classes:
        raise MetricError(
            f"the {network.name} network has no classifier for the run's "
            f"{num_classes} classes; use the classifier of the data set the "
            "run was trained on (fmnist, mnist, cifar10)"
        )
    real_images, real_labels = _per_class(dataset, num_classes, per_class)
    real, _ = network.extract(real_images, device, label="real")
    generated, notes = network.extract(fake, device, label="generated")
    report = {
        "scores": METRICS["conditional"].function(generated, fake_labels, real, real_labels),
        "context": {},
        "protocol": {
            **network.card(),
            "per_class_generated": per_class,
            "real": f"{dataset.name}:{real_split}",
            "per_class_real_max": per_class,
            "seed": seed,
            "which": which,
            "step": meta.get("step"),
            "notes": notes,
        },
    }
    data_cfg.split = "test" if real_split == "train" else "train"
    report["context"] = _other_split_context(data_cfg, network, real, real_labels, per_class, device)
    return report


def _other_split_context(data_cfg, network, real, real_labels, per_class: int, device) -> dict[str, Any]:
    """The conditional metric of the real images of ``data_cfg.split`` against the reference:
    the classifier's own accuracy (ceiling) and the real-vs-real intra-class FID (floor); {}
    for a data set without that split."""
    num_classes = len(network.class_names)
    try:
        images, labels = _per_class(load_dataset(data_cfg, seed=0), num_classes, per_class)
    except DataError:  # a set without that split: no context, the scores stand alone
        return {}
    other, _ = network.extract(images, device, label="real (other split)")
    floor = METRICS["conditional"].function(other, labels, real, real_labels)
    return {
        "split": f"{data_cfg.name}:{data_cfg.split}",
        **{name: value["value"] for name, value in floor.items()},
    }


def add_conditional_scores(
    report: dict,
    run_dir: Path,
    meta: dict,
    which: str,
    settings,
    real_split: str,
    log: Callable[[str], None] | None = None,
) -> None:
    """Class accuracy and intra-class FID of a conditional run (``evaluate_conditional``),
    merged into ``report`` with their protocol cards and context. ``settings``: EvalSettings."""
    num_classes = meta["num_classes"]
    per_class = DEFAULT_PER_CLASS if settings.n is None else max(1, settings.n // num_classes)
    if log:
        log(f"class accuracy and intra-class FID ({per_class} samples per class) ...")
    try:
        result = evaluate_conditional(
            run_dir,
            which,
            per_class=per_class,
            seed=settings.seed,
            real_split=real_split,
            feature_net=settings.feature_net,
            device=settings.device,
        )
    except MetricError as err:
        if settings.metrics.strip() != "auto":
            raise
        report["notes"].append(f"no class accuracy / intra-class FID: {err}")
        return
    spec = METRICS["conditional"]
    card = {
        **result["protocol"],
        "n_fake": per_class * num_classes,
        "ganforge_version": __version__,
        "parameters": {**spec.parameters, "per_class": per_class},
    }
    suffix = card["feature_network"]
    report["n_fake"] = report["n_fake"] or card["n_fake"]  # when these are the only scores
    for name, score in result["scores"].items():
        column = f"{name}_{suffix}"
        score["protocol"] = {
            **card,
            "metric": column,
            "definition": spec.definition(name, card["parameters"]),
        }
        report["scores"][column] = score
    context = result["context"]
    if context:  # the other split: the classifier's own accuracy and the real-vs-real floor
        row = report.setdefault("context", {}).setdefault(f"real_{context['split'].split(':')[-1]}", {})
        for name in result["scores"]:
            row[f"{name}_{suffix}"] = context[name]
