"""CycleGAN (Zhu et al. 2017): two generators, G_AB: A -> B and G_BA: B -> A, and two
discriminators, D_A judging A images and D_B judging B images, trained on unpaired data.

One iteration is the reference's ``optimize_parameters``: translate both ways and back, (1)
update both Gs with the Ds frozen, (2) update D_A and (3) D_B on real images against fakes
drawn through each D's image pool. Names follow the paper; note that the reference's
``netD_A`` judges B images (it is our D_B), and its ``loss_idt_A`` is our ``loss_idt_B``
(G_AB applied to B images).

Departures from the reference, on purpose:
- The adversarial term of G is ``train.loss``'s G function. For ``lsgan`` ganforge's is
  1/2 E[(D(G(x)) - 1)^2] (Mao et al. eq. 2) where the reference uses the MSE without the 1/2,
  so the cycle and identity terms weigh twice as much relative to it. D's loss is the same.
- ``train.loss`` defaults to ganforge's ``nonsaturating``; the CycleGAN presets set ``lsgan``,
  the paper's choice (sec. 4).
- D_A and D_B each have their own Adam (the reference shares one over both): the same
  updates, since Adam is per parameter, and each D's step is its own function.
- ``train.cycle_noise`` > 0 (off by default) adds Gaussian noise to each translation before the
  reverse G reconstructs it (``games/cycle_noise.py``: against hiding the input in the
  translation, Bashkirova et al. 2019).
- ``train.marginal_weight`` > 0 (off by default) adds, for each G, the distance between the
  pixel values of its translations and those of its target domain's training images, as
  distributions (``games/marginals.py``: against a convention both cycles accept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.config import ConfigError
from ganforge.data.translation import load_translation
from ganforge.games.base import Game, register_game
from ganforge.games.binary_translation import straight_through_binary
from ganforge.games.cycle_noise import CycleNoise
from ganforge.games.image_pool import ImagePool
from ganforge.games.lanes import Lanes
from ganforge.games.marginals import MarginalReference
from ganforge.games.translation_common import (
    GRID_ROWS,
    DomainBatches,
    TranslationScoring,
    check_weights,
    eval_mode,
    resolve_generator,
    to_unit,
    write_rows,
)
from ganforge.losses import get_loss, gradient_penalty
from ganforge.models.translation import (
    build_discriminator,
    build_generator,
    generator_meta,
    set_requires_grad,
)
from ganforge.training import distributed
from ganforge.training.steps import d_outputs

SERIAL = Lanes(enabled=False)  # runs its two lanes one after the other, in the calling thread

# the order g_step sums G's terms in (and logs them), whichever lane computed them
LOSS_ORDER = ("loss_G_AB", "loss_G_BA", "loss_cycle_A", "loss_cycle_B", "loss_idt_A", "loss_idt_B")
LOSS_ORDER += ("loss_marginal_B", "loss_marginal_A")


def merge_losses(*lanes: dict[str, Tensor]) -> dict[str, Tensor]:
    together = {name: value for lane in lanes for name, value in lane.items()}
    return {name: together[name] for name in LOSS_ORDER if name in together}


def cycle_weights(train) -> tuple[float, float]:
    """(lambda_A, lambda_B): the weights of the A -> B -> A and B -> A -> B cycle losses.

    ``train.cycle_weight`` is both unless ``train.cycle_weight_b`` sets lambda_B (the reference's
    separate ``lambda_A`` / ``lambda_B``). When A -> B loses information (a garment -> its edge
    map), only the B -> A -> B cycle can be kept honestly, so it may be weighed higher.
    """
    lambda_b = train.cycle_weight if train.cycle_weight_b is None else train.cycle_weight_b
    return train.cycle_weight, lambda_b


@register_game
class CycleGAN(TranslationScoring, Game):
    name = "cyclegan"
    progress_stats = (("loss_G", "G"), ("loss_D_A", "D_A"), ("loss_D_B", "D_B"), ("loss_cycle_A", "cyc_A"))

    ddp_nets = ("G_AB", "G_BA", "D_A", "D_B")
    float_outputs = ("D_A", "D_B")

    def __init__(self, cfg, device: torch.device, dist, speed=None):
        super().__init__(cfg, device, dist, speed)
        check_weights(cfg.train)
        data = self.dataset = load_translation(cfg.data, paired=False)
        model, train, seed = cfg.model, cfg.train, cfg.run.seed
        size, (channels_a, channels_b) = data.image_size, data.channels
        if train.identity_weight > 0 and channels_a != channels_b:
            raise ConfigError(
                f"the identity loss needs both domains in the same channels ({channels_a} vs {channels_b}); "
                "set data.channels, or train.identity_weight=0"
            )
        kind = resolve_generator(model.generator, "resnet")
        sizes = (size, model.g_width, model.res_blocks)
        self.meta_ab = generator_meta(kind, channels_a, channels_b, *sizes, full_res=model.full_res)
        self.meta_ba = generator_meta(kind, channels_b, channels_a, *sizes, full_res=model.full_res)
        self.G_AB = self.nets["G_AB"] = build_generator(self.meta_ab)
        self.G_BA = self.nets["G_BA"] = build_generator(self.meta_ba)
        self.D_A = self.nets["D_A"] = build_discriminator(channels_a, size, model.d_width, model.d_layers)
        self.D_B = self.nets["D_B"] = build_discriminator(channels_b, size, model.d_width, model.d_layers)
        self.loss = get_loss(train.loss)
        self.plan_speed(gradient_penalty=self.loss.gradient_penalty)
        self.prepare_nets()
        self.keep_averages("G_AB", "G_BA")  # with train.ema_decay > 0: what translates
        betas = (train.beta1, train.beta2)
        self.adam("opt_g", [*self.G_AB.parameters(), *self.G_BA.parameters()], train.lr_g, betas)
        self.adam("opt_d_a", self.D_A.parameters(), train.lr_d, betas)
        self.adam("opt_d_b", self.D_B.parameters(), train.lr_d, betas)
        self.wrap_nets()
        # train.lanes: the two directions side by side on a CPU (games/lanes.py says when it is safe)
        lanes_ok = device.type == "cpu" and self.speed.precision == "fp32" and dist.world_size == 1
        self.lanes = Lanes(train.lanes == "auto" and lanes_ok)

        # Each source of randomness has its own generator, seeded from run.seed.
        self.batches_a = DomainBatches(data.train_a, train.batch_size, seed * 1000 + 1, device, dist)
        self.batches_b = DomainBatches(data.train_b, train.batch_size, seed * 1000 + 2, device, dist)
        self.pool_a = ImagePool(train.pool_size, seed * 1000 + 3)
        self.pool_b = ImagePool(train.pool_size, seed * 1000 + 4)
        self.cycle_noise = CycleNoise(train.cycle_noise, seed * 1000 + 5, dist.rank, dist.world_size)
        if train.marginal_weight > 0:  # no randomness: rebuilt the same on resume
            self.marginals = {"A": MarginalReference(data.train_a, device)}
            self.marginals["B"] = MarginalReference(data.train_b, device)
        rows = min(GRID_ROWS, len(data.test_a), len(data.test_b))
        self.grid_a = data.test_a[:rows].clone()  # fixed inputs of the progress grid (uint8)
        self.grid_b = data.test_b[:rows].clone()

    def iteration(self) -> dict[str, Tensor]:
        real_a, real_b = self.batches_a.next(), self.batches_b.next()
        fake_b, fake_a, stats = self.g_step(real_a, real_b)
        pooled_a, pooled_b = self.pool_a.query(fake_a), self.pool_b.query(fake_b)  # each its own RNG
        stats_a, stats_b = self.lanes.run(
            lambda: self.d_step_a(real_a, pooled_a), lambda: self.d_step_b(real_b, pooled_b)
        )
        return stats | stats_a | stats_b

    def g_step(self, real_a: Tensor, real_b: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """(1) Update G_AB and G_BA with the Ds frozen (Zhu et al. eq. 3, plus sec. 5.2's identity).

        Each G fools the D of its target domain; each image must come back through both
        generators (cycle consistency, lambda = ``train.cycle_weight`` per direction, or
        ``cycle_weight_b`` for B -> A -> B; with ``cycle_noise`` > 0 the reverse G gets the
        translation plus noise); with ``identity_weight`` > 0, a G given an image of its target
        domain should leave it alone. With parallel lanes (``games/lanes.py``) the two
        directions' terms are differentiated side by side and their gradients added.
        Returns the fakes (detached) for the D steps and the named losses.
        """
        set_requires_grad([self.D_A, self.D_B], False)
        optimizer = self.optimizers["opt_g"]
        optimizer.zero_grad(set_to_none=True)
        if self.lanes.parallel:
            fake_b, fake_a, losses = self._gradients_in_lanes(real_a, real_b, optimizer)
        else:
            fake_b, fake_a, losses = self.g_losses(real_a, real_b)
            sum(losses.values()).backward()
        optimizer.step()
        self.update_averages("G_AB", "G_BA")
        set_requires_grad([self.D_A, self.D_B], True)
        stats = {name: value.detach() for name, value in losses.items()}
        stats["loss_G"] = sum(stats.values())
        return fake_b.detach(), fake_a.detach(), stats

    def g_losses(self, real_a: Tensor, real_b: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """G's forward pass without an update: the fakes (still in the graph) and the named losses
        ``g_step`` sums (the probes in ``benchmarks/`` take the terms one by one)."""
        (fake_b, losses_ab), (fake_a, losses_ba) = self._both_lanes(real_a, real_b, self.lane)
        return fake_b, fake_a, merge_losses(losses_ab, losses_ba)

    def _gradients_in_lanes(self, real_a: Tensor, real_b: Tensor, optimizer):
        """``g_losses`` with each direction's terms differentiated in its own lane; sets the
        optimizer's gradients to their sum (added in a fixed order: deterministic)."""
        params = [p for group in optimizer.param_groups for p in group["params"]]

        def differentiate(source: str, real: Tensor, noise: Tensor | None):
            fake, losses = self.lane(source, real, noise)
            return fake, losses, torch.autograd.grad(sum(losses.values()), params, allow_unused=True)

        (fake_b, losses_ab, grads_ab), (fake_a, losses_ba, grads_ba) = self._both_lanes(
            real_a, real_b, differentiate, self.lanes.run
        )
        for p, grad_ab, grad_ba in zip(params, grads_ab, grads_ba):
            if grad_ab is None or grad_ba is None:  # a weight only one lane reaches
                p.grad = grad_ba if grad_ab is None else grad_ab
            else:
                p.grad = grad_ab + grad_ba
        return fake_b, fake_a, merge_losses(losses_ab, losses_ba)

    def _both_lanes(self, real_a: Tensor, real_b: Tensor, each, run=SERIAL.run):
        """``(each("A", real_a, noise), each("B", real_b, noise))`` through ``run`` (one after the
        other by default); the cycle noise of both is drawn first, in a fixed order."""
        noise_b, noise_a = self.cycle_noise.draw(real_b), self.cycle_noise.draw(real_a)
        return run(lambda: each("A", real_a, noise_b), lambda: each("B", real_b, noise_a))

    def lane(self, source: str, real: Tensor, noise: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """One direction's half of G's losses, for ``real`` images of domain ``source`` ("A" or
        "B"; X -> Y below): the translation G_XY(x) (in the graph) and its terms: G_XY's
        adversarial term against D_Y, the X -> Y -> X cycle (the translation plus ``noise``, the
        cycle noise drawn ahead), G_YX's identity term on X images, G_XY's marginal term. The
        two directions share no intermediate tensor."""
        t = self.cfg.train
        target = "B" if source == "A" else "A"
        # The DDP-wrapped nets under torchrun (the nets themselves in one process).
        names = (f"G_{source}{target}", f"G_{target}{source}", f"D_{target}")
        G, G_back, D = (self.train_nets[name] for name in names)
        weight = cycle_weights(t)[source == "B"]
        fake = G(real)
        if t.binary_b and target == "B":  # D_B, its pool and the cycle see a binary map
            fake = straight_through_binary(fake)
        rec = G_back(fake if noise is None else fake + noise.to(fake.dtype))
        with distributed.no_grad_sync(D):  # D's weights get no gradient here
            adversarial = self.loss.g(D(fake))
        losses = {f"loss_G_{source}{target}": adversarial}
        losses[f"loss_cycle_{source}"] = weight * F.l1_loss(rec, real)
        if t.identity_weight > 0:  # scaled by its domain's lambda, as in the reference
            same = real[: t.identity_batch]  # None: all
            losses[f"loss_idt_{source}"] = t.identity_weight * weight * F.l1_loss(G_back(same), same)
        if t.marginal_weight > 0:  # G_XY's pixel values against its target domain's
            losses[f"loss_marginal_{target}"] = t.marginal_weight * self.marginals[target].distance(fake)
        return fake, losses

    def d_step_a(self, real_a: Tensor, fake_a: Tensor) -> dict[str, Tensor]:
        """(2) Update D_A: real A images against G_BA's fakes from the pool."""
        return self._d_update(self.train_nets["D_A"], self.optimizers["opt_d_a"], real_a, fake_a, "A")

    def d_step_b(self, real_b: Tensor, fake_b: Tensor) -> dict[str, Tensor]:
        """(3) Update D_B: real B images against G_AB's fakes from the pool."""
        return self._d_update(self.train_nets["D_B"], self.optimizers["opt_d_b"], real_b, fake_b, "B")

    def _d_update(
        self, D: nn.Module, optimizer, real: Tensor, fake: Tensor, domain: str
    ) -> dict[str, Tensor]:
        """One D's loss (``train.loss``'s D function of its logits), backward and Adam step."""
        real_logits, fake_logits = D(real), D(fake)
        loss = self.loss.d(real_logits, fake_logits)
        if self.loss.gradient_penalty:
            loss = loss + self.cfg.train.gp_weight * gradient_penalty(D, real, fake)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {
            f"loss_D_{domain}": loss.detach(),
            f"d_real_{domain}": d_outputs(real_logits.detach(), self.loss),
            f"d_fake_{domain}": d_outputs(fake_logits.detach(), self.loss),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "sampler_a": self.batches_a.sampler.state_dict(),
            "sampler_b": self.batches_b.sampler.state_dict(),
            "pool_a": self.pool_a.state_dict(),
            "pool_b": self.pool_b.state_dict(),
            "cycle_noise": self.cycle_noise.state_dict(),
            "grid_a": self.grid_a,
            "grid_b": self.grid_b,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches_a.sampler.load_state_dict(state["sampler_a"])
        self.batches_b.sampler.load_state_dict(state["sampler_b"])
        self.pool_a.load_state_dict(state["pool_a"], self.device)
        self.pool_b.load_state_dict(state["pool_b"], self.device)
        if "cycle_noise" in state:  # checkpoints written before train.cycle_noise existed have none
            self.cycle_noise.load_state_dict(state["cycle_noise"])
        self.grid_a, self.grid_b = state["grid_a"], state["grid_b"]

    @torch.no_grad()
    def write_grid(self, path: Path) -> None:
        """Rows: a | G_AB(a) | G_BA(G_AB(a)) | b | G_BA(b) | G_AB(G_BA(b)), fixed test images."""
        real_a, real_b = to_unit(self.grid_a.to(self.device)), to_unit(self.grid_b.to(self.device))
        G_AB, G_BA = self.averaged("G_AB"), self.averaged("G_BA")
        with eval_mode(G_AB, G_BA):
            fake_b, fake_a = G_AB(real_a), G_BA(real_b)
            write_rows(path, [real_a, fake_b, G_BA(fake_b), real_b, fake_a, G_AB(fake_a)])

    def inference(self) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
        """The generators (their averages with ``train.ema_decay`` > 0);
        ``models.translation.build_generator(meta)`` rebuilds either."""
        return {
            "AtoB": (self.averaged("G_AB"), dict(self.meta_ab)),
            "BtoA": (self.averaged("G_BA"), dict(self.meta_ba)),
        }
