"""``ganforge detect train|score|eval``: tell generated images from real ones.

ganforge detect train --real fashion-mnist --fake runs/a runs/b --out det/
ganforge detect score det/ image.png | folder/ | samples.npy
ganforge detect eval det/ --fake runs/c [--real fashion-mnist:test]
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ganforge.detect import (
    DETECTORS,
    DetectError,
    DetectorSettings,
    fit_images,
    load_detector,
    load_set,
    plot_spectra,
    probabilities,
    read_for_scoring,
    save_detector,
    score_sets,
    split,
    train_detector,
)


def add_parser(subparsers):
    p = subparsers.add_parser("detect", help="train and apply real-vs-generated image detectors")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    t = actions.add_parser("train", help="train the pixel and spectrum detectors")
    t.add_argument(
        "--real", required=True, help="real images: a data set name[:split] (fashion-mnist), folder or .npy"
    )
    t.add_argument(
        "--fake",
        required=True,
        nargs="+",
        help="generated images: run folders (sampled), folders or .npy files",
    )
    t.add_argument("--out", required=True, help="detector folder to write")
    t.add_argument(
        "-n",
        type=int,
        default=6000,
        help="images per side: n real, n generated split evenly over the --fake sets",
    )
    t.add_argument("--steps", type=int, default=DetectorSettings.steps, help="updates per detector")
    t.add_argument(
        "--detectors", default=",".join(DETECTORS), help=f"comma-separated, of: {', '.join(DETECTORS)}"
    )
    t.add_argument("--seed", type=int, default=0)

    s = actions.add_parser("score", help="print the probability that each image is generated")
    s.add_argument("detector", help="detector folder (from detect train)")
    s.add_argument("images", nargs="+", help="image files, folders of images, or .npy arrays")

    e = actions.add_parser("eval", help="accuracy and ROC AUC on real vs generated images")
    e.add_argument("detector", help="detector folder (from detect train)")
    e.add_argument("--fake", required=True, nargs="+", help="generated images (as for train)")
    e.add_argument("--real", help="real images; default: the detector's real data set, test split")
    e.add_argument("-n", type=int, default=2000, help="images per side")
    e.add_argument("--seed", type=int, default=1, help="sampling seed (train uses 0)")
    e.add_argument("--json", help="also write the figures to this JSON file")
    return p


def run(args) -> int:
    return {"train": run_train, "score": run_score, "eval": run_eval}[args.action](args)


def _note(lines: list[str]) -> None:
    for line in dict.fromkeys(lines):  # once each, in order
        print(f"ganforge: note: {line}", file=sys.stderr)


def load_fakes(
    specs: list[str], n: int, seed: int, channels: int, size: int, notes: list[str]
) -> dict[str, np.ndarray]:
    """``n`` generated images split evenly over ``specs``, fitted to the detector's shape."""
    parts = {}
    for i, spec in enumerate(specs):
        count = n // len(specs) + (i < n % len(specs))
        parts[spec], changed = fit_images(load_set(spec, count, seed), channels, size, spec)
        notes += changed
    return parts


def run_train(args) -> int:
    kinds = [k.strip() for k in args.detectors.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in DETECTORS]
    if unknown or not kinds:
        raise DetectError(f"--detectors {args.detectors!r}: choose from {', '.join(DETECTORS)}")
    if args.n < 20:
        raise DetectError("-n must be at least 20 (images per side)")
    settings = DetectorSettings(steps=args.steps, seed=args.seed)
    real = load_set(args.real, args.n, args.seed)
    channels, size = real.shape[1], real.shape[2]
    real, notes = fit_images(real, channels, size, args.real)  # square, if not already
    fakes = load_fakes(args.fake, args.n, args.seed, channels, size, notes)
    _note(notes)
    real_train, real_val = split(real, settings.val_fraction, args.seed)
    fake_train, fake_val = split(np.concatenate(list(fakes.values())), settings.val_fraction, args.seed)
    models, validation = {}, {}
    for kind in kinds:
        models[kind] = train_detector(kind, real_train, fake_train, settings)
        validation[kind] = score_sets(models[kind], real_val, fake_val)
        print(
            f"ganforge: {kind} detector: validation accuracy "
            f"{validation[kind]['accuracy']:.3f}, ROC AUC {validation[kind]['auc']:.3f}"
        )
    info = {
        "image_size": size,
        "channels": channels,
        "real": args.real,
        "fake": args.fake,
        "n": args.n,
        "settings": asdict(settings),
        "validation": validation,
    }
    out = save_detector(args.out, models, info)
    plot_spectra(
        {"real": real, **{Path(spec).name: images for spec, images in fakes.items()}}, out / "spectra.png"
    )
    print(
        f"ganforge: wrote {out}/ ({', '.join(f'{k}.safetensors' for k in kinds)}, detector.json, spectra.png)"
    )
    return 0


def run_score(args) -> int:
    models, info = load_detector(args.detector)
    kinds = sorted(models)
    print("\t".join([f"p_generated_{k}" for k in kinds] + ["image"]))
    for source in args.images:
        images, names, notes = read_for_scoring(source, info["channels"], info["image_size"])
        _note(notes)
        columns = [probabilities(models[k], images) for k in kinds]
        for i, name in enumerate(names):
            print("\t".join([f"{c[i]:.4f}" for c in columns] + [name]))
    return 0


def default_real(info: dict) -> str:
    """The detector's real set, test split (images it never trained on)."""
    name = info["real"].partition(":")[0]
    if Path(info["real"]).exists():
        raise DetectError(
            f"the detector was trained on {info['real']}, which is not a data set "
            "with a test split: pass --real with held-out real images"
        )
    return f"{name}:test"


def run_eval(args) -> int:
    models, info = load_detector(args.detector)
    real_spec = args.real or default_real(info)
    real, notes = fit_images(
        load_set(real_spec, args.n, args.seed), info["channels"], info["image_size"], real_spec
    )
    fakes = load_fakes(args.fake, args.n, args.seed, info["channels"], info["image_size"], notes)
    fake = np.concatenate(list(fakes.values()))
    _note(notes)
    report = {
        "real": real_spec,
        "fake": args.fake,
        "detector": str(args.detector),
        "scores": {kind: score_sets(model, real, fake) for kind, model in models.items()},
    }
    print(
        f"{'detector':<10} {'accuracy':>9} {'ROC AUC':>8}   ({len(real)} real: {real_spec}; "
        f"{len(fake)} generated: {', '.join(args.fake)})"
    )
    for kind, figures in report["scores"].items():
        print(f"{kind:<10} {figures['accuracy']:>9.3f} {figures['auc']:>8.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0
