"""Model families, registered by name: ``build_models(cfg, data_shape) -> (G, D)``."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.models import cdcgan, cgan, dcgan, mlp  # noqa: F401  (registers the families)
from ganforge.models.noise import sample_noise
from ganforge.models.registry import MODELS, ModelError

__all__ = ["MODELS", "ModelError", "build_generator", "build_models", "is_conditional", "sample_noise"]


def _spec(name: str):
    if name not in MODELS:
        raise ModelError(f"unknown model '{name}'; choose one of: " + ", ".join(MODELS))
    return MODELS[name]


def is_conditional(name: str) -> bool:
    """Whether the family ``name`` takes class labels (G(z, labels), D(x, labels))."""
    return _spec(name).conditional


# Parameters one network may have (fp32: 0.8 GB of weights, 3x that with Adam's moments and the
# gradient). The largest network of the presets has ~13 M; a typo such as g_width=30000 asks
# for billions, which would take minutes and gigabytes before failing.
MAX_PARAMETERS = 200_000_000


def check_size(build, cfg, data_shape: tuple[int, ...], which: str) -> None:
    """Refuse a network with more than MAX_PARAMETERS parameters, counted on the meta device
    (shapes only: nothing is allocated), before the real one is built."""
    with torch.device("meta"):
        count = sum(p.numel() for p in build(cfg, data_shape).parameters())
    if count > MAX_PARAMETERS:
        raise ModelError(
            f"{cfg.name}'s {which} would have {count:,} parameters (limit {MAX_PARAMETERS:,}); "
            "lower model.g_width / model.d_width / model.z_dim or data.image_size"
        )


def build_generator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    """G for a ``ModelConfig`` and the shape of one example (``(C, H, W)`` or ``(D,)``)."""
    spec = _spec(cfg.name)
    check_size(spec.build_generator, cfg, tuple(data_shape), "G")
    return spec.build_generator(cfg, tuple(data_shape))


def build_models(cfg, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """``(G, D)``; shape problems and absurd sizes fail here, at start-up, with a ModelError."""
    spec = _spec(cfg.name)
    check_size(spec.build_discriminator, cfg, tuple(data_shape), "D")
    return build_generator(cfg, data_shape), spec.build_discriminator(cfg, tuple(data_shape))
