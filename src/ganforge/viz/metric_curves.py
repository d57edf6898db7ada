"""metrics.png: sample-quality scores (FID, KID, ...) against the training step, best marked."""

from __future__ import annotations

import math
from pathlib import Path

from ganforge.metrics.registry import LOWER, column_spec


def lower_is_better(column: str) -> bool:
    """From the metric registry; a column no metric writes is drawn as higher-is-better."""
    found = column_spec(column)
    return found is not None and found[1].direction == LOWER


def plot_metric_curves(
    columns: dict[str, list[float]], names: list[str], out: str | Path, title: str | None = None
) -> Path | None:
    """One panel per metric in ``names`` (metrics.csv columns), its best value starred.

    Rows without a value (log rows between evaluations) are skipped. Returns None when no
    metric has a value yet.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    series = {}
    for name in names:
        pairs = [
            (int(s), v)
            for s, v in zip(columns.get("step", []), columns.get(name, []))
            if v is not None and math.isfinite(v)
        ]
        if pairs:
            series[name] = pairs
    if not series:
        return None
    fig, axes = plt.subplots(
        len(series), 1, figsize=(7, 2.6 * len(series)), sharex=True, dpi=100, squeeze=False
    )
    for ax, (name, pairs) in zip(axes[:, 0], series.items()):
        steps, values = zip(*pairs)
        lower = lower_is_better(name)
        best = min(range(len(values)), key=lambda i: values[i] if lower else -values[i])
        ax.plot(steps, values, marker="o", markersize=3, label=name)
        ax.plot(
            steps[best],
            values[best],
            marker="*",
            markersize=14,
            color="tab:red",
            linestyle="none",
            label=f"best {values[best]:.4g} at step {steps[best]}",
        )
        # FID and KID span orders of magnitude over a run: a log axis keeps the late part
        # readable (KID can dip below 0 near the floor; then it stays linear).
        if lower and min(values) > 0 and max(values) / min(values) > 10:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel(name + (" (lower is better)" if lower else ""))
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="best", fontsize=8)
    axes[-1, 0].set_xlabel("step (G updates)")
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return Path(out)
