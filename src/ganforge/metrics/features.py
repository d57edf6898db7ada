"""Feature networks: uint8 images in, float64 features (and class probabilities) out.

Two kinds, behind one interface (``FeatureNetwork.extract``):

* ``fmnist`` / ``mnist`` / ``cifar10``: ganforge's own feature classifier CNNs (``classifier.py``),
  128-d penultimate features plus a softmax over the data set's classes. Offline.
* ``inception``: the FID Inception v3 of pytorch-fid (``inception.py``), 2048-d pool3
  features; needs its weights file. No classes (no IS or class coverage here).

Every image set goes through the same conversion before the network (``prepare``), so real and
generated images are treated alike:

1. channels: gray -> RGB by repeating the plane; RGB -> gray by ITU-R 601-2 luma (Pillow's
   ``convert("L")``), to what the network takes;
2. size: for an evaluator, images whose side differs from its training size are center-cropped
   to a square and resized with Pillow's antialiased bicubic filter (the filter ganforge's
   data readers use); for Inception nothing is done on the host: the network itself resizes
   every image to 299 x 299 bilinearly, as pytorch-fid does.

Each conversion is reported as a note (a line of text) so the user sees it happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganforge.data.image_ops import convert_channels, resize_images
from ganforge.files import file_sha256
from ganforge.metrics import inception
from ganforge.metrics.classifier import TAGS, load_classifier
from ganforge.metrics.errors import MetricError
from ganforge.progress import bar as progress_bar

BATCH_SIZE = 250  # images per forward pass; features do not depend on it beyond rounding


@dataclass
class Features:
    """Features ``[N, D]`` float64 and, for classifier networks, softmax ``probs [N, K]``."""

    features: np.ndarray
    probs: np.ndarray | None = None

    def __len__(self) -> int:
        return self.features.shape[0]


@dataclass
class FeatureNetwork:
    """A network that maps uint8 images ``[N, C, H, W]`` to features, with its protocol facts."""

    name: str  # the suffix of metric names: fid_<name>
    description: str  # one line for the protocol card
    sha256: str  # of the weights file
    image_size: int  # side of the images the network takes
    channels: int  # 1 or 3
    resize: str  # how images of another size are brought to image_size
    dim: int  # feature dimension D
    class_names: list[str] | None  # classifier networks only
    # batch of float [B, channels, H, W] in [0, 1] on the device -> (features, logits or None)
    forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]] = field(repr=False)
    module: torch.nn.Module = field(repr=False)
    host_resize: bool = True  # False: the network resizes by itself (Inception)

    @property
    def has_classes(self) -> bool:
        return self.class_names is not None

    def card(self) -> dict:
        """The feature network's part of a protocol card."""
        return {
            "feature_network": self.name,
            "feature_network_description": self.description,
            "feature_network_sha256": self.sha256,
            "feature_dim": self.dim,
            "input_size": self.image_size,
            "input_channels": self.channels,
            "resize": self.resize,
        }

    def prepare(self, images: np.ndarray, label: str = "images") -> tuple[np.ndarray, list[str]]:
        """Convert uint8 ``[N, C, H, W]`` (C in 1, 3) to what the network takes.

        Returns the converted array and the notes describing each change (empty: none).
        """
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
            raise MetricError(
                f"{label}: expected uint8 images [N, C, H, W] with C = 1 or 3, got "
                f"{images.dtype} {tuple(images.shape)}"
            )
        notes = []
        if images.shape[1] != self.channels:
            how = "repeated to RGB" if self.channels == 3 else "converted to gray (ITU-R 601-2)"
            notes.append(f"{label}: {images.shape[1]}-channel images {how} for {self.name}")
            images = convert_channels(images, self.channels)
        height, width = images.shape[2:]
        if self.host_resize and (height, width) != (self.image_size, self.image_size):
            notes.append(
                f"{label}: {height}x{width} images resized to {self.image_size}x"
                f"{self.image_size} for {self.name} ({self.resize})"
            )
            images = resize_images(images, self.image_size)
        return images, notes

    @torch.no_grad()
    def extract(
        self,
        images: np.ndarray,
        device: str | torch.device = "cpu",
        batch_size: int = BATCH_SIZE,
        label: str = "images",
    ) -> tuple[Features, list[str]]:
        """uint8 images ``[N, C, H, W]`` -> (``Features`` in float64, conversion notes).

        Raises ``MetricError`` when the network returns NaN or infinite values.
        """
        images, notes = self.prepare(images, label)
        self.module.to(device)
        feats, probs = [], []
        with progress_bar(len(images), "image", f"{self.name} features of {label}") as shown:
            for start in range(0, len(images), batch_size):
                batch = torch.from_numpy(images[start : start + batch_size]).to(device)
                features, logits = self.forward(batch.float() / 255.0)
                feats.append(features.double().cpu())
                if logits is not None:
                    probs.append(torch.softmax(logits.double(), dim=1).cpu())
                shown.update(len(batch))
        features = torch.cat(feats).numpy() if feats else np.zeros((0, self.dim))
        if not np.isfinite(features).all():
            bad = int((~np.isfinite(features)).any(axis=1).sum())
            raise MetricError(
                f"{label}: the {self.name} network gave NaN/inf features for {bad} "
                "images; check that the images are valid"
            )
        return Features(features, torch.cat(probs).numpy() if probs else None), notes


def classifier_network(dataset_or_path: str | Path) -> FeatureNetwork:
    """One of ganforge's evaluator CNNs, by data set name, tag or weights path."""
    by_tag = {tag: name for name, tag in TAGS.items()}
    evaluator = load_classifier(by_tag.get(str(dataset_or_path), dataset_or_path))
    model = evaluator.model
    info = evaluator.info

    def forward(batch: torch.Tensor):
        return model.features_and_logits(batch * 2 - 1)  # the CNN takes [-1, 1]

    accuracy = info.get("test_accuracy")
    return FeatureNetwork(
        name=evaluator.tag,
        description=(
            f"ganforge evaluator CNN for {info['dataset']} ({evaluator.path.name}, test "
            f"accuracy {accuracy}), penultimate layer"
        ),
        sha256=evaluator.sha256,
        image_size=evaluator.image_size,
        channels=evaluator.channels,
        resize="center crop + Pillow bicubic (antialiased) when the size differs",
        dim=model.classifier.in_features,
        class_names=list(info["class_names"]),
        forward=forward,
        module=model,
    )


def inception_network(weights: str | Path | None = None, download: bool = True) -> FeatureNetwork:
    """pytorch-fid's FID Inception v3 from a local (or downloaded) weights file."""
    path = inception.weights_path(weights, download=download)
    model = inception.load_fid_inception(path)
    return FeatureNetwork(
        name="inception",
        description=f"FID Inception v3 ({inception.WEIGHTS_NAME} as in pytorch-fid), pool3",
        sha256=file_sha256(path),
        image_size=inception.INPUT_SIZE,
        channels=3,
        resize="bilinear to 299x299 (F.interpolate, align_corners=False), as pytorch-fid",
        dim=inception.FEATURE_DIM,
        class_names=None,
        forward=lambda batch: (model(batch), None),
        module=model,
        host_resize=False,
    )


def auto_network_name(dataset: str | None) -> str:
    """``auto``: the data set's evaluator when it is one of TAGS, else Inception."""
    return TAGS[dataset] if dataset in TAGS else "inception"


def get_feature_network(
    spec: str, dataset: str | None = None, inception_weights: str | Path | None = None
) -> FeatureNetwork:
    """``spec``: ``auto`` (needs ``dataset``), ``inception``, an evaluator tag or data set name
    (``fmnist``, ``fashion-mnist`` ...), or a path to an evaluator ``.safetensors``."""
    if spec == "auto":
        spec = auto_network_name(dataset)
    if spec == "inception":
        return inception_network(inception_weights)
    known = set(TAGS) | set(TAGS.values())
    if spec in known or spec.endswith(".safetensors"):
        return classifier_network(spec)
    raise MetricError(
        f"unknown feature network '{spec}'; choose auto, inception, "
        + ", ".join(sorted(TAGS.values()))
        + " or a path to evaluator weights"
    )
