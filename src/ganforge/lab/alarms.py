"""Known GAN failure modes, flagged from metrics.csv and from the run view's diagnostics.

Each alarm is ``{"kind", "level", "title", "detail"}``; the detail says which numbers
tripped it. The thresholds are heuristics.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Alarm thresholds (heuristics; each alarm says which numbers tripped it).
D_WINS_FAKE = 0.05  # mean D(G(z)) below this over the recent window: D rejects every fake
EXPLODING_RATIO = 50.0  # recent |loss| this many times the run's median |loss| ...
EXPLODING_FLOOR = 10.0  # ... and above this absolute size
GRAD_NORM_LIMIT = 1e3  # total gradient norm above this: exploding
COLLAPSE_DIVERSITY = 0.25  # fake pairwise distance / real pairwise distance below this
COVERAGE_COLUMNS = ("modes_covered", "recall", "coverage", "class_coverage")


def _alarm(kind: str, title: str, detail: str, level: str = "error") -> dict[str, str]:
    return {"kind": kind, "level": level, "title": title, "detail": detail}


def _slope(values: np.ndarray) -> float:
    if len(values) < 2:
        return 0.0
    return float(np.polyfit(np.arange(len(values)), values, 1)[0])


def find_alarms(metrics: dict[str, list[float]], probabilistic: bool) -> list[dict[str, str]]:
    """Known failure modes visible in metrics.csv columns (step, d_loss, g_loss, d_fake, ...).

    * divergence: a NaN/inf loss, or recent losses EXPLODING_RATIO times the run's median;
    * D winning outright (BCE losses): mean D(G(z)) < D_WINS_FAKE over the last fifth of
      the rows while G's loss is not falling;
    * mode collapse: a coverage column (``modes_covered``, ``recall``, ...) fell below half
      its best value.
    """
    steps = metrics.get("step", [])
    rows = len(steps)
    if rows == 0:
        return []
    window = slice(rows - max(3, rows // 5), rows)
    alarms = _divergence_alarms(metrics, window)
    if probabilistic:
        alarms += _d_wins_alarms(metrics, window)
    return alarms + _coverage_alarms(metrics)


def _divergence_alarms(metrics: dict[str, list[float]], window: slice) -> list[dict[str, str]]:
    alarms = []
    steps = metrics["step"]
    for name in ("d_loss", "g_loss"):
        values = np.asarray(metrics.get(name, []), dtype=float)
        if len(values) == 0:
            continue
        bad = ~np.isfinite(values)
        if bad.any():
            first = int(steps[int(np.argmax(bad))])
            detail = f"first non-finite {name} at step {first}: training diverged"
            alarms.append(_alarm("divergence", f"{name} is NaN/inf", detail))
            continue
        scale = float(np.median(np.abs(values))) + 1e-3
        recent = float(np.abs(values[window]).max())
        if len(steps) >= 10 and recent > EXPLODING_FLOOR and recent > EXPLODING_RATIO * scale:
            detail = f"recent |{name}| reaches {recent:.3g}, {recent / scale:.0f}x the run's median"
            alarms.append(_alarm("divergence", f"{name} is exploding", detail))
    return alarms


def _d_wins_alarms(metrics: dict[str, list[float]], window: slice) -> list[dict[str, str]]:
    rows = len(metrics["step"])
    d_fake = np.asarray(metrics.get("d_fake", []), dtype=float)
    g_loss = np.asarray(metrics.get("g_loss", []), dtype=float)
    if len(d_fake) != rows or len(g_loss) != rows or rows < 3:
        return []
    recent_fake = float(np.nanmean(d_fake[window]))
    if recent_fake >= D_WINS_FAKE or _slope(g_loss[window]) < 0:
        return []
    detail = (
        f"mean D(G(z)) = {recent_fake:.3f} over the last {window.stop - window.start} rows and"
        " G's loss is not falling: G gets almost no signal (try the non-saturating loss, a lower"
        " lr_d or fewer D steps)"
    )
    return [_alarm("d_wins", "D is winning outright", detail)]


def _coverage_alarms(metrics: dict[str, list[float]]) -> list[dict[str, str]]:
    alarms = []
    for name in COVERAGE_COLUMNS:
        values = np.asarray(metrics.get(name, []), dtype=float)
        values = values[np.isfinite(values)]
        if len(values) >= 2 and values.max() > 0 and values[-1] < 0.5 * values.max():
            detail = (
                f"{name} fell to {values[-1]:.3g} from a best of {values.max():.3g}:"
                " G covers less of the data than it did"
            )
            alarms.append(_alarm("mode_collapse", f"{name} collapsed", detail, level="warning"))
    return alarms


def diagnostic_alarms(result: dict[str, Any]) -> list[dict[str, str]]:
    """Alarms from the run view's diagnostics (gradient norms, diversity); non-finite norms
    in ``result`` become None so the JSON stays valid."""
    alarms = []
    for net in ("d", "g"):
        total = result.get(f"{net}_total")
        if total is None:
            continue
        if not math.isfinite(total):
            alarms.append(
                _alarm(
                    "divergence",
                    f"{net.upper()}'s gradients are NaN/inf",
                    "the networks have diverged; resume from an earlier checkpoint with lower learning rates",
                )
            )
        elif total > GRAD_NORM_LIMIT:
            alarms.append(
                _alarm(
                    "divergence",
                    f"{net.upper()}'s gradients are exploding",
                    f"total gradient norm {total:.3g} > {GRAD_NORM_LIMIT:g}",
                )
            )
        if not math.isfinite(total):
            result[f"{net}_total"] = None
            for entry in result[f"{net}_norms"]:
                entry["norm"] = entry["norm"] if math.isfinite(entry["norm"]) else None
    diversity = result.get("diversity")
    if diversity and diversity["real"] > 0:
        ratio = diversity["fake"] / diversity["real"]
        if ratio < COLLAPSE_DIVERSITY:
            alarms.append(
                _alarm(
                    "mode_collapse",
                    "generated samples look alike",
                    f"their mean pairwise distance is {ratio:.2f}x that of real "
                    "samples: likely mode collapse",
                    level="warning",
                )
            )
    return alarms
