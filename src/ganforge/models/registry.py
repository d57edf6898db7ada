"""The model registry: a family name maps to its G and D builders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ganforge.errors import GanforgeError


class ModelError(GanforgeError, ValueError):
    """A model that cannot be built for this data (wrong size, channels, settings)."""


@dataclass
class ModelSpec:
    # build_generator(cfg: ModelConfig, data_shape) -> nn.Module mapping z [N, z_dim] to [N, *data_shape]
    build_generator: Callable[..., nn.Module]
    # build_discriminator(cfg: ModelConfig, data_shape) -> nn.Module mapping [N, *data_shape] to logits [N]
    build_discriminator: Callable[..., nn.Module]
    summary: str  # one line for `ganforge info`
    # Conditional families take class labels (int64 [N]): G(z, labels) and D(x, labels); D then
    # returns logits [N], or (logits [N], class_logits [N, K]) when it has an auxiliary classifier.
    conditional: bool = False


MODELS: dict[str, ModelSpec] = {}


def register(name: str, summary: str, conditional: bool = False):
    def wrap(cls_pair: tuple[Callable, Callable]):
        MODELS[name] = ModelSpec(cls_pair[0], cls_pair[1], summary, conditional)
        return cls_pair

    return wrap
