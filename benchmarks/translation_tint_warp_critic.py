"""Can a fresh critic of D_B's architecture see fmnist-tint's shared gray-level warp, and does
its norm decide? (docs/translation.md, "Session 9")

The warp is session 8's measurement on the full_res preset at seed 0 (``translation_tint_warp.py``:
G_AB paints gray level g with the true colour of level h(g)). Fakes: ``tint(h(a))`` for 3,000
training garments of domain A, the warp scaled by 0 (the truth: a control), 1 and 2; reals:
3,000 real B images (other garments). For each D norm (instance: the game's; none; batch) a
fresh PatchGAN (16 wide, one middle layer, as the preset's D_B) is trained for ``--steps``
(``translation_tint_probe.train_critic``) and scored on 500 held-out images of each:
accuracy and AUC (0.5: blind).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_tint_warp_critic.py \
        [--steps 400] [--out F.json]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from probe_output import emit
from translation_tint_probe import train_critic

from ganforge.config import load_config
from ganforge.data.translation import load_translation, tint
from ganforge.models.patchgan import NORMS
from ganforge.models.translation import build_discriminator

LEVELS = np.array([0, 16, 48, 80, 112, 144, 176, 208, 240, 255])
WARP = np.array([0, 12, 41, 75, 116, 157, 195, 220, 244, 255])  # h(LEVELS), full_res preset, seed 0


def warped(gray: np.ndarray, scale: float) -> torch.Tensor:
    """uint8 ``[N, 1, S, S]`` gray -> uint8 ``[N, 3, S, S]``: the true colours of the warped levels."""
    h = np.clip(LEVELS + scale * (WARP - LEVELS), 0, 255)
    table = np.interp(np.arange(256), LEVELS, h).round().astype(np.uint8)
    return torch.from_numpy(tint(table[gray]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="critic training steps (batches of 64)")
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_translation(load_config(None, ["data.name=fmnist-tint"]).data, paired=False)
    gray, real = data.train_a[:3000].numpy(), data.train_b[:3000]
    out = {}
    for scale in (0.0, 1.0, 2.0):
        fake = warped(gray, scale)
        for norm in NORMS:
            make = lambda norm=norm: build_discriminator(3, 28, 16, 1, norm=norm)  # noqa: E731
            out[f"warp x{scale:g}, {norm} norm"] = train_critic(make, real, fake, 500, args.steps, seed=0)
    emit(out, args.out)


if __name__ == "__main__":
    main()
