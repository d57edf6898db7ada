"""Train, score, evaluate, save and load the real-vs-generated detectors.

A detector folder holds ``detector.json`` (image size, channels, what it was trained on, its
validation figures), one ``<kind>.safetensors`` per detector and ``spectra.png``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge import __version__
from ganforge.data.batches import to_unit_range
from ganforge.detect.augment import random_blur_jpeg
from ganforge.detect.inputs import DetectError
from ganforge.detect.models import FeatureDetector, build_detector, is_augmented
from ganforge.files import atomic_write
from ganforge.progress import bar as progress_bar

INFO_NAME = "detector.json"


@dataclass
class DetectorSettings:
    steps: int = 1500  # Adam updates, each on batch_size / 2 real + batch_size / 2 generated
    batch_size: int = 128  # images per update
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 1e-4  # L2 on the weights (Adam's, coupled)
    val_fraction: float = 0.1  # share of each set held out for the validation figures
    seed: int = 0  # initialisation, split and batch order


def train_detector(
    kind: str, real: np.ndarray, fake: np.ndarray, settings: DetectorSettings | None = None
) -> nn.Module:
    """Fit detector ``kind`` on uint8 ``[N, C, S, S]`` real and generated images (same C, S).

    Every batch is half real, half generated, so the classes stay balanced whatever the set
    sizes. An ``-aug`` kind first blurs and JPEG-codes the training images (one seeded draw
    per image, ``augment.random_blur_jpeg``). A detector on fixed features computes them once
    and trains only its head. Returns the model in eval mode.
    """
    settings = settings or DetectorSettings()
    model = build_detector(kind, real.shape[1], real.shape[2])
    torch.manual_seed(settings.seed)
    if is_augmented(kind):
        real, fake = random_blur_jpeg(real, settings.seed), random_blur_jpeg(fake, settings.seed + 1)
    real_x, fake_x = to_unit_range(torch.from_numpy(real)), to_unit_range(torch.from_numpy(fake))
    forward = model
    if isinstance(model, FeatureDetector):
        real_x, fake_x = _batched(model.features, real_x), _batched(model.features, fake_x)
        model.fit_normalisation(torch.cat([real_x, fake_x]))
        forward = model.classify
    _fit(model, forward, real_x, fake_x, settings)
    return model.eval()


def _batched(function, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([function(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def _fit(model: nn.Module, forward, real_x: torch.Tensor, fake_x: torch.Tensor, settings) -> None:
    """Adam on the binary cross-entropy of ``forward`` over balanced batches (1 = generated)."""
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    half = settings.batch_size // 2
    targets = torch.cat([torch.zeros(half), torch.ones(half)])
    model.train()
    with progress_bar(settings.steps, "step", "detector") as shown:
        for _ in range(settings.steps):
            batch = torch.cat(
                [
                    real_x[torch.randint(len(real_x), (half,), generator=generator)],
                    fake_x[torch.randint(len(fake_x), (half,), generator=generator)],
                ]
            )
            loss = F.binary_cross_entropy_with_logits(forward(batch), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            shown.update()


@torch.no_grad()
def probabilities(model: nn.Module, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """uint8 ``[N, C, S, S]`` -> float64 ``[N]``: the probability that each image is generated."""
    model.eval()
    parts = [
        torch.sigmoid(model(to_unit_range(torch.from_numpy(images[i : i + batch_size]))))
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(parts).double().numpy()


def score_sets(model: nn.Module, real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """Accuracy (threshold 0.5, each set weighted by its size) and ROC AUC on real vs generated."""
    # imported here: at the top, sklearn cost every `ganforge` command ~1.5-3 s of start-up
    from sklearn.metrics import roc_auc_score

    p_real, p_fake = probabilities(model, real), probabilities(model, fake)
    truth = np.concatenate([np.zeros(len(p_real)), np.ones(len(p_fake))])
    scores = np.concatenate([p_real, p_fake])
    return {
        "accuracy": float(((scores > 0.5) == truth).mean()),
        "auc": float(roc_auc_score(truth, scores)),
        "n_real": len(p_real),
        "n_fake": len(p_fake),
    }


def split(images: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training part, held-out part) of ``images``, a seeded shuffle cut at ``fraction``."""
    order = np.random.RandomState(seed).permutation(len(images))
    cut = len(images) - max(1, int(round(len(images) * fraction)))
    return images[order[:cut]], images[order[cut:]]


def save_detector(folder: str | Path, models: dict[str, nn.Module], info: dict[str, Any]) -> Path:
    """Write each model as ``<kind>.safetensors`` and ``info`` (+ versions) as detector.json."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for kind, model in models.items():
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        atomic_write(folder / f"{kind}.safetensors", lambda tmp, t=tensors: save_file(t, tmp))
    evaluators = {k: m.evaluator_sha256 for k, m in models.items() if hasattr(m, "evaluator_sha256")}
    info = {**info, "detectors": sorted(models), "ganforge_version": __version__}
    if evaluators:  # a probe reads the package's evaluator, which is not in its weights
        info["evaluator_sha256"] = evaluators
    atomic_write(folder / INFO_NAME, lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2)))
    return folder


def load_detector(folder: str | Path) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """``({kind: model in eval mode}, info)`` from a folder written by ``save_detector``."""
    folder = Path(folder)
    if not (folder / INFO_NAME).is_file():
        raise DetectError(
            f"{folder} is not a detector folder (no {INFO_NAME}); make one with `ganforge detect train`"
        )
    try:
        info = json.loads((folder / INFO_NAME).read_text())
        models = {}
        for kind in info["detectors"]:
            model = build_detector(kind, info["channels"], info["image_size"])
            model.load_state_dict(load_file(str(folder / f"{kind}.safetensors")))
            _check_evaluator(model, info.get("evaluator_sha256", {}).get(kind))
            models[kind] = model.eval()
    except DetectError:
        raise
    except Exception as err:  # bad JSON, missing file, wrong shapes
        raise DetectError(f"cannot load the detector in {folder}: {str(err).splitlines()[0][:200]}") from None
    return models, info


def _check_evaluator(model: nn.Module, recorded: str | None) -> None:
    """A probe trained on one evaluator's features is meaningless on another's."""
    found = getattr(model, "evaluator_sha256", None)
    if found and recorded and found != recorded:
        raise DetectError(
            f"this probe detector was trained on the evaluator with sha256 {recorded[:12]}..., "
            f"but the installed one is {found[:12]}...: retrain it (benchmarks/detect_zoo.py --ship)"
        )
