"""The original fully-connected GAN (Goodfellow et al. 2014) for vectors and small images.

G: z -> [Linear, ReLU] x hidden_layers -> Linear -> tanh for images (data in [-1, 1]),
identity for point sets (the 2-D mixtures reach +-4). D: x -> [Linear, LeakyReLU(0.2),
Dropout] x hidden_layers -> Linear -> one logit.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.models.registry import ModelError, register


def _check(cfg, data_shape: tuple[int, ...]) -> None:
    if cfg.hidden_layers < 1:
        raise ModelError(f"mlp needs model.hidden_layers >= 1, got {cfg.hidden_layers}")
    if math.prod(data_shape) > 64 * 64 * 3:
        raise ModelError(
            f"mlp is meant for vectors and small images; {data_shape} is too big: "
            "use model.name=dcgan or a smaller data.image_size"
        )


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, data_shape: tuple[int, ...], width: int, hidden_layers: int):
        super().__init__()
        self.data_shape = tuple(data_shape)
        layers, size = [], z_dim
        for _ in range(hidden_layers):
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        layers.append(nn.Linear(size, math.prod(data_shape)))
        if len(data_shape) == 3:  # images live in [-1, 1]
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z [N, z_dim]`` -> samples ``[N, *data_shape]``."""
        return self.net(z).view(z.shape[0], *self.data_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], width: int, hidden_layers: int, dropout: float = 0.0):
        super().__init__()
        layers, size = [], math.prod(data_shape)
        for _ in range(hidden_layers):
            layers += [nn.Linear(size, width), nn.LeakyReLU(0.2)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            size = width
        layers.append(nn.Linear(size, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, *data_shape]`` -> logits ``[N]`` (D(x) = sigmoid(logit))."""
        return self.net(x.flatten(1)).squeeze(1)


def build_generator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    _check(cfg, data_shape)
    return MLPGenerator(cfg.z_dim, data_shape, cfg.g_width, cfg.hidden_layers)


def build_discriminator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    _check(cfg, data_shape)
    return MLPDiscriminator(data_shape, cfg.d_width, cfg.hidden_layers, cfg.dropout)


register("mlp", "fully-connected GAN of Goodfellow et al. 2014, for points and small images")(
    (build_generator, build_discriminator)
)
