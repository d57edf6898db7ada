"""KID: an O(n^2) loop reference, torch-fidelity's subset draws, and behaviour on samples."""

import numpy as np
import pytest

from ganforge.metrics import MetricError, MetricWarning, kid


def loop_kernel(x, y):
    return (sum(a * b for a, b in zip(x, y, strict=True)) / len(x) + 1.0) ** 3


def loop_mmd2(xs, ys):
    """Unbiased MMD^2 (Binkowski et al. eq. 3) written as plain loops."""
    m = len(xs)
    within_x = sum(loop_kernel(xs[i], xs[j]) for i in range(m) for j in range(m) if i != j)
    within_y = sum(loop_kernel(ys[i], ys[j]) for i in range(m) for j in range(m) if i != j)
    across = sum(loop_kernel(xs[i], ys[j]) for i in range(m) for j in range(m))
    return (within_x + within_y) / (m * (m - 1)) - 2 * across / (m * m)


def test_whole_sets_match_loop_reference():
    rng = np.random.default_rng(0)
    feats_a, feats_b = rng.normal(size=(6, 3)), rng.normal(0.5, 1.0, size=(6, 3))
    # subset_size = N: every subset is a permutation of the whole set, so all agree.
    got = kid(feats_a, feats_b, subsets=3, subset_size=6)
    expected = loop_mmd2(feats_a.tolist(), feats_b.tolist())
    assert got["kid_mean"] == pytest.approx(expected, rel=1e-10)
    assert got["kid_std"] == pytest.approx(0.0, abs=1e-12)
    assert set(got) == {"kid_mean", "kid_std"}
    assert all(isinstance(value, float) for value in got.values())


def test_subsets_drawn_as_torch_fidelity_draws_them():
    rng = np.random.default_rng(1)
    feats_a, feats_b = rng.normal(size=(9, 4)), rng.normal(size=(7, 4)) * 1.5
    draws = np.random.RandomState(3)
    expected = []
    for _ in range(4):
        subset_a = feats_a[draws.choice(9, 5, replace=False)]
        subset_b = feats_b[draws.choice(7, 5, replace=False)]
        expected.append(loop_mmd2(subset_a.tolist(), subset_b.tolist()))
    got = kid(feats_a, feats_b, subsets=4, subset_size=5, seed=3)
    assert got["kid_mean"] == pytest.approx(np.mean(expected), rel=1e-10)
    assert got["kid_std"] == pytest.approx(np.std(expected), rel=1e-8)


def test_seed_controls_subsets():
    rng = np.random.default_rng(2)
    feats_a, feats_b = rng.normal(size=(40, 4)), rng.normal(size=(40, 4))
    first = kid(feats_a, feats_b, subsets=5, subset_size=10, seed=1)
    assert kid(feats_a, feats_b, subsets=5, subset_size=10, seed=1) == first
    assert kid(feats_a, feats_b, subsets=5, subset_size=10, seed=2) != first


def test_near_zero_for_same_distribution_and_positive_for_shifted():
    rng = np.random.default_rng(3)
    feats_a = rng.normal(size=(600, 16))
    feats_b = rng.normal(size=(600, 16))
    same = kid(feats_a, feats_b, subsets=10, subset_size=300)["kid_mean"]
    shifted = kid(feats_a, feats_b + 0.5, subsets=10, subset_size=300)["kid_mean"]
    assert shifted > 0.05
    assert abs(same) < 0.02 * shifted


def test_subset_size_clipped_with_warning():
    rng = np.random.default_rng(4)
    feats_a, feats_b = rng.normal(size=(12, 3)), rng.normal(size=(20, 3))
    with pytest.warns(MetricWarning, match="using 12"):
        clipped = kid(feats_a, feats_b, subsets=3, subset_size=1000)
    assert clipped == kid(feats_a, feats_b, subsets=3, subset_size=12)


@pytest.mark.parametrize(
    "feats_a, feats_b, kwargs, message",
    [
        (np.ones((5, 3)), np.ones((5, 4)), {}, "features per sample"),
        (np.ones((1, 3)), np.ones((5, 3)), {}, "at least 2"),
        (np.full((5, 3), np.inf), np.ones((5, 3)), {}, "NaN"),
        (np.ones((5, 3)), np.ones((5, 3)), {"subset_size": 1}, "subset_size"),
        (np.ones((5, 3)), np.ones((5, 3)), {"subsets": 0}, "subsets"),
    ],
)
def test_bad_input_raises_metric_error(feats_a, feats_b, kwargs, message):
    with pytest.raises(MetricError, match=message):
        kid(feats_a, feats_b, **kwargs)
