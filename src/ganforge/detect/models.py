"""The detectors: a small CNN on pixels, and small classifiers on fixed features of the image
(its log Fourier spectrum, its log DCT, or the frozen features of the Fashion-MNIST evaluator).

All map images ``[N, C, H, W]`` in [-1, 1] to logits ``[N]``; ``sigmoid(logit)`` is the
probability that the image is generated. ``DETECTOR_KINDS`` names every kind; a kind ending in
``-aug`` is the same network trained on blurred and JPEG-coded images (``detect/augment.py``).
``DETECTORS`` holds the two kinds ``ganforge detect train`` trains by default.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.detect.features import log_dct, log_spectrum
from ganforge.detect.inputs import DetectError


class PixelDetector(nn.Module):
    """Three 3x3 convolutions (the last two with stride 2), global average pooling, a logit.

    Average pooling makes it indifferent to where in the image an artefact sits, and keeps it
    small (~25 k weights), so it learns from a few thousand images in a minute on a CPU.
    """

    def __init__(self, channels: int, image_size: int, width: int = 16):
        super().__init__()
        del image_size  # any size works; kept for the shared signature
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * width, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` in [-1, 1] -> logits ``[N]`` (positive: generated)."""
        return self.net(images).squeeze(1)


class FeatureDetector(nn.Module):
    """A fixed feature map of the image, each feature standardised, then a small trained head.

    The features have no trained weights, so training computes them once (``features``) and
    fits only the head (``classify``). The per-feature mean and standard deviation are buffers
    set from the training images' features (``fit_normalisation``), so the saved weights hold
    everything needed to score.
    """

    def __init__(self, feature_shape: tuple[int, ...], head: nn.Module):
        super().__init__()
        self.register_buffer("mean", torch.zeros(feature_shape))
        self.register_buffer("std", torch.ones(feature_shape))
        self.net = head

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` in [-1, 1] -> raw features ``[N, *feature_shape]``."""
        raise NotImplementedError

    @torch.no_grad()
    def fit_normalisation(self, features: torch.Tensor) -> None:
        """Set the per-feature mean and std from training features ``[N, *feature_shape]``."""
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-3))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Raw features ``[N, *feature_shape]`` -> logits ``[N]``."""
        return self.net((features - self.mean) / self.std).squeeze(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` in [-1, 1] -> logits ``[N]`` (positive: generated)."""
        return self.classify(self.features(images))


class SpectrumDetector(FeatureDetector):
    """Standardised log Fourier spectrum (per frequency) -> a one-hidden-layer perceptron.

    After Zhang, Karaman & Chang 2019: up-sampling leaves periodic traces that stand out as
    peaks in the spectrum.
    """

    def __init__(self, channels: int, image_size: int, hidden: int = 64):
        del channels  # the spectrum is taken of the gray image
        head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(image_size * image_size, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )
        super().__init__((image_size, image_size), head)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return log_spectrum(images)


class DCTDetector(FeatureDetector):
    """Standardised log |DCT| (per coefficient) -> a linear classifier (logistic regression).

    After Frank et al. 2020, whose linear classifier on the log DCT spectrum separated the
    images of every GAN they tried: a linear head has one weight per frequency, so it cannot
    memorise one generator's texture, only which frequencies carry more energy than in real
    images.
    """

    def __init__(self, channels: int, image_size: int):
        del channels  # the DCT is taken of the gray image
        head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(image_size * image_size, 1))
        super().__init__((image_size, image_size), head)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return log_dct(images)


class ProbeDetector(FeatureDetector):
    """The shipped Fashion-MNIST evaluator's penultimate features (frozen) -> logistic regression.

    After Ojha, Li & Lee 2023: features *not* trained to tell real from fake (here: trained to
    name garments, ``metrics/classifier.py``) with a linear probe generalise to unseen
    generators better than a network trained end to end on one generator's artefacts. The
    evaluator is loaded from the package and is not part of this detector's weights; its
    sha256 is recorded by ``evaluator_sha256`` so a changed evaluator is noticed.
    """

    def __init__(self, channels: int, image_size: int):
        from ganforge.metrics.classifier import load_classifier

        evaluator = load_classifier("fashion-mnist")
        if (channels, image_size) != (evaluator.channels, evaluator.image_size):
            raise DetectError(
                f"the probe detector reads the Fashion-MNIST evaluator's features: it needs "
                f"{evaluator.channels}-channel {evaluator.image_size}x{evaluator.image_size} images, "
                f"not {channels}-channel {image_size}x{image_size}"
            )
        dim = evaluator.model.penultimate.out_features
        super().__init__((dim,), nn.Sequential(nn.Linear(dim, 1)))
        object.__setattr__(self, "evaluator", evaluator.model.eval())  # frozen, not in state_dict
        self.evaluator_sha256 = evaluator.sha256

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.evaluator.features_and_logits(images.float())[0]


DETECTORS = {"pixel": PixelDetector, "spectrum": SpectrumDetector}
AUG_SUFFIX = "-aug"
_BASE_KINDS = {**DETECTORS, "dct": DCTDetector, "probe": ProbeDetector}
DETECTOR_KINDS = {**_BASE_KINDS, **{kind + AUG_SUFFIX: cls for kind, cls in _BASE_KINDS.items()}}


def build_detector(kind: str, channels: int, image_size: int) -> nn.Module:
    """A fresh detector of ``kind`` (``pixel``, ``dct-aug``, ...) for ``[N, channels, S, S]`` images."""
    if kind not in DETECTOR_KINDS:
        raise DetectError(f"unknown detector '{kind}'; choose one of: {', '.join(DETECTOR_KINDS)}")
    return DETECTOR_KINDS[kind](channels, image_size)


def is_augmented(kind: str) -> bool:
    """Whether ``kind`` trains on blurred and JPEG-coded images (Wang et al. 2020)."""
    return kind.endswith(AUG_SUFFIX)
