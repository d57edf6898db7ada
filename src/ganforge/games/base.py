"""A game: the networks, optimizers and losses that train together, and one iteration of them.

The training loop (``training/loop.py``) runs every game the same way: it schedules
iterations, logs the scalars they return, draws the game's progress grid, writes checkpoints
and exports the inference networks. What differs between a GAN, a CycleGAN or a StarGAN
lives in one subclass of ``Game`` in this package, and nowhere else.

Checkpoint layout: each entry of ``nets`` is saved under its key (``"G"``, ``"D"``,
``"G_ema"``; ``"G_AB"``, ``"D_A"``, ...), each optimizer under its key (``"opt_g"``,
``"opt_d"``), and ``state_dict()`` under ``"game"``. The GAN game keeps the keys that
format-1 checkpoints already use, so old runs still resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


class Game:
    """Base class of every game. A subclass builds everything in ``__init__``.

    The constructor receives the resolved config, the device, the distributed context and the
    speed plan (``training/speed.py``); it loads its own data (through ``ganforge.data``),
    builds its networks and optimizers, and fills the attributes below.
    """

    name: ClassVar[str]  # registry name, e.g. "gan", "cyclegan"
    # Scalars shown on the progress bar, as (stat name, label); all scalars go to metrics.csv.
    progress_stats: ClassVar[tuple[tuple[str, str], ...]] = ()

    nets: dict[str, nn.Module]  # every network whose weights the checkpoint keeps, by key
    optimizers: dict[str, torch.optim.Optimizer]  # by checkpoint key
    base_lrs: dict[str, float]  # each optimizer's configured learning rate, by the same key

    def iteration(self) -> dict[str, Tensor]:
        """One training iteration (every update it schedules, e.g. D then G).

        Returns detached 0-d device tensors (losses, D outputs) that the loop averages and
        logs every ``train.log_every`` steps. No ``.item()``, printing or other host syncs:
        the loop may replay this as a CUDA graph. A non-finite value stops the run.
        """
        raise NotImplementedError

    def set_lr_factor(self, factor: float) -> None:
        """Scale every optimizer's learning rate to ``factor`` times its configured value."""
        for key, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = self.base_lrs[key] * factor

    def state_dict(self) -> dict[str, Any]:
        """Game state beyond networks and optimizers that an exact resume needs (position in
        the data order, image pools, the fixed inputs of the progress grid). Tensors and
        plain containers only: checkpoints are read with ``weights_only=True``."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def write_grid(self, path: Path) -> None:
        """Draw the progress picture (fixed inputs, so grids are comparable across steps)."""
        raise NotImplementedError

    def inference(self) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
        """The networks a user runs after training, each with the metadata that rebuilds it:
        ``{"generator": (G, meta)}`` for a GAN, ``{"AtoB": (G_AB, meta), "BtoA": ...}`` for a
        CycleGAN. The loop exports each (safetensors + JSON) at the end of the run."""
        raise NotImplementedError


GAMES: dict[str, type[Game]] = {}


def register_game(cls: type[Game]) -> type[Game]:
    """Class decorator: make a game selectable by its ``name``."""
    GAMES[cls.name] = cls
    return cls
