"""``ganforge train``: train a GAN from a preset and overrides, or resume a run."""

from __future__ import annotations

from ganforge.config import load_config, parse_override, update, validate

# Exit code of a run stopped early by Ctrl-C or SIGTERM after writing its checkpoint: sysexits'
# EX_TEMPFAIL ("try again later"), which is what it means: `train --resume` continues it. It
# differs from 0 (finished), 2 (an error) and 130 (a second Ctrl-C: stopped mid-iteration).
EXIT_STOPPED = 75


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
        cfg = _resume_config(args.resume, args.overrides)
        if args.config:
            print("ganforge: --config is ignored with --resume (the run keeps its own config)")
    else:
        cfg = load_config(args.config, args.overrides)
    state = train(cfg, resume=bool(args.resume))
    code = EXIT_STOPPED if state.step < state.cfg.train.steps else 0
    if not state.dist.is_main:  # under torchrun, rank 0 reports for everyone
        return code
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
    return code


def _resume_config(run_dir: str, overrides: list[str]):
    """The config the checkpoint holds (the whole resolved config; ``config.yaml`` is a copy
    for people), with the ``--set`` overrides; train() refuses those a resume may not change."""
    from ganforge.checkpoint import saved_config

    cfg = saved_config(run_dir)
    for text in [*overrides, f"run.dir={run_dir}"]:
        update(cfg, parse_override(text), origin=f"--set {text}")
    validate(cfg)
    return cfg
