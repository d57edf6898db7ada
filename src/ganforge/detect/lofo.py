"""Leave one family out: train a detector on every zoo family but one, test it on that one.

The image sets are assembled so that a detector cannot win by telling *domains* apart: every
training family brings as many real images of its own output domain (Fashion-MNIST, edge
maps, styles) as it brings samples, each family a different slice of the domain's training
split. The held-out family is tested against real **test** images of its domain, which no
detector ever trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from torch import nn

from ganforge.detect.calibration import balanced_threshold
from ganforge.detect.training import DetectorSettings, probabilities, split, train_detector
from ganforge.detect.zoo import Member


@dataclass
class Pool:
    """Every image the leave-one-family-out runs use, uint8 ``[N, 1, S, S]`` each."""

    fakes: dict[str, np.ndarray]  # family -> its members' samples, concatenated
    domains: dict[str, str]  # family -> its output domain
    real_train: dict[str, np.ndarray]  # domain -> real training images, one slice per family
    real_test: dict[str, np.ndarray]  # domain -> real test images
    slices: dict[str, slice] = field(default_factory=dict)  # family -> its rows of real_train


def family_slices(members: list[Member] | tuple[Member, ...], per_family: int) -> dict[str, slice]:
    """Each family's own rows of its domain's real training images (families of one domain
    in order: the first gets rows 0..per_family, the next the following ones)."""
    taken: dict[str, int] = {}
    slices = {}
    for member in members:
        if member.family in slices:
            continue
        start = taken.get(member.domain, 0)
        slices[member.family] = slice(start, start + per_family)
        taken[member.domain] = start + per_family
    return slices


def training_sets(pool: Pool, families: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(real, generated) training images of ``families``: each family's samples and as many
    real images of its domain."""
    real = [pool.real_train[pool.domains[f]][pool.slices[f]][: len(pool.fakes[f])] for f in families]
    return np.concatenate(real), np.concatenate([pool.fakes[f] for f in families])


def fit_calibrated(
    kind: str, real: np.ndarray, fake: np.ndarray, settings: DetectorSettings
) -> tuple[nn.Module, float, dict]:
    """Train ``kind`` on 90 % of each set; its own threshold (balanced accuracy) and its
    validation figures come from the other 10 %."""
    real_train, real_val = split(real, settings.val_fraction, settings.seed)
    fake_train, fake_val = split(fake, settings.val_fraction, settings.seed)
    model = train_detector(kind, real_train, fake_train, settings)
    p_real, p_fake = probabilities(model, real_val), probabilities(model, fake_val)
    threshold = balanced_threshold(p_real, p_fake)
    validation = held_out_scores(p_real, p_fake, threshold)
    return model, threshold, validation


def held_out_scores(p_real: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict:
    """ROC AUC, average precision (generated = positive) and accuracy at ``threshold``
    (a score above it is called generated), with the set sizes."""
    # imported here: at the top, sklearn cost every `ganforge` command ~1.5-3 s of start-up
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth = np.concatenate([np.zeros(len(p_real)), np.ones(len(p_fake))])
    scores = np.concatenate([p_real, p_fake])
    return {
        "auc": float(roc_auc_score(truth, scores)),
        "ap": float(average_precision_score(truth, scores)),
        "accuracy": float(((scores > threshold) == truth).mean()),
        "tpr": float((p_fake > threshold).mean()),
        "fpr": float((p_real > threshold).mean()),
        "n_real": len(p_real),
        "n_fake": len(p_fake),
    }
