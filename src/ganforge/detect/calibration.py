"""A detector's own threshold, and what it costs on real images.

A probability of 0.5 is only a threshold if the detector's training balanced its errors,
which a detector tested on a generator it never saw rarely does. So every detector carries
the threshold chosen on its validation split (the one that maximises balanced accuracy) and
the false-positive rate that threshold gives on real test images it never saw: the share of
real images it would wrongly call generated. ``detector.json`` stores it per detector as

    "calibration": {"<kind>": {"threshold": t, "fpr": f, "n_real": n, "real_source": "..."}}
"""

from __future__ import annotations

from typing import Any

import numpy as np


def balanced_threshold(p_real: np.ndarray, p_fake: np.ndarray) -> float:
    """The threshold on p(generated) that maximises (TNR + TPR) / 2 on these two sets.

    A score strictly above the threshold is called generated. Ties between candidate
    thresholds go to the midpoint of the best gap, so the choice does not hug one sample.
    """
    if len(p_real) == 0 or len(p_fake) == 0:
        raise ValueError("balanced_threshold needs at least one real and one generated score")
    scores = np.unique(np.concatenate([p_real, p_fake]))
    # candidates: below every score, between neighbours, and at the top
    candidates = np.concatenate([[scores[0] - 1e-9], (scores[:-1] + scores[1:]) / 2, [scores[-1]]])
    real_sorted, fake_sorted = np.sort(p_real), np.sort(p_fake)
    tnr = np.searchsorted(real_sorted, candidates, side="right") / len(p_real)
    tpr = 1 - np.searchsorted(fake_sorted, candidates, side="right") / len(p_fake)
    return float(candidates[int(np.argmax((tnr + tpr) / 2))])


def false_positive_rate(p_real: np.ndarray, threshold: float) -> float:
    """Share of real images whose p(generated) is above ``threshold``."""
    return float((np.asarray(p_real) > threshold).mean())


def calibrate(
    p_real_val: np.ndarray, p_fake_val: np.ndarray, p_real_test: np.ndarray, real_source: str
) -> dict[str, Any]:
    """Threshold from the validation scores, its false-positive rate on real test images."""
    threshold = balanced_threshold(p_real_val, p_fake_val)
    return {
        "threshold": threshold,
        "fpr": false_positive_rate(p_real_test, threshold),
        "n_real": int(len(p_real_test)),
        "real_source": real_source,
    }
