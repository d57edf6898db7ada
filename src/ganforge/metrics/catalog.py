"""Every metric ganforge computes, one decorated function each (the registry is ``registry.py``).

The image metrics take ``real`` and ``fake`` features (``features.Features``: float64
``features [N, D]`` and, from a classifier network, ``probs [N, K]``); the conditional one
adds the requested and real labels; mode coverage takes 2-D points. Each returns
``{column: {"value": float, ...}}``; a ``"parameters"`` entry overrides a parameter whose
effective value differs (KID's subset size clipped to n). Keyword-only defaults are the
protocol: change them here and every card follows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganforge.metrics.conditional import class_accuracy, intra_class_fid
from ganforge.metrics.fid import fid_from_features
from ganforge.metrics.kid import kid
from ganforge.metrics.prdc import density_coverage, precision_recall
from ganforge.metrics.registry import ALIASES, HIGHER, LOWER, register_metric
from ganforge.metrics.scores import class_coverage, inception_score
from ganforge.metrics.toy2d import mode_coverage
from ganforge.metrics.translation import edge_iou, mean_absolute_error, psnr

Scores = dict[str, dict[str, Any]]


@register_metric(
    "fid",
    columns={
        "fid": (
            "Frechet distance between Gaussians fitted to real and generated features "
            "(Heusel et al. 2017); lower is better",
            LOWER,
        )
    },
)
def fid(real, fake) -> Scores:
    return {"fid": {"value": fid_from_features(real.features, fake.features)}}


@register_metric(
    "kid",
    columns={
        "kid": (
            "unbiased MMD^2, cubic polynomial kernel (x.y/D + 1)^3, mean and std over subsets "
            "(Binkowski et al. 2018); lower is better",
            LOWER,
        )
    },
)
def kid_score(real, fake, *, subsets: int = 100, subset_size: int = 1000) -> Scores:
    """torch-fidelity's defaults; the subset size is clipped to the smaller set."""
    size = min(subset_size, len(real), len(fake))
    result = kid(real.features, fake.features, subsets=subsets, subset_size=size)
    return {
        "kid": {
            "value": result["kid_mean"],
            "std": result["kid_std"],
            "parameters": {"subsets": subsets, "subset_size": size},
        }
    }


@register_metric(
    "pr",
    columns={
        "precision": (
            "share of generated samples inside the real k-NN manifold, k={k} "
            "(Kynkaanniemi et al. 2019); higher is better",
            HIGHER,
        ),
        "recall": (
            "share of real samples inside the generated k-NN manifold, k={k} "
            "(Kynkaanniemi et al. 2019); higher is better",
            HIGHER,
        ),
    },
)
def pr(real, fake, *, k: int = 3) -> Scores:
    result = precision_recall(real.features, fake.features, k=k)
    return {name: {"value": result[name]} for name in ("precision", "recall")}


@register_metric(
    "dc",
    columns={
        "density": (
            "mean count of real k-NN balls holding a generated sample / k, k={k} "
            "(Naeem et al. 2020); 1 for a perfect generator",
            HIGHER,
        ),
        "coverage": (
            "share of real samples whose k-NN ball holds a generated sample, k={k} "
            "(Naeem et al. 2020); higher is better",
            HIGHER,
        ),
    },
)
def dc(real, fake, *, k: int = 5) -> Scores:
    result = density_coverage(real.features, fake.features, k=k)
    return {name: {"value": result[name]} for name in ("density", "coverage")}


ALIASES["prdc"] = ("pr", "dc")


@register_metric(
    "is",
    columns={
        "is": (
            "exp E KL(p(y|x) || p(y)) of the classifier's softmax, {splits} splits "
            "(Salimans et al. 2016 style); higher is better, at most the number of classes",
            HIGHER,
        )
    },
    needs={"features", "classes"},
)
def is_score(real, fake, *, splits: int = 10) -> Scores:
    splits = min(splits, len(fake))
    mean, std = inception_score(fake.probs, splits=splits)
    return {"is": {"value": mean, "std": std, "parameters": {"splits": splits}}}


@register_metric(
    "classes",
    columns={
        "classes": (
            "classes holding >= {min_share:.0%} of the generated samples by the classifier's "
            "argmax; entropy and KL to the classifier's histogram on the real set alongside",
            HIGHER,
        )
    },
    needs={"features", "classes"},
)
def classes(real, fake, *, min_share: float = 0.02) -> Scores:
    num_classes = real.probs.shape[1]
    real_hist = np.bincount(real.probs.argmax(axis=1), minlength=num_classes)
    result = class_coverage(fake.probs, num_classes, real_label_hist=real_hist, min_share=min_share)
    return {
        "classes": {
            "value": result["classes_covered"],
            "entropy": result["entropy"],
            "kl_to_real": result["kl_to_real"],
            "histogram": result["histogram"],
        }
    }


@register_metric(
    "conditional",
    columns={
        "class_accuracy": (
            "share of samples asked for class y that the classifier assigns to y (argmax); "
            "higher is better, at most the classifier's test accuracy",
            HIGHER,
        ),
        "intra_fid": (
            "FID between generated and real images of each class, averaged over classes "
            "(Miyato & Koyama 2018); lower is better",
            LOWER,
        ),
    },
    needs={"features", "classes", "conditional"},
)
def conditional(fake, fake_labels: np.ndarray, real, real_labels: np.ndarray) -> Scores:
    """Per-class scores of a conditional G: ``fake_labels`` are the classes it was asked for."""
    intra = intra_class_fid(fake.features, fake_labels, real.features, real_labels)
    return {
        "class_accuracy": {"value": class_accuracy(fake.probs, fake_labels)},
        "intra_fid": {"value": intra["mean"], "per_class": intra["per_class"]},
    }


_PACGAN = (
    "PacGAN protocol (Lin et al. 2018): nearest mode centre; high quality within {hq_threshold_std:g} std; "
)


@register_metric(
    "mode_coverage",
    columns={
        "modes_covered": (_PACGAN + "modes holding >= 1 high-quality sample; higher is better", HIGHER),
        "high_quality_share": (_PACGAN + "share of samples that are high quality; higher is better", HIGHER),
        "reverse_kl": (
            _PACGAN + "KL of the high-quality mode histogram to uniform (nats); lower is better",
            LOWER,
        ),
    },
    needs={"modes"},
)
def mode_coverage_score(points: np.ndarray, modes: np.ndarray, std: float, *, hq_threshold_std: float = 3.0):
    """``points [N, 2]`` on a mixture with centres ``modes [K, 2]`` of common ``std``."""
    result = mode_coverage(points, modes, std, hq_threshold=hq_threshold_std)
    return {
        "modes_covered": {
            "value": result["modes_covered"],
            "of": len(modes),
            "mode_counts": result["mode_counts"],
        },
        "high_quality_share": {"value": result["high_quality_share"]},
        "reverse_kl": {"value": result["reverse_kl"]},
    }


# --- translation (cyclegan, pix2pix): translations against their true translation --------
# uint8 arrays [N, C, H, W] in the same order; ``evaluation/translation.py`` calls these.


@register_metric(
    "mae",
    columns={
        "mae": ("mean |translation - true translation| per pixel, [0, 1] scale; lower is better", LOWER)
    },
    needs={"pairs"},
    auto=False,
)
def mae(pred, target) -> Scores:
    return {"mae": {"value": mean_absolute_error(pred, target)}}


@register_metric(
    "psnr",
    columns={
        "psnr": (
            "peak signal-to-noise ratio to the true translation, dB, mean over images; higher is better",
            HIGHER,
        )
    },
    needs={"pairs"},
    auto=False,
)
def psnr_score(pred, target) -> Scores:
    return {"psnr": {"value": psnr(pred, target)}}


@register_metric(
    "edge_iou",
    columns={
        "edge_iou": (
            "intersection over union of edge pixels (>= 128) with the true edge map, mean over "
            "images; higher is better",
            HIGHER,
        )
    },
    needs={"pairs"},
    auto=False,
)
def edge_iou_score(pred, target) -> Scores:
    return {"edge_iou": {"value": edge_iou(pred, target)}}


@register_metric(
    "translated_accuracy",
    columns={
        "translated_accuracy": (
            "share of translations the classifier assigns to their input's class (argmax); "
            "its accuracy on the real target images is the ceiling; higher is better",
            HIGHER,
        )
    },
    needs={"pairs", "classes"},
    auto=False,
)
def translated_accuracy(fake, labels: np.ndarray) -> Scores:
    """``fake``: classifier features (with ``probs``) of the translations; ``labels`` [N]."""
    return {"translated_accuracy": {"value": float((fake.probs.argmax(axis=1) == labels).mean())}}
