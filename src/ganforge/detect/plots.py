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


def radial_profile(spectrum: np.ndarray) -> np.ndarray:
    """Mean of a centred ``[H, W]`` spectrum over rings of equal frequency: ``[min(H, W) // 2]``
    values from the lowest frequency to the highest (Nyquist) one."""
    height, width = spectrum.shape
    y, x = np.indices(spectrum.shape)
    radius = np.hypot(y - height // 2, x - width // 2).round().astype(int)
    rings = min(height, width) // 2
    return np.array([spectrum[radius == r].mean() for r in range(rings + 1)])


def plot_spectra(sets: dict[str, np.ndarray], path: str | Path) -> Path:
    """Save, for each image set (the first is the real one): its mean log spectrum, its
    difference to the real one (red: more energy than real images; each panel on its own
    symmetric scale, printed under it), and all sets' radial profiles in one panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(sets)
    spectra = {name: mean_spectrum(images) for name, images in sets.items()}
    real = spectra[names[0]]
    low, high = np.percentile(np.stack(list(spectra.values())), [1, 99.5])
    columns = len(names)
    fig = plt.figure(figsize=(1.9 * columns + 0.6, 7.2), dpi=110, layout="constrained")
    grid = fig.add_gridspec(3, columns, height_ratios=[1, 1, 1.2])
    for column, name in enumerate(names):
        top = fig.add_subplot(grid[0, column])
        top.imshow(spectra[name], cmap="magma", vmin=low, vmax=high)
        top.set_title(f"{name}\n(n={len(sets[name])})", fontsize=8)
        top.set_xticks([]), top.set_yticks([])
        if column == 0:
            top.set_ylabel("mean log |FFT|", fontsize=8)
            continue
        diff = spectra[name] - real
        limit = max(float(np.abs(diff).max()), 1e-6)
        bottom = fig.add_subplot(grid[1, column])
        bottom.imshow(diff, cmap="RdBu_r", vmin=-limit, vmax=limit)
        bottom.set_xticks([]), bottom.set_yticks([])
        bottom.set_xlabel(f"colour scale +-{limit:.2f}", fontsize=8)
    note = fig.add_subplot(grid[1, 0])
    note.axis("off")
    note.text(
        0.5,
        0.5,
        "generated - real\n(red: more energy)\n\ncentre: low freq.\nedges: "
        "high freq.\nedge centres, corners:\nNyquist (period 2)",
        ha="center",
        va="center",
        fontsize=8,
        transform=note.transAxes,
    )
    profile = fig.add_subplot(grid[2, :])
    for name in names:
        values = radial_profile(spectra[name])
        frequency = np.arange(len(values)) / (2 * (len(values) - 1))  # cycles per pixel
        profile.plot(
            frequency,
            values,
            label=name,
            color="black" if name == names[0] else None,
            linewidth=2.2 if name == names[0] else 1.2,
        )
    profile.set_xlabel("spatial frequency (cycles per pixel; 0.5 = Nyquist)")
    profile.set_ylabel("mean log |FFT| over rings")
    profile.legend(fontsize=7, ncol=min(columns, 4))
    profile.grid(alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
