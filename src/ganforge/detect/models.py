"""The two detectors: a small CNN on pixels and a classifier on the log-magnitude spectrum.

Both map images ``[N, C, H, W]`` in [-1, 1] to logits ``[N]``; ``sigmoid(logit)`` is the
probability that the image is generated. They are registered in ``DETECTORS`` by name.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.detect.features import log_spectrum


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


class SpectrumDetector(nn.Module):
    """Standardised log spectrum (per frequency) -> a one-hidden-layer perceptron -> a logit.

    The mean and standard deviation of every frequency are buffers set from the training
    images (``fit_normalisation``), so the saved weights hold everything needed to score.
    """

    def __init__(self, channels: int, image_size: int, hidden: int = 64):
        super().__init__()
        del channels  # the spectrum is taken of the gray image
        size = image_size * image_size
        self.register_buffer("mean", torch.zeros(image_size, image_size))
        self.register_buffer("std", torch.ones(image_size, image_size))
        self.net = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.2), nn.Linear(size, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1)
        )

    @torch.no_grad()
    def fit_normalisation(self, images: torch.Tensor) -> None:
        """Set the per-frequency mean and std from training images ``[N, C, H, W]``."""
        spectra = log_spectrum(images)
        self.mean.copy_(spectra.mean(0))
        self.std.copy_(spectra.std(0).clamp_min(1e-3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` in [-1, 1] -> logits ``[N]`` (positive: generated)."""
        return self.net((log_spectrum(images) - self.mean) / self.std).squeeze(1)


DETECTORS = {"pixel": PixelDetector, "spectrum": SpectrumDetector}
