"""Precision/recall and density/coverage: the prdc package, hand-made sets, chunking, checks."""

import importlib

import numpy as np
import pytest

from ganforge.metrics import MetricError, density_coverage, prdc, precision_recall

prdc_module = importlib.import_module("ganforge.metrics.prdc")


def point_clouds(seed, real_count=200, fake_count=150, dim=8, shift=0.4):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(real_count, dim))
    fake = rng.normal(size=(fake_count, dim)) * 1.3 + shift
    return real, fake


@pytest.mark.parametrize("nearest_k", [3, 5])
def test_matches_prdc_package(nearest_k):
    reference = pytest.importorskip("prdc")
    real, fake = point_clouds(nearest_k)
    expected = reference.compute_prdc(real, fake, nearest_k=nearest_k)
    got = prdc(real, fake, nearest_k)
    assert set(got) == set(expected)
    for name, value in got.items():
        assert isinstance(value, float)
        assert value == pytest.approx(float(expected[name]), abs=1e-12), name
    # Guard against a vacuous comparison: the scores must be informative here.
    assert 0 < got["precision"] < 1 and 0 < got["coverage"] < 1


def test_wrappers_pick_their_scores():
    real, fake = point_clouds(10)
    assert precision_recall(real, fake) == {
        key: value for key, value in prdc(real, fake, 3).items() if key in ("precision", "recall")
    }
    assert density_coverage(real, fake) == {
        key: value for key, value in prdc(real, fake, 5).items() if key in ("density", "coverage")
    }


def test_chunked_equals_single_chunk(monkeypatch):
    real, fake = point_clouds(11, real_count=37, fake_count=23)
    whole = prdc(real, fake, 3)
    monkeypatch.setattr(prdc_module, "_CHUNK_ELEMENTS", 50)  # two rows per chunk, ragged end
    assert prdc(real, fake, 3) == whole


def test_identical_sets_score_one():
    real, _ = point_clouds(12)
    got = prdc(real, real.copy(), 3)
    assert got["precision"] == 1.0
    assert got["recall"] == 1.0
    assert got["coverage"] == 1.0
    assert got["density"] >= 1.0 / 3  # each fake sits at least in its own real ball


def test_far_apart_sets_score_zero():
    real, fake = point_clouds(13, shift=100.0)
    assert prdc(real, fake, 5) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_hand_made_line():
    # Reals at 0..9 on a line: with k = 1 every real ball has radius 1 (strict '<' excludes
    # the neighbour itself). Fakes: 0.5 lies in the balls of 0 and 1, 20 in none.
    real = np.arange(10.0)[:, None]
    fake = np.array([[0.5], [20.0], [21.0]])
    got = prdc(real, fake, 1)
    assert got["precision"] == pytest.approx(1 / 3)
    assert got["density"] == pytest.approx(2 / 3)
    assert got["coverage"] == pytest.approx(2 / 10)
    # Fake radii: 0.5 -> 19.5, so reals within 19.5 of 0.5 (all ten) are recalled.
    assert got["recall"] == 1.0


@pytest.mark.parametrize(
    "real, fake, nearest_k, message",
    [
        (np.ones((3, 2)), np.ones((10, 2)), 3, "at least 4"),
        (np.ones((10, 2)), np.ones((10, 3)), 3, "features per sample"),
        (np.full((10, 2), np.nan), np.ones((10, 2)), 3, "NaN"),
        (np.ones((10, 2)), np.ones((10, 2)), 0, "nearest_k"),
        (np.ones(10), np.ones((10, 1)), 3, "2-D"),
    ],
)
def test_bad_input_raises_metric_error(real, fake, nearest_k, message):
    with pytest.raises(MetricError, match=message):
        prdc(real, fake, nearest_k)
