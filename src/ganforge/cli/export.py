"""``ganforge export``: write a run's generator as ONNX or TorchScript and check it against PyTorch."""

from __future__ import annotations

from pathlib import Path

from ganforge.checkpoint import load_generator
from ganforge.export import (
    FORMATS,
    PARITY_LIMIT,
    ExportError,
    check_parity,
    export_generator,
    format_for,
    parity_ok,
)
from ganforge.sampling import sample_generator


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
    p.add_argument("--check-samples", type=int, default=64, help="samples of the parity check (0 skips it)")
    return p


def run(args) -> int:
    """Export to a temporary file beside ``--out``, check it, then rename: a failed export
    (broken weights, exporter error, parity FAILED) leaves no file."""
    G, meta = load_generator(args.run, args.which)
    sample_generator(G, meta, 2, seed=0)  # NaN/inf weights: NonFiniteSamples, nothing written
    out = Path(args.out)
    fmt = format_for(out, args.format)
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")
    try:
        export_generator(G, meta, partial, fmt)
        if args.check_samples > 0:
            delta = check_parity(G, meta, partial, fmt, n=args.check_samples)
            verdict = "ok" if parity_ok(delta) else "FAILED"
            print(
                f"ganforge: parity vs PyTorch on {args.check_samples} samples: max |delta| = "
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
    inputs = "z [N, z_dim]" + (", labels [N]" if meta.get("num_classes") else "")
    print(f"ganforge: wrote {out} (inputs {inputs}; output samples, N dynamic)")
    return 0
