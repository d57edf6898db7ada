"""Training curves from the columns of metrics.csv: losses, and D's outputs with the 0.5 equilibrium line."""

from __future__ import annotations

from pathlib import Path


def plot_curves(m: dict[str, list[float]], out: str | Path, probabilistic: bool = True) -> Path | None:
    """Write a two-panel PNG from metrics.csv's columns; None when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not m or not m.get("step"):
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, dpi=100)
    top.plot(m["step"], m["d_loss"], label="D loss")
    top.plot(m["step"], m["g_loss"], label="G loss")
    top.set_ylabel("loss")
    top.legend()
    top.grid(alpha=0.3)
    bottom.plot(m["step"], m["d_real"], label="D(x), real")
    bottom.plot(m["step"], m["d_fake"], label="D(G(z)), generated")
    if probabilistic:
        bottom.axhline(0.5, color="gray", linestyle="--", linewidth=1, label="equilibrium 0.5")
        bottom.set_ylim(0, 1)
        bottom.set_ylabel("D's probability 'real'")
    else:
        bottom.set_ylabel("D's mean score")
    bottom.set_xlabel("step (G updates)")
    bottom.legend()
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return Path(out)
