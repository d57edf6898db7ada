"""The figure of average spectra: where in frequency generated images differ from real ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganforge.data.batches import to_unit_range
from ganforge.detect.features import log_spectrum


def mean_spectrum(images: np.ndarray) -> np.ndarray:
    """uint8 ``[N, C, H, W]`` -> the mean log-magnitude spectrum ``[H, W]`` (zero freq. centred)."""
    return log_spectrum(to_unit_range(torch.from_numpy(images))).mean(0).numpy()


def plot_spectra(sets: dict[str, np.ndarray], path: str | Path) -> Path:
    """Save the mean spectrum of each image set (the first is the real one) and, below each
    generated set, its difference to the real spectrum (red: more energy than real images)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(sets)
    spectra = {name: mean_spectrum(images) for name, images in sets.items()}
    real = spectra[names[0]]
    low, high = np.percentile(np.stack(list(spectra.values())), [1, 99.5])
    largest = max([np.abs(spectra[n] - real).max() for n in names[1:]] + [1e-6])
    fig, axes = plt.subplots(2, len(names), figsize=(2.6 * len(names), 5.4), dpi=100,
                             squeeze=False)
    for column, name in enumerate(names):
        top, bottom = axes[0, column], axes[1, column]
        shown = top.imshow(spectra[name], cmap="magma", vmin=low, vmax=high)
        top.set_title(f"{name}\n(n={len(sets[name])})", fontsize=9)
        if column == 0:
            top.set_ylabel("mean log |FFT|")
            bottom.axis("off")
            bottom.text(0.5, 0.5, "difference to real\n(generated - real)\n\ncentre: low freq.\n"
                        "corners/edges: high", ha="center", va="center", fontsize=9,
                        transform=bottom.transAxes)
        else:
            diff = bottom.imshow(spectra[name] - real, cmap="RdBu_r", vmin=-largest,
                                 vmax=largest)
        for ax in (top, bottom):
            ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(shown, ax=axes[0, :].tolist(), shrink=0.8)
    if len(names) > 1:
        fig.colorbar(diff, ax=axes[1, :].tolist(), shrink=0.8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
