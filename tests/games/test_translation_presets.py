"""The CycleGAN presets' generators can represent the built-in pairs' maps.

fmnist-tint's colour map and fmnist-edges' threshold depend on a pixel's absolute gray level.
The reference's ResNet G (instance norm after its first convolution) gives the same output
for a garment and a dimmer copy of it, so the presets shipped with it could never get close
to the true translation (docs/translation.md, "Results"); this check would have said so.
"""

from pathlib import Path

import pytest
import torch

from ganforge.config import load_config
from ganforge.games.translation_common import resolve_generator
from ganforge.models.translation import build_generator, generator_meta

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PRESETS = ["cyclegan-fmnist-tint.yaml", "cyclegan-fmnist-edges.yaml"]
CHANNELS = {"fmnist-tint": (3, 3), "fmnist-edges": (1, 1)}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_generators_tell_a_garment_from_a_dimmer_copy(preset):
    cfg = load_config(str(CONFIGS / preset), [])
    kind = resolve_generator(cfg.model.generator, "resnet")
    a, b = CHANNELS[cfg.data.name]
    torch.manual_seed(0)
    for channels in ((a, b), (b, a)):  # G_AB and G_BA
        G = build_generator(generator_meta(kind, *channels, 28, cfg.model.g_width, cfg.model.res_blocks))
        x = torch.rand(2, channels[0], 28, 28) * 2 - 1
        dimmer = (x + 1) * 0.6 - 1  # every gray level scaled by 0.6 on [0, 1]
        out = G(x)
        # the ResNet G changes by ~1e-4 of its output's spread (the norm's epsilon), a U-Net by ~0.4
        assert (out - G(dimmer)).abs().mean() > 0.1 * out.std(), f"{preset}: {kind} G is blind to gray level"
