"""The pictures of the game, computed from the real G and D: pure functions, tensors in, arrays out.

* ``heat_map``: D's verdict over a grid of the data plane (probability "real" for the BCE losses).
* ``manifold``: a grid in noise space pushed through G - the warped sheet G lays over the plane.
* ``gradient_arrows``: for each generated point, the direction G's next update moves it,
  ``-d(G's loss)/d(sample)``.
* ``sample_quality``: mode coverage on mixtures (ganforge.metrics.toy2d), else a histogram
  Jensen-Shannon divergence between real and generated points.

Bounds are ``(x_min, x_max, y_min, y_max)``. Grids are row-major with row 0 at the *top*
(largest y), so a ``[rows, cols]`` array maps straight onto image pixels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.losses import GANLoss
from ganforge.metrics.toy2d import mode_coverage

Bounds = tuple[float, float, float, float]

# Noise range the manifold grid spans on each swept axis: the whole box of U[-1, 1],
# +-2 standard deviations (95% per axis) of N(0, 1).
NOISE_SPAN = {"uniform": 1.0, "normal": 2.0}


def view_bounds(points: Tensor, margin: float = 0.3) -> Bounds:
    """A square view around ``points [N, 2]`` (their 0.5-99.5% extent) with a relative margin."""
    low = torch.quantile(points, 0.005, dim=0)
    high = torch.quantile(points, 0.995, dim=0)
    centre = (low + high) / 2
    half = float((high - low).max()) / 2 * (1 + margin) + 1e-3
    cx, cy = float(centre[0]), float(centre[1])
    return (cx - half, cx + half, cy - half, cy + half)


def plane_grid(bounds: Bounds, resolution: int) -> Tensor:
    """Centres of a ``resolution x resolution`` grid of cells over ``bounds``: ``[res * res, 2]``.

    Row-major, row 0 at the top (largest y), column 0 at the left (smallest x).
    """
    x_min, x_max, y_min, y_max = bounds
    dx, dy = (x_max - x_min) / resolution, (y_max - y_min) / resolution
    xs = x_min + (torch.arange(resolution) + 0.5) * dx
    ys = y_max - (torch.arange(resolution) + 0.5) * dy
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)


@torch.no_grad()
def heat_map(D: nn.Module, loss: GANLoss, bounds: Bounds, resolution: int) -> tuple[np.ndarray, float, float]:
    """D over the plane: ``(values [res, res] in [0, 1], lowest logit, highest logit)``.

    For the BCE losses (``loss.probabilistic``) values are D(x) = sigmoid(logit), the
    probability "real". The other losses' critics output unbounded scores, so their values
    are the scores rescaled to [0, 1] over this view (low = looks fake, high = looks real).
    """
    logits = D(plane_grid(bounds, resolution)).float()
    low, high = float(logits.min()), float(logits.max())
    if loss.probabilistic:
        values = torch.sigmoid(logits)
    else:
        values = (logits - low) / max(high - low, 1e-12)
    return values.view(resolution, resolution).numpy(), low, high


def noise_grid(z_dim: int, noise: str, resolution: int) -> tuple[Tensor, int, int]:
    """Noise vectors on a grid: ``(z [rows * cols, z_dim], rows, cols)``.

    ``z_dim == 1``: one row of ``4 * resolution`` values along the only axis.
    ``z_dim >= 2``: a ``resolution x resolution`` grid over noise axes 0 and 1, with every
    other axis held at 0 - a flat 2-D slice through the centre of noise space. For
    ``z_dim > 2`` G's whole output is thicker than this sheet; the slice shows how G bends
    one plane of it. The grid spans ``NOISE_SPAN[noise]`` on each swept axis.
    """
    span = NOISE_SPAN[noise]
    if z_dim == 1:
        cols = 4 * resolution
        return torch.linspace(-span, span, cols)[:, None], 1, cols
    axis = torch.linspace(-span, span, resolution)
    first, second = torch.meshgrid(axis, axis, indexing="ij")
    z = torch.zeros(resolution * resolution, z_dim)
    z[:, 0], z[:, 1] = first.flatten(), second.flatten()
    return z, resolution, resolution


@torch.no_grad()
def manifold(G: nn.Module, z_grid: Tensor) -> np.ndarray:
    """G on a noise grid: ``[rows * cols, 2]`` points, in the grid's order."""
    return G(z_grid).float().numpy()


def gradient_arrows(D: nn.Module, loss: GANLoss, fake: Tensor) -> np.ndarray:
    """``-d(G's loss)/d(fake)`` for ``fake [N, 2]``: ``[N, 2]``, where G's update pushes each point.

    G's loss is ``loss.g(D(fake))`` on this very batch (a mean over it, so arrows scale
    as 1/N; the page normalises their length). D's weights get no gradient.
    """
    fake = fake.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss.g(D(fake)), fake)
    return (-grad).numpy()


def histogram_js(real: np.ndarray, fake: np.ndarray, bounds: Bounds, bins: int = 24) -> float:
    """Jensen-Shannon divergence (nats, in [0, log 2]) of 2-D histograms over ``bounds``.

    A coarse but honest "how far apart" for point sets without discrete modes (spiral,
    moons, drawings). Points outside the view land in the border cells.
    """
    x_min, x_max, y_min, y_max = bounds

    def histogram(points: np.ndarray) -> np.ndarray:
        x = np.clip(points[:, 0], x_min, x_max - 1e-9)
        y = np.clip(points[:, 1], y_min, y_max - 1e-9)
        counts, _, _ = np.histogram2d(x, y, bins=bins, range=[[x_min, x_max], [y_min, y_max]])
        return counts.ravel() / max(counts.sum(), 1)

    p, q = histogram(real), histogram(fake)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float((a[mask] * np.log(a[mask] / m[mask])).sum())

    return min(max((kl(p) + kl(q)) / 2, 0.0), math.log(2))


def sample_quality(
    fake: np.ndarray, real: np.ndarray, modes: np.ndarray | None, mode_std: float | None, bounds: Bounds
) -> dict:
    """What the quality chart plots for generated points ``fake [N, 2]``.

    With modes: ``{"modes_covered", "modes_total", "hq_share"}`` (PacGAN's protocol). Without:
    ``{"js": divergence}`` against ``real [M, 2]``. Non-finite samples count as misses.
    """
    fake = np.nan_to_num(fake, nan=1e6, posinf=1e6, neginf=-1e6)
    if modes is not None and mode_std is not None:
        coverage = mode_coverage(fake, modes, mode_std)
        return {
            "modes_covered": coverage["modes_covered"],
            "modes_total": int(len(modes)),
            "hq_share": coverage["high_quality_share"],
        }
    return {"js": histogram_js(real, fake, bounds)}
