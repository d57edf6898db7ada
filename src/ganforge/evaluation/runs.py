"""Evaluating a run folder: its exported generator against its own training data.

Image runs get the image metrics (``compare.evaluate``) and, for a conditional generator,
class accuracy and intra-class FID; 2-D mixture runs get PacGAN's mode coverage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from ganforge import __version__
from ganforge.checkpoint import load_generator
from ganforge.evaluation.compare import EvalSettings, evaluate
from ganforge.evaluation.conditional import add_conditional_scores
from ganforge.evaluation.points import PACGAN_SAMPLES, point_scores
from ganforge.evaluation.scoring import OFFERS, image_offers, parse_metrics
from ganforge.evaluation.sources import Source, dataset_source, run_data_config
from ganforge.metrics.registry import METRICS


def evaluate_run(
    run_dir: str | Path,
    settings: EvalSettings,
    which: str = "last",
    real_split: str = "train",
    log: Callable[[str], None] | None = None,
) -> dict:
    """Evaluate a run's exported generator against its own training data (or ``real_split``).

    Point-set runs get PacGAN's mode coverage (2,500 samples) instead of image metrics.
    Unknown metric names, or names the run cannot compute, are a ``MetricError`` listing the
    valid ones for this run.
    """
    run_dir = Path(run_dir)
    G, meta = load_generator(run_dir, which, device=settings.device)
    where = f"{run_dir} ({meta['model']['name']} on {meta['data']['name']})"
    if meta["data"]["kind"] == "points":
        parse_metrics(settings.metrics, OFFERS["points"], where)
        return evaluate_point_run(G, meta, run_dir, which, settings)
    conditional_run = bool(meta.get("num_classes"))
    # The network is not known before the features are: assume a classifier here, and let
    # ``evaluate`` check is/classes against the network it picks.
    columns = parse_metrics(settings.metrics, image_offers(None, conditional_run), where)
    conditional_columns = {c.name for c in METRICS["conditional"].columns}
    conditional = conditional_run and bool(conditional_columns & set(columns))
    image_columns = [c for c in columns if c not in conditional_columns]
    auto = settings.metrics.strip() == "auto"
    data_cfg = run_data_config(run_dir, meta)
    real = dataset_source(data_cfg.name, real_split, data_cfg)
    fake = Source("run", f"{run_dir} ({which}, step {meta.get('step')})", path=run_dir, which=which)
    if image_columns:
        metrics = "auto" if auto else ",".join(image_columns)
        report = evaluate(real, fake, replace(settings, metrics=metrics), log)
    else:
        report = {
            "real": real.label,
            "fake": fake.label,
            "ganforge_version": __version__,
            "n_fake": 0,
            "seed": settings.seed,
            "scores": {},
            "notes": [],
        }
    report.update(run=str(run_dir), which=which, step=meta.get("step"))
    if conditional:
        add_conditional_scores(report, run_dir, meta, which, settings, real_split, log)
    return report


def evaluate_point_run(
    G: torch.nn.Module, meta: dict, run_dir: Path, which: str, settings: EvalSettings
) -> dict:
    """Mode coverage of a 2-D mixture run (PacGAN protocol: 2,500 samples, 3 sigma)."""
    data = meta["data"]
    n = settings.n or PACGAN_SAMPLES
    spec = METRICS["mode_coverage"]
    scores = point_scores(G, meta, n=n, seed=settings.seed)
    card = {
        "real": f"{data['name']} mode centres",
        "fake": f"{run_dir} ({which})",
        "n_real": 0,
        "n_fake": n,
        "seed": settings.seed,
        "parameters": spec.parameters,
        "ganforge_version": __version__,
    }
    for name, score in scores.items():
        score.pop("mode_counts", None)
        score["protocol"] = {"metric": name, "definition": spec.definition(name), **card}
    return {
        "real": card["real"],
        "fake": card["fake"],
        "ganforge_version": __version__,
        "run": str(run_dir),
        "which": which,
        "step": meta.get("step"),
        "n_fake": n,
        "seed": settings.seed,
        "scores": scores,
        "notes": [],
    }
