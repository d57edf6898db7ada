"""The image pool of Shrivastava et al. (2017, sec. 2.3), as CycleGAN uses it (Zhu et al. 2017,
sec. 4): D is shown generated images from a history, not only the latest G's, which damps
oscillation. Same rule as the reference's ``ImagePool``: until ``size`` images are stored, each
new image is stored and returned; after that, with probability 1/2 a random stored image is
returned and the new one takes its place, otherwise the new image is returned as it is.

The coin flips come from the pool's own seeded CPU generator, not the global RNG, so the pool
neither depends on nor disturbs the rest of the run's randomness, and ``state_dict`` (the
stored images and the generator state) makes a resumed run draw exactly the same history.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

SWAP_PROBABILITY = 0.5  # the reference's: return a stored image half of the time


class ImagePool:
    """A history of up to ``size`` generated images; ``size`` 0 passes every batch through."""

    def __init__(self, size: int, seed: int):
        self.size = size
        self.generator = torch.Generator().manual_seed(seed)
        self.images: Tensor | None = None  # [size, C, H, W] on the images' device, filled in order
        self.count = 0

    def query(self, images: Tensor) -> Tensor:
        """``[N, C, H, W]`` new (detached) fakes -> ``[N, C, H, W]`` fakes to show D."""
        images = images.detach()
        if self.size == 0:
            return images
        if self.images is None:
            self.images = images.new_empty((self.size, *images.shape[1:]))
        # Decisions are drawn for every image (on the CPU: no device sync), used or not, so the
        # generator advances by the same amount whatever the pool's fill level.
        coins = torch.rand(len(images), generator=self.generator).tolist()
        slots = torch.randint(self.size, (len(images),), generator=self.generator).tolist()
        returned = []
        for image, coin, slot in zip(images, coins, slots):
            if self.count < self.size:
                self.images[self.count] = image
                self.count += 1
                returned.append(image)
            elif coin < SWAP_PROBABILITY:
                returned.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                returned.append(image)
        return torch.stack(returned)

    def state_dict(self) -> dict[str, Any]:
        stored = None if self.images is None else self.images[: self.count].cpu().clone()
        return {"images": stored, "count": self.count, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.count = state["count"]
        self.generator.set_state(state["generator"])
        stored = state["images"]
        if stored is None:
            self.images = None
            return
        self.images = stored.new_empty((self.size, *stored.shape[1:])).to(device)
        self.images[: self.count] = stored.to(device)
