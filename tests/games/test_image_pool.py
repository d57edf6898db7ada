"""The image pool: fill, swap about half the time, exact resume, own RNG."""

import torch

from ganforge.games.image_pool import ImagePool


def _batch(start, n=2):
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def test_fills_first_then_returns_history_about_half_the_time():
    pool = ImagePool(size=4, seed=0)
    assert torch.equal(pool.query(_batch(0)), _batch(0))
    assert torch.equal(pool.query(_batch(2)), _batch(2))
    assert pool.count == 4
    old = 0
    for step in range(200):
        out = pool.query(_batch(100 + 2 * step))
        old += int((out[:, 0, 0, 0] < 100 + 2 * step).sum())
    assert 160 < old < 240  # 400 draws, p = 0.5


def test_size_zero_passes_through():
    pool = ImagePool(size=0, seed=0)
    batch = _batch(0, 3)
    assert torch.equal(pool.query(batch), batch)


def test_state_dict_round_trip_continues_identically():
    straight = ImagePool(size=3, seed=7)
    for i in range(4):
        straight.query(_batch(10 * i))
    saved = straight.state_dict()
    resumed = ImagePool(size=3, seed=123)  # a different seed: the state must win
    resumed.load_state_dict(saved)
    for i in range(4, 10):
        assert torch.equal(straight.query(_batch(10 * i)), resumed.query(_batch(10 * i)))


def test_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    pool = ImagePool(size=1, seed=0)
    for i in range(5):
        pool.query(_batch(i))
    assert torch.equal(torch.rand(3), expected)
