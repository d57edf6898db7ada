"""``ganforge sample``: draw images (PNG grid or uint8 .npy) or a latent walk from a trained run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganforge.checkpoint import load_generator
from ganforge.errors import GanforgeError
from ganforge.models import sample_noise
from ganforge.sampling import generate, sample_generator
from ganforge.training.threads import apply_one_shot
from ganforge.viz import save_samples, to_uint8
from ganforge.viz.class_grid import class_rows_grid

MAX_BYTES = 4 * 2**30  # samples one call may hold in memory (float32): bounds -n, no streaming


def add_parser(subparsers):
    p = subparsers.add_parser("sample", help="draw samples or a latent walk from a trained run")
    p.add_argument("--run", required=True, help="run folder (holds generator.safetensors)")
    p.add_argument(
        "-n",
        type=int,
        default=None,
        help="how many samples (default 64); rows for --interpolate; samples per "
        "class (default 10) with --class all",
    )
    p.add_argument("--out", required=True, help=".png for a grid, .npy for raw samples")
    p.add_argument(
        "--interpolate",
        type=int,
        metavar="STEPS",
        help="latent walk: each row moves from one random z to another in STEPS",
    )
    p.add_argument(
        "--which",
        default="last",
        choices=["last", "best"],
        help="which exported generator (best needs eval.every during training)",
    )
    p.add_argument(
        "--class",
        dest="class_",
        metavar="CLASS",
        help="conditional runs: a class index or name (e.g. 3, Sneaker), or 'all' for "
        "a grid with one labelled row per class; default: classes drawn at random",
    )
    p.add_argument("--seed", type=int, default=0, help="noise (and random class) seed")
    p.add_argument("--batch-size", type=int, default=500, help="samples per forward pass")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    return p


def latent_walk(z_start: torch.Tensor, z_end: torch.Tensor, steps: int) -> torch.Tensor:
    """``[rows, z_dim]`` endpoints -> ``[rows * steps, z_dim]``, row-major, linear in z."""
    weights = torch.linspace(0, 1, steps)[None, :, None]
    return (z_start[:, None] * (1 - weights) + z_end[:, None] * weights).flatten(0, 1)


def resolve_class(text: str, meta: dict, run: str) -> int | None:
    """``--class`` text -> a class index, or None for ``all``; errors name the valid choices."""
    num_classes = meta.get("num_classes")
    if not num_classes:
        raise GanforgeError(
            f"--class needs a conditional model, but {run} holds an "
            f"unconditional '{meta['model']['name']}' (train cgan or cdcgan)"
        )
    if text == "all":
        return None
    names = meta["data"].get("class_names") or [str(i) for i in range(num_classes)]
    if text in names:
        return names.index(text)
    if text.isdigit() and int(text) < num_classes:
        return int(text)
    raise GanforgeError(
        f"--class {text!r} is not a class of {run}: give 0..{num_classes - 1}, "
        "'all' or one of: " + ", ".join(names)
    )


def check_size(G, meta: dict, total: int) -> None:
    """Refuse, in one line, a request whose samples would not fit ``MAX_BYTES`` in memory
    (``-n 10000000000``). The output size per sample comes from one probe sample, which also
    stops a broken (NaN) generator before anything is written."""
    probe = sample_generator(G, meta, 1, seed=0)
    per_sample = probe[0].numel() * 4  # float32 on the CPU before conversion
    if total * per_sample > MAX_BYTES:
        fits = MAX_BYTES // per_sample
        raise GanforgeError(
            f"{total} samples would need {total * per_sample / 2**30:.3g} GiB of memory; one call "
            f"draws at most {fits} of this generator's samples ({MAX_BYTES // 2**30} GiB): "
            "ask for fewer, or run several calls with different --seed"
        )


def run(args) -> int:
    out = Path(args.out)
    if out.suffix not in (".png", ".npy"):
        raise GanforgeError(f"--out {out}: give a .png (grid) or .npy (raw samples) file name")
    if args.n is not None and args.n <= 0:
        raise GanforgeError("-n must be positive")
    apply_one_shot(args.device)  # CPU: the cores other work leaves free (docs/threads.md)
    G, meta = load_generator(args.run, args.which, device=args.device)
    model, num_classes = meta["model"], meta.get("num_classes")
    chosen = resolve_class(args.class_, meta, args.run) if args.class_ is not None else None
    per_class = args.class_ == "all"
    walk = args.interpolate is not None  # 0 is an error, not "no walk"
    if walk and args.interpolate < 2:
        raise GanforgeError(f"--interpolate {args.interpolate}: a latent walk needs at least 2 steps")
    if per_class and walk:
        raise GanforgeError("--class all draws a grid of its own; use --class N with --interpolate")
    n = args.n or (10 if per_class else 64)  # --class all: n samples for each class
    check_size(G, meta, n * (args.interpolate if walk else num_classes if per_class else 1))
    gen = torch.Generator().manual_seed(args.seed)
    columns = None
    if walk:
        ends = sample_noise(2 * n, model["z_dim"], model["noise"], generator=gen)
        z = latent_walk(ends[:n], ends[n:], args.interpolate)
        columns = args.interpolate
    else:
        z = sample_noise(num_classes * n if per_class else n, model["z_dim"], model["noise"], generator=gen)
    labels = None
    if num_classes:  # explicit, seeded classes: G left to itself would draw them unseeded
        if per_class:
            labels = torch.arange(num_classes).repeat_interleave(n)  # row r: class r
        elif chosen is not None:
            labels = torch.full((len(z),), chosen, dtype=torch.long)
        else:
            labels = torch.randint(num_classes, (n,), generator=gen)
            if walk:  # one class per walk, kept along it
                labels = labels.repeat_interleave(args.interpolate)
    samples = generate(
        G, z, labels, batch_size=args.batch_size, device=args.device, progress=len(z) > 5 * args.batch_size
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":  # --class all: rows of n samples, class 0 first
        np.save(out, to_uint8(samples) if samples.dim() == 4 else samples.numpy())
    elif per_class and samples.dim() == 4:
        names = meta["data"].get("class_names") or [str(i) for i in range(num_classes)]
        class_rows_grid(to_uint8(samples), names).save(out)
    else:
        save_samples(samples, out, columns=columns)
    print(f"ganforge: wrote {len(samples)} samples to {out}")
    return 0
