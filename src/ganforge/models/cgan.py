"""The conditional GAN of Mirza & Osindero 2014 ("Conditional Generative Adversarial Nets").

The class label is an extra input of both networks ("y is fed into both the discriminator and
generator as additional input layer"). As in the paper's MNIST model, the label and the
other input first pass through hidden layers of their own, which are then joined:

    G: [relu(W_z z), relu(W_y one_hot(y))] -> the fully-connected G of mlp.py
    D: [lrelu(W_x x), lrelu(W_y one_hot(y))] -> the fully-connected D of mlp.py

The label's own layer matters: concatenating the one-hot code straight to 100 noise values
makes it a tenth of G's input, and G first learns to ignore it. ``hidden_layers`` counts the
joined branch layer, so a cGAN is as deep as the ``mlp`` GAN with the same settings.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.models import mlp
from ganforge.models.labels import labels_or_uniform, require_classes
from ganforge.models.registry import register


class CGANGenerator(nn.Module):
    def __init__(self, z_dim: int, data_shape: tuple[int, ...], width: int, hidden_layers: int,
                 num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.z_branch = nn.Linear(z_dim, width)
        self.label_branch = nn.Linear(num_classes, width)
        # Indexing an identity matrix is one-hot coding that exports to ONNX as a plain Gather.
        self.register_buffer("one_hot", torch.eye(num_classes), persistent=False)
        self.body = mlp.MLPGenerator(2 * width, data_shape, width, hidden_layers - 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``z [N, z_dim]``, ``labels`` int64 ``[N]`` in 0..K-1 (None: uniform) -> samples
        ``[N, *data_shape]``."""
        labels = labels_or_uniform(labels, z, self.num_classes)
        y = self.one_hot[labels].to(z.dtype)
        return self.body(torch.cat([torch.relu(self.z_branch(z)),
                                    torch.relu(self.label_branch(y))], dim=1))


class CGANDiscriminator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], width: int, hidden_layers: int,
                 dropout: float, num_classes: int):
        super().__init__()
        self.x_branch = nn.Linear(math.prod(data_shape), width)
        self.label_branch = nn.Linear(num_classes, width)
        self.register_buffer("one_hot", torch.eye(num_classes), persistent=False)
        self.act = nn.Sequential(nn.LeakyReLU(0.2), nn.Dropout(dropout))
        self.body = mlp.MLPDiscriminator((2 * width,), width, hidden_layers - 1, dropout)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``x [N, *data_shape]``, ``labels`` int64 ``[N]`` -> logits ``[N]``."""
        y = self.one_hot[labels].to(x.dtype)
        return self.body(self.act(torch.cat([self.x_branch(x.flatten(1)),
                                             self.label_branch(y)], dim=1)))


def build_generator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    mlp._check(cfg, data_shape)
    return CGANGenerator(cfg.z_dim, data_shape, cfg.g_width, cfg.hidden_layers,
                         require_classes(cfg, "cgan"))


def build_discriminator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    mlp._check(cfg, data_shape)
    return CGANDiscriminator(data_shape, cfg.d_width, cfg.hidden_layers, cfg.dropout,
                             require_classes(cfg, "cgan"))


register("cgan", "conditional MLP GAN of Mirza & Osindero 2014 (label branch into G and D)",
         conditional=True)((build_generator, build_discriminator))
