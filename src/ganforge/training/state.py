"""Everything a run trains, built from a Config, and its round trip through a checkpoint."""

from __future__ import annotations

import copy
import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge import __version__
from ganforge.config import Config
from ganforge.data import Dataset, load_dataset
from ganforge.errors import GanforgeError
from ganforge.losses import GANLoss, get_loss
from ganforge.models import build_models, is_conditional, sample_noise
from ganforge.training import distributed, fast
from ganforge.training.distributed import DistContext
from ganforge.training.fast import SpeedPlan
from ganforge.training.sampler import EpochSampler


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
    """The models, optimizers and counters of one run; ``payload`` is its checkpoint."""

    cfg: Config
    device: torch.device
    dataset: Dataset
    data: torch.Tensor  # the whole training set on ``device`` (uint8 images or float points)
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: GANLoss
    sampler: EpochSampler
    fixed_z: torch.Tensor  # noise of the sample grids, the same all run long
    step: int = 0  # G updates done
    elapsed_seconds: float = 0.0  # training time before this session (resume)
    # Conditional models only: class labels int64 [N] on ``device``, indexed like ``data``,
    # and the number of classes G and D are conditioned on (None: unconditional).
    labels: torch.Tensor | None = None
    num_classes: int | None = None
    speed: SpeedPlan = field(default_factory=SpeedPlan)  # resolved train.* speed settings
    dist: DistContext = field(default_factory=DistContext)  # rank and world size (torchrun)
    # What the training step calls: G and D themselves, or wrapped by DDP / torch.compile.
    # Everything else (checkpoints, sampling, EMA) uses the plain G and D.
    G_train: nn.Module | None = None
    D_train: nn.Module | None = None

    def __post_init__(self):
        self.G_train = self.G if self.G_train is None else self.G_train
        self.D_train = self.D if self.D_train is None else self.D_train

    @property
    def run_dir(self) -> Path:
        return Path(self.cfg.run.dir)

    @property
    def sampling_G(self) -> nn.Module:
        """The generator to draw samples from: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    def noise(self, n: int) -> torch.Tensor:
        """``[n, z_dim]`` noise. Under DDP every rank draws the global batch's noise and keeps
        its own rows, so the run sees the same noise as a single process would."""
        z = sample_noise(
            n * self.dist.world_size, self.cfg.model.z_dim, self.cfg.model.noise, device=self.device
        )
        return distributed.shard_rows(z, self.dist)

    def fake_labels(self, n: int) -> torch.Tensor | None:
        """Classes ``[n]`` (uniform) to ask a conditional G for; None when unconditional."""
        if self.num_classes is None:
            return None
        labels = torch.randint(self.num_classes, (n * self.dist.world_size,), device=self.device)
        return distributed.shard_rows(labels, self.dist)  # as noise(): same draw as one process

    def grid_labels(self) -> torch.Tensor | None:
        """Classes of the sample grid, 0, 1, ..., K-1, 0, 1, ...: one class per grid column."""
        if self.num_classes is None:
            return None
        return torch.arange(len(self.fixed_z), device=self.device) % self.num_classes

    def payload(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "elapsed_seconds": self.elapsed_seconds,
            "config": self.cfg.to_dict(),
            "data_shape": list(self.dataset.shape),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": None if self.G_ema is None else self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sampler": self.sampler.state_dict(),
            "fixed_z": self.fixed_z.cpu(),
            "rng": rng_state(),
        }

    def restore(self, payload: dict[str, Any]) -> None:
        if list(payload["data_shape"]) != list(self.dataset.shape):
            raise GanforgeError(
                f"the checkpoint was trained on examples of shape "
                f"{tuple(payload['data_shape'])}, the data now gives "
                f"{self.dataset.shape}: resume with the same data settings"
            )
        try:
            self.G.load_state_dict(payload["G"])
            self.D.load_state_dict(payload["D"])
            if self.G_ema is not None:
                self.G_ema.load_state_dict(payload["G_ema"] or payload["G"])
            self.opt_g.load_state_dict(payload["opt_g"])
            self.opt_d.load_state_dict(payload["opt_d"])
        except (RuntimeError, KeyError, ValueError) as err:
            raise GanforgeError(
                f"the checkpoint does not fit the configured models ({str(err).splitlines()[0][:160]})"
            ) from None
        self.sampler.load_state_dict(payload["sampler"])
        self.fixed_z = payload["fixed_z"].to(self.device)
        self.step = payload["step"]
        self.elapsed_seconds = payload["elapsed_seconds"]
        set_rng_state(payload["rng"])

    def generator_meta(self) -> dict[str, Any]:
        """What ``load_generator`` needs to rebuild G (written as generator.json)."""
        data = self.dataset
        # num_classes resolved from the data, so G can be rebuilt without it
        model = {**dataclasses.asdict(self.cfg.model), "num_classes": self.num_classes}
        return {
            "ganforge_version": __version__,
            "step": self.step,
            "model": model,
            "num_classes": self.num_classes,
            "data_shape": list(data.shape),
            "data": {
                "name": data.name,
                "kind": data.kind,
                "class_names": data.class_names,
                "modes": None if data.modes is None else data.modes.tolist(),
                "mode_std": data.mode_std,
            },
            "loss": self.cfg.train.loss,
            "ema": self.G_ema is not None,
            "seed": self.cfg.run.seed,
        }


def count_classes(cfg: Config, dataset: Dataset) -> int:
    """Classes of a conditional run: ``model.num_classes``, else as many as the data set names."""
    if dataset.labels is None:
        raise GanforgeError(
            f"model {cfg.model.name} is conditional but data set {dataset.name} "
            "has no class labels; use a labelled set or an unconditional model"
        )
    present = int(dataset.labels.max()) + 1
    classes = cfg.model.num_classes or max(len(dataset.class_names or ()), present)
    if classes < present:
        raise GanforgeError(
            f"model.num_classes={classes} but data set {dataset.name} has "
            f"labels up to {present - 1}; raise it or leave it empty"
        )
    return classes


def build_state(cfg: Config) -> TrainState:
    """Seed, load the data onto the device, build G, D, optimizers and the sampler.

    Under torchrun (``WORLD_SIZE > 1``) this joins the process group, trains on this rank's
    GPU and wraps G and D in DDP; the ``train.*`` speed settings are resolved (training/fast.py).
    """
    ctx = distributed.setup(cfg.run.device)
    device = distributed.place(resolve_device(cfg.run.device), ctx)
    seed_everything(cfg.run.seed)
    loss = get_loss(cfg.train.loss)
    dataset = load_dataset(cfg.data, seed=cfg.run.seed)
    num_classes = count_classes(cfg, dataset) if is_conditional(cfg.model.name) else None
    G, D = build_models(dataclasses.replace(cfg.model, num_classes=num_classes), dataset.shape)
    t = cfg.train
    speed = fast.resolve(
        t, device, conv=fast.has_conv(G, D), world_size=ctx.world_size, gradient_penalty=loss.gradient_penalty
    )
    fast.configure_backends(device)
    G, D = fast.prepare_models(speed, G.to(device), D.to(device))
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if cfg.train.ema_decay > 0 else None
    opt_g = fast.build_adam(G.parameters(), t.lr_g, (t.beta1, t.beta2), speed)
    opt_d = fast.build_adam(D.parameters(), t.lr_d, (t.beta1, t.beta2), speed)
    if ctx.enabled:
        sampler = distributed.ShardedSampler(len(dataset), t.batch_size, cfg.run.seed, device, ctx)
    else:
        sampler = EpochSampler(len(dataset), t.batch_size, cfg.run.seed, device)
    # The grid noise comes from its own generator so it does not shift the training stream.
    grid_gen = torch.Generator().manual_seed(cfg.run.seed + 1)
    fixed_z = sample_noise(t.grid_size, cfg.model.z_dim, cfg.model.noise, generator=grid_gen)
    return TrainState(
        cfg=cfg,
        device=device,
        dataset=dataset,
        data=dataset.data.to(device),
        G=G,
        D=D,
        G_ema=G_ema,
        opt_g=opt_g,
        opt_d=opt_d,
        loss=loss,
        sampler=sampler,
        fixed_z=fixed_z.to(device),
        num_classes=num_classes,
        labels=None if num_classes is None else dataset.labels.to(device),
        speed=speed,
        dist=ctx,
        G_train=distributed.wrap(G, ctx, device, t.sync_batchnorm),
        D_train=distributed.wrap(D, ctx, device, t.sync_batchnorm),
    )
