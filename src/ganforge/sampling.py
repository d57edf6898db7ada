"""Drawing samples from a generator: the one place that runs G on seeded noise.

Every caller (evaluation, the sample grids of a training run, ``ganforge sample``, export's
parity check, the 2-D metrics, the lab) goes through ``generate``, so they agree on eval
mode, batching, dtype and what counts as a broken generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.models.noise import sample_noise
from ganforge.progress import bar as progress_bar


class NonFiniteSamples(GanforgeError):
    """G produced NaN or infinite values: its weights are broken (a diverged run?)."""


def seeded_inputs(meta: Mapping[str, Any], n: int, seed: int) -> tuple[Tensor, Tensor | None]:
    """Noise ``[n, z_dim]`` and, for a conditional G, uniform classes ``[n]`` (int64), both
    from one ``torch.Generator`` seeded with ``seed``: the global random stream (a training
    run's) is never touched. ``meta`` is a generator's metadata (``generator.json``)."""
    model = meta["model"]
    generator = torch.Generator().manual_seed(seed)
    z = sample_noise(n, model["z_dim"], model["noise"], generator=generator)
    num_classes = meta.get("num_classes")
    labels = torch.randint(num_classes, (n,), generator=generator) if num_classes else None
    return z, labels


@torch.no_grad()
def generate(
    G: nn.Module,
    z: Tensor,
    labels: Tensor | None = None,
    *,
    batch_size: int = 500,
    device: str | torch.device | None = None,
    progress: bool = False,
    check_finite: bool = True,
) -> Tensor:
    """``G(z)`` (``G(z, labels)`` for a conditional G) in eval mode, in chunks of ``batch_size``.

    Returns float32 on the CPU: images ``[N, C, H, W]`` in [-1, 1] or points ``[N, D]``.
    G's train/eval mode is restored afterwards, also when it raises. ``device`` defaults to
    where G's weights are (the CPU for a G without weights). Non-finite output raises
    ``NonFiniteSamples`` unless ``check_finite`` is off (uint8 conversion would otherwise
    hide it as black pixels).
    """
    if device is None:  # where G's weights are; the CPU for a G without any
        weight = next(G.parameters(), None)
        device = weight.device if weight is not None else torch.device("cpu")
    was_training = G.training
    G.eval()
    parts = []
    try:
        with progress_bar(len(z), "sample", "sampling", show=progress) as shown:
            for start in range(0, len(z), batch_size):
                chunk = z[start : start + batch_size].to(device)
                if labels is None:
                    out = G(chunk)
                else:
                    out = G(chunk, labels[start : start + batch_size].to(device))
                parts.append(out.float().cpu())
                shown.update(len(chunk))
    finally:
        G.train(was_training)
    samples = torch.cat(parts) if parts else torch.empty(0)
    if check_finite and not torch.isfinite(samples).all():
        raise NonFiniteSamples(
            "the generator produced NaN/inf samples; its weights are broken (a diverged "
            "run?): use an earlier checkpoint or --which best"
        )
    return samples


def sample_generator(G: nn.Module, meta: Mapping[str, Any], n: int, seed: int, **kwargs) -> Tensor:
    """``n`` samples of G from seeded noise (and seeded uniform classes when conditional);
    keyword arguments go to ``generate``."""
    z, labels = seeded_inputs(meta, n, seed)
    return generate(G, z, labels, **kwargs)
