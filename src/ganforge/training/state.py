"""Everything a run trains, built from a Config, and its round trip through a checkpoint.

``TrainState`` is game-agnostic: the game (``games/``) holds the networks, optimizers and
data; the state adds the run's place in time (step, seconds) and the random streams, and
turns all of it into a checkpoint payload and back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.games import Game, game_for
from ganforge.training import distributed
from ganforge.training.distributed import DistContext
from ganforge.training.speed import SpeedPlan

# Payload keys of the state itself; a game's nets, optimizers and state entries sit beside them.
RESERVED_KEYS = ("format", "game", "step", "elapsed_seconds", "config", "data_shape", "rng")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; an unavailable device is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanforgeError(f"run.device={name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError("run.device asks for CUDA but no GPU is visible; use run.device=cpu")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class TrainState:
    """The game of one run and its counters; ``payload`` is its checkpoint.

    Attributes the state does not have are read from the game, so ``state.G``,
    ``state.sampler`` or ``state.noise(n)`` reach a GAN game's networks and inputs.
    """

    cfg: Config
    device: torch.device
    game: Game
    step: int = 0  # training iterations done (a GAN's G updates)
    elapsed_seconds: float = 0.0  # training time of the run, across resumes
    dist: DistContext = field(default_factory=DistContext)  # rank and world size (torchrun)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails; "game" itself must exist (not mid-copy).
        if name == "game" or "game" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.game, name)

    @property
    def speed(self) -> SpeedPlan:
        """The resolved ``train.*`` speed settings."""
        return self.game.speed

    @property
    def run_dir(self) -> Path:
        return Path(self.cfg.run.dir)

    @property
    def data_shape(self) -> list[int]:
        return list(self.game.dataset.shape)

    def inference(self) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
        """The game's inference networks, their metadata stamped with the step."""
        return {key: (net, {**meta, "step": self.step}) for key, (net, meta) in self.game.inference().items()}

    def generator_meta(self) -> dict[str, Any]:
        """A GAN's ``generator.json`` at this step (what ``load_generator`` reads)."""
        return self.inference()["generator"][1]

    def payload(self) -> dict[str, Any]:
        """The checkpoint: every net and optimizer under its key, the game's state, the RNGs."""
        game = self.game
        extra = game.state_dict()
        clash = set(extra) & {*RESERVED_KEYS, *game.nets, *game.optimizers}
        if clash:
            raise GanforgeError(
                f"game {game.name}: state_dict keys {sorted(clash)} clash with checkpoint keys"
            )
        return {
            "game": game.name,
            "step": self.step,
            "elapsed_seconds": self.elapsed_seconds,
            "config": self.cfg.to_dict(),
            "data_shape": self.data_shape,
            **{key: net.state_dict() for key, net in game.nets.items()},
            **{key: opt.state_dict() for key, opt in game.optimizers.items()},
            **extra,
            "rng": rng_state(),
        }

    def restore(self, payload: dict[str, Any]) -> None:
        """Load a checkpoint payload (also format-1 GAN checkpoints, which name no game)."""
        made_by = payload.get("game", "gan")
        if made_by != self.game.name:
            raise GanforgeError(
                f"the checkpoint was made by the {made_by} game, this run plays {self.game.name}"
            )
        if list(payload["data_shape"]) != self.data_shape:
            raise GanforgeError(
                f"the checkpoint was trained on examples of shape "
                f"{tuple(payload['data_shape'])}, the data now gives "
                f"{tuple(self.data_shape)}: resume with the same data settings"
            )
        try:
            for key, net in self.game.nets.items():
                # An EMA copy added on resume starts from G (format 1 stored "G_ema": None).
                net.load_state_dict(payload.get(key) or payload[_ema_source(key)])
            for key, optimizer in self.game.optimizers.items():
                optimizer.load_state_dict(payload[key])
        except (RuntimeError, KeyError, ValueError) as err:
            raise GanforgeError(
                f"the checkpoint does not fit the configured models ({str(err).splitlines()[0][:160]})"
            ) from None
        self.game.load_state_dict(payload)
        self.step = payload["step"]
        self.elapsed_seconds = payload["elapsed_seconds"]
        set_rng_state(payload["rng"])


def _ema_source(key: str) -> str:
    return key.removesuffix("_ema") if key.endswith("_ema") else key


def build_state(cfg: Config) -> TrainState:
    """Seed, then build the config's game: its data, networks, optimizers and inputs.

    Under torchrun (``WORLD_SIZE > 1``) this joins the process group, trains on this rank's
    GPU and the game wraps its trained nets in DDP; the ``train.*`` speed settings are resolved
    by the game once its networks exist (``training/speed.py``).
    """
    game_cls = game_for(cfg)
    ctx = distributed.setup(cfg.run.device)
    device = distributed.place(resolve_device(cfg.run.device), ctx)
    seed_everything(cfg.run.seed)
    return TrainState(cfg=cfg, device=device, game=game_cls(cfg, device, ctx), dist=ctx)
