"""Is a translation benchmark learnable by the generator at all? Train G_AB alone, supervised.

A diagnostic for issue 10's quality targets (docs/translation.md, "Results"): before tuning
CycleGAN, train one generator with a plain L1 loss against the TRUE translations of a
built-in pair's own garments (``load_translation(..., paired=True)``: no discriminator, no
cycle) and score it on the test pairs exactly as the table does. This is the easiest version
of the task: if THIS stays far from the target, the generator (or the data, or the scoring)
is the obstacle, not the unpaired game.

``--generator``: ``resnet`` / ``unet`` (the translation generators, ``--width``,
``--res-blocks``), ``pixel`` (1x1 convolutions only: a per-pixel function, the smallest net
that can represent a colour map), ``unet-pixel`` (a probe: the U-Net plus a per-pixel path) or
``unet-full`` (the U-Net with ``model.full_res``: a full-size level, models/unet.py).
It also prints how much the generator's output changes when the input's gray levels are
scaled (``brightness_change``): a generator that cannot see absolute gray levels gives 0 and
cannot learn a colour map of gray level.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/translation_supervised.py \
        --pair fmnist-tint --generator resnet --width 16 --res-blocks 3 --steps 300 --lr 2e-3
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import load_config
from ganforge.data.translation import load_translation
from ganforge.evaluation.translation import translate_images
from ganforge.games.translation_common import to_unit
from ganforge.metrics.translation import mean_absolute_error
from ganforge.models.translation import build_generator, generator_meta


def pixel_net(in_channels: int, out_channels: int, hidden: int = 32) -> nn.Module:
    """A per-pixel function: 1x1 convolutions, ``[N, C, H, W]`` in [-1, 1] -> ``[N, C', H, W]``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 1),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, 1),
        nn.ReLU(),
        nn.Conv2d(hidden, out_channels, 1),
        nn.Tanh(),
    )


class UnetWithPixelPath(nn.Module):
    """A probe, not a shipped generator: the U-Net's output before its tanh plus a per-pixel
    path (1x1 convolutions, PyTorch's default init) from the input, then the tanh. The U-Net's
    last layer is a stride-2 transposed convolution of half-resolution features, so a per-pixel
    colour map has to be rebuilt from 4x4 neighbourhoods; the extra path is a direct route."""

    def __init__(self, unet: nn.Module, in_channels: int, out_channels: int, hidden: int = 16):
        super().__init__()
        unet.model.model[-1] = nn.Identity()  # the outermost level's final tanh
        self.unet = unet
        self.pixel = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, out_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.unet(x) + self.pixel(x))


def make_generator(args, channels: tuple[int, int], size: int) -> nn.Module:
    if args.generator == "pixel":
        return pixel_net(*channels)
    kind = "unet" if args.generator.startswith("unet") else args.generator
    full_res = args.generator == "unet-full"
    G = build_generator(generator_meta(kind, *channels, size, args.width, args.res_blocks, full_res=full_res))
    return UnetWithPixelPath(G, *channels) if args.generator == "unet-pixel" else G


@torch.no_grad()
def brightness_change(G: nn.Module, images: torch.Tensor) -> float:
    """Mean |G(x) - G(x')| on [-1, 1], where x' is x with every gray level scaled by 0.6 (black
    stays black). 0 means the generator cannot tell a garment from a dimmer copy of it."""
    x = to_unit(images)
    dimmer = to_unit((images.float() * 0.6).round().to(torch.uint8))
    was = G.training
    G.eval()
    change = float((G(x) - G(dimmer)).abs().mean())
    G.train(was)
    return change


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="fmnist-tint", choices=("fmnist-tint", "fmnist-edges"))
    kinds = ("resnet", "unet", "unet-pixel", "unet-full", "pixel")
    parser.add_argument("--generator", default="resnet", choices=kinds)
    parser.add_argument("--width", type=int, default=16, help="ngf")
    parser.add_argument("--res-blocks", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--every", type=int, default=100, help="score every N steps")
    parser.add_argument("--test", type=int, default=2000, help="test pairs scored")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)

    cfg = load_config(None, [f"data.name={args.pair}", "data.limit=10000"])
    data = load_translation(cfg.data, paired=True)  # train_b[i] is train_a[i]'s true translation
    test_a, test_b = data.test_a[: args.test].numpy(), data.test_b[: args.test].numpy()
    identity = mean_absolute_error(np.repeat(test_a, test_b.shape[1] // test_a.shape[1], 1), test_b)
    G = make_generator(args, data.channels, data.image_size)
    optimizer = torch.optim.Adam(G.parameters(), args.lr, betas=(0.5, 0.999))
    generator = torch.Generator().manual_seed(args.seed)
    print(json.dumps({**vars(args), "identity_mae": round(identity, 4), "load": os.getloadavg()[0]}))
    cpu = 0.0
    for step in range(1, args.steps + 1):
        start = time.process_time()
        index = torch.randint(len(data.train_a), (args.batch,), generator=generator)
        loss = F.l1_loss(G(to_unit(data.train_a[index])), to_unit(data.train_b[index]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        cpu += time.process_time() - start
        if step % args.every == 0 or step == args.steps:
            mae = mean_absolute_error(translate_images(G, test_a), test_b)
            row = {"step": step, "mae": round(mae, 4), "x_identity": round(mae / identity, 3)}
            row["cpu_s_per_step"] = round(cpu / step, 4)
            row["brightness_change"] = round(brightness_change(G, data.test_a[:64]), 4)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
