"""Noise on the cycle: Gaussian noise added to a translation before the reverse generator
reconstructs it (``train.cycle_noise``; off by default, as in the CycleGAN paper).

Why: when the map A -> B loses information (many garments share one edge map), the cycle loss
can only be met by hiding the input inside the translation in detail the discriminator does
not object to, which the reverse generator then decodes (Chu et al. 2017, "CycleGAN, a Master
of Steganography"). Bashkirova et al. 2019 ("Adversarial Self-Defense for Cycle-Consistent
GANs") make the reconstruction robust to noise on the translation, so a faint hidden signal no
longer pays. Only the cycle path is noised: the discriminators judge the clean translations.

The noise comes from the object's own seeded CPU generator (like the image pools'), so it
neither depends on nor disturbs the run's other randomness, and ``state_dict`` makes a resumed
run draw the same noise. Under DDP every rank draws the noise of the whole global batch and
adds its own slice, so a 2-process run sees the noise a 1-process run of that batch would.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class CycleNoise:
    """Adds N(0, ``std``^2) per pixel to translations; ``std`` 0 returns them unchanged (no draw)."""

    def __init__(self, std: float, seed: int, rank: int = 0, world_size: int = 1):
        self.std = std
        self.generator = torch.Generator().manual_seed(seed)
        self.rank, self.world_size = rank, world_size

    def __call__(self, images: Tensor) -> Tensor:
        """``[n, C, H, W]`` translations in [-1, 1] (this rank's slice) -> the same plus noise,
        not clamped (gradients pass through unchanged)."""
        noise = self.draw(images)
        return images if noise is None else images + noise

    def draw(self, like: Tensor) -> Tensor | None:
        """The next noise for a batch shaped like ``like`` (already scaled by ``std``; None when
        off): what ``__call__`` adds, drawn ahead when the batch is not computed yet."""
        if self.std == 0:
            return None
        n = len(like)
        noise = torch.randn((n * self.world_size, *like.shape[1:]), generator=self.generator)
        noise = noise[self.rank * n : (self.rank + 1) * n]
        return self.std * noise.to(device=like.device, dtype=like.dtype)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
