"""Image mode: a read-only view of a ``ganforge train`` run folder, finished or still running.

It reads ``config.yaml``, ``metrics.csv``, ``samples/step_*.png``, the latest checkpoint and
the exported generator; it never writes to the folder. Diagnostics that need live networks
(D's logits on real and fake batches, gradient norms, sample diversity) are computed from
the latest checkpoint on CPU: G and D are rebuilt with ``build_models`` and the run's own
fixed noise. Alarms flag the known failure modes from ``metrics.csv`` and from those
diagnostics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.checkpoint import (
    CheckpointError,
    checkpoint_config,
    exported_networks,
    generator_paths,
    latest_checkpoint,
    load_checkpoint,
    load_generator,
)
from ganforge.config import ConfigError, read_yaml
from ganforge.data import load_dataset
from ganforge.data.batches import to_unit_range
from ganforge.errors import GanforgeError
from ganforge.games import GAMES
from ganforge.games.gan import count_classes
from ganforge.lab.alarms import diagnostic_alarms, find_alarms
from ganforge.losses import LOSSES, class_cross_entropy, get_loss
from ganforge.metrics.registry import column_spec
from ganforge.models import build_models, is_conditional
from ganforge.sampling import generate, seeded_inputs
from ganforge.training.log import read_metrics
from ganforge.training.steps import judge
from ganforge.viz import image_grid, to_uint8

SAMPLE_NAME = re.compile(r"^step_\d+\.png$")
DIAGNOSTIC_BATCH = 64  # real and fake examples behind the histograms and gradient norms
HISTOGRAM_BINS = 30
WALK_ROWS = 8  # images in the latent-walk strip (points runs: WALK_POINTS points)
WALK_POINTS = 512
WALK_SEED = 1234  # the walk's two noise endpoints are fixed, so the slider is repeatable

# metrics.csv columns of the training loop itself; every other column is an evaluation score
# (eval.every) or a loss term such as gp or d_aux.
LOSS_COLUMNS = {
    "step",
    "seconds",
    "d_loss",
    "g_loss",
    "d_real",
    "d_fake",
    "lr_d",
    "lr_g",
    "gp",
    "d_aux",
    "g_aux",
}


class RunViewError(GanforgeError, ValueError):
    """A folder that is not a ganforge run, or a request the run cannot answer."""


def read_metrics_tolerant(path: Path, tries: int = 3) -> dict[str, list[float]] | None:
    """metrics.csv as ``{column: [floats]}`` (empty cells NaN) through the training loop's own
    reader; ``{}`` when there is no file yet.

    A training run may be appending a row right now (``1.5e`` is not a number yet): the file
    is read again a moment later, and None is returned if it still does not parse.
    """
    for attempt in range(tries):
        if not path.is_file():
            return {}
        try:
            return read_metrics(path)
        except (ValueError, TypeError):  # a half-written number, or a row with extra cells
            if attempt < tries - 1:
                time.sleep(0.05)
    return None


def _histogram(groups: dict[str, np.ndarray]) -> dict[str, Any]:
    """Shared-bin histograms of several 1-D arrays (non-finite values dropped)."""
    finite = {k: v[np.isfinite(v)] for k, v in groups.items()}
    values = np.concatenate([v for v in finite.values() if len(v)] or [np.zeros(1)])
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-6:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    return {
        "edges": edges.tolist(),
        **{k: np.histogram(v, bins=edges)[0].tolist() for k, v in finite.items()},
    }


def _grad_norms(module: torch.nn.Module) -> tuple[list[dict[str, Any]], float]:
    norms = [
        {"name": name, "norm": float(p.grad.norm())}
        for name, p in module.named_parameters()
        if p.grad is not None
    ]
    total = math.sqrt(sum(n["norm"] ** 2 for n in norms)) if norms else 0.0
    return norms, total


def _mean_pairwise_distance(x: torch.Tensor) -> float:
    flat = x.flatten(1).double()
    return float(torch.pdist(flat).mean()) if len(flat) > 1 else 0.0


MAX_INFO_BYTES = 1 << 20  # a generator.json is a few KB; a bigger one is not read on every poll


def _generator_info(run_dir: Path, which: str) -> dict[str, Any]:
    """An exported generator's metadata (``generator.json`` / ``generator-best.json``).

    Raises OSError, ValueError or TypeError when it is missing, oversized or being replaced.
    """
    path = generator_paths(run_dir, which)[1]
    if path.stat().st_size > MAX_INFO_BYTES:
        raise ValueError(f"{path} is larger than {MAX_INFO_BYTES} bytes")
    info = json.loads(path.read_text())
    if not isinstance(info, dict):
        raise TypeError(f"{path} does not hold a JSON object")
    return info


def _direction(column: str) -> str | None:
    """``"lower"`` or ``"higher"``: which way an evaluation score column is better; None for a
    column no metric writes (a game's own training statistics)."""
    found = column_spec(column)
    if found is None:
        return None
    return "lower" if found[1].direction < 0 else "higher"


@dataclasses.dataclass
class _RealBatch:
    """Real examples for the diagnostics: ``images`` ``[N, ...]`` in the networks' range and
    their int64 ``labels`` ``[N]`` (None when the data or its labels are missing), and the
    number of classes training counted in the data (conditional runs)."""

    images: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    num_classes: int | None = None


def _generator_forward(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """G's output with its graph, in train mode as in the training step. (sampling.generate
    runs without gradients, and the G gradient norms need them.)"""
    G.train()
    return G(z) if labels is None else G(z, labels)


def _measure(G, D, cfg, z, fake_labels, real: _RealBatch) -> dict[str, Any]:
    """D's logits, gradient norms and diversity for one batch, with the training step's
    losses: D judged through ``judge`` (conditional and auxiliary-classifier Ds too), the
    class cross-entropy added for ACGAN as ``d_step``/``g_step`` do. Gradient penalties are
    left out: they are a regulariser, not the game."""
    loss = get_loss(cfg.train.loss)
    aux = cfg.train.aux_weight
    D.train()
    fake = _generator_forward(G, z, fake_labels)
    fake_logits, _ = judge(D, fake.detach(), fake_labels)
    result: dict[str, Any] = {}
    groups = {"fake": fake_logits.detach().numpy()}
    if real.images is not None and (fake_labels is None or real.labels is not None):
        real_logits, real_classes = judge(D, real.images, None if fake_labels is None else real.labels)
        groups["real"] = real_logits.detach().numpy()
        d_loss = loss.d(real_logits, fake_logits)
        if real_classes is not None:
            d_loss = d_loss + aux * class_cross_entropy(real_classes, real.labels)
        d_loss.backward()
        result["d_norms"], result["d_total"] = _grad_norms(D)
        result["diversity"] = {
            "fake": _mean_pairwise_distance(fake.detach()),
            "real": _mean_pairwise_distance(real.images),
        }
    D.zero_grad(set_to_none=True)
    D.requires_grad_(False)  # G's loss: only G's weights get gradients
    logits, classes = judge(D, fake, fake_labels)
    g_loss = loss.g(logits)
    if classes is not None:
        g_loss = g_loss + aux * class_cross_entropy(classes, fake_labels)
    g_loss.backward()
    result["g_norms"], result["g_total"] = _grad_norms(G)
    result["logits"] = _histogram(groups)
    return result


class RunView:
    """Answers the run page's questions about one run folder; results cached per checkpoint."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        if not self.run_dir.is_dir():
            raise RunViewError(f"--run {self.run_dir}: no such folder")
        markers = ("config.yaml", "metrics.csv", "checkpoints", "generator.json")
        if not any((self.run_dir / m).exists() for m in markers):
            raise RunViewError(
                f"--run {self.run_dir} is not a ganforge run folder (it holds "
                "none of config.yaml, metrics.csv, checkpoints/)"
            )
        self._lock = threading.Lock()
        self._diagnostics: tuple[Any, dict] | None = None
        self._generator: tuple[Any, Any, dict] | None = None
        self._real: tuple[Any, _RealBatch] | None = None
        self._metrics: dict[str, list[float]] = {}  # the last metrics.csv that parsed

    # --- files ------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        path = self.run_dir / "config.yaml"
        if not path.is_file():
            return {}
        try:
            values = read_yaml(path) or {}  # hardening: aliases (YAML bombs) refused, size bounded
        except (ConfigError, OSError):
            return {}
        return values if isinstance(values, dict) else {}

    def game(self) -> str:
        """The game the run played (``gan``, ``cyclegan``, ``pix2pix``, ``stargan`` ...), from
        ``model.name`` in config.yaml: a game's name, or a model family (which plays ``gan``)."""
        model = self.config().get("model")
        name = model.get("name") if isinstance(model, dict) else None
        return name if isinstance(name, str) and name in GAMES else "gan"

    def _gan_only(self, what: str) -> None:
        """The live diagnostics and the latent walk rebuild a GAN's G and D from noise: other
        games answer one line (409 in the server), not a failure."""
        game = self.game()
        if game != "gan":
            raise RunViewError(f"{what} not available for the {game} game (its curves and samples are)")

    def probabilistic(self) -> bool:
        loss = self.config().get("train", {}).get("loss", "nonsaturating")
        return LOSSES[loss].probabilistic if loss in LOSSES else True

    def samples(self) -> list[str]:
        folder = self.run_dir / "samples"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if SAMPLE_NAME.match(p.name))

    def sample_path(self, name: str) -> Path:
        """The path of a sample grid by file name; anything else (``../``, odd names) is refused."""
        if not SAMPLE_NAME.match(name) or not (self.run_dir / "samples" / name).is_file():
            raise RunViewError(f"no sample grid named {name!r}")
        return self.run_dir / "samples" / name

    def metrics(self) -> dict[str, list[float]]:
        """metrics.csv's columns; while a row is half-written, the last complete reading."""
        metrics = read_metrics_tolerant(self.run_dir / "metrics.csv")
        with self._lock:
            if metrics is None:
                return self._metrics
            self._metrics = metrics
        return metrics

    def scores(self, metrics: dict[str, list[float]]) -> dict[str, Any]:
        """Which columns are evaluation scores and which way is better for each, and the score
        that chose ``generator-best`` (from its generator-best.json) when there is one::

            {"directions": {"fid_fmnist": "lower", "modes_covered": "higher"},
             "best": {"metric": "fid_fmnist", "step": 400, "value": 16.8} | None}
        """
        directions = {name: _direction(name) for name in metrics if name not in LOSS_COLUMNS}
        directions = {name: way for name, way in directions.items() if way is not None}
        best = None
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):  # absent, or being replaced
            chosen = _generator_info(self.run_dir, "best")["eval"]
            best = {"metric": str(chosen["metric"]), "step": int(chosen["step"])}
            best["value"] = float(chosen["value"])
            directions.setdefault(best["metric"], _direction(best["metric"]))
        return {"directions": directions, "best": best}

    def summary(self) -> dict[str, Any]:
        """Config, curves, sample list and metric alarms: what the page polls every few seconds."""
        metrics = self.metrics()
        checkpoint = latest_checkpoint(self.run_dir)
        clean = {k: [v if math.isfinite(v) else None for v in values] for k, values in metrics.items()}
        return {
            "name": self.run_dir.name,
            "config": self.config(),
            "metrics": clean,
            "scores": self.scores(metrics),
            "probabilistic": self.probabilistic(),
            "samples": self.samples(),
            "checkpoint": None if checkpoint is None else checkpoint.name,
            "step": int(metrics["step"][-1]) if metrics.get("step") else 0,
            "game": self.game(),
            "finished": bool(exported_networks(self.run_dir)),
            "alarms": find_alarms(metrics, self.probabilistic()),
        }

    # --- live diagnostics from the latest checkpoint ------------------------------------------

    def _checkpoint(self) -> tuple[Path, int, dict[str, Any]]:
        """The latest checkpoint: ``(path, mtime in ns, payload)``."""
        path = latest_checkpoint(self.run_dir)
        if path is None:
            raise RunViewError(
                f"{self.run_dir} has no checkpoint yet; diagnostics appear after "
                "the first one (train.checkpoint_every)"
            )
        try:
            return path, path.stat().st_mtime_ns, load_checkpoint(path)
        except (OSError, CheckpointError):  # a running training just rotated it away
            if path.exists():
                raise
            raise RunViewError(f"{path.name} was replaced while being read; try again") from None

    def _real_batch(self, cfg, data_shape) -> _RealBatch:
        """DIAGNOSTIC_BATCH real examples in the networks' range with their labels, or an empty
        batch when the data is not here (a run folder copied from another machine)."""
        data = cfg.data
        key = (data.name, data.root, data.split, data.image_size, data.channels, data.limit, cfg.run.seed)
        with self._lock:
            if self._real is not None and self._real[0] == key:
                return self._real[1]
        data.download = False  # a viewer never fetches anything
        batch = _RealBatch()
        try:
            dataset = load_dataset(data, seed=cfg.run.seed)
            real = dataset.data[:DIAGNOSTIC_BATCH]
            real = to_unit_range(real) if real.dtype == torch.uint8 else real.float()
            if tuple(real.shape[1:]) == tuple(data_shape):
                labels = None if dataset.labels is None else dataset.labels[:DIAGNOSTIC_BATCH]
                batch = _RealBatch(real, labels)
            if is_conditional(cfg.model.name):
                batch.num_classes = count_classes(cfg, dataset)
        except GanforgeError:
            pass
        with self._lock:
            self._real = (key, batch)
        return batch

    def _num_classes(self, cfg, payload: dict[str, Any], real: _RealBatch) -> int | None:
        """Classes a conditional run's G and D were built for; None for unconditional runs.

        The saved config keeps ``model.num_classes: null`` when the run took it from the data,
        so it is looked up where training wrote it down: the checkpoint, an exported
        generator's metadata, else the data set itself (as training counted it).
        """
        if not is_conditional(cfg.model.name):
            return None
        found = [payload.get("num_classes"), cfg.model.num_classes]
        for which in ("last", "best"):
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                found.append(_generator_info(self.run_dir, which)["num_classes"])
        found.append(real.num_classes)
        for value in found:
            if isinstance(value, int) and value >= 2:
                return value
        raise RunViewError(
            f"{self.run_dir} is a conditional run ({cfg.model.name}) but its number of classes is "
            f"nowhere here: its data set {cfg.data.name} is not found and no generator was exported yet"
        )

    def _networks(self, path: Path, payload: dict[str, Any], num_classes: int | None):
        """``(cfg, G, D)`` rebuilt from a checkpoint, on CPU."""
        cfg = checkpoint_config(payload, path)
        model = dataclasses.replace(cfg.model, num_classes=num_classes)
        G, D = build_models(model, tuple(payload["data_shape"]))
        try:
            G.load_state_dict(payload["G"])
            D.load_state_dict(payload["D"])
        except (RuntimeError, KeyError) as err:
            raise RunViewError(
                f"{path} does not fit its own config: {str(err).splitlines()[0][:160]}"
            ) from None
        return cfg, G, D

    def diagnostics(self) -> dict[str, Any]:
        """Histograms of D's logits on real and fake batches, per-layer gradient norms of the
        losses of D and G, sample diversity, and the alarms these numbers raise."""
        self._gan_only("diagnostics are")
        path, mtime, payload = self._checkpoint()
        key = (path, mtime)
        with self._lock:
            if self._diagnostics is not None and self._diagnostics[0] == key:
                return self._diagnostics[1]
        cfg = checkpoint_config(payload, path)
        real = self._real_batch(cfg, tuple(payload["data_shape"]))
        num_classes = self._num_classes(cfg, payload, real)
        cfg, G, D = self._networks(path, payload, num_classes)
        z = payload["fixed_z"][:DIAGNOSTIC_BATCH].float()
        # The sample grid's classes: 0, 1, ..., K-1, 0, 1, ... (see TrainState.grid_labels).
        fake_labels = None if num_classes is None else torch.arange(len(z)) % num_classes
        result = {
            "step": int(payload["step"]),
            "checkpoint": path.name,
            "loss": cfg.train.loss,
            "real_available": real.images is not None,
            **_measure(G, D, cfg, z, fake_labels, real),
        }
        result["alarms"] = diagnostic_alarms(result)
        with self._lock:
            self._diagnostics = (key, result)
        return result

    # --- latent walk --------------------------------------------------------------------------

    def _walk_generator(self):
        """The freshest G: the exported one, or the latest checkpoint's while a run is going."""
        weights, info = generator_paths(self.run_dir)
        checkpoint = latest_checkpoint(self.run_dir)
        sources = []
        with contextlib.suppress(OSError):  # files may be replaced while we look
            if weights.is_file() and info.is_file():
                sources.append(("export", weights.stat().st_mtime_ns))
            if checkpoint is not None:
                sources.append((checkpoint, checkpoint.stat().st_mtime_ns))
        if not sources:
            raise RunViewError(f"{self.run_dir} has neither a checkpoint nor an exported generator yet")
        source = max(sources, key=lambda s: s[1])  # the newest file wins
        with self._lock:
            if self._generator is not None and self._generator[0] == source:
                return self._generator[1], self._generator[2]
        if source[0] == "export":
            G, meta = load_generator(self.run_dir)
        else:
            path, _, payload = self._checkpoint()
            cfg = checkpoint_config(payload, path)
            shape = tuple(payload["data_shape"])
            num_classes = self._num_classes(cfg, payload, self._real_batch(cfg, shape))
            G, _ = build_models(dataclasses.replace(cfg.model, num_classes=num_classes), shape)
            G.load_state_dict(payload["G_ema"] or payload["G"])
            # the part of generator.json that sampling needs
            meta = {
                "model": {"z_dim": cfg.model.z_dim, "noise": cfg.model.noise},
                "num_classes": num_classes,
                "data_shape": list(shape),
            }
        with self._lock:
            self._generator = (source, G, meta)
        return G, meta

    def walk_png(self, t: float) -> bytes:
        """PNG of G at ``(1 - t) * z_a + t * z_b`` for fixed noise endpoints, ``t`` in [0, 1]:
        a strip of WALK_ROWS images, or a scatter of WALK_POINTS points for 2-D runs. A
        conditional G keeps one class per image (or point) along the walk."""
        self._gan_only("the latent walk is")
        G, meta = self._walk_generator()
        points = len(meta["data_shape"]) == 1  # a 2-D run, not images
        count = WALK_POINTS if points else WALK_ROWS
        ends, labels = seeded_inputs(meta, 2 * count, WALK_SEED)
        z = (1 - t) * ends[:count] + t * ends[count:]
        samples = generate(G, z, None if labels is None else labels[:count])
        buffer = io.BytesIO()
        if samples.dim() == 4:
            image_grid(to_uint8(samples), columns=WALK_ROWS, min_side=640).save(buffer, "PNG")
        else:
            import matplotlib.pyplot as plt

            from ganforge.viz.grid import scatter_plot

            figure = scatter_plot(samples.numpy(), title=f"t = {t:.2f}")
            figure.savefig(buffer, format="png")
            plt.close(figure)
        return buffer.getvalue()
