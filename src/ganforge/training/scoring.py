"""The default ``eval.every`` hook: score a game's ``generator`` with the GAN evaluator.

A game that scores something else (translations) returns its own ``Scorer`` from
``Game.scorer``; this one serves every game whose ``inference()`` has a ``generator`` entry
with a ``generator.json``-style metadata (the GAN game).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.evaluation.during_training import TrainingEvaluator
from ganforge.games import Game
from ganforge.training.log import read_metrics
from ganforge.viz.metric_curves import plot_metric_curves


class GeneratorScorer:
    """FID/KID/... of the sampling G every ``eval.every`` steps (``evaluation/during_training.py``); the
    best so far survives resumes through metrics.csv's ``history``."""

    def __init__(self, game: Game, history: list[dict[str, Any]]):
        cfg = game.cfg
        self.game = game
        self.evaluator = TrainingEvaluator(
            cfg.eval, cfg.data, game.dataset, cfg.run.seed, game.device, history=history
        )

    def due(self, step: int, steps: int) -> bool:
        return self.evaluator.due(step, steps)

    def score(self, step: int) -> tuple[dict[str, float], dict[str, Any] | None]:
        G, meta = self.game.inference()["generator"]
        scores = self.evaluator.evaluate(G, {**meta, "step": step})
        if not self.evaluator.improved(scores):
            return scores, None
        best = {
            "metric": self.evaluator.best_column,
            "value": self.evaluator.best_value,
            "step": step,
            "protocol": self.evaluator.protocol(),
        }
        return scores, best

    def finish(self, run_dir: Path) -> None:
        plot_metric_curves(
            read_metrics(run_dir / "metrics.csv"),
            self.evaluator.columns,
            run_dir / "metrics.png",
            title=self.evaluator.describe(),
        )


def scorer_for(game: Game, history: list[dict[str, Any]]):
    """The game's own scorer, else the GAN evaluator's."""
    return game.scorer(history) or GeneratorScorer(game, history)
