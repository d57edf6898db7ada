"""Where in an image the pixel detector's evidence lies.

The pixel detector ends in global average pooling and one linear layer, so its logit is the
mean over locations of that linear layer applied to the feature vector at each location:
``logit = w . mean_xy f(x, y) + b = mean_xy (w . f(x, y) + b)``. That per-location map is not
an approximation or a saliency heuristic: its mean *is* the logit, and a red patch is a place
whose features push the score towards "generated". The map has the resolution of the last
feature layer (a quarter of the image side for the pixel CNN) and is upsampled for display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.batches import to_unit_range
from ganforge.detect.inputs import DetectError
from ganforge.files import atomic_write

MAX_IMAGES = 8  # a handful: the figure stays readable


def pooled_head(model: nn.Module) -> tuple[nn.Module, nn.Linear]:
    """(the layers before global average pooling, the final linear layer) of a detector whose
    ``net`` ends in ``AdaptiveAvgPool2d(1), Flatten, Linear(C, 1)``; otherwise a DetectError."""
    layers = list(getattr(model, "net", []))
    tail = layers[-3:]
    if (
        len(layers) < 4
        or not isinstance(tail[0], nn.AdaptiveAvgPool2d)
        or tail[0].output_size not in (1, (1, 1))
        or not isinstance(tail[1], nn.Flatten)
        or not isinstance(tail[2], nn.Linear)
        or tail[2].out_features != 1
    ):
        raise DetectError(
            f"the {type(model).__name__} does not end in global average pooling and one linear "
            "layer, so it has no exact evidence map; --heatmap needs the pixel detector"
        )
    return nn.Sequential(*layers[:-3]), tail[2]


def mapped_kind(models: dict[str, nn.Module], order: list[str]) -> str | None:
    """The first detector in ``order`` whose evidence map is exact (``pixel`` today; a pixel CNN
    trained another way, ``pixel-aug``, too), or None."""
    for kind in order:
        try:
            pooled_head(models[kind])
        except DetectError:
            continue
        return kind
    return None


@torch.no_grad()
def evidence_map(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """uint8 ``[N, C, S, S]`` -> float64 ``[N, h, w]``: the linear head at each location of the
    last feature map. ``map.mean((1, 2))`` equals the model's logit for each image."""
    model.eval()
    body, head = pooled_head(model)
    features = body(to_unit_range(torch.from_numpy(images)))  # [N, C', h, w]
    logits = torch.einsum("nchw,c->nhw", features, head.weight[0]) + head.bias[0]
    return logits.double().numpy()


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """``[N, h, w]`` -> ``[N, size, size]`` by bilinear interpolation (for display only)."""
    return F.interpolate(torch.from_numpy(maps)[:, None], size=(size, size), mode="bilinear")[:, 0].numpy()


def plot_heatmaps(
    images: np.ndarray,
    maps: np.ndarray,
    p_generated: np.ndarray,
    names: list[str],
    cutoff: float,
    path: str | Path,
    kind: str = "pixel",
) -> Path:
    """Save a figure: each image (top row) and its evidence map over it (bottom row), titled with
    its p(generated) and verdict at ``cutoff``. The colour scale, one for all images, is centred
    on the threshold's logit: the image is called generated exactly when its map's mean lies
    above it, so red marks places that push it over, blue places that hold it back.
    ``images`` uint8 ``[N, C, S, S]``, ``maps`` ``[N, h, w]``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(images)
    shown = upsample(maps, images.shape[-1])
    clipped = min(max(cutoff, 1e-6), 1 - 1e-6)
    centre = float(np.log(clipped / (1 - clipped)))
    limit = max(float(np.abs(maps - centre).max()), 1e-6)
    fig = plt.figure(figsize=(1.5 * count + 1.3, 3.9), dpi=110, layout="constrained")
    axes = fig.subplots(2, count, squeeze=False)
    for i in range(count):
        pixels = images[i].transpose(1, 2, 0)
        gray = pixels.shape[-1] == 1
        for row in (0, 1):
            axes[row, i].imshow(
                pixels[..., 0] if gray else pixels, cmap="gray" if gray else None, vmin=0, vmax=255
            )
            axes[row, i].set_xticks([]), axes[row, i].set_yticks([])
        overlay = axes[1, i].imshow(
            shown[i], cmap="RdBu_r", vmin=centre - limit, vmax=centre + limit, alpha=0.6
        )
        label = "generated" if p_generated[i] > cutoff else "real"
        axes[0, i].set_title(f"{names[i][-18:]}\np={p_generated[i]:.3f} {label}", fontsize=8)
    axes[1, 0].set_ylabel("evidence", fontsize=8)
    bar = fig.colorbar(overlay, ax=list(axes[:, -1]), fraction=0.08, pad=0.04)
    bar.set_label("logit per location (mean = the logit;\nwhite: the threshold, red: generated)", fontsize=7)
    fig.suptitle(f"{kind} detector's evidence (threshold {cutoff:.3f})", fontsize=9)
    path = Path(path)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
    return path
