"""Frame builders: each picture equals the model quantity it claims to show."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.config import ModelConfig
from ganforge.lab import frames
from ganforge.losses import LOSSES, get_loss
from ganforge.models import build_models


def small_models(seed=0, z_dim=2):
    torch.manual_seed(seed)
    cfg = ModelConfig(name="mlp", z_dim=z_dim, g_width=16, d_width=16, hidden_layers=2)
    return build_models(cfg, (2,))


class LinearD(nn.Module):
    """D(x) = w . x + b, so every gradient has a closed form."""

    def __init__(self, w, b):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, x):
        return x @ self.w + self.b


def test_plane_grid_is_row_major_from_the_top_left():
    grid = frames.plane_grid((-1.0, 1.0, 0.0, 4.0), resolution=4)
    assert grid.shape == (16, 2)
    # cell centres: x in {-0.75, -0.25, 0.25, 0.75}, y from the top {3.5, 2.5, 1.5, 0.5}
    assert torch.allclose(grid[0], torch.tensor([-0.75, 3.5]))
    assert torch.allclose(grid[3], torch.tensor([0.75, 3.5]))
    assert torch.allclose(grid[4], torch.tensor([-0.75, 2.5]))
    assert torch.allclose(grid[15], torch.tensor([0.75, 0.5]))


@pytest.mark.parametrize("loss_name", ["minimax", "nonsaturating"])
def test_heat_map_is_sigmoid_of_d_for_bce_losses(loss_name):
    _, D = small_models()
    bounds = (-2.0, 2.0, -1.0, 3.0)
    values, low, high = frames.heat_map(D, get_loss(loss_name), bounds, resolution=8)
    with torch.no_grad():
        logits = D(frames.plane_grid(bounds, 8))
    assert values.shape == (8, 8)
    np.testing.assert_allclose(values.ravel(), torch.sigmoid(logits).numpy(), rtol=1e-6)
    assert low == pytest.approx(float(logits.min()))
    assert high == pytest.approx(float(logits.max()))


@pytest.mark.parametrize("loss_name", ["lsgan", "hinge", "wgan-gp"])
def test_heat_map_rescales_critic_scores_to_the_view(loss_name):
    _, D = small_models(seed=1)
    bounds = (-3.0, 3.0, -3.0, 3.0)
    values, low, high = frames.heat_map(D, get_loss(loss_name), bounds, resolution=6)
    with torch.no_grad():
        logits = D(frames.plane_grid(bounds, 6)).numpy()
    np.testing.assert_allclose(values.ravel(), (logits - low) / (high - low), rtol=1e-5, atol=1e-7)
    assert values.min() == pytest.approx(0.0) and values.max() == pytest.approx(1.0)


def test_manifold_is_g_on_the_noise_grid():
    G, _ = small_models(z_dim=2)
    z, rows, cols = frames.noise_grid(2, "uniform", resolution=5)
    points = frames.manifold(G, z)
    assert (rows, cols) == (5, 5) and points.shape == (25, 2)
    with torch.no_grad():
        np.testing.assert_array_equal(points, G(z).numpy())


@pytest.mark.parametrize("noise, span", [("uniform", 1.0), ("normal", 2.0)])
def test_noise_grid_sweeps_two_axes_and_holds_the_rest_at_zero(noise, span):
    z, rows, cols = frames.noise_grid(5, noise, resolution=4)
    assert z.shape == (16, 5) and (rows, cols) == (4, 4)
    assert torch.all(z[:, 2:] == 0)
    assert float(z[:, :2].min()) == -span and float(z[:, :2].max()) == span
    # row r holds axis 0 fixed, the columns sweep axis 1
    assert torch.all(z.view(4, 4, 5)[1, :, 0] == z[4, 0])
    assert len(torch.unique(z.view(4, 4, 5)[1, :, 1])) == 4


def test_noise_grid_of_one_dimensional_noise_is_a_line():
    z, rows, cols = frames.noise_grid(1, "uniform", resolution=4)
    assert z.shape == (16, 1) and (rows, cols) == (1, 16)
    assert torch.all(z[1:] > z[:-1])


@pytest.mark.parametrize("loss_name", ["minimax", "nonsaturating", "lsgan", "hinge"])
def test_arrows_are_minus_the_gradient_of_g_loss_in_closed_form(loss_name):
    w, b = [0.7, -1.3], 0.2
    D = LinearD(w, b)
    fake = torch.tensor([[0.5, 0.1], [-1.0, 2.0], [0.0, 0.0]])
    arrows = frames.gradient_arrows(D, get_loss(loss_name), fake)
    logits = fake @ torch.tensor(w) + b
    n = len(fake)
    # d(loss.g)/d(logit_i), by hand for each objective (each is a mean over the batch)
    dloss_dlogit = {
        "minimax": -torch.sigmoid(logits) / n,  # g = -mean softplus(l)
        "nonsaturating": -torch.sigmoid(-logits) / n,  # g = mean softplus(-l)
        "lsgan": (logits - 1) / n,  # g = 0.5 mean (l - 1)^2
        "hinge": torch.full((n,), -1.0 / n),  # g = -mean l
    }[loss_name]
    expected = -(dloss_dlogit[:, None] * torch.tensor(w)[None, :])
    np.testing.assert_allclose(arrows, expected.numpy(), rtol=1e-5, atol=1e-8)
    assert D.w.grad is None and D.b.grad is None  # D's weights are not touched


def test_arrows_point_where_g_loss_falls():
    _, D = small_models(seed=3)
    loss = get_loss("nonsaturating")
    fake = torch.randn(64, 2)
    arrows = torch.from_numpy(frames.gradient_arrows(D, loss, fake))
    step = 1e-2 * arrows / arrows.norm()
    with torch.no_grad():
        assert loss.g(D(fake + step)) < loss.g(D(fake))
        assert loss.g(D(fake - step)) > loss.g(D(fake))


def test_histogram_js_is_zero_for_equal_sets_and_log2_for_disjoint_ones():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 0, size=(500, 2))
    bounds = (-1.0, 1.0, -1.0, 1.0)
    assert frames.histogram_js(real, real, bounds) == pytest.approx(0.0, abs=1e-12)
    assert frames.histogram_js(real, real + 1.0, bounds) == pytest.approx(math.log(2))


def test_sample_quality_counts_modes_or_falls_back_to_js():
    modes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    on_two_modes = np.repeat(modes[:2], 10, axis=0)
    quality = frames.sample_quality(on_two_modes, modes, modes, 0.01, (-1, 2, -1, 2))
    assert quality == {"modes_covered": 2, "modes_total": 3, "hq_share": 1.0}
    with_nan = np.vstack([on_two_modes, [[np.nan, np.nan]]])
    assert frames.sample_quality(with_nan, modes, modes, 0.01, (-1, 2, -1, 2))["hq_share"] < 1
    assert set(frames.sample_quality(on_two_modes, modes, None, None, (-1, 2, -1, 2))) == {"js"}


def test_view_bounds_are_square_and_hold_the_points():
    points = torch.tensor([[0.0, 0.0], [4.0, 1.0]]).repeat(100, 1)
    x_min, x_max, y_min, y_max = frames.view_bounds(points)
    assert x_max - x_min == pytest.approx(y_max - y_min)
    assert x_min < 0 and x_max > 4 and y_min < 0 and y_max > 1


def test_every_registered_loss_gives_finite_pictures():
    G, D = small_models()
    fake = G(torch.rand(8, 2) * 2 - 1).detach()
    for name in LOSSES:
        values, _, _ = frames.heat_map(D, get_loss(name), (-1, 1, -1, 1), 4)
        assert np.isfinite(values).all(), name
        assert np.isfinite(frames.gradient_arrows(D, get_loss(name), fake)).all(), name
