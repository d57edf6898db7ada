"""Learning on the 8-Gaussian ring (the shipped preset, shortened) and ``evaluate_points``.

The learning check trains ``configs/gan-ring8.yaml`` with a fixed seed for a fraction of its
steps and scores the exported generator with PacGAN's protocol; the full-length figures over
10 seeds are the job of ``benchmarks/toy2d_table.py``, not of a unit test.
"""

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from ganforge.checkpoint import load_generator
from ganforge.config import load_config
from ganforge.data.mixtures import RING8_STD, ring8_centres
from ganforge.evaluation.points import evaluate_points
from ganforge.metrics import MetricError
from ganforge.training import train
from ganforge.training.log import read_metrics

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RING8_PRESET = CONFIGS / "gan-ring8.yaml"
SHORT_STEPS = 1500  # a fraction of the preset's budget: enough to reach the ring and spread


@pytest.fixture(scope="module")
def ring8_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ring8") / "run"
    cfg = load_config(
        RING8_PRESET,
        [
            f"run.dir={run_dir}",
            "run.seed=0",
            "run.progress=false",
            f"train.steps={SHORT_STEPS}",
            "train.log_every=100",
            f"train.sample_every={SHORT_STEPS}",
            f"train.checkpoint_every={SHORT_STEPS}",
        ],
    )
    train(cfg)
    return run_dir


@pytest.mark.slow
def test_ring8_preset_covers_most_modes_after_a_short_run(ring8_run):
    G, meta = load_generator(ring8_run)
    result = evaluate_points(G, meta, n=2500, seed=123)
    assert result["modes_covered"] >= 6, result
    assert result["high_quality_share"] > 0.5, result


@pytest.mark.slow
def test_the_losses_move(ring8_run):
    rows = read_metrics(ring8_run / "metrics.csv")
    assert all(math.isfinite(v) for v in rows["d_loss"] + rows["g_loss"])
    assert max(rows["g_loss"]) - min(rows["g_loss"]) > 0.1
    assert max(rows["d_loss"]) - min(rows["d_loss"]) > 0.1
    # D starts at chance (D(x) = D(G(z)) = 0.5); after the short run it still tells G's
    # points from real ones a little (the EMA export, not the live G, is the sharp one).
    assert sum(rows["d_real"][-3:]) / 3 > sum(rows["d_fake"][-3:]) / 3 + 0.05


@pytest.mark.slow
def test_grid25_preset_finds_the_modes_in_its_first_half(tmp_path):
    """The grid preset's first 8,000 steps (before its learning rates decay) spread G over
    the 5x5 grid: every tuning seed had all 25 modes by then; the second half sharpens them."""
    cfg = load_config(
        CONFIGS / "gan-grid25.yaml",
        [
            f"run.dir={tmp_path / 'run'}",
            "run.seed=0",
            "run.progress=false",
            "train.steps=8000",
            "train.lr_decay_start=1",
            "train.sample_every=8000",
            "train.checkpoint_every=8000",
        ],
    )
    train(cfg)
    G, meta = load_generator(tmp_path / "run")
    result = evaluate_points(G, meta, n=2500, seed=123)
    assert result["modes_covered"] >= 22, result
    assert result["high_quality_share"] > 0.6, result


class OnRing(nn.Module):
    """A perfect ring8 generator for tests: the angle of ``z [N, 2]`` picks one of 8 centres,
    plus ``spread`` times the ring's std of noise from z itself; ``offset`` shifts every point."""

    def __init__(self, spread: float = 0.0, offset: float = 0.0):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the module a device
        self.register_buffer("centres", ring8_centres())
        self.spread, self.offset = spread, offset

    def forward(self, z):
        angle = torch.atan2(z[:, 1], z[:, 0]) % (2 * math.pi)
        mode = (angle / (2 * math.pi / 8)).long().clamp(max=7)
        return self.centres[mode] + self.spread * RING8_STD * z + self.offset + self.anchor


def ring8_meta(z_dim=2, noise="normal"):
    return {
        "model": {"z_dim": z_dim, "noise": noise},
        "data": {"name": "ring8", "modes": ring8_centres().tolist(), "mode_std": RING8_STD},
    }


def test_evaluate_points_on_a_perfect_generator():
    result = evaluate_points(OnRing(), ring8_meta(), n=2500, seed=0)
    assert result["modes_covered"] == 8
    assert result["high_quality_share"] == 1.0
    assert sum(result["mode_counts"]) == 2500 and result["n_samples"] == 2500
    assert result["reverse_kl"] < 0.01  # z's angle is uniform: the modes fill evenly


def test_evaluate_points_counts_spread_and_misplaced_points():
    # Spread 2 std around each centre: P(|z| < 1.5) = 1 - exp(-1.125) = 67.5 % is high quality.
    spread = evaluate_points(OnRing(spread=2.0), ring8_meta(), n=5000, seed=1)
    assert spread["high_quality_share"] == pytest.approx(1 - math.exp(-1.125), abs=0.02)
    off = evaluate_points(OnRing(offset=0.2), ring8_meta(), n=500, seed=1)
    assert off["high_quality_share"] == 0.0 and off["modes_covered"] == 0


def test_evaluate_points_is_seeded_and_leaves_g_as_it_was():
    G = OnRing(spread=2.0).train()
    a = evaluate_points(G, ring8_meta(), n=300, seed=5)
    b = evaluate_points(G, ring8_meta(), n=300, seed=5)
    c = evaluate_points(G, ring8_meta(), n=300, seed=6)
    assert a == b and a["mode_counts"] != c["mode_counts"]
    assert G.training


def test_evaluate_points_uses_the_runs_noise_and_batches():
    seen = []

    class Recorder(OnRing):
        def forward(self, z):
            seen.append(z.clone())
            return super().forward(z)

    evaluate_points(Recorder(), ring8_meta(z_dim=2, noise="uniform"), n=25, seed=0, batch_size=10)
    assert [len(z) for z in seen] == [10, 10, 5]
    z = torch.cat(seen)
    assert z.min() >= -1 and z.max() <= 1  # uniform noise in [-1, 1]


def test_evaluate_points_refuses_a_set_without_modes():
    meta = {
        "model": {"z_dim": 2, "noise": "normal"},
        "data": {"name": "spiral", "modes": None, "mode_std": None},
    }
    with pytest.raises(MetricError, match="no mode centres.*ring8"):
        evaluate_points(OnRing(), meta)
    with pytest.raises(MetricError, match="at least 1"):
        evaluate_points(OnRing(), ring8_meta(), n=0)
