"""DCGAN (Radford et al. 2015) at 28, 32 or 64 pixels, 1 or 3 channels.

G projects z to a 4x4 (7x7 for 28 px) map with a transposed convolution, then doubles the
side with stride-2 transposed convolutions, halving the channels each time down to ``g_width``
(ngf); batch norm and ReLU inside, tanh out. D mirrors it with stride-2 convolutions and
LeakyReLU(0.2), batch norm everywhere but on its first layer, and one logit out. Weights start
from N(0, 0.02) (batch-norm scales from N(1, 0.02)), as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.models.registry import ModelError, register

SIZES = (28, 32, 64)


def _plan(data_shape: tuple[int, ...]) -> tuple[int, int]:
    """Return (first feature-map side, number of stride-2 layers) for this image shape."""
    if len(data_shape) != 3:
        raise ModelError(
            f"dcgan needs images, got examples of shape {data_shape}: use model.name=mlp for point sets"
        )
    channels, height, width = data_shape
    if height != width or height not in SIZES:
        raise ModelError(
            f"dcgan supports square images of {', '.join(map(str, SIZES))} px, "
            f"got {height}x{width}: set data.image_size to one of them"
        )
    if channels not in (1, 3):
        raise ModelError(f"dcgan supports 1 or 3 channels, got {channels}: set data.channels")
    start = 7 if height == 28 else 4
    return start, (height // start).bit_length() - 1


def init_weights(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights N(0, 0.02), batch-norm scale N(1, 0.02), bias 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, data_shape: tuple[int, ...], ngf: int):
        super().__init__()
        start, n_up = _plan(data_shape)
        widths = [ngf * 2**i for i in reversed(range(n_up))]  # e.g. 64 px: 8, 4, 2, 1 x ngf
        layers = [
            nn.ConvTranspose2d(z_dim, widths[0], start, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], data_shape[0], 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z [N, z_dim]`` -> images ``[N, C, H, W]`` in [-1, 1]."""
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], ndf: int):
        super().__init__()
        start, n_down = _plan(data_shape)
        widths = [ndf * 2**i for i in range(n_down)]  # e.g. 64 px: 1, 2, 4, 8 x ndf
        layers = [
            nn.Conv2d(data_shape[0], widths[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]  # no batch norm on D's first layer
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, start, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, C, H, W]`` in [-1, 1] -> logits ``[N]``."""
        return self.net(x).flatten()


def build_generator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    return DCGANGenerator(cfg.z_dim, data_shape, cfg.g_width)


def build_discriminator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    return DCGANDiscriminator(data_shape, cfg.d_width)


register("dcgan", "deep convolutional GAN of Radford et al. 2015, 28/32/64 px, 1 or 3 channels")(
    (build_generator, build_discriminator)
)
