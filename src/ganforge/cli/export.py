"""``ganforge export``: write a run's generator as ONNX or TorchScript and check it against PyTorch."""

from __future__ import annotations

from pathlib import Path

from ganforge.checkpoint import exported_networks, inference_kind, load_inference
from ganforge.cli.translate import direction_network
from ganforge.export import (
    FORMATS,
    PARITY_LIMIT,
    ExportError,
    check_parity,
    example_inputs,
    export_generator,
    format_for,
    input_names,
    parity_ok,
    parity_sizes,
    size_factor,
)
from ganforge.sampling import generate


def add_parser(subparsers):
    p = subparsers.add_parser(
        "export", help="export a run's generator to ONNX or TorchScript (with a parity check)"
    )
    p.add_argument("--run", required=True, help="run folder (holds generator.safetensors)")
    p.add_argument("--out", required=True, help="file to write, e.g. G.onnx or G.pt")
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="default: from the --out suffix (.onnx -> onnx, .pt/.ts -> torchscript)",
    )
    p.add_argument(
        "--which",
        default="last",
        choices=["last", "best"],
        help="which exported generator: last (the EMA weights when the run used "
        "train.ema_decay) or best (needs eval.every during training)",
    )
    p.add_argument(
        "--direction",
        choices=["AtoB", "BtoA"],
        help="CycleGAN / pix2pix runs: which generator (default AtoB; pix2pix has AtoB only)",
    )
    p.add_argument("--check-samples", type=int, default=64, help="samples of the parity check (0 skips it)")
    return p


def network_name(args) -> str:
    """``--which`` / ``--direction`` -> the exported network's name (``last``, ``AtoB-best`` ...)."""
    have = exported_networks(args.run)
    if "last" in have or not have:  # a GAN or StarGAN run (or no run: load_inference says so)
        if args.direction:
            raise ExportError(f"--direction is for CycleGAN / pix2pix runs; {args.run} has one generator")
        return args.which
    return direction_network(args.run, have, args.direction, args.which, error=ExportError)


def describe(meta: dict) -> str:
    """The graph's inputs and output, for the closing line."""
    shapes = {"z": "z [N, z_dim]", "labels": "labels [N]", "image": "image [N, C, H, W]"}
    if inference_kind(meta) == "stargan":
        shapes["labels"] = "labels [N, K] float 0/1"
    inputs = ", ".join(shapes[name] for name in input_names(meta))
    if inference_kind(meta) == "gan":
        return f"inputs {inputs}; output samples, N dynamic"
    factor = size_factor(meta)
    size = f"H, W multiples of {factor}" if factor else f"H = W = {meta['image_size']} fixed"
    return f"inputs {inputs}; output translated; N dynamic, {size}"


def run(args) -> int:
    """Export to a temporary file beside ``--out``, check it, then rename: a failed export
    (broken weights, exporter error, parity FAILED) leaves no file."""
    G, meta = load_inference(args.run, network_name(args))
    generate(G, *example_inputs(meta, 2))  # NaN/inf weights: NonFiniteSamples, nothing written
    out = Path(args.out)
    fmt = format_for(out, args.format)
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")
    try:
        export_generator(G, meta, partial, fmt)
        if args.check_samples > 0:
            delta = check_parity(G, meta, partial, fmt, n=args.check_samples)
            verdict = "ok" if parity_ok(delta) else "FAILED"
            sizes = [s for s in parity_sizes(meta) if s]
            at = f" at {' and '.join(f'{s}x{s}' for s in sizes)} px" if sizes else ""
            print(
                f"ganforge: parity vs PyTorch on {args.check_samples} samples{at}: max |delta| = "
                f"{delta:.3g} (limit {PARITY_LIMIT:g}) {verdict}"
            )
            if not parity_ok(delta):
                raise ExportError(
                    f"{out} would differ from the PyTorch generator by {delta:.3g} > {PARITY_LIMIT:g}; "
                    "not written"
                )
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    print(f"ganforge: wrote {out} ({describe(meta)})")
    return 0
