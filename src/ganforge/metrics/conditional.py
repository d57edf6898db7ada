"""Metrics of conditional generators: does G make the class it is asked for, and how well?

* **Class accuracy**: the share of samples asked for class ``y`` that the data set's evaluator
  classifier (``evaluator.py``) assigns to ``y`` (argmax of its softmax). Real test images
  score the classifier's own test accuracy (Fashion-MNIST: ~0.91), which is the ceiling.
* **Intra-class FID** (Miyato & Koyama 2018, sec. 5): FID between the generated and the real
  images of each class separately, on the evaluator's features, averaged over classes. It
  punishes a G that draws the right class but too few kinds of it, which the overall FID
  can miss when classes are swapped around.

The first two functions take arrays; ``evaluate_conditional`` samples a run's G per class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.metrics.errors import MetricError, as_features, as_float_array
from ganforge.metrics.fid import fid_from_features

DEFAULT_PER_CLASS = 1000  # generated (and at most as many real) images per class


def class_accuracy(probs: np.ndarray, requested: np.ndarray) -> float:
    """Share of rows whose argmax of ``probs [N, K]`` equals ``requested`` (int ``[N]``)."""
    probs = as_float_array(probs, "probs", ndim=2)
    requested = np.asarray(requested)
    if requested.shape != (probs.shape[0],):
        raise MetricError(f"requested classes must be [N] = [{probs.shape[0]}], got {tuple(requested.shape)}")
    if len(requested) == 0:
        raise MetricError("class accuracy needs at least one sample")
    if requested.min() < 0 or requested.max() >= probs.shape[1]:
        raise MetricError(f"requested classes must be in 0..{probs.shape[1] - 1}, the classifier's classes")
    return float(np.mean(probs.argmax(axis=1) == requested))


def intra_class_fid(
    fake_features: np.ndarray, fake_labels: np.ndarray, real_features: np.ndarray, real_labels: np.ndarray
) -> dict[str, Any]:
    """FID per class between features ``[N, D]`` of generated and real images grouped by their
    int labels ``[N]``; returns ``{"mean": float, "per_class": {class: fid}}``.

    Every class present in ``fake_labels`` must have more than D samples on both sides.
    """
    fake_features = as_features(fake_features, "fake_features")
    real_features = as_features(real_features, "real_features")
    fake_labels, real_labels = np.asarray(fake_labels), np.asarray(real_labels)
    per_class = {}
    for label in np.unique(fake_labels):
        fake = fake_features[fake_labels == label]
        real = real_features[real_labels == label]
        if min(len(fake), len(real)) <= fake_features.shape[1]:
            raise MetricError(
                f"class {label}: {len(fake)} generated and {len(real)} real images, "
                f"but intra-class FID needs more than {fake_features.shape[1]} "
                "(the feature dimension) of each; draw more per class"
            )
        per_class[int(label)] = fid_from_features(fake, real)
    return {"mean": float(np.mean(list(per_class.values()))), "per_class": per_class}


@torch.no_grad()
def sample_classes(
    G: torch.nn.Module,
    meta: dict,
    per_class: int,
    seed: int,
    device: str | torch.device = "cpu",
    batch_size: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` samples of every class from seeded noise: (uint8 ``[K * per_class, C, H,
    W]``, int64 labels ``[K * per_class]``, class 0 first)."""
    from ganforge.data.batches import from_unit_range
    from ganforge.models import sample_noise

    num_classes = meta.get("num_classes")
    if not num_classes:
        raise MetricError(
            "class accuracy and intra-class FID need a conditional generator "
            f"(cgan, cdcgan); this one is '{meta['model']['name']}'"
        )
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    generator = torch.Generator().manual_seed(seed)
    z = sample_noise(len(labels), meta["model"]["z_dim"], meta["model"]["noise"], generator=generator)
    G.eval()
    parts = [
        from_unit_range(
            G(z[i : i + batch_size].to(device), labels[i : i + batch_size].to(device)).float().cpu()
        )
        for i in range(0, len(z), batch_size)
    ]
    return torch.cat(parts).numpy(), labels.numpy()


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
    data set (its config.yaml settings); features and classes from the data set's evaluator.
    Context, from the other split: the evaluator's accuracy on real images (the ceiling of
    class accuracy) and the intra-class FID of real images against the reference (the floor).
    """
    from ganforge.checkpoint import load_generator
    from ganforge.data import DataError, load_dataset
    from ganforge.metrics.evaluate import run_data_config
    from ganforge.metrics.features import get_feature_network

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
            f"{num_classes} classes; use the evaluator of the data set the "
            "run was trained on (fmnist, mnist, cifar10)"
        )
    real_images, real_labels = _per_class(dataset, num_classes, per_class)
    real, _ = network.extract(real_images, device, label="real")
    generated, notes = network.extract(fake, device, label="generated")
    report = {
        "class_accuracy": class_accuracy(generated.probs, fake_labels),
        "intra_fid": intra_class_fid(generated.features, fake_labels, real.features, real_labels),
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
    other_split = "test" if real_split == "train" else "train"
    data_cfg.split = other_split
    try:
        other_images, other_labels = _per_class(load_dataset(data_cfg, seed=0), num_classes, per_class)
    except DataError:  # a set without that split: no context, the scores stand alone
        return report
    other, _ = network.extract(other_images, device, label="real (other split)")
    report["context"] = {
        "split": f"{dataset.name}:{other_split}",
        "class_accuracy_real": class_accuracy(other.probs, other_labels),
        "intra_fid_real": intra_class_fid(other.features, other_labels, real.features, real_labels)["mean"],
    }
    return report
