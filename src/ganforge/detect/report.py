"""What a user reads from a detector: verdicts at each detector's own threshold, the line that
says what that threshold costs on real images, the scores table and its CSV, and the figures of
``detect eval`` (accuracy at the own threshold, ROC AUC, average precision).

The combined ``verdict`` of an image is the verdict of the folder's *primary* detector:
``detector.json``'s ``"primary"`` (``detect train`` sets it to the detector with the best
validation AUC), or, in folders written before it existed, that same choice made on load. One
detector's verdict keeps its calibration meaningful: "generated if any detector says so" would
add the detectors' false positives together, and the printed rates would no longer hold.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.files import atomic_write

UNCALIBRATED_THRESHOLD = 0.5  # folders written before calibration: the plain midpoint


def threshold(info: dict[str, Any], kind: str) -> float:
    """Detector ``kind``'s own threshold on p(generated), or 0.5 if the folder has none."""
    calibration = info.get("calibration", {}).get(kind)
    return float(calibration["threshold"]) if calibration else UNCALIBRATED_THRESHOLD


def calibration_line(info: dict[str, Any], kind: str) -> str:
    """``pixel: threshold 0.412 (false positives on real test images: 3.1 % of 2000, fashion-mnist:test)``."""
    calibration = info.get("calibration", {}).get(kind)
    if not calibration:
        return (
            f"{kind}: threshold {UNCALIBRATED_THRESHOLD} (not calibrated: this detector folder predates "
            "calibration; retrain it with `ganforge detect train` to get its own threshold)"
        )
    return (
        f"{kind}: threshold {calibration['threshold']:.3f} (false positives on real test images: "
        f"{100 * calibration['fpr']:.1f} % of {calibration['n_real']}, {calibration['real_source']})"
    )


def primary_kind(info: dict[str, Any]) -> str:
    """The detector whose verdict is the combined one (see the module docstring)."""
    kinds = list(info["detectors"])
    if info.get("primary") in kinds:
        return info["primary"]
    validation = info.get("validation", {})
    return max(kinds, key=lambda k: validation.get(k, {}).get("auc", 0.0))  # ties: the first listed


def verdict(p_generated: float, cutoff: float) -> str:
    """``generated`` above the threshold, else ``real`` (a score equal to it is real)."""
    return "generated" if p_generated > cutoff else "real"


def columns(kinds: list[str]) -> list[str]:
    """The header of the scores table and CSV."""
    return ["file", *(f"p_{k}" for k in kinds), *(f"verdict_{k}" for k in kinds), "verdict", "input"]


def score_rows(
    names: list[str], source: str, scores: dict[str, np.ndarray], info: dict[str, Any]
) -> list[list[str]]:
    """One row per image (see ``columns``) from ``scores``: kind -> p(generated) ``[N]``."""
    kinds = list(scores)
    cutoffs = {k: threshold(info, k) for k in kinds}
    primary = primary_kind(info)
    rows = []
    for i, name in enumerate(names):
        verdicts = {k: verdict(scores[k][i], cutoffs[k]) for k in kinds}
        rows.append(
            [name, *(f"{scores[k][i]:.4f}" for k in kinds), *verdicts.values(), verdicts[primary], source]
        )
    return rows


def write_csv(path: str | Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write the table as CSV, atomically (a reader never sees half of it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(buffer.getvalue(), encoding="utf-8"))
    return path


def eval_figures(p_real: np.ndarray, p_fake: np.ndarray, cutoff: float) -> dict[str, float]:
    """Scores of real and generated images -> accuracy at ``cutoff`` (each image counted once),
    the false-positive and true-positive rates there, ROC AUC and average precision (generated
    is the positive class; AP's chance level is the share of generated images)."""
    # imported here: at the top, sklearn cost every `ganforge` command ~1.5-3 s of start-up
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth = np.concatenate([np.zeros(len(p_real)), np.ones(len(p_fake))])
    scores = np.concatenate([p_real, p_fake])
    return {
        "threshold": float(cutoff),
        "accuracy": float(((scores > cutoff) == truth).mean()),
        "fpr": float((p_real > cutoff).mean()),
        "tpr": float((p_fake > cutoff).mean()),
        "auc": float(roc_auc_score(truth, scores)),
        "average_precision": float(average_precision_score(truth, scores)),
        "n_real": len(p_real),
        "n_fake": len(p_fake),
    }
