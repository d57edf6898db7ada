"""``ganforge eval``: score a run's generator, or any two image sets, with protocol cards.

The command line only; the work is ``ganforge.evaluation`` (sources, cached real features,
scores from the metric registry, context baselines, the printed report)."""

from __future__ import annotations

import sys
from pathlib import Path

from ganforge.errors import GanforgeError


def add_parser(subparsers):
    p = subparsers.add_parser(
        "eval",
        help="FID, KID, precision/recall, density/coverage, IS, class coverage",
        description="Score a run's generator against its training data (--run), or two image "
        "sets (--real and --fake: a data set name[:split], a .npy of uint8 images, an image "
        "folder or a run folder). Prints a table with the context numbers and the protocol, "
        "and writes it all as JSON.",
    )
    p.add_argument(
        "--run",
        help="run folder (holds generator.safetensors; a cyclegan/pix2pix run is scored on its test "
        "pairs: MAE, PSNR, edge IoU, class accuracy, FID, beside the identity)",
    )
    p.add_argument("--real", help="real images, e.g. fashion-mnist:test, real.npy, a folder")
    p.add_argument("--fake", help="generated images: samples.npy, a folder or a run folder")
    p.add_argument(
        "--metrics",
        default="auto",
        help="comma list of fid, kid, prdc (or pr, dc), is, classes, conditional "
        "(class accuracy and intra-class FID of a conditional --run); auto: all "
        "that the feature network and generator support",
    )
    p.add_argument(
        "--n",
        type=int,
        help="generated samples (and as many real ones); default "
        "10000 from a generator (2500 points for 2-D runs), all of a file or folder",
    )
    p.add_argument(
        "--which",
        default="last",
        choices=["last", "best"],
        help="which exported generator of a run (best needs eval.every in training)",
    )
    p.add_argument(
        "--real-split",
        default="train",
        choices=["train", "test"],
        help="--run: the split of the run's data set to compare with",
    )
    p.add_argument(
        "--feature-net",
        default="auto",
        help="auto (the data set's evaluator CNN, else inception), fmnist, mnist, "
        "cifar10, inception, or an evaluator .safetensors path",
    )
    p.add_argument(
        "--inception-weights",
        metavar="FILE",
        help="pt_inception-2015-12-05-6726825d.pth (default: "
        "$GANFORGE_INCEPTION_WEIGHTS, then the cache folder)",
    )
    p.add_argument("--seed", type=int, default=0, help="noise, subsets and baselines")
    p.add_argument(
        "--out", help="JSON report (default: RUN/metrics.json, or RUN/metrics-best.json for --which best)"
    )
    p.add_argument(
        "--no-context", action="store_true", help="skip the real-vs-real and trivial-generator baselines"
    )
    p.add_argument("--no-cache", action="store_true", help="recompute real statistics")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.add_argument(
        "--direction",
        default="both",
        choices=["AtoB", "BtoA", "both"],
        help="a translation run (cyclegan, pix2pix): which direction to score (default: every exported one)",
    )
    return p


def run(args) -> int:
    from ganforge.evaluation.compare import EvalSettings, evaluate
    from ganforge.evaluation.report import format_report, write_report
    from ganforge.evaluation.runs import evaluate_run
    from ganforge.evaluation.sources import parse_source
    from ganforge.evaluation.translation import is_translation_run

    if args.n is not None and args.n < 2:
        raise GanforgeError("--n must be at least 2")
    from ganforge.training.threads import apply_one_shot

    apply_one_shot(args.device)  # CPU: the cores other work leaves free (docs/threads.md)
    settings = EvalSettings(
        metrics=args.metrics,
        n=args.n,
        seed=args.seed,
        feature_net=args.feature_net,
        inception_weights=args.inception_weights,
        device=args.device,
        context=not args.no_context,
        cache=not args.no_cache,
    )

    def log(text: str) -> None:
        print(f"ganforge: {text}", file=sys.stderr)

    if args.run and not (args.real or args.fake) and is_translation_run(args.run):
        return _translation(args, log)
    if args.run and not (args.real or args.fake):  # StarGAN runs: their own scores
        from ganforge.evaluation.stargan import is_stargan_run

        if is_stargan_run(args.run, args.which):
            return run_stargan(args, log)
    if args.run:
        if args.real or args.fake:
            raise GanforgeError("give either --run, or --real and --fake")
        report = evaluate_run(args.run, settings, which=args.which, real_split=args.real_split, log=log)
        suffix = "" if args.which == "last" else f"-{args.which}"
        out = Path(args.out) if args.out else Path(args.run) / f"metrics{suffix}.json"
    elif args.real and args.fake:
        real = parse_source(args.real)
        if real.kind == "run":
            raise GanforgeError("--real must be real images (a data set, .npy or folder)")
        report = evaluate(real, parse_source(args.fake, args.which), settings, log=log)
        out = Path(args.out) if args.out else None
    else:
        raise GanforgeError("give --run RUN_DIR, or --real SOURCE and --fake SOURCE")
    print(format_report(report))
    if out is not None:
        write_report(report, out)
        print(f"ganforge: wrote {out}")
    return 0


def _translation(args, log) -> int:
    """A cyclegan/pix2pix run: its test pairs, each score beside the identity lower bound."""
    from ganforge.evaluation.report import write_report
    from ganforge.evaluation.translation import evaluate_translation_run, format_translation

    report = evaluate_translation_run(
        args.run,
        which=args.which,
        directions=args.direction,
        n=args.n,
        feature_net=args.feature_net,
        device=args.device,
        log=log,
    )
    print(format_translation(report))
    suffix = "" if args.which == "last" else f"-{args.which}"
    out = write_report(report, Path(args.out) if args.out else Path(args.run) / f"metrics{suffix}.json")
    print(f"ganforge: wrote {out}")
    return 0


def run_stargan(args, log) -> int:
    """``eval --run`` on a StarGAN run: domain accuracy, content, truth, per-domain FID."""
    from ganforge.evaluation.report import write_report
    from ganforge.evaluation.stargan import evaluate_stargan_run, format_stargan_report

    if args.metrics != "auto":
        raise GanforgeError("a StarGAN run is scored with one fixed set of metrics; drop --metrics")
    report = evaluate_stargan_run(
        args.run, args.n, args.seed, args.device, args.which, cache=not args.no_cache, log=log
    )
    suffix = "" if args.which == "last" else f"-{args.which}"
    out = Path(args.out) if args.out else Path(args.run) / f"metrics{suffix}.json"
    print(format_stargan_report(report))
    write_report(report, out)
    print(f"ganforge: wrote {out}")
    return 0
