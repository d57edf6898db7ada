"""Sample grids: tensors in, PNG images out."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[N, C, H, W]`` floats in [-1, 1] -> uint8 ``[N, H, W, C]`` (the layout other tools read)."""
    images = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return images.permute(0, 2, 3, 1).numpy()


def image_grid(
    images: np.ndarray, columns: int | None = None, padding: int = 2, min_side: int = 512
) -> Image.Image:
    """Tile uint8 ``[N, H, W, C]`` images into one picture, scaled up so small images stay visible."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, k = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        canvas[top : top + h, left : left + w] = image
    picture = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    scale = max(1, min_side // max(canvas.shape[:2]))
    if scale > 1:  # nearest keeps pixels honest
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def scatter_plot(fake: np.ndarray, real: np.ndarray | None = None, title: str = ""):
    """A figure of generated 2-D points (and real ones, if given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.3, c="tab:blue", label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=4, alpha=0.6, c="tab:orange", label="generated")
    ax.set_aspect("equal")
    # Below the axes: inside them the legend hid a corner mode of the 5x5 grid.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, frameon=False, markerscale=3)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def save_samples(
    samples: torch.Tensor, path: str | Path, real: torch.Tensor | None = None, columns: int | None = None
) -> Path:
    """Save images ``[N, C, H, W]`` in [-1, 1] as a grid, or points ``[N, 2]`` as a scatter plot."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if samples.dim() == 4:
        image_grid(to_uint8(samples), columns).save(path)
    else:
        import matplotlib.pyplot as plt

        fig = scatter_plot(samples.numpy(), None if real is None else real.numpy(), title=path.stem)
        fig.savefig(path)
        plt.close(fig)
    return path
