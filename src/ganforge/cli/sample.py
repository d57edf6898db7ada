"""``ganforge sample``: draw images (PNG grid or uint8 .npy) or a latent walk from a trained run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ganforge.checkpoint import load_generator
from ganforge.errors import GanforgeError
from ganforge.models import sample_noise
from ganforge.viz import save_samples, to_uint8


def add_parser(subparsers):
    p = subparsers.add_parser("sample", help="draw samples or a latent walk from a trained run")
    p.add_argument("--run", required=True, help="run folder (holds generator.safetensors)")
    p.add_argument("-n", type=int, default=64, help="how many samples (rows for --interpolate)")
    p.add_argument("--out", required=True, help=".png for a grid, .npy for raw samples")
    p.add_argument("--interpolate", type=int, metavar="STEPS",
                   help="latent walk: each row moves from one random z to another in STEPS")
    p.add_argument("--which", default="last", choices=["last", "best"],
                   help="which exported generator (best needs eval.every during training)")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--batch-size", type=int, default=500, help="samples per forward pass")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    return p


def latent_walk(z_start: torch.Tensor, z_end: torch.Tensor, steps: int) -> torch.Tensor:
    """``[rows, z_dim]`` endpoints -> ``[rows * steps, z_dim]``, row-major, linear in z."""
    weights = torch.linspace(0, 1, steps)[None, :, None]
    return (z_start[:, None] * (1 - weights) + z_end[:, None] * weights).flatten(0, 1)


@torch.no_grad()
def generate(G, z: torch.Tensor, batch_size: int, device, progress: bool) -> torch.Tensor:
    parts = [G(chunk.to(device)).float().cpu()
             for chunk in tqdm(z.split(batch_size), disable=not progress, unit="batch")]
    return torch.cat(parts)


def run(args) -> int:
    out = Path(args.out)
    if out.suffix not in (".png", ".npy"):
        raise GanforgeError(f"--out {out}: give a .png (grid) or .npy (raw samples) file name")
    if args.n <= 0:
        raise GanforgeError("-n must be positive")
    G, meta = load_generator(args.run, args.which, device=args.device)
    model = meta["model"]
    gen = torch.Generator().manual_seed(args.seed)
    columns = None
    if args.interpolate:
        if args.interpolate < 2:
            raise GanforgeError("--interpolate needs at least 2 steps")
        ends = sample_noise(2 * args.n, model["z_dim"], model["noise"], generator=gen)
        z = latent_walk(ends[: args.n], ends[args.n:], args.interpolate)
        columns = args.interpolate
    else:
        z = sample_noise(args.n, model["z_dim"], model["noise"], generator=gen)
    samples = generate(G, z, args.batch_size, args.device, progress=len(z) > 5 * args.batch_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, to_uint8(samples) if samples.dim() == 4 else samples.numpy())
    else:
        save_samples(samples, out, columns=columns)
    print(f"ganforge: wrote {len(samples)} samples to {out}")
    return 0
