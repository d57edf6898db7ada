"""How well one score separates two sets: the ROC AUC, as the probes in ``benchmarks/`` read it.

``auc(positives, negatives)`` is the chance that a random positive scores above a random
negative, ties counting half (the Mann-Whitney statistic): 1 = every positive above every
negative, 0.5 = blind. The critics of the translation and StarGAN probes report it for real
against generated images.
"""

from __future__ import annotations

import numpy as np


def auc(positives, negatives) -> float:
    """ROC AUC of 1-D scores (numpy arrays or CPU tensors), ``positives`` being the class that
    should score higher; ties count half."""
    from sklearn.metrics import roc_auc_score  # here: sklearn slows every command's start-up

    pos, neg = np.asarray(positives, dtype=np.float64), np.asarray(negatives, dtype=np.float64)
    truth = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    return float(roc_auc_score(truth, np.concatenate([pos, neg])))
