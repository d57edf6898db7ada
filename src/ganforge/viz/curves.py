"""Training curves from the columns of metrics.csv, for any game.

The top panel draws every training statistic (losses and their terms: ``d_loss``, ``g_aux``,
``cycle_A``, ...); a GAN's D outputs ``d_real`` / ``d_fake`` get a panel of their own with the
0.5 equilibrium line. Learning rates, seconds and evaluation scores (``metrics.png``) are left out.
"""

from __future__ import annotations

from pathlib import Path

D_OUTPUTS = ("d_real", "d_fake")
_LABELS = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "D(x), real", "d_fake": "D(G(z)), generated"}


def stat_columns(m: dict[str, list[float]], stats: list[str] | None = None) -> list[str]:
    """The training statistics among metrics.csv's columns: ``stats`` when given (the names
    the game logged), else every column but step, seconds and lr_*; columns without a single
    value are skipped."""
    names = (
        stats
        if stats is not None
        else [c for c in m if c not in ("step", "seconds") and not c.startswith("lr_")]
    )
    return [c for c in names if c in m and any(v == v for v in m[c])]  # v == v: not NaN


def plot_curves(
    m: dict[str, list[float]], out: str | Path, probabilistic: bool = True, stats: list[str] | None = None
) -> Path | None:
    """Write a PNG of metrics.csv's columns ``m`` (column -> values per row); None when there is
    nothing to plot. ``probabilistic``: D's outputs are probabilities (BCE losses), so draw
    the 0.5 line. ``stats``: the columns to draw (default: all but step, seconds, lr_*)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = stat_columns(m, stats) if m and m.get("step") else []
    if not columns:
        return None
    d_outputs = [c for c in D_OUTPUTS if c in columns]
    panels = 2 if d_outputs else 1
    fig, axes = plt.subplots(panels, 1, figsize=(7, 3 * panels + 0.5), sharex=True, dpi=100, squeeze=False)
    axes = list(axes[:, 0])
    top = axes[0]
    for column in (c for c in columns if c not in D_OUTPUTS):
        top.plot(m["step"], m[column], label=_LABELS.get(column, column))
    top.set_ylabel("loss")
    top.legend()
    top.grid(alpha=0.3)
    if d_outputs:
        _plot_d_outputs(axes[1], m, d_outputs, probabilistic)
    axes[-1].set_xlabel("step (G updates)" if d_outputs else "step")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return Path(out)


def _plot_d_outputs(ax, m: dict[str, list[float]], columns: list[str], probabilistic: bool) -> None:
    for column in columns:
        ax.plot(m["step"], m[column], label=_LABELS[column])
    if probabilistic:
        ax.axhline(0.5, color="gray", linestyle="--", linewidth=1, label="equilibrium 0.5")
        ax.set_ylim(0, 1)
        ax.set_ylabel("D's probability 'real'")
    else:
        ax.set_ylabel("D's mean score")
    ax.legend()
    ax.grid(alpha=0.3)
