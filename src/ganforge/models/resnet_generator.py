"""The ResNet generator of CycleGAN (Johnson et al. 2016, as in Zhu et al. 2017, appendix 7.2).

Same layers as ``ResnetGenerator`` in junyanz/pytorch-CycleGAN-and-pix2pix ``networks.py``:
a 7x7 convolution after reflection padding, two stride-2 convolutions down, ``res_blocks``
residual blocks at a quarter of the resolution, two stride-2 transposed convolutions up and a
7x7 convolution to ``out_channels`` with tanh. Instance norm (no affine, no running
statistics) after every hidden convolution, so each image is normalised on its own.
"""

from __future__ import annotations

from torch import Tensor, nn


def default_res_blocks(image_size: int) -> int:
    """The reference's choice: ``resnet_6blocks`` up to 128 px, ``resnet_9blocks`` above."""
    return 6 if image_size <= 128 else 9


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResidualBlock(nn.Module):
    """x + (pad, 3x3 conv, norm, ReLU, pad, 3x3 conv, norm)(x); reflection padding keeps borders clean."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """``[N, in_channels, H, W]`` in [-1, 1] -> ``[N, out_channels, H, W]`` in [-1, 1].

    H and W must be multiples of 4 (two halvings); 28, 32, 64 and 256 px all are. ``width`` is
    the reference's ngf (channels after the first convolution; 4x that in the residual blocks).
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, res_blocks: int = 6):
        super().__init__()
        # Convolutions are followed by instance norm, which removes a per-channel mean, so a bias
        # would be redundant; the reference keeps it (use_bias=True for instance norm) and so do we.
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7),
            _norm(width),
            nn.ReLU(True),
        ]
        for factor in (1, 2):  # down: width -> 2 width -> 4 width, each halving H and W
            layers += [
                nn.Conv2d(width * factor, width * factor * 2, 3, stride=2, padding=1),
                _norm(width * factor * 2),
                nn.ReLU(True),
            ]
        layers += [ResidualBlock(width * 4) for _ in range(res_blocks)]
        for factor in (4, 2):  # up: 4 width -> 2 width -> width, each doubling H and W
            layers += [
                nn.ConvTranspose2d(
                    width * factor, width * factor // 2, 3, stride=2, padding=1, output_padding=1
                ),
                _norm(width * factor // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
