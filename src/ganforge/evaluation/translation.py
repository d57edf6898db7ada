"""Scoring translation runs (cyclegan, pix2pix): ``ganforge eval --run`` and ``eval.every``.

A direction (``AtoB``: G_AB on the test A images; ``BtoA``: G_BA on the test B images) is
scored on its test inputs. When the data holds the true translation of every test input
(``TranslationData.test_paired``: the built-in pairs, paired folders), the translations are
compared with it: mean absolute error and PSNR, the edge IoU when the target is an edge map,
and the garment class the classifier reads from a translation against its input's class. FID
on feature-network features compares translations with the real target images in every case.
Each figure sits beside the **identity** lower bound (output = input, in the target's
channels), computed in the same call. The metrics come from the registry
(``metrics/catalog.py``); nothing here re-implements one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge import __version__
from ganforge.checkpoint import load_inference, saved_config
from ganforge.data.image_ops import convert_channels
from ganforge.data.translation import TranslationData, load_translation
from ganforge.errors import GanforgeError
from ganforge.metrics.features import FeatureNetwork, Features, get_feature_network
from ganforge.metrics.registry import METRICS, direction, spec_of
from ganforge.training.log import read_metrics
from ganforge.viz.metric_curves import plot_metric_curves

TRANSLATION_GAMES = ("cyclegan", "pix2pix")
BATCH = 256  # images per generator call (bounds memory for any test set size)
EDGE_SETS = ("fmnist-edges",)  # built-in sets whose B domain is an edge map


@dataclass
class Direction:
    """One direction's test inputs and targets, uint8 ``[N, C, H, W]`` numpy arrays."""

    name: str  # "AtoB" or "BtoA"
    inputs: np.ndarray
    targets: np.ndarray  # the true translations when ``truth``, else real target-domain images
    truth: bool
    labels: np.ndarray | None  # classes of the inputs (built-in sets), int64 [N]
    edges: bool  # the target domain is an edge map (edge IoU applies)


def directions_of(data: TranslationData, names: list[str], n: int | None = None) -> list[Direction]:
    """The test sets of ``names`` (AtoB, BtoA), the first ``n`` images of each (None: all)."""
    a, b = data.test_a[:n].numpy(), data.test_b[:n].numpy()
    labels = None if data.test_labels is None else data.test_labels[:n].numpy()
    if data.test_paired and len(a) != len(b):
        raise GanforgeError(f"{data.name}: {len(a)} test A images but {len(b)} true translations")
    found = {
        "AtoB": Direction("AtoB", a, b, data.test_paired, labels, data.name in EDGE_SETS),
        "BtoA": Direction("BtoA", b, a, data.test_paired, labels, False),
    }
    return [found[name] for name in names]


@torch.no_grad()
def translate_images(G: nn.Module, images: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
    """uint8 ``[N, C, H, W]`` -> G's uint8 translations ``[N, C', H, W]``, in batches, in eval
    mode (the net's mode is restored after)."""
    was_training, out = G.training, []
    G.eval()
    try:
        for start in range(0, len(images), BATCH):
            x = torch.from_numpy(images[start : start + BATCH]).to(device).float() / 127.5 - 1
            y = G(x).float().clamp(-1, 1)
            out.append(((y + 1) * 127.5).round().to(torch.uint8).cpu())
    finally:
        G.train(was_training)
    return torch.cat(out).numpy()


def identity_of(direction: Direction) -> np.ndarray:
    """The lower bound's output: the input itself, in the target's channels."""
    return convert_channels(direction.inputs, direction.targets.shape[1])


def feature_network_for(spec: str, data_name: str) -> FeatureNetwork:
    """``auto``: the Fashion-MNIST classifier for the built-in fmnist pairs (gray-converted),
    else the GAN rule (``metrics/features.py``: a data set's evaluator, else Inception)."""
    if spec == "auto" and data_name.startswith("fmnist-"):
        spec = "fmnist"
    return get_feature_network(spec, data_name)


# --- scores of one direction ----------------------------------------------------------------


def _value(metric: str, *args) -> float:
    return float(next(iter(METRICS[metric].function(*args).values()))["value"])


def paired_scores(pred: np.ndarray, direction: Direction) -> dict[str, float]:
    """mae, psnr (and edge_iou) of ``pred`` against the true translations."""
    scores = {m: _value(m, pred, direction.targets) for m in ("mae", "psnr")}
    if direction.edges:
        scores["edge_iou"] = _value("edge_iou", pred, direction.targets)
    return scores


def _features(network: FeatureNetwork, images: np.ndarray, device, label: str) -> Features:
    return network.extract(images, device, label=label)[0]


def feature_scores(
    pred: np.ndarray, direction: Direction, network: FeatureNetwork, real: Features, device
) -> dict[str, float]:
    """FID to the real target images (``real``: their features) and, with labels and a
    classifier, the class accuracy of ``pred``."""
    fake = _features(network, pred, device, f"{direction.name} translations")
    scores = {}
    if min(len(fake), len(real)) > network.dim:  # else the covariance is singular
        scores[f"fid_{network.name}"] = _value("fid", real, fake)
    if direction.labels is not None and network.has_classes:
        scores["translated_accuracy"] = _value("translated_accuracy", fake, direction.labels)
    return scores


def score_direction(
    G: nn.Module, direction: Direction, network: FeatureNetwork | None, device
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """``(scores of G's translations, context)``: the context holds ``identity`` (the same
    scores of output = input) and ``real_target`` (the classifier's accuracy on the real
    target images, when it applies)."""
    outputs = {
        "translation": translate_images(G, direction.inputs, device),
        "identity": identity_of(direction),
    }
    results: dict[str, dict[str, float]] = {key: {} for key in outputs}
    real = None if network is None else _features(network, direction.targets, device, "real targets")
    for key, pred in outputs.items():
        if direction.truth:
            results[key].update(paired_scores(pred, direction))
        if network is not None:
            results[key].update(feature_scores(pred, direction, network, real, device))
    context = {"identity": results["identity"]}
    if real is not None and "translated_accuracy" in results["translation"]:
        context["real_target"] = {
            "translated_accuracy": _value("translated_accuracy", real, direction.labels)
        }
    return results["translation"], context


# --- ganforge eval --run ----------------------------------------------------------------------


def is_translation_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` was trained by a translation game (its exports are per direction)."""
    run_dir = Path(run_dir)
    return (run_dir / "generator-AtoB.json").is_file() and not (run_dir / "generator.json").is_file()


def load_translator(run_dir: str | Path, direction: str, which: str, device) -> tuple[nn.Module, dict]:
    """The exported generator of ``direction`` (``generator-AtoB.*``, ``-best`` for ``best``)."""
    return load_inference(run_dir, direction if which == "last" else f"{direction}-best", device)


def evaluate_translation_run(
    run_dir: str | Path,
    which: str = "last",
    directions: str = "both",
    n: int | None = None,
    feature_net: str = "auto",
    device: str | torch.device = "cpu",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Score a translation run on its test images; returns the report (``format_translation``).

    ``directions``: ``AtoB``, ``BtoA`` or ``both`` (those the run exported); ``n``: the first
    n test images (default all).
    """
    run_dir = Path(run_dir)
    cfg = saved_config(run_dir)
    data = load_translation(cfg.data, paired=False)
    exported = [d for d in ("AtoB", "BtoA") if (run_dir / f"generator-{d}.json").is_file()]
    names = exported if directions == "both" else [directions]
    if directions != "both" and directions not in exported:
        raise GanforgeError(f"--direction {directions}: {run_dir} exports only {', '.join(exported)}")
    network = feature_network_for(feature_net, data.name)
    report = {
        "run": str(run_dir),
        "which": which,
        "game": cfg.model.name,
        "data": data.name,
        "ganforge_version": __version__,
        "feature_network": network.card(),
        "truth": data.test_paired,
        "directions": {},
        "notes": [] if data.test_paired else [_NO_TRUTH.format(name=data.name)],
    }
    if min(len(data.test_a), len(data.test_b), n or math.inf) <= network.dim:
        report["notes"].append(_FEW.format(dim=network.dim, net=network.name))
    for name in names:
        G, meta = load_translator(run_dir, name, which, device)
        direction = directions_of(data, [name], n)[0]
        if log:
            log(f"scoring {name} on {len(direction.inputs)} test images (step {meta.get('step')})")
        scores, context = score_direction(G, direction, network, device)
        report["step"] = meta.get("step")
        report["directions"][name] = {
            "n": len(direction.inputs),
            "scores": scores,
            "context": context,
            "definitions": {column: _definition(column) for column in scores},
        }
    return report


_NO_TRUTH = (
    "{name} holds no true translations of its test images, so only FID (translations vs the "
    "real target domain) is computed; MAE, PSNR, edge IoU and class accuracy need paired test data"
)


_FEW = "no FID: it needs more than {dim} test images per domain ({net} features have {dim} dimensions)"


def _definition(column: str) -> str:
    base = column if column in METRICS else "fid"  # fid_<network>
    return spec_of(base).definition(base)


def format_translation(report: dict[str, Any]) -> str:
    """The printed table: per direction, each score beside the identity lower bound (and the
    classifier's accuracy on the real target images)."""
    lines = [
        f"ganforge eval: {report['run']} ({report['which']}, step {report.get('step')}), "
        f"{report['game']} on {report['data']}",
        f"feature network: {report['feature_network']['feature_network']} "
        f"({report['feature_network']['feature_network_description']})",
    ]
    for name, part in report["directions"].items():
        lines += [
            "",
            f"{name} ({part['n']} test images)",
            "  metric               value    identity  real target",
        ]
        for column, value in part["scores"].items():
            identity = part["context"]["identity"].get(column)
            real = part["context"].get("real_target", {}).get(column)
            lines.append(f"  {column:<20} {_fmt(value):>8}  {_fmt(identity):>8}  {_fmt(real):>8}")
    lines += [
        "",
        "identity: output = input (the lower bound); real target: the classifier on real target images",
    ]
    definitions = {c: d for part in report["directions"].values() for c, d in part["definitions"].items()}
    lines += [f"  {column}: {text}" for column, text in definitions.items()]
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


# --- eval.every -----------------------------------------------------------------------------


class TranslationScorer:
    """The translation games' ``eval.every`` hook: the first ``eval.n`` test inputs of every
    direction, scored by MAE against their true translation when the data has it, else by FID
    on feature-network features against the real target images. Columns ``mae`` (or
    ``fid_<net>``), the mean over directions, which picks the best, and per direction
    ``mae_AtoB``, ``mae_BtoA`` for a CycleGAN."""

    def __init__(self, game, history: list[dict[str, Any]]):
        cfg, data = game.cfg, game.dataset
        self.game, self.every, self.device = game, cfg.eval.every, game.device
        self.directions = directions_of(data, list(game.inference()), cfg.eval.n)
        self.truth = data.test_paired
        self.network = None if self.truth else feature_network_for(cfg.eval.feature_net, data.name)
        self.metric = "mae" if self.truth else f"fid_{self.network.name}"
        if not self.truth and min(len(d.inputs) for d in self.directions) <= self.network.dim:
            raise GanforgeError(
                f"eval.every on {data.name} (no true translations) scores FID, which needs more than "
                f"{self.network.dim} test images per domain and eval.n above that; or set eval.every=0"
            )
        per_direction = (
            [f"{self.metric}_{d.name}" for d in self.directions] if len(self.directions) > 1 else []
        )
        self.columns = [self.metric, *per_direction]
        best = cfg.eval.best_metric
        self.best_column = self.metric if best == "auto" else best
        if self.best_column not in self.columns:
            raise GanforgeError(
                f"eval.best_metric={best} is not scored for {data.name}; choose one of: "
                + ", ".join(self.columns)
            )
        self.sign = direction(self.metric)
        self.best_value = _best_in(history, self.best_column, self.sign)
        self._real: dict[str, Features] = {}

    def due(self, step: int, steps: int) -> bool:
        return self.every > 0 and (step % self.every == 0 or step == steps)

    def _score(self, G: nn.Module, d: Direction) -> float:
        pred = translate_images(G, d.inputs, self.device)
        if self.truth:
            return _value("mae", pred, d.targets)
        if d.name not in self._real:
            self._real[d.name] = _features(self.network, d.targets, self.device, "real targets")
        return feature_scores(pred, d, self.network, self._real[d.name], self.device)[self.metric]

    def score(self, step: int) -> tuple[dict[str, float], dict[str, Any] | None]:
        nets = self.game.inference()
        per = {f"{self.metric}_{d.name}": self._score(nets[d.name][0], d) for d in self.directions}
        scores = {self.metric: float(np.mean(list(per.values())))}
        if len(per) > 1:
            scores.update(per)
        value = scores[self.best_column]
        if not math.isfinite(value) or (
            self.best_value is not None and (value - self.best_value) * self.sign <= 0
        ):
            return scores, None
        self.best_value = value
        protocol = {
            "definition": _definition(self.metric),
            "n": len(self.directions[0].inputs),
            "directions": [d.name for d in self.directions],
            "against": "true translations" if self.truth else "real target-domain test images",
            "ganforge_version": __version__,
        }
        return scores, {"metric": self.best_column, "value": value, "step": step, "protocol": protocol}

    def finish(self, run_dir: Path) -> None:
        title = f"{len(self.directions[0].inputs)} fixed test inputs per direction"
        plot_metric_curves(
            read_metrics(run_dir / "metrics.csv"), self.columns, run_dir / "metrics.png", title=title
        )


def _best_in(rows: list[dict[str, Any]], column: str, sign: int) -> float | None:
    """The best value of ``column`` logged before a resume (metrics.csv rows, as text)."""
    values = []
    for row in rows:
        try:
            values.append(float(row.get(column)))
        except (TypeError, ValueError):
            continue
    values = [v for v in values if math.isfinite(v)]
    return (max(values) if sign > 0 else min(values)) if values else None
