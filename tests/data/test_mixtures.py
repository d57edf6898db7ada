"""The 2-D sets: shapes, seeded determinism, points where the declared modes say."""

import pytest
import torch

from ganforge.config import DataConfig
from ganforge.data import DATASETS, DataError, load_dataset

MIXTURES = {"ring8": 8, "grid25": 25}


def load(name, seed=0, **overrides):
    return load_dataset(DataConfig(name=name, n_points=overrides.pop("n_points", 2000), **overrides), seed)


@pytest.mark.parametrize("name", sorted(MIXTURES))
def test_mixture_points_sit_on_their_modes(name):
    dataset = load(name)
    assert dataset.kind == "points" and DATASETS[name].kind == "points"
    assert dataset.data.shape == (2000, 2) and dataset.data.dtype == torch.float32
    assert dataset.modes.shape == (MIXTURES[name], 2)
    distances = torch.cdist(dataset.data, dataset.modes)
    nearest = distances.argmin(dim=1)
    # every point within 5 std of a centre, and of the centre it was drawn from
    assert distances.min(dim=1).values.max() < 5 * dataset.mode_std
    assert torch.equal(nearest, dataset.labels)
    counts = torch.bincount(nearest, minlength=MIXTURES[name])
    assert counts.min() > 0  # all modes hit
    assert counts.max() - counts.min() <= 1  # equal shares


def test_declared_geometry():
    ring = load("ring8")
    assert torch.allclose(ring.modes.norm(dim=1), torch.ones(8))
    assert ring.mode_std == pytest.approx(0.01)
    grid = load("grid25")
    assert sorted(set(grid.modes[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    assert grid.mode_std == pytest.approx(0.05)


@pytest.mark.parametrize("name", ["ring8", "grid25", "spiral", "moons"])
def test_seeded_and_split(name):
    first, again = load(name, seed=3), load(name, seed=3)
    assert torch.equal(first.data, again.data)
    assert not torch.equal(first.data, load(name, seed=4).data)
    assert not torch.equal(first.data, load(name, seed=3, split="test").data)
    assert len(load(name, n_points=17)) == 17


def test_spiral_and_moons_shapes():
    spiral = load("spiral")
    assert spiral.data.shape == (2000, 2) and spiral.modes is None and spiral.mode_std is None
    radius = spiral.data.norm(dim=1)
    assert radius.max() < 1.2 and radius.min() < 0.2  # from the centre out to radius ~1
    moons = load("moons")
    assert moons.modes is None and torch.bincount(moons.labels).tolist() == [1000, 1000]
    upper = moons.data[moons.labels == 0]
    lower = moons.data[moons.labels == 1]
    # make_moons geometry: the upper moon is centred on (0, 0), the lower on (1, 0.5)
    assert (upper.norm(dim=1) - 1).abs().max() < 0.3
    assert ((lower - torch.tensor([1.0, 0.5])).norm(dim=1) - 1).abs().max() < 0.3
    assert upper[:, 1].mean() > lower[:, 1].mean()


def test_no_points_is_an_error():
    with pytest.raises(DataError, match="n_points"):
        load("ring8", n_points=0)
