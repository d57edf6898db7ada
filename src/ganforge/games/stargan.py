"""The StarGAN game (Choi et al. 2018): one G translates among all domains, one D judges
real/fake and names the domains, after the reference ``yunjey/stargan`` ``solver.py``.

Per iteration: ``train.d_steps`` D updates (5 in the reference), each on a fresh batch, then
one G update on the last batch. The target labels of a batch are its own labels in a random
permutation (the reference's choice: every target is a real label combination, so CelebA's
hair colours stay exclusive). The losses, as named in the paper (eq. 5-8):

- D: ``L_adv + lambda_cls * L_cls^r`` (+ ``gp_weight`` * gradient penalty under wgan-gp);
- G: ``L_adv + lambda_cls * L_cls^f + lambda_rec * L_rec``, where
  ``L_rec = |x - G(G(x, c), c')|_1`` translates back to the original labels ``c'``.

Not in the paper, both off by default: ``train.lambda_id`` adds ``lambda_id * |x - G(x, c')|_1``
(CycleGAN's identity term, the input's own labels as the target), and ``train.rec_warmup``
ramps ``lambda_rec`` linearly from 0 over that many G updates (docs/stargan.md, "Phase 7").

``train.cycle_noise`` (off by default) noises the translation before G translates it back in
``L_rec`` (``games/cycle_noise.py``: against hiding the input in faint detail; docs/stargan.md,
"Phase 10"), and ``model.d_conditional`` makes D's realism head judge each image for its domain
(``models/stargan.py``).

``L_cls`` is a softmax cross-entropy for single-label domains and a sum of per-attribute
binary cross-entropies (averaged over the batch) for multi-label ones, as in the reference.
The adversarial terms are any ganforge loss of D's PatchGAN scores (wgan-gp in the preset).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import __version__
from ganforge.config import Config, ConfigError
from ganforge.data import load_dataset
from ganforge.data.batches import to_unit_range
from ganforge.data.domains import Domains
from ganforge.data.registry import DataError
from ganforge.games.base import Game, register_game
from ganforge.games.cycle_noise import CycleNoise
from ganforge.games.marginals import MarginalReference
from ganforge.games.translation_common import check_weights, resolve_generator
from ganforge.losses import get_loss
from ganforge.models.stargan import StarDiscriminator, build_generator, generator_meta
from ganforge.training import distributed
from ganforge.training.distributed import DistContext
from ganforge.training.sampler import EpochSampler
from ganforge.training.speed import SpeedPlan
from ganforge.viz.grid import image_grid, to_uint8

GRID_ROWS = 8  # fixed test inputs in the progress grid
DEFAULT_RES_BLOCKS = 6  # the reference's, when model.res_blocks is None


def classification_loss(logits: Tensor, labels: Tensor, multi_label: bool) -> Tensor:
    """``L_cls`` of D's class logits ``[N, K]`` against 0/1 ``labels`` ``[N, K]``: BCE summed over
    the attributes (multi-label), else softmax CE; batch mean, as in the reference."""
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits.float(), labels, reduction="sum") / len(logits)
    return F.cross_entropy(logits.float(), labels.argmax(1))


@register_game
class StarGANGame(Game):
    """G(x, c) and D(x) -> (PatchGAN scores, domain logits) over the data set's domains."""

    name = "stargan"
    progress_stats = (("d_loss", "D_loss"), ("g_loss", "G_loss"), ("g_rec", "rec"), ("d_cls", "cls"))
    ddp_nets = ("G", "D")
    float_outputs = ("D",)
    supports_compile = False  # no CUDA graphs / torch.compile for this game yet

    def __init__(self, cfg: Config, device: torch.device, dist: DistContext, speed: SpeedPlan | None = None):
        super().__init__(cfg, device, dist, speed)
        check_weights(cfg.train)  # the translation weights StarGAN shares (marginal_weight)
        self.loss = get_loss(cfg.train.loss)
        self.dataset = load_dataset(cfg.data, seed=cfg.run.seed)
        if self.dataset.kind != "image":
            raise DataError(f"StarGAN translates images; {self.dataset.name} is a point set")
        self.domains = Domains.of(self.dataset)
        self.images = self.dataset.data.to(device)  # uint8 [N, C, S, S]
        self.vectors = self.domains.vectors(self.dataset).to(device)  # float [N, K] in {0, 1}
        channels, size = self.dataset.shape[0], self.dataset.shape[1]
        res_blocks = DEFAULT_RES_BLOCKS if cfg.model.res_blocks is None else cfg.model.res_blocks
        kind = resolve_generator(cfg.model.generator, paper_default="resnet")
        if cfg.model.full_res:
            raise ConfigError("model.full_res is a U-Net option of cyclegan and pix2pix, not of StarGAN")
        domains = len(self.domains.names)
        self.meta = generator_meta(
            channels, domains, size, cfg.model.g_width, res_blocks, kind, cfg.model.pixel_grid
        )
        self.nets["G"] = build_generator(self.meta)
        self.nets["D"] = StarDiscriminator(
            channels, domains, size, cfg.model.d_width, cfg.model.d_split, cfg.model.d_conditional
        )
        t = cfg.train
        self.plan_speed(gradient_penalty=self.loss.gradient_penalty)
        self.prepare_nets()
        self.keep_averages("G")  # with train.ema_decay > 0 (StarGAN v2's 0.999): what translates
        self.adam("opt_g", self.G.parameters(), t.lr_g, (t.beta1, t.beta2))
        self.adam("opt_d", self.D.parameters(), t.lr_d, (t.beta1, t.beta2))
        self.wrap_nets()
        if t.marginal_weight > 0:  # not in the paper: per label vector, the training images' quantiles
            self.marginals = {
                tuple(v.tolist()): MarginalReference(self.images[(self.vectors == v).all(1)], device)
                for v in torch.unique(self.vectors, dim=0)
            }
        # Under torchrun every rank draws the same global batch (and the same target order and
        # penalty weights, below) and trains on its own rows: a DDP step equals one process's.
        distributed.check_batch(cfg.train.batch_size, dist)
        self.sampler = EpochSampler(len(self.dataset), cfg.train.batch_size, cfg.run.seed, device)
        # its own seeded generator, as in the CycleGAN game: the run's other randomness is as without it
        self.cycle_noise = CycleNoise(t.cycle_noise, cfg.run.seed * 1000 + 5, dist.rank, dist.world_size)
        self.grid_images, self.grid_targets = self._grid_inputs()
        self.g_updates = 0  # G updates so far: the position on train.rec_warmup's ramp

    def _grid_inputs(self) -> tuple[Tensor, Tensor]:
        """``GRID_ROWS`` test images spread evenly over the test split (the training set when
        there is none) and their label vectors: the rows of every progress grid."""
        images, vectors = self.images, self.vectors
        try:
            test = load_dataset(dataclasses.replace(self.cfg.data, split="test", limit=None))
            if Domains.of(test) == self.domains:
                images, vectors = test.data, self.domains.vectors(test)
        except DataError:
            pass  # no test split: show training images
        # evenly spaced, so a folder sorted by domain shows every domain
        index = torch.linspace(0, len(images) - 1, min(GRID_ROWS, len(images))).round().long()
        return images[index].to(self.device), vectors[index].to(self.device)

    @property
    def G(self) -> nn.Module:
        return self.nets["G"]

    @property
    def D(self) -> nn.Module:
        return self.nets["D"]

    # --- the game ----------------------------------------------------------------------------

    def batch(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(real [B, C, S, S] in [-1, 1], original labels [B, K], target labels [B, K])``;
        the targets are the batch's labels in a random order, as in the reference.

        Under DDP, B is this rank's share: the global batch and its permutation are drawn
        whole on every rank (the targets come from the whole batch, as in one process) and
        each rank keeps its own rows."""
        index = self.sampler.next()
        labels = self.vectors[index]
        targets = labels[torch.randperm(len(index), device=self.device)]
        index, labels, targets = (distributed.shard_rows(x, self.dist) for x in (index, labels, targets))
        return to_unit_range(self.images[index]), labels, targets

    def classification_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        return classification_loss(logits, labels, self.domains.multi_label)

    def judge(self, D: nn.Module, images: Tensor, domains: Tensor) -> tuple[Tensor, Tensor]:
        """D's (patch scores, domain logits) for ``images``; a conditional D
        (``model.d_conditional``) judges their realism as images of ``domains``."""
        return D(images, domains) if self.cfg.model.d_conditional else D(images)

    def iteration(self) -> dict[str, Tensor]:
        """``train.d_steps`` D updates, then one G update on the last D step's batch.

        The last D step's translation is computed once, with G's graph kept, and reused by the
        G update: the reference translates that batch again with the same, unchanged G, which
        gives the same tensor at the cost of one more G forward (about 1/7 of an iteration
        with ``d_steps=1``)."""
        G, d_steps = self.train_nets["G"], self.cfg.train.d_steps
        for step in range(d_steps):
            real, labels, targets = self.batch()
            with torch.set_grad_enabled(step == d_steps - 1):
                fake = G(real, targets)
            stats = self.d_update(real, labels, targets, fake.detach())
        stats.update(self.g_update(real, labels, targets, fake))
        return stats

    def d_update(self, real: Tensor, labels: Tensor, targets: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """(1) D: real images scored real and classified by their labels; G's translations
        ``fake`` (detached; into ``targets``) scored fake; the gradient penalty under wgan-gp."""
        t, D = self.cfg.train, self.train_nets["D"]
        real_scores, real_classes = self.judge(D, real, labels)
        fake_scores, _ = self.judge(D, fake, targets)
        d_adv = self.loss.d(real_scores, fake_scores)
        d_cls = self.classification_loss(real_classes, labels)
        d_loss = d_adv + t.lambda_cls * d_cls
        stats = {"d_adv": d_adv.detach(), "d_cls": d_cls.detach()}
        if self.loss.gradient_penalty:
            penalty = self.gradient_penalty(D, real, fake, targets)
            d_loss = d_loss + t.gp_weight * penalty
            stats["gp"] = penalty.detach()
        self.optimizers["opt_d"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["opt_d"].step()
        stats["d_loss"] = d_loss.detach()
        return stats

    def gradient_penalty(self, D: nn.Module, real: Tensor, fake: Tensor, targets: Tensor) -> Tensor:
        """WGAN-GP's ``E[(||grad D(x_hat)||_2 - 1)^2]`` on D's patch scores (``losses.py``'s,
        with the interpolation weights drawn for the global batch and sharded like it); a
        conditional D judges the mixtures as images of the translations' ``targets``."""
        alpha = torch.rand(len(real) * self.dist.world_size, 1, 1, 1, device=real.device)
        alpha = distributed.shard_rows(alpha, self.dist)
        x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.judge(D, x_hat, targets)[0].sum(), x_hat, create_graph=True)
        return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()

    def g_update(self, real: Tensor, labels: Tensor, targets: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """(2) G: its translation ``fake = G(real, targets)`` (with its graph) scored real and
        classified as the targets, and translated back to ``labels`` close to the input (L1)."""
        t, G, D = self.cfg.train, self.train_nets["G"], self.train_nets["D"]
        self.D.requires_grad_(False)  # only G learns here; skip D's weight gradients
        with distributed.no_grad_sync(D):  # so D's DDP wrapper expects no gradients either
            fake_scores, fake_classes = self.judge(D, fake, targets)
        g_adv = self.loss.g(fake_scores)
        g_cls = self.classification_loss(fake_classes, targets)
        g_rec = (real - G(self.cycle_noise(fake), labels)).abs().mean()
        g_loss = g_adv + t.lambda_cls * g_cls + self.rec_weight() * g_rec
        extra = {}
        if t.lambda_id > 0:  # not in the paper: the one target whose truth is known, the input
            extra["g_id"] = (real - G(real, labels)).abs().mean()
            g_loss = g_loss + t.lambda_id * extra["g_id"]
        if t.marginal_weight > 0:
            extra["g_marginal"] = self.marginal_distance(fake, targets)
            g_loss = g_loss + t.marginal_weight * extra["g_marginal"]
        self.D.requires_grad_(True)
        self.optimizers["opt_g"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["opt_g"].step()
        self.update_averages("G")
        self.g_updates += 1
        return {
            "g_adv": g_adv.detach(),
            "g_cls": g_cls.detach(),
            "g_rec": g_rec.detach(),
            "g_loss": g_loss.detach(),
            **{k: v.detach() for k, v in extra.items()},
        }

    def marginal_distance(self, fake: Tensor, targets: Tensor) -> Tensor:
        """``train.marginal_weight``'s term (``games/marginals.py``): the translations into each
        label vector against the training images that carry it, weighted by their share of the
        batch. The convention it is for: an inverted target's garment left in its old levels
        puts bright pixels where real inverted images have dark ones (docs/stargan.md)."""
        total = fake.new_zeros(())
        for vector in torch.unique(targets, dim=0):
            rows = (targets == vector).all(1)
            share = rows.sum() / len(targets)
            total = total + share * self.marginals[tuple(vector.tolist())].distance(fake[rows])
        return total

    def rec_weight(self) -> float:
        """``lambda_rec``, ramped linearly from 0 over the first ``train.rec_warmup`` G updates
        (not in the paper; docs/stargan.md, "Phase 7": lets realism, not the cycle, pick G's
        first convention); the constant ``lambda_rec`` when the warm-up is 0."""
        t = self.cfg.train
        if t.rec_warmup == 0:
            return t.lambda_rec
        return t.lambda_rec * min(1.0, self.g_updates / t.rec_warmup)

    # --- state, pictures, inference ----------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "sampler": self.sampler.state_dict(),
            "grid_images": self.grid_images.cpu(),
            "grid_targets": self.grid_targets.cpu(),
            "g_updates": self.g_updates,
            "cycle_noise": self.cycle_noise.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state["sampler"])
        self.grid_images = state["grid_images"].to(self.device)
        self.grid_targets = state["grid_targets"].to(self.device)
        self.g_updates = state.get("g_updates", 0)  # runs saved before the warm-up existed: 0
        if "cycle_noise" in state:  # checkpoints written before StarGAN took train.cycle_noise have none
            self.cycle_noise.load_state_dict(state["cycle_noise"])

    @torch.no_grad()
    def translate_grid(self) -> Tensor:
        """``[R, K + 1, C, S, S]`` in [-1, 1]: each fixed input, then its translation into
        each domain (``Domains.grid_targets``)."""
        real = to_unit_range(self.grid_images)
        G = self.averaged("G")
        columns = [real] + [G(real, target) for target in self.domains.grid_targets(self.grid_targets)]
        return torch.stack(columns, dim=1).float()

    def write_grid(self, path: Path) -> None:
        """A row per fixed test input: the input, then one column per target domain."""
        grid = self.translate_grid()
        rows, columns = grid.shape[:2]
        image_grid(to_uint8(grid.flatten(0, 1)), columns=columns).save(path)

    def inference(self) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
        return {"generator": (self.averaged("G"), self.generator_meta())}

    def generator_meta(self) -> dict[str, Any]:
        """How to rebuild G (``models.stargan.build_generator``) and what its label means."""
        return {
            **self.meta,
            "ganforge_version": __version__,
            "game": self.name,
            "step": None,  # filled in by the loop
            "domain_names": list(self.domains.names),
            "multi_label": self.domains.multi_label,
            "exclusive_groups": [[self.domains.names[i] for i in g] for g in self.domains.groups()],
            "data": {"name": self.dataset.name, "shape": list(self.dataset.shape)},
            "input": "image [N, C, S, S] in [-1, 1], target labels [N, K] float in {0, 1}",
        }
