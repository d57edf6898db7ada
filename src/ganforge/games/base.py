"""A game: the networks, optimizers and losses that train together, and one iteration of them.

The training loop (``training/loop.py``) runs every game the same way: it schedules
iterations, logs the scalars they return, draws the game's progress grid, writes checkpoints
and exports the inference networks. What differs between a GAN, a CycleGAN or a StarGAN
lives in one subclass of ``Game`` in this package, and nowhere else.

Checkpoint layout (``training/state.py: TrainState.payload``): the game's ``name`` under
``"game"``; each entry of ``nets`` saved under its key (``"G"``, ``"D"``, ``"G_ema"``;
``"G_AB"``, ``"D_A"``, ...), each optimizer under its key (``"opt_g"``, ``"opt_d"``), and each
entry of ``state_dict()`` at the top level beside them (so its keys must not be ``step``,
``config``, ``rng`` or another reserved key). The GAN game's entries (``sampler``,
``fixed_z``) are the keys format-1 checkpoints already use, so old runs still resume.

A subclass's ``__init__`` follows one order, with the helpers below:

1. ``super().__init__(cfg, device, dist, speed)``; load the data; build the networks into
   ``self.nets`` (seeded: the run's RNG was seeded just before);
2. ``self.plan_speed(...)`` when no plan was passed in (it depends on the networks);
3. ``self.prepare_nets()``: the plan's memory layout and bf16 float32 outputs;
4. the optimizers with ``self.adam(...)`` into ``self.optimizers`` and ``self.base_lrs``;
5. ``self.wrap_nets()``: ``self.train_nets`` holds what ``iteration`` calls (DDP-wrapped under
   torchrun for the keys in ``ddp_nets``; compiled by the runner when asked).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
from torch import Tensor, nn

from ganforge.config import Config, ConfigError
from ganforge.training import distributed
from ganforge.training import speed as speed_plan
from ganforge.training.distributed import DistContext
from ganforge.training.speed import SpeedPlan
from ganforge.training.steps import update_ema

if TYPE_CHECKING:
    from ganforge.data import Dataset


class Scorer(Protocol):
    """A game's ``eval.every`` hook (``Game.scorer``): what ``training/loop.py`` calls."""

    def due(self, step: int, steps: int) -> bool:
        """Whether to score at this log row."""

    def score(self, step: int) -> tuple[dict[str, float], dict[str, Any] | None]:
        """``(columns for metrics.csv, best)``; ``best`` (the metric, its value, the step, the
        protocol) when this score beats the best so far, which makes the loop keep
        ``checkpoints/best.pt`` and export every inference network as ``*-best``."""

    def finish(self, run_dir: Path) -> None:
        """End of run: e.g. plot the scores."""


class Game:
    """Base class of every game. A subclass builds everything in ``__init__`` (see above)."""

    name: ClassVar[str]  # registry name, e.g. "gan", "cyclegan"
    # Scalars shown on the progress bar, as (stat name, label); all scalars go to metrics.csv.
    progress_stats: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Keys of ``nets`` that train through DDP under torchrun (the trained nets, not EMA copies).
    ddp_nets: ClassVar[tuple[str, ...]] = ()
    # Keys of ``nets`` whose outputs are cast back to float32 under bf16 (discriminators: the
    # losses are reduced in fp32).
    float_outputs: ClassVar[tuple[str, ...]] = ()
    # Whether the iteration may be replayed as one CUDA graph / compiled (training/runners.py):
    # it needs a ``sampler`` attribute and fixed shapes. Otherwise train.compile=auto is eager.
    supports_compile: ClassVar[bool] = False
    # Whether the logged D outputs ``d_real``/``d_fake`` are probabilities (curves.png draws
    # the 0.5 equilibrium line then); a GAN sets it from its loss.
    probabilistic: bool = True
    # Whether ``train.ema_bn_stats=recompute`` applies (the GAN game re-estimates its EMA G's
    # batch-norm statistics on noise; the others copy the trained net's).
    recomputes_bn_stats: ClassVar[bool] = False

    nets: dict[str, nn.Module]  # every network whose weights the checkpoint keeps, by key
    train_nets: dict[str, nn.Module]  # what ``iteration`` calls: nets, or their DDP/compiled wrappers
    optimizers: dict[str, torch.optim.Optimizer]  # by checkpoint key
    base_lrs: dict[str, float]  # each optimizer's configured learning rate, by the same key
    dataset: Dataset  # the training data (its ``shape`` is checked when a run resumes)

    def __init__(self, cfg: Config, device: torch.device, dist: DistContext, speed: SpeedPlan | None = None):
        self.cfg, self.device, self.dist = cfg, device, dist
        self.speed = speed
        self.nets, self.train_nets, self.optimizers, self.base_lrs = {}, {}, {}, {}

    # --- what the loop calls -------------------------------------------------------------

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

    def learning_rates(self) -> dict[str, float]:
        """metrics.csv's learning-rate columns: ``lr_g`` for ``opt_g`` (``lr_<key>`` for a key
        without the ``opt_`` prefix)."""
        return {
            f"lr_{key.removeprefix('opt_')}": opt.param_groups[0]["lr"]
            for key, opt in sorted(self.optimizers.items())
        }

    def state_dict(self) -> dict[str, Any]:
        """Game state beyond networks and optimizers that an exact resume needs (position in
        the data order, image pools, the fixed inputs of the progress grid). Tensors and
        plain containers only: checkpoints are read with ``weights_only=True``."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (``state`` is the whole checkpoint payload)."""

    def write_grid(self, path: Path) -> None:
        """Draw the progress picture (fixed inputs, so grids are comparable across steps)."""
        raise NotImplementedError

    def inference(self) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
        """The networks a user runs after training, each with the metadata that rebuilds it:
        ``{"generator": (G, meta)}`` for a GAN, ``{"AtoB": (G_AB, meta), "BtoA": ...}`` for a
        CycleGAN. The loop exports each with ``save_generator``: the entry ``generator`` as
        ``generator.safetensors`` + ``generator.json``, any other as ``generator-<key>.*``."""
        raise NotImplementedError

    def scorer(self, history: list[dict[str, Any]]) -> Scorer | None:
        """The ``eval.every`` hook; ``history`` holds metrics.csv's rows so far (a resumed run
        keeps its best). None (the default) means the GAN evaluator
        (``training/scoring.py``), which scores ``inference()["generator"]``."""
        return None

    def finish(self, run_dir: Path) -> None:
        """End of run, after the exports (the GAN plots nothing extra here)."""

    # --- helpers for ``__init__`` ----------------------------------------------------------

    def plan_speed(self, gradient_penalty: bool = False) -> SpeedPlan:
        """Resolve ``train.*`` speed settings for these networks on this device (once the nets
        exist: whether they have convolutions decides the ``auto`` layout and precision)."""
        if self.speed is None:
            self.speed = speed_plan.resolve(
                self.cfg.train,
                self.device,
                conv=speed_plan.has_conv(*self.nets.values()),
                world_size=self.dist.world_size,
                gradient_penalty=gradient_penalty,
                compilable=self.supports_compile,
                game=self.name,
            )
        speed_plan.configure_backends(self.device)
        return self.speed

    def prepare_nets(self) -> None:
        """Move every net to the device in the plan's layout; float32 outputs under bf16."""
        for net in self.nets.values():
            net.to(self.device)
        speed_plan.prepare_nets(self.speed, self.nets, self.float_outputs)

    def adam(self, key: str, params, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
        """Adam with the plan's kernels, registered under ``key`` with its base rate."""
        optimizer = speed_plan.build_adam(params, lr, betas, self.speed)
        self.optimizers[key], self.base_lrs[key] = optimizer, lr
        return optimizer

    def keep_averages(self, *keys: str) -> None:
        """With ``train.ema_decay`` > 0: an exponential moving average of each net's weights,
        kept in ``nets`` as ``<key>_ema`` (so checkpoints hold it and resume is exact). Call
        after ``prepare_nets`` (the copy shares the layout) and before ``wrap_nets`` (it is
        never DDP-wrapped: every rank updates the same copy from the same weights)."""
        if self.cfg.train.ema_decay > 0:
            if self.cfg.train.ema_bn_stats == "recompute" and not self.recomputes_bn_stats:
                raise ConfigError(
                    f"train.ema_bn_stats=recompute is for the GAN game; {self.name} copies the "
                    "trained net's statistics: set train.ema_bn_stats=copy (the default)"
                )
            for key in keys:
                self.nets[f"{key}_ema"] = copy.deepcopy(self.nets[key]).eval().requires_grad_(False)

    def update_averages(self, *keys: str) -> None:
        """After an update of these nets: move each average ``1 - train.ema_decay`` towards it."""
        for key in keys:
            if f"{key}_ema" in self.nets:
                update_ema(self.nets[f"{key}_ema"], self.nets[key], self.cfg.train.ema_decay)

    def averaged(self, key: str) -> nn.Module:
        """The net to translate or sample with: its average when there is one, else itself."""
        return self.nets.get(f"{key}_ema", self.nets[key])

    def wrap_nets(self) -> None:
        """``train_nets``: the ``ddp_nets`` wrapped for torchrun (a no-op in one process)."""
        for key, net in self.nets.items():
            wrapped = key in self.ddp_nets
            self.train_nets[key] = (
                distributed.wrap(net, self.dist, self.device, self.cfg.train.sync_batchnorm)
                if wrapped
                else net
            )


GAMES: dict[str, type[Game]] = {}


def register_game(cls: type[Game]) -> type[Game]:
    """Class decorator: make a game selectable by its ``name``."""
    GAMES[cls.name] = cls
    return cls
