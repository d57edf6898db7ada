"""metrics/separation.py: the probes' AUC of real against generated scores."""

import numpy as np
import pytest
import torch

from ganforge.metrics.separation import auc


def test_auc_counts_pairs_with_ties_as_half():
    assert auc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 0.0
    # pairs (1 vs 0) above, (1 vs 1) tied, (0 vs 0) tied, (0 vs 1) below: (1 + 0.5 + 0.5) / 4
    assert auc(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(0.5)
    assert auc(np.array([1.0, 1.0]), np.array([0.0, 1.0])) == pytest.approx(0.75)
