"""Model families, registered by name: ``build_models(cfg, data_shape) -> (G, D)``."""

from __future__ import annotations

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


def build_generator(cfg, data_shape: tuple[int, ...]) -> nn.Module:
    """G for a ``ModelConfig`` and the shape of one example (``(C, H, W)`` or ``(D,)``)."""
    return _spec(cfg.name).build_generator(cfg, tuple(data_shape))


def build_models(cfg, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """``(G, D)``; shape problems fail here, at start-up, with a ModelError."""
    spec = _spec(cfg.name)
    return spec.build_generator(cfg, tuple(data_shape)), spec.build_discriminator(cfg, tuple(data_shape))
