"""``ganforge train``: train a GAN from a preset and overrides, or resume a run."""

from __future__ import annotations

from pathlib import Path

from ganforge.config import load_config


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a GAN or another game (or --resume one)",
        description="Train a GAN. Settings come from the defaults, then "
        "--config, then each --set section.key=value.",
    )
    p.add_argument("--config", help="YAML preset, e.g. configs/dcgan-fashion-mnist.yaml")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting (repeatable)",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    return p


def run(args) -> int:
    from ganforge.training import train

    if args.resume:
        saved = Path(args.resume) / "config.yaml"
        cfg = load_config(saved if saved.exists() else None, [*args.overrides, f"run.dir={args.resume}"])
        if args.config:
            print("ganforge: --config is ignored with --resume (the run keeps its own config)")
    else:
        cfg = load_config(args.config, args.overrides)
    state = train(cfg, resume=bool(args.resume))
    if not state.dist.is_main:  # under torchrun, rank 0 reports for everyone
        return 0
    rate = state.step / max(state.elapsed_seconds, 1e-9)
    exports = ", ".join(
        "generator.safetensors" if k == "generator" else f"generator-{k}.safetensors"
        for k in state.game.inference()
    )
    print(
        f"ganforge: {state.step} steps in {state.elapsed_seconds:.0f} s ({rate:.1f} steps/s). "
        f"Outputs in {state.run_dir}/: samples/, curves.png, metrics.csv, checkpoints/, "
        f"{exports}"
    )
    return 0
