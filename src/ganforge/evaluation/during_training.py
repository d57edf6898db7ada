"""Scoring a generator during training (``eval.every``): the columns of metrics.csv and the
best value, which decides ``generator-best``. The training loop imports ``TrainingEvaluator``
from here."""

from __future__ import annotations

import math
from typing import Any

import torch

from ganforge import __version__
from ganforge.config import DataConfig
from ganforge.evaluation.cache import RealFeatures, real_features
from ganforge.evaluation.points import PACGAN_SAMPLES, point_columns, point_scores
from ganforge.evaluation.scoring import OFFERS, compute_scores, image_offers, parse_metrics, protocol_card
from ganforge.evaluation.sources import dataset_source, to_uint8_images
from ganforge.metrics.errors import MetricError
from ganforge.metrics.features import get_feature_network
from ganforge.metrics.registry import METRICS, direction
from ganforge.sampling import sample_generator


class TrainingEvaluator:
    """Scores a generator every ``eval.every`` steps and tracks the best value.

    It takes G (any module mapping z to samples) and never touches the trainer; the real
    features come from the training data already in memory, through the same cache as
    ``ganforge eval``.
    """

    def __init__(
        self,
        eval_cfg,
        data_cfg: DataConfig,
        dataset,
        seed: int,
        device: str | torch.device,
        history: list[dict] | None = None,
    ):
        self.cfg = eval_cfg
        self.dataset = dataset
        self.seed = seed
        self.device = device
        self.points = dataset.kind == "points"
        self.source = dataset_source(data_cfg.name, data_cfg.split, data_cfg)
        if self.points:
            self.network = None
            self.columns = parse_metrics("auto", OFFERS["points"], dataset.name)
            if dataset.modes is None:
                raise MetricError(
                    f"eval.every needs modes to score {dataset.name}; only "
                    "ring8/grid25 have them: set eval.every=0"
                )
        else:
            self.network = get_feature_network(eval_cfg.feature_net, data_cfg.name)
            where = f"eval.metrics on {data_cfg.name} ({self.network.name} features)"
            self.metrics = parse_metrics(eval_cfg.metrics, image_offers(self.network), where)
            self.columns = [f"{m}_{self.network.name}" for m in self.metrics]
        best = eval_cfg.best_metric
        self.best_column = self.columns[0] if best == "auto" else best
        if self.best_column not in self.columns:
            raise MetricError(
                f"eval.best_metric={best} is not computed; choose one of: " + ", ".join(self.columns)
            )
        self.direction = direction(self.best_column)
        self.best_value = self._best_in(history or [])
        self._real: RealFeatures | None = None

    def _best_in(self, rows: list[dict]) -> float | None:
        """The best value logged before a resume (rows of metrics.csv, as text)."""
        values = []
        for row in rows:
            try:
                values.append(float(row.get(self.best_column)))
            except (TypeError, ValueError):
                continue
        values = [v for v in values if math.isfinite(v)]
        if not values:
            return None
        return max(values) if self.direction > 0 else min(values)

    def due(self, step: int, total_steps: int) -> bool:
        return self.cfg.every > 0 and (step % self.cfg.every == 0 or step == total_steps)

    def evaluate(self, G: torch.nn.Module, meta: dict) -> dict[str, float]:
        """Metric columns for this step's generator (``meta``: its generator.json contents)."""
        if self.points:
            return point_columns(point_scores(G, meta, n=PACGAN_SAMPLES, seed=self.seed))
        if self._real is None:
            self._real = real_features(
                self.source,
                self.network,
                self.cfg.n,
                self.seed,
                self.device,
                images=self.dataset.data.cpu().numpy(),
            )
        samples = sample_generator(G, meta, self.cfg.n, self.seed, device=self.device)
        fake, _ = self.network.extract(to_uint8_images(samples), self.device, label="generated")
        scores = compute_scores(self._real.features, fake, self.metrics, self.network.name)
        return {name: float(score["value"]) for name, score in scores.items()}

    def describe(self) -> str:
        """One line for plots: what the scores compare."""
        if self.points:
            return f"{self.dataset.name}: {PACGAN_SAMPLES} generated points (PacGAN protocol)"
        return (
            f"{self.cfg.n} generated vs {self.cfg.n} {self.source.label} images, "
            f"{self.network.name} features (seed {self.seed})"
        )

    def protocol(self) -> dict[str, Any]:
        """The protocol card of the tracked metric (stored in generator-best.json)."""
        if self.points:
            return {
                "metric": self.best_column,
                "n_fake": PACGAN_SAMPLES,
                "seed": self.seed,
                "parameters": METRICS["mode_coverage"].parameters,
                "ganforge_version": __version__,
            }
        n_real = len(self._real.features) if self._real is not None else self.cfg.n
        return protocol_card(
            self.best_column, self.network, self.source.label, "generator", n_real, self.cfg.n, self.seed
        )

    def improved(self, scores: dict[str, float]) -> bool:
        """True (and remembered) when ``scores`` beat the best value so far."""
        value = scores.get(self.best_column)
        if value is None or not math.isfinite(value):
            return False
        if self.best_value is None or (value - self.best_value) * self.direction > 0:
            self.best_value = value
            return True
        return False
