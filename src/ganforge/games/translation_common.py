"""What the translation games (cyclegan, pix2pix) share: batches drawn from a domain held on
the device, the generator choice (stargan's too), the progress grid of fixed test inputs and
their scorer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.config import ConfigError
from ganforge.training.distributed import DistContext
from ganforge.training.sampler import EpochSampler
from ganforge.viz.grid import image_grid, to_uint8

GRID_ROWS = 8  # fixed test inputs per direction in the progress grid


def to_unit(images: Tensor) -> Tensor:
    """uint8 ``[N, C, H, W]`` in [0, 255] -> float32 in [-1, 1] (the generators' range)."""
    return images.float() / 127.5 - 1


def resolve_generator(choice: str, paper_default: str) -> str:
    """``model.generator``: ``auto`` is the game's paper default (resnet, or unet for pix2pix)."""
    return paper_default if choice == "auto" else choice


def check_weights(train) -> None:
    """The translation loss weights, cycle noise and pool size must not be negative (0 turns a term off)."""
    names = ("cycle_weight", "cycle_weight_b", "identity_weight", "cycle_noise", "l1_weight", "pool_size")
    names += ("marginal_weight",)
    for name in names:
        if (getattr(train, name) or 0) < 0:  # cycle_weight_b may be None (= cycle_weight)
            raise ConfigError(f"train.{name} must be >= 0 (0 turns it off), got {getattr(train, name)}")


class TranslationScoring:
    """Mixin (before ``Game``) of the games that translate between two domains."""

    def scorer(self, history: list[dict[str, Any]]):
        """``eval.every``: MAE of the translations of fixed test inputs against their true
        translation (FID to the target domain without one); ``evaluation/translation.py``."""
        from ganforge.evaluation.translation import TranslationScorer

        return TranslationScorer(self, history)


class DomainBatches:
    """Shuffled batches of one domain's uint8 images, kept on the device, returned in [-1, 1].

    Under DDP every rank draws the same global batch of indices and takes its own slice.
    """

    def __init__(self, images: Tensor, batch_size: int, seed: int, device: torch.device, dist: DistContext):
        if batch_size % dist.world_size:
            raise ConfigError(
                f"train.batch_size ({batch_size}) must be a multiple of the {dist.world_size} processes"
            )
        self.images = images.to(device)
        self.sampler = EpochSampler(len(images), batch_size, seed, device)
        self.local = batch_size // dist.world_size
        self.rank = dist.rank

    def next_indices(self) -> Tensor:
        """This rank's indices ``[batch_size / world_size]`` of the next global batch."""
        return self.sampler.next()[self.rank * self.local : (self.rank + 1) * self.local]

    def take(self, indices: Tensor) -> Tensor:
        return to_unit(self.images[indices])

    def next(self) -> Tensor:
        """The next batch, float ``[n, C, H, W]`` in [-1, 1]."""
        return self.take(self.next_indices())


def as_rgb(images: Tensor, channels: int) -> Tensor:
    """``[N, 1 or 3, H, W]`` -> ``[N, channels, H, W]`` (gray repeated) so rows can share a grid."""
    return images.expand(-1, channels, -1, -1) if images.shape[1] < channels else images


@torch.no_grad()
def write_rows(path: Path, columns: list[Tensor]) -> None:
    """Save one PNG whose row i shows ``columns[k][i]`` for every k (each ``[N, C, H, W]`` in [-1, 1])."""
    channels = max(c.shape[1] for c in columns)
    tiles = torch.stack([as_rgb(c.float(), channels) for c in columns], 1)  # [N, K, C, H, W]
    image_grid(to_uint8(tiles.flatten(0, 1)), columns=len(columns)).save(path)


class eval_mode:
    """Context: nets in eval mode (no dropout draws, batch-norm running statistics), then back."""

    def __init__(self, *nets: nn.Module):
        self.nets = nets
        self.modes = [net.training for net in nets]

    def __enter__(self):
        for net in self.nets:
            net.eval()

    def __exit__(self, *exc):
        for net, mode in zip(self.nets, self.modes):
            net.train(mode)
