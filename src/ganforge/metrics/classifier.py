"""The feature classifier: a small CNN, trained by ganforge, whose features score GANs offline.

Standard FID needs Inception weights from the internet, and Inception features of 28 px gray
clothes say little anyway. So ganforge trains its own classifier on the data set itself; its
penultimate layer (``feature_dim`` = 128 values, before the ReLU) gives the features for
FID/KID/precision/recall/density/coverage, and its softmax gives the Inception-Score-style
score and the class histogram. Scores computed with it carry its tag (``fid_fmnist``), so they
are never mistaken for Inception FID.

Architecture (``widths`` = (16, 32, 64) by default), for ``[N, C, S, S]`` images in [-1, 1]:
three blocks of 3x3 convolution + batch norm + ReLU, a 2x2 max pool after the first two, an
adaptive max pool to 3x3 after the third; then a linear layer to 128 (the features), ReLU,
dropout and the linear classifier. After training, the features are standardized with the
training set's per-feature mean and std (fixed buffers in the weights file).

Training is deterministic: a fixed seed, ``torch.use_deterministic_algorithms``, a fixed data
order and no data-dependent branching, so ``ganforge evaluator train fashion-mnist`` rebuilds
the shipped weights (bit for bit on the same CPU type and thread count; elsewhere to within
floating-point rounding, which the recorded test accuracy bounds).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge import __version__
from ganforge.files import atomic_write, cache_root, file_sha256
from ganforge.metrics.errors import MetricError
from ganforge.progress import bar as progress_bar

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"  # shipped with the package

# Data sets an evaluator can be trained on, and the short tag their metric names carry.
TAGS = {"fashion-mnist": "fmnist", "mnist": "mnist", "cifar10": "cifar10"}


@dataclass
class Recipe:
    """Everything that decides the trained weights (stored in the json beside them)."""

    widths: tuple[int, int, int] = (16, 32, 64)  # channels of the three conv blocks
    feature_dim: int = 128  # width of the penultimate layer (the features)
    epochs: int = 4  # passes over the training split
    batch_size: int = 128  # images per step
    lr: float = 3e-3  # peak learning rate of the one-cycle schedule (AdamW)
    weight_decay: float = 5e-4  # AdamW's decoupled weight decay
    dropout: float = 0.3  # before the classifier
    seed: int = 0  # initialisation and data order


class ClassifierCNN(nn.Module):
    """Images ``[N, C, S, S]`` in [-1, 1] -> class logits ``[N, num_classes]``."""

    def __init__(
        self,
        channels: int,
        num_classes: int,
        widths=(16, 32, 64),
        feature_dim: int = 128,
        dropout: float = 0.3,
    ):
        super().__init__()
        w1, w2, w3 = widths

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.body = nn.Sequential(
            *block(channels, w1),
            nn.MaxPool2d(2),
            *block(w1, w2),
            nn.MaxPool2d(2),
            *block(w2, w3),
            nn.AdaptiveMaxPool2d(3),
            nn.Flatten(),
        )
        self.penultimate = nn.Linear(w3 * 9, feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, num_classes)
        # Fixed after training (``standardize``): the training set's per-feature mean and std.
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_std", torch.ones(feature_dim))

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images [N, C, S, S]`` in [-1, 1] -> (features ``[N, feature_dim]``, logits).

        The features are taken before the ReLU (dense, with no dead constant-zero columns that
        would make FID's covariance singular) and standardized with the training set's fixed
        per-feature mean and std, so every feature weighs alike and the scores have a
        readable scale (the raw scale is an accident of training).
        """
        raw = self.penultimate(self.body(images))
        features = (raw - self.feature_mean) / self.feature_std
        return features, self.classifier(self.dropout(F.relu(raw)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[1]


@dataclass
class Classifier:
    """A trained feature classifier and what the protocol card says about it."""

    model: ClassifierCNN  # in eval mode
    tag: str  # "fmnist": metric names end in it
    info: dict[str, Any]  # the json: data set, image size, channels, accuracy, recipe ...
    sha256: str  # of the safetensors file
    path: Path  # the safetensors file

    @property
    def image_size(self) -> int:
        return int(self.info["image_size"])

    @property
    def channels(self) -> int:
        return int(self.info["channels"])


def weights_name(dataset: str) -> str:
    return f"evaluator-{dataset}.safetensors"


def classifier_dirs() -> list[Path]:
    """Where evaluators are looked for: the package's weights/, then ``<cache>/evaluators``."""
    return [WEIGHTS_DIR, cache_root() / "evaluators"]


def find_classifier(dataset: str) -> Path | None:
    for folder in classifier_dirs():
        path = folder / weights_name(dataset)
        if path.is_file() and path.with_suffix(".json").is_file():
            return path
    return None


def load_classifier(dataset_or_path: str | Path) -> Classifier:
    """Load the evaluator of a data set (``"fashion-mnist"``) or from a ``.safetensors`` path.

    Raises ``MetricError`` saying how to build it when none is found.
    """
    text = str(dataset_or_path)
    if text.endswith(".safetensors"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise MetricError(f"evaluator weights {path} do not exist")
    else:
        if text not in TAGS:
            raise MetricError(
                f"no evaluator network for '{text}'; evaluators exist for "
                f"{', '.join(TAGS)}; use feature_net=inception for other images"
            )
        path = find_classifier(text)
        if path is None:
            where = " or ".join(str(d) for d in classifier_dirs())
            raise MetricError(
                f"no evaluator for {text} in {where}: only Fashion-MNIST's ships with ganforge "
                f"(the others need their data, which this package cannot bundle); build it with "
                f"`ganforge evaluator train {text}` (needs the {text} files; a few minutes on "
                "a CPU)"
            )
    meta_path = path.with_suffix(".json")
    try:
        info = json.loads(meta_path.read_text())
        # Initialising layers draws from the global random stream; a training run that loads
        # an evaluator (eval.every) must not see its stream moved.
        with torch.random.fork_rng(devices=[]):
            model = ClassifierCNN(
                info["channels"],
                len(info["class_names"]),
                tuple(info["recipe"]["widths"]),
                info["recipe"]["feature_dim"],
                info["recipe"]["dropout"],
            )
        model.load_state_dict(load_file(str(path)))
    except Exception as error:  # missing json keys, wrong shapes, damaged file
        raise MetricError(
            f"cannot load evaluator {path} with {meta_path.name}: {str(error).splitlines()[0][:200]}"
        ) from None
    tag = info.get("tag") or TAGS.get(info.get("dataset"), path.stem)
    return Classifier(model.eval().requires_grad_(False), tag, info, file_sha256(path), path)


# --- training -------------------------------------------------------------------------------


@contextlib.contextmanager
def deterministic():
    """Deterministic kernels inside the block; the previous setting is restored after."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on uint8 ``images [N, C, S, S]`` with ``labels [N]``."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].float() / 127.5 - 1
        correct += int((model(batch).argmax(1) == labels[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / len(images)


def fit(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    num_classes: int,
    recipe: Recipe,
    log: Callable[[str], None] | None = None,
) -> ClassifierCNN:
    """Train an ``ClassifierCNN`` on uint8 ``[N, C, S, S]`` images and int64 labels ``[N]``.

    One-cycle AdamW over ``recipe.epochs`` passes in a seeded order; the last partial batch
    of each pass is dropped, so every step sees ``batch_size`` images.
    """
    count = len(train_images)
    steps_per_epoch = count // recipe.batch_size
    if recipe.epochs * steps_per_epoch < 8:  # the one-cycle warm-up needs a few steps
        raise MetricError(
            f"{count} training images give fewer than 8 steps of "
            f"{recipe.batch_size}; use more images or epochs"
        )
    with deterministic():
        torch.manual_seed(recipe.seed)
        model = ClassifierCNN(
            train_images.shape[1], num_classes, recipe.widths, recipe.feature_dim, recipe.dropout
        )
        opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            opt, recipe.lr, total_steps=recipe.epochs * steps_per_epoch, pct_start=0.25
        )
        order = torch.Generator().manual_seed(recipe.seed)
        model.train()
        with progress_bar(recipe.epochs * steps_per_epoch, "step", "classifier") as shown:
            for epoch in range(recipe.epochs):
                perm = torch.randperm(count, generator=order)
                total = torch.zeros(())
                for step in range(steps_per_epoch):
                    index = perm[step * recipe.batch_size : (step + 1) * recipe.batch_size]
                    images = train_images[index].float() / 127.5 - 1
                    loss = F.cross_entropy(model(images), train_labels[index])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    schedule.step()
                    total += loss.detach()
                    shown.update()
                if log is not None:
                    log(f"epoch {epoch + 1}/{recipe.epochs}: mean loss {float(total) / steps_per_epoch:.4f}")
    return model.eval()


@torch.no_grad()
def standardize(model: ClassifierCNN, images: torch.Tensor, batch_size: int = 1000) -> None:
    """Set the model's feature mean and std (population) to those of uint8 ``images``."""
    model.eval()
    model.feature_mean.zero_()
    model.feature_std.fill_(1.0)
    raw = torch.cat(
        [
            model.features_and_logits(images[i : i + batch_size].float() / 127.5 - 1)[0]
            for i in range(0, len(images), batch_size)
        ]
    ).double()
    model.feature_mean.copy_(raw.mean(dim=0))
    model.feature_std.copy_(raw.std(dim=0, unbiased=False).clamp_min(1e-6))


def train_classifier(
    dataset: str,
    out_dir: str | Path | None = None,
    recipe: Recipe | None = None,
    data_root: str | None = None,
    log: Callable[[str], None] | None = print,
    command: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train the evaluator of ``dataset`` on its train split; write weights and json.

    Writes ``evaluator-<dataset>.safetensors`` and ``.json`` (test accuracy, recipe, seed,
    command, sha256, versions) into ``out_dir`` (default ``<cache>/evaluators``), atomically.
    Returns ``(weights path, json dict)``.
    """
    from ganforge.config import DataConfig
    from ganforge.data import load_dataset

    if dataset not in TAGS:
        raise MetricError(f"evaluators can be trained for {', '.join(TAGS)}, not '{dataset}'")
    recipe = recipe or Recipe()
    train_set = load_dataset(DataConfig(name=dataset, split="train", root=data_root, download=True))
    test_set = load_dataset(DataConfig(name=dataset, split="test", root=data_root, download=True))
    started = time.perf_counter()
    model = fit(train_set.data, train_set.labels, len(train_set.class_names), recipe, log)
    standardize(model, train_set.data)
    seconds = time.perf_counter() - started
    test_accuracy = accuracy(model, test_set.data, test_set.labels)
    if log is not None:
        log(f"test accuracy {test_accuracy:.4f} after {seconds:.0f} s")

    out_dir = Path(out_dir) if out_dir is not None else cache_root() / "evaluators"
    path = out_dir / weights_name(dataset)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp))
    _, channels, size, _ = train_set.data.shape
    info = {
        "dataset": dataset,
        "tag": TAGS[dataset],
        "image_size": size,
        "channels": channels,
        "class_names": list(train_set.class_names),
        "input_range": "[-1, 1] (uint8 / 127.5 - 1)",
        "features": f"penultimate linear layer, {recipe.feature_dim}-d, before its ReLU, "
        "standardized by the training set's per-feature mean and std",
        "test_accuracy": round(test_accuracy, 4),
        "test_images": len(test_set),
        "train_images": len(train_set),
        "train_seconds": round(seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "recipe": asdict(recipe),
        "seed": recipe.seed,
        "command": command or f"ganforge evaluator train {dataset}",
        "sha256": file_sha256(path),
        "torch_version": torch.__version__,
        "ganforge_version": __version__,
    }
    info["recipe"]["widths"] = list(recipe.widths)
    atomic_write(
        path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2) + "\n")
    )
    return path, info
