"""Class labels for the conditional families (cgan, cdcgan): checks and defaults they share."""

from __future__ import annotations

import torch

from ganforge.models.registry import ModelError


def require_classes(cfg, family: str) -> int:
    """``cfg.num_classes`` of a conditional family; the training state fills it from the data."""
    if cfg.num_classes is None or cfg.num_classes < 2:
        raise ModelError(
            f"{family} is conditional and needs model.num_classes >= 2 (got "
            f"{cfg.num_classes}); train it on a labelled data set, which sets it"
        )
    return cfg.num_classes


def labels_or_uniform(labels: torch.Tensor | None, z: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``labels`` (int64 ``[N]``) as given, or classes drawn uniformly for each row of ``z``.

    Drawing them when none are given lets every tool written for unconditional generators
    (``eval``, ``detect``, the lab) call a conditional G as ``G(z)``.
    """
    if labels is None:
        return torch.randint(num_classes, (z.shape[0],), device=z.device)
    return labels
