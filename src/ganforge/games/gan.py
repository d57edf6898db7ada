"""The GAN game: one G against one D (every family in ``models/``: mlp, dcgan, cgan, cdcgan),
every loss in ``losses.py``, ``d_steps`` D updates per G update, EMA of G, ACGAN's class terms.

The updates themselves are ``training/steps.py`` (``d_step``, ``g_step``, ``update_ema``); this
module owns what they are fed: batches of the training set, noise, the classes G is asked for,
and the fixed noise of the sample grids.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganforge import __version__
from ganforge.config import Config
from ganforge.data import Dataset, load_dataset
from ganforge.data.batches import to_unit_range
from ganforge.errors import GanforgeError
from ganforge.games.base import Game, register_game
from ganforge.losses import get_loss
from ganforge.models import build_models, is_conditional, sample_noise
from ganforge.sampling import generate
from ganforge.training import distributed
from ganforge.training.distributed import DistContext
from ganforge.training.sampler import EpochSampler
from ganforge.training.speed import SpeedPlan
from ganforge.training.steps import d_step, g_step, recompute_bn_stats
from ganforge.viz.grid import save_samples


@register_game
class GanGame(Game):
    """G and D of a registered model family, trained by alternating D and G updates."""

    name = "gan"
    progress_stats = (("d_loss", "D_loss"), ("g_loss", "G_loss"), ("d_real", "D(x)"), ("d_fake", "D(G(z))"))
    ddp_nets = ("G", "D")
    float_outputs = ("D",)
    supports_compile = True
    recomputes_bn_stats = True  # sampling_G

    def __init__(self, cfg: Config, device: torch.device, dist: DistContext, speed: SpeedPlan | None = None):
        super().__init__(cfg, device, dist, speed)
        t = cfg.train
        # The order of the random draws below is the format-1 order: old checkpoints resume
        # bit-exactly only if the weights are initialised as they were.
        self.loss = get_loss(t.loss)
        self.probabilistic = self.loss.probabilistic
        self.dataset = load_dataset(cfg.data, seed=cfg.run.seed)
        self.num_classes = count_classes(cfg, self.dataset) if is_conditional(cfg.model.name) else None
        model = dataclasses.replace(cfg.model, num_classes=self.num_classes)
        self.nets["G"], self.nets["D"] = build_models(model, self.dataset.shape)
        self.plan_speed(gradient_penalty=self.loss.gradient_penalty)
        self.prepare_nets()
        self.keep_averages("G")  # "G_ema" with train.ema_decay > 0
        self.adam("opt_g", self.G.parameters(), t.lr_g, (t.beta1, t.beta2))
        self.adam("opt_d", self.D.parameters(), t.lr_d, (t.beta1, t.beta2))
        if dist.enabled:
            self.sampler = distributed.ShardedSampler(
                len(self.dataset), t.batch_size, cfg.run.seed, device, dist
            )
        else:
            self.sampler = EpochSampler(len(self.dataset), t.batch_size, cfg.run.seed, device)
        # The grid noise comes from its own generator so it does not shift the training stream.
        grid_gen = torch.Generator().manual_seed(cfg.run.seed + 1)
        self.fixed_z = sample_noise(t.grid_size, cfg.model.z_dim, cfg.model.noise, generator=grid_gen).to(
            device
        )
        self.data = self.dataset.data.to(device)  # uint8 images or float points, on the device
        self.labels = None if self.num_classes is None else self.dataset.labels.to(device)
        self.wrap_nets()

    # --- the networks by their domain names ------------------------------------------------

    @property
    def G(self) -> nn.Module:
        return self.nets["G"]

    @property
    def D(self) -> nn.Module:
        return self.nets["D"]

    @property
    def G_ema(self) -> nn.Module | None:
        return self.nets.get("G_ema")

    @property
    def sampling_G(self) -> nn.Module:
        """The generator to draw samples from: the EMA copy when there is one (its batch-norm
        statistics re-estimated first under ``train.ema_bn_stats=recompute``)."""
        if self.G_ema is None:
            return self.G
        if self.cfg.train.ema_bn_stats == "recompute":
            recompute_bn_stats(self.G_ema, self.stats_inputs())
        return self.G_ema

    def stats_inputs(self) -> list[tuple[Tensor, ...]]:
        """The inputs ``recompute_bn_stats`` sees: the same every time (see bn_stats_inputs)."""
        model = self.cfg.model
        return bn_stats_inputs(model.z_dim, model.noise, self.num_classes, self.cfg.run.seed, self.device)

    @property
    def opt_g(self) -> torch.optim.Optimizer:
        return self.optimizers["opt_g"]

    @property
    def opt_d(self) -> torch.optim.Optimizer:
        return self.optimizers["opt_d"]

    # --- inputs ----------------------------------------------------------------------------

    def noise(self, n: int) -> Tensor:
        """``[n, z_dim]`` noise. Under DDP every rank draws the global batch's noise and keeps
        its own rows, so the run sees the same noise as a single process would."""
        z = sample_noise(
            n * self.dist.world_size, self.cfg.model.z_dim, self.cfg.model.noise, device=self.device
        )
        return distributed.shard_rows(z, self.dist)

    def fake_labels(self, n: int) -> Tensor | None:
        """Classes ``[n]`` (uniform) to ask a conditional G for; None when unconditional."""
        if self.num_classes is None:
            return None
        labels = torch.randint(self.num_classes, (n * self.dist.world_size,), device=self.device)
        return distributed.shard_rows(labels, self.dist)  # as noise(): same draw as one process

    def grid_labels(self) -> Tensor | None:
        """Classes of the sample grid, 0, 1, ..., K-1, 0, 1, ...: one class per grid column."""
        if self.num_classes is None:
            return None
        return torch.arange(len(self.fixed_z), device=self.device) % self.num_classes

    # --- the game ----------------------------------------------------------------------------

    def iteration(self) -> dict[str, Tensor]:
        """``d_steps`` D updates, then one G update (and the EMA of G)."""
        t = self.cfg.train
        G, D = self.train_nets["G"], self.train_nets["D"]
        for i in range(t.d_steps):
            last = i == t.d_steps - 1
            index = self.sampler.next()
            real = self.data[index]
            real = to_unit_range(real) if real.dtype == torch.uint8 else real
            # Conditional models: real images keep their labels, G is asked for uniform classes.
            real_labels = None if self.labels is None else self.labels[index]
            fake_labels = self.fake_labels(real.shape[0])
            z = self.noise(real.shape[0])
            # G's forward for the last D step is reused by the G step (as in pytorch/examples).
            with torch.set_grad_enabled(last):
                fake = G(z) if fake_labels is None else G(z, fake_labels)
            stats = d_step(
                D,
                self.opt_d,
                self.loss,
                real,
                fake.detach(),
                t.gp_weight,
                real_labels,
                fake_labels,
                t.aux_weight,
            )
        # G learns through D; D's weights get no gradient here, so its DDP wrapper expects none.
        with distributed.no_grad_sync(D):
            stats.update(g_step(D, self.opt_g, self.loss, fake, fake_labels, t.aux_weight))
        self.update_averages("G")
        return stats

    def state_dict(self) -> dict[str, Any]:
        # Format-1 keys; "G_ema": None tells old readers (the lab's run view) there is no EMA.
        state = {"sampler": self.sampler.state_dict(), "fixed_z": self.fixed_z.cpu()}
        if self.G_ema is None:
            state["G_ema"] = None
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state["sampler"])
        self.fixed_z = state["fixed_z"].to(self.device)

    def write_grid(self, path: Path) -> None:
        """The fixed-noise grid (one class per column when conditional); 2-D points are drawn
        as a scatter over real points."""
        fake = generate(self.sampling_G, self.fixed_z, self.grid_labels(), check_finite=False)
        real = self.data[: min(len(fake) * 20, 5000)].float().cpu() if self.dataset.kind == "points" else None
        save_samples(fake, path, real=real, columns=self.num_classes)

    def inference(self) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
        return {"generator": (self.sampling_G, self.generator_meta())}

    def generator_meta(self) -> dict[str, Any]:
        """What ``load_generator`` needs to rebuild G (written as generator.json)."""
        data = self.dataset
        # num_classes resolved from the data, so G can be rebuilt without it
        model = {**dataclasses.asdict(self.cfg.model), "num_classes": self.num_classes}
        return {
            "ganforge_version": __version__,
            "step": None,  # filled in by the loop (TrainState.inference)
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


def bn_stats_inputs(
    z_dim: int,
    noise: str,
    num_classes: int | None,
    seed: int,
    device: torch.device | str = "cpu",
    batches: int = 8,
    batch_size: int = 128,
) -> list[tuple[Tensor, ...]]:
    """Seeded generator inputs for ``recompute_bn_stats``: ``batches`` tuples of noise
    ``[batch_size, z_dim]`` (and uniform classes ``[batch_size]`` when ``num_classes``).

    Drawn from a generator of their own (``seed + 2``: the grid noise uses ``seed + 1``), so the
    training stream is untouched and every call, also after a resume, gives the same inputs.
    1,024 samples estimate a BN layer's mean and variance closely, for ~1 % of a demo run's time.
    """
    generator = torch.Generator().manual_seed(seed + 2)
    inputs = []
    for _ in range(batches):
        z = sample_noise(batch_size, z_dim, noise, generator=generator).to(device)
        if num_classes is None:
            inputs.append((z,))
        else:
            labels = torch.randint(num_classes, (batch_size,), generator=generator)
            inputs.append((z, labels.to(device)))
    return inputs


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
