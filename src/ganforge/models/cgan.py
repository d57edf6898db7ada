"""The conditional GAN of Mirza & Osindero 2014 ("Conditional Generative Adversarial Nets").

The class label, one-hot coded, is an extra input of both networks ("y is fed into both the
discriminator and generator as additional input layer"): G sees ``[z, y]``, D sees ``[x, y]``.
Everything else is the fully-connected GAN of ``mlp.py``, which this module reuses: G and D
here are that G and D with K more inputs.

What to expect (8x8 digits, ``configs/cgan-digits.yaml``): like the unconditional MLP GAN, G
first collapses onto a few images; the label starts to steer it after ~1,500 steps, and by
3,000 a classifier fitted on real digits names the requested digit for >90 % of samples.
Stronger label inputs (a scaled or learned embedding, a label branch of its own) were tried:
they steer G sooner but leave it drawing one image per class for much longer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.models import mlp
from ganforge.models.labels import labels_or_uniform, require_classes
from ganforge.models.registry import register


class CGANGenerator(nn.Module):
    def __init__(
        self, z_dim: int, data_shape: tuple[int, ...], width: int, hidden_layers: int, num_classes: int
    ):
        super().__init__()
        self.num_classes = num_classes
        self.body = mlp.MLPGenerator(z_dim + num_classes, data_shape, width, hidden_layers)
        # Indexing an identity matrix is one-hot coding that exports to ONNX as a plain Gather.
        self.register_buffer("one_hot", torch.eye(num_classes), persistent=False)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``z [N, z_dim]``, ``labels`` int64 ``[N]`` in 0..K-1 (None: uniform) -> samples
        ``[N, *data_shape]``."""
        labels = labels_or_uniform(labels, z, self.num_classes)
        return self.body(torch.cat([z, self.one_hot[labels].to(z.dtype)], dim=1))


class CGANDiscriminator(nn.Module):
    def __init__(
        self, data_shape: tuple[int, ...], width: int, hidden_layers: int, dropout: float, num_classes: int
    ):
        super().__init__()
        inputs = math.prod(data_shape) + num_classes
        self.body = mlp.MLPDiscriminator((inputs,), width, hidden_layers, dropout)
        self.register_buffer("one_hot", torch.eye(num_classes), persistent=False)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``x [N, *data_shape]``, ``labels`` int64 ``[N]`` -> logits ``[N]``."""
        return self.body(torch.cat([x.flatten(1), self.one_hot[labels].to(x.dtype)], dim=1))


def build_generator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    mlp._check(cfg, data_shape)
    return CGANGenerator(cfg.z_dim, data_shape, cfg.g_width, cfg.hidden_layers, require_classes(cfg, "cgan"))


def build_discriminator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    mlp._check(cfg, data_shape)
    return CGANDiscriminator(
        data_shape, cfg.d_width, cfg.hidden_layers, cfg.dropout, require_classes(cfg, "cgan")
    )


register(
    "cgan", "conditional MLP GAN of Mirza & Osindero 2014 (one-hot label into G and D)", conditional=True
)((build_generator, build_discriminator))
