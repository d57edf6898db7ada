"""The printed table of an evaluation (scores, context numbers, protocol cards) and its JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ganforge.files import atomic_write


def _fmt(value: Any, std: Any = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    text = f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return text + (f" ± {std:.2g}" if std is not None else "")


def format_report(report: dict) -> str:
    """The printed table: each score, its context numbers, then the protocol cards."""
    lines = [f"ganforge eval: {report['fake']}  vs  {report['real']}"]
    net = report.get("feature_network")
    if net:
        lines.append(
            f"feature network: {net['feature_network']} ({net['feature_network_description']}; "
            f"sha256 {net['feature_network_sha256'][:16]}...), input "
            f"{net['input_size']}x{net['input_size']}x{net['input_channels']}, "
            f"resize: {net['resize']}"
        )
    lines.append(
        f"n_real {report.get('n_real', 0)}, n_fake {report['n_fake']}, seed "
        f"{report['seed']}, ganforge {report['ganforge_version']}"
    )
    context = report.get("context") or {}
    baselines = list(context)
    header = ["metric", "value", *baselines]
    rows = []
    for name, score in report["scores"].items():
        value = _fmt(score["value"], score.get("std"))
        if "of" in score:
            value += f" / {score['of']}"
        rows.append([name, value, *(_fmt(context[b].get(name)) for b in baselines)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines.append("")
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if baselines:
        lines.append(
            "context: real_<split> = the data set's other split (the best a perfect "
            "generator reaches at this n); one_repeated_image and uniform_noise = "
            "trivial generators"
        )
    lines.append("")
    lines.append("protocol:")
    for name, score in report["scores"].items():
        card = score["protocol"]
        params = ", ".join(f"{k}={v}" for k, v in card["parameters"].items())
        lines.append(f"  {name}: {card['definition']}" + (f" [{params}]" if params else ""))
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def write_report(report: dict, path: str | Path) -> Path:
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2) + "\n"))
    return path
