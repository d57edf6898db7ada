"""``ganforge info``: what can be chosen by name, one line each."""

from __future__ import annotations

from pathlib import Path


def add_parser(subparsers):
    return subparsers.add_parser("info", help="list data sets, models, losses, metrics and presets")


def run(args) -> int:
    from ganforge.data import DATASETS
    from ganforge.losses import LOSSES
    from ganforge.models import MODELS

    sections = {
        "data sets (data.name)": {k: f"[{v.kind}] {v.summary}" for k, v in DATASETS.items()},
        "models (model.name)": {k: v.summary for k, v in MODELS.items()},
        "losses (train.loss)": {k: v.summary for k, v in LOSSES.items()},
        "metrics (eval --metrics, eval.metrics)": metric_lines(),
    }
    presets = sorted(Path("configs").glob("*.yaml"))
    if presets:
        sections["presets (--config)"] = {str(p): _first_comment(p) for p in presets}
    for title, entries in sections.items():
        print(f"{title}:")
        width = max(map(len, entries), default=0)
        for name, summary in entries.items():
            print(f"  {name:<{width}}  {summary}")
        print()
    return 0


def metric_lines() -> dict[str, str]:
    """One line per registered metric: its columns with direction, and what it needs."""
    from ganforge.metrics.registry import ALIASES, LOWER, METRICS

    lines = {}
    for name, spec in METRICS.items():
        columns = ", ".join(
            f"{c.name} ({'lower' if c.direction == LOWER else 'higher'})" for c in spec.columns
        )
        params = ", ".join(f"{k}={v}" for k, v in spec.parameters.items())
        needs = ", ".join(sorted(spec.needs))
        lines[name] = f"{columns}; needs {needs}" + (f"; {params}" if params else "")
    for alias, parts in ALIASES.items():
        lines[alias] = "= " + " + ".join(parts)
    return lines


def _first_comment(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
