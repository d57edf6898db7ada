"""StarGAN's domains: what the label vector of an image means, and how targets are chosen.

Two kinds (Choi et al. 2018, sec. 3):

- **single-label**: each image is in exactly one domain (a folder per domain, RaFD's
  expressions); the label vector is one-hot and D's classifier is a softmax.
- **multi-label**: each image has K binary attributes (CelebA's hair colour, gender, age);
  the label vector is multi-hot and D's classifier is K sigmoids. Some attributes exclude
  each other (one hair colour, one tint): turning one on turns the others in its group off.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.data.registry import DataError, Dataset

# Attribute names that exclude each other wherever they appear together.
EXCLUSIVE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"),  # CelebA, as the reference treats them
    ("red", "green", "blue"),  # fmnist-styles' tints
)


@dataclass(frozen=True)
class Domains:
    """The K domain (or attribute) names and whether an image has one (softmax) or many."""

    names: tuple[str, ...]
    multi_label: bool

    @classmethod
    def of(cls, dataset: Dataset) -> Domains:
        """The domains of a data set: its attributes if it has them, else its classes."""
        if dataset.attributes is not None:
            return cls(tuple(dataset.attribute_names), True)
        if dataset.labels is None or not dataset.class_names or len(dataset.class_names) < 2:
            raise DataError(
                f"{dataset.name} has no domains for StarGAN: put the images in one sub-folder "
                "per domain (at least two), or use a data set with attributes (fmnist-styles, "
                "celeba-attributes)"
            )
        return cls(tuple(dataset.class_names), False)

    def vectors(self, dataset: Dataset) -> torch.Tensor:
        """Label vectors float32 ``[N, K]``: multi-hot attributes or one-hot classes."""
        if self.multi_label:
            return dataset.attributes.float()
        return F.one_hot(dataset.labels, len(self.names)).float()

    def groups(self) -> list[list[int]]:
        """Column indices of each exclusive group present (two or more members)."""
        found = [[self.names.index(n) for n in group if n in self.names] for group in EXCLUSIVE_GROUPS]
        return [g for g in found if len(g) >= 2] if self.multi_label else []

    def index(self, name: str) -> int:
        if name not in self.names:
            raise DataError(f"unknown domain '{name}'; valid domains: {', '.join(self.names)}")
        return self.names.index(name)

    def turn_on(self, source: torch.Tensor, names: list[str]) -> torch.Tensor:
        """Targets ``[N, K]`` for sources ``[N, K]``: the named domains on. Single-label: that
        one domain (one name only); multi-label: the named attributes on, the rest of their
        exclusive groups off, every other attribute as in the source."""
        columns = [self.index(name) for name in names]
        if not self.multi_label:
            if len(columns) != 1:
                raise DataError(f"single-label domains take one target name, got {', '.join(names)}")
            return F.one_hot(torch.full_like(source[:, 0], columns[0], dtype=torch.long), len(self.names)).to(
                source.dtype
            )
        target = source.clone()
        for column in columns:
            for group in self.groups():
                if column in group:
                    target[:, group] = 0
            target[:, column] = 1
        return target

    def grid_targets(self, source: torch.Tensor) -> list[torch.Tensor]:
        """One target ``[N, K]`` per domain, for a grid column each (the reference's
        ``create_labels``): single-label, every domain; multi-label, attribute k switched
        on within its exclusive group, or flipped when it has none."""
        grouped = {column for group in self.groups() for column in group}
        targets = []
        for k, name in enumerate(self.names):
            if not self.multi_label or k in grouped:
                targets.append(self.turn_on(source, [name]))
            else:
                flipped = source.clone()
                flipped[:, k] = 1 - flipped[:, k]
                targets.append(flipped)
        return targets
