"""metrics.csv: one row every ``train.log_every`` steps, safe to append to across resumes."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ["step", "seconds", "d_loss", "g_loss", "d_real", "d_fake", "lr_d", "lr_g"]


class MetricsLog:
    """Appends rows to a CSV; columns beyond ``columns`` (default ``COLUMNS``, a GAN's; the loop
    passes the game's) such as ``gp`` or metrics are added as they appear.

    On resume, rows written after the checkpoint's step are dropped first, so the file
    always describes exactly one history of the run.
    """

    def __init__(self, path: Path, resume_step: int = 0, columns: list[str] | None = None):
        self.path = Path(path)
        self.columns = list(COLUMNS if columns is None else columns)
        self.rows: list[dict] = []
        if self.path.exists():
            with open(self.path, newline="") as handle:
                reader = csv.DictReader(handle)
                self.columns = list(reader.fieldnames or COLUMNS)
                self.rows = [r for r in reader if float(r["step"]) <= resume_step]
        self._rewrite()

    def write(self, row: dict) -> None:
        new = [k for k in row if k not in self.columns]
        self.rows.append({k: _fmt(v) for k, v in row.items()})
        if new:
            self.columns += new
            self._rewrite()
            return
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, self.columns).writerow(self.rows[-1])

    def _rewrite(self) -> None:
        with open(self.path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)


def _fmt(value):
    return f"{value:.6g}" if isinstance(value, float) else value


def read_metrics(path: str | Path) -> dict[str, list[float]]:
    """Columns of a metrics.csv as lists of floats (empty cells become NaN)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {k: [float(r[k]) if r.get(k) not in (None, "") else float("nan") for r in rows] for k in rows[0]}
