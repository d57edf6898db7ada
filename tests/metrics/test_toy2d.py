"""Mode coverage on hand-made point sets around a 5 x 5 grid of modes."""

import math

import numpy as np
import pytest

from ganforge.metrics import MetricError, mode_coverage

STD = 0.05
GRID = np.array([[x, y] for x in range(-4, 5, 2) for y in range(-4, 5, 2)], dtype=float)


def test_every_mode_hit_exactly():
    samples = np.repeat(GRID, 4, axis=0)
    got = mode_coverage(samples, GRID, STD)
    assert got["modes_covered"] == 25
    assert got["high_quality_share"] == 1.0
    assert got["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert got["mode_counts"] == [4] * 25
    assert isinstance(got["modes_covered"], int)


def test_all_points_on_one_mode():
    rng = np.random.default_rng(0)
    samples = GRID[7] + rng.normal(scale=STD, size=(200, 2)).clip(-2 * STD, 2 * STD)
    got = mode_coverage(samples, GRID, STD)
    assert got["modes_covered"] == 1
    assert got["high_quality_share"] == 1.0
    assert got["reverse_kl"] == pytest.approx(math.log(25))
    assert got["mode_counts"][7] == 200


def test_off_mode_points_are_not_high_quality():
    # Midpoints between neighbouring modes lie 1.0 = 20 std from every centre.
    samples = GRID[:-1] + np.array([1.0, 0.0])
    got = mode_coverage(samples, GRID, STD)
    assert got["high_quality_share"] == 0.0
    assert got["modes_covered"] == 0
    assert got["reverse_kl"] is None
    assert got["mode_counts"] == [0] * 25


def test_threshold_in_units_of_std():
    # One point 2.9 std from mode 0, one 3.1 std from mode 1: only the first counts.
    samples = np.array([GRID[0] + [2.9 * STD, 0.0], GRID[1] + [0.0, 3.1 * STD]])
    got = mode_coverage(samples, GRID, STD)
    assert got["high_quality_share"] == 0.5
    assert got["modes_covered"] == 1
    assert got["mode_counts"][0] == 1 and got["mode_counts"][1] == 0
    assert mode_coverage(samples, GRID, STD, hq_threshold=3.2)["modes_covered"] == 2


def test_uneven_spread_gives_intermediate_reverse_kl():
    samples = np.concatenate([np.repeat(GRID[:5], 10, axis=0), np.repeat(GRID[5:], 1, axis=0)])
    got = mode_coverage(samples, GRID, STD)
    assert got["modes_covered"] == 25
    assert 0.0 < got["reverse_kl"] < math.log(25)


@pytest.mark.parametrize(
    "samples, modes, std, message",
    [
        (np.zeros((4, 2)), GRID, 0.0, "std"),
        (np.zeros((4, 2)), GRID, float("nan"), "std"),
        (np.zeros((4, 3)), GRID, STD, "features per sample"),
        (np.full((4, 2), np.nan), GRID, STD, "NaN"),
        (np.zeros((0, 2)), GRID, STD, "at least 1"),
        (np.zeros(2), GRID, STD, "2-D"),
    ],
)
def test_bad_input_raises_metric_error(samples, modes, std, message):
    with pytest.raises(MetricError, match=message):
        mode_coverage(samples, modes, std)
