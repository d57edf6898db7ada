"""pix2pix (Isola et al. 2017): a U-Net G: A -> B and a conditional PatchGAN D(a, b) trained on
pairs, G's loss the GAN term plus lambda * L1 to the true B (eq. 4, lambda = ``train.l1_weight``).

One iteration is the reference's ``optimize_parameters``: G translates the batch once, (1) D
learns real pairs (a, b) from fake ones (a, G(a)), then (2) G, with D frozen, fools the
updated D and stays close to b. No image pool (the reference's pix2pix has pool size 0).
On the built-in pairs this is the paired upper bound that CycleGAN is measured against.

Departures from the reference: ``train.loss`` is the config's (``nonsaturating`` is the
reference's ``vanilla``); G runs in eval mode for the progress grid and for inference (no
dropout, batch-norm running statistics) where the reference keeps train mode at test time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.translation import load_translation
from ganforge.games.base import Game, register_game
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


@register_game
class Pix2Pix(TranslationScoring, Game):
    name = "pix2pix"
    progress_stats = (("loss_G_GAN", "G"), ("loss_G_L1", "L1"), ("loss_D", "D"))

    ddp_nets = ("G", "D")
    float_outputs = ("D",)

    def __init__(self, cfg, device: torch.device, dist, speed=None):
        super().__init__(cfg, device, dist, speed)
        check_weights(cfg.train)
        data = self.dataset = load_translation(cfg.data, paired=True)
        model, train = cfg.model, cfg.train
        size, (channels_a, channels_b) = data.image_size, data.channels
        kind = resolve_generator(model.generator, "unet")
        # The reference's pix2pix: batch norm and dropout in G (its noise), batch norm in D.
        self.meta = generator_meta(
            kind, channels_a, channels_b, size, model.g_width, model.res_blocks, "batch", True, model.full_res
        )
        self.G = self.nets["G"] = build_generator(self.meta)
        self.D = self.nets["D"] = build_discriminator(
            channels_a + channels_b, size, model.d_width, model.d_layers, norm="batch", conditional=True
        )
        self.loss = get_loss(train.loss)
        self.plan_speed(gradient_penalty=self.loss.gradient_penalty)
        self.prepare_nets()
        self.keep_averages("G")  # with train.ema_decay > 0: what translates
        betas = (train.beta1, train.beta2)
        self.adam("opt_g", self.G.parameters(), train.lr_g, betas)
        self.adam("opt_d", self.D.parameters(), train.lr_d, betas)
        self.wrap_nets()
        # One sampler over the pairs: a batch of A and the same indices of B.
        self.batches_a = DomainBatches(data.train_a, train.batch_size, cfg.run.seed * 1000 + 1, device, dist)
        self.images_b = data.train_b.to(device)
        rows = min(GRID_ROWS, len(data.test_a))
        self.grid_a, self.grid_b = data.test_a[:rows].clone(), data.test_b[:rows].clone()

    def iteration(self) -> dict[str, Tensor]:
        indices = self.batches_a.next_indices()
        real_a, real_b = self.batches_a.take(indices), to_unit(self.images_b[indices])
        fake_b = self.train_nets["G"](real_a)  # DDP-wrapped under torchrun
        stats = self.d_step(real_a, real_b, fake_b.detach())
        stats.update(self.g_step(real_a, real_b, fake_b))
        return stats

    def d_step(self, real_a: Tensor, real_b: Tensor, fake_b: Tensor) -> dict[str, Tensor]:
        """(1) Update D: the pair (a, b) is real, (a, G(a)) fake (``fake_b`` detached)."""
        D = self.train_nets["D"]
        real_logits, fake_logits = D(real_a, real_b), D(real_a, fake_b)
        loss_D = self.loss.d(real_logits, fake_logits)
        if self.loss.gradient_penalty:
            critic = lambda b: D(real_a, b)  # noqa: E731  (penalty on b, given a)
            loss_D = loss_D + self.cfg.train.gp_weight * gradient_penalty(critic, real_b, fake_b)
        self.optimizers["opt_d"].zero_grad(set_to_none=True)
        loss_D.backward()
        self.optimizers["opt_d"].step()
        return {
            "loss_D": loss_D.detach(),
            "d_real": d_outputs(real_logits.detach(), self.loss),
            "d_fake": d_outputs(fake_logits.detach(), self.loss),
        }

    def g_step(self, real_a: Tensor, real_b: Tensor, fake_b: Tensor) -> dict[str, Tensor]:
        """(2) Update G with D frozen: fool D on (a, G(a)) and match b in L1 (Isola et al. eq. 4)."""
        set_requires_grad([self.D], False)
        D = self.train_nets["D"]
        with distributed.no_grad_sync(D):  # D's weights get no gradient here (as in the GAN game)
            loss_G_GAN = self.loss.g(D(real_a, fake_b))
        loss_G_L1 = self.cfg.train.l1_weight * F.l1_loss(fake_b, real_b)
        loss_G = loss_G_GAN + loss_G_L1
        self.optimizers["opt_g"].zero_grad(set_to_none=True)
        loss_G.backward()
        self.optimizers["opt_g"].step()
        self.update_averages("G")
        set_requires_grad([self.D], True)
        return {"loss_G_GAN": loss_G_GAN.detach(), "loss_G_L1": loss_G_L1.detach(), "loss_G": loss_G.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"sampler": self.batches_a.sampler.state_dict(), "grid_a": self.grid_a, "grid_b": self.grid_b}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batches_a.sampler.load_state_dict(state["sampler"])
        self.grid_a, self.grid_b = state["grid_a"], state["grid_b"]

    @torch.no_grad()
    def write_grid(self, path: Path) -> None:
        """Rows: a | G(a) | the true b, fixed test pairs."""
        real_a, G = to_unit(self.grid_a.to(self.device)), self.averaged("G")
        with eval_mode(G):
            write_rows(path, [real_a, G(real_a), to_unit(self.grid_b.to(self.device))])

    def inference(self) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
        """G (its average with ``train.ema_decay`` > 0); ``models.translation.build_generator(meta)``
        rebuilds it."""
        return {"AtoB": (self.averaged("G"), dict(self.meta))}
