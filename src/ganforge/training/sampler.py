"""Batches drawn by index from a data set held on the training device."""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError


class EpochSampler:
    """Shuffled batches of indices; every example is seen once per epoch (last partial batch dropped).

    The permutation is drawn on the CPU with its own generator, so a run's batches are the
    same on any device, and ``state_dict`` captures the exact position for resume.
    """

    def __init__(self, size: int, batch_size: int, seed: int, device: torch.device):
        if batch_size > size:
            raise GanforgeError(
                f"train.batch_size ({batch_size}) is larger than the data set "
                f"({size} examples): lower the batch size or use more data"
            )
        self.size, self.batch_size, self.device = size, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.perm: torch.Tensor | None = None
        self.position = 0
        self.epoch = 0

    def next(self) -> torch.Tensor:
        """Indices ``[batch_size]`` (int64, on the device) of the next batch."""
        if self.perm is None or self.position + self.batch_size > self.size:
            self.perm = torch.randperm(self.size, generator=self.generator).to(self.device)
            self.position = 0
            self.epoch += 1
        batch = self.perm[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.get_state(),
            "position": self.position,
            "epoch": self.epoch,
            "perm": None if self.perm is None else self.perm.cpu(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.position, self.epoch = state["position"], state["epoch"]
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
