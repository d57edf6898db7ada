"""``ganforge detect train|score|eval``: tell generated images from real ones.

ganforge detect train --real fashion-mnist --fake runs/a runs/b --out det/
ganforge detect score default image.png folder/ samples.npy [--csv scores.csv] [--heatmap h.png]
ganforge detect eval default --fake runs/c [--real fashion-mnist:test]

``default`` is the detector shipped in the package (detect/shipped.py); any other name is a
detector folder written by ``detect train``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ganforge.detect import (
    DETECTOR_KINDS,
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
    train_detector,
)
from ganforge.detect.build import (
    best_by_validation,
    held_out_real,
    load_fakes,
    load_training_sets,
    validate_and_calibrate,
)
from ganforge.detect.heatmap import MAX_IMAGES, evidence_map, mapped_kind, plot_heatmaps
from ganforge.detect.report import (
    calibration_line,
    columns,
    eval_figures,
    primary_kind,
    score_rows,
    threshold,
    write_csv,
)
from ganforge.detect.shipped import resolve_detector

DETECTOR_HELP = "'default' (the detector shipped with ganforge) or a detector folder from `detect train`"


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
        "--detectors",
        default=",".join(DETECTORS),
        help=f"comma-separated, of: {', '.join(DETECTOR_KINDS)}",
    )
    t.add_argument("--seed", type=int, default=0)

    s = actions.add_parser(
        "score", help="p(generated) per image and detector, and the verdict at each detector's threshold"
    )
    s.add_argument("detector", help=DETECTOR_HELP)
    s.add_argument("images", nargs="+", help="image files, folders of images, or .npy arrays")
    s.add_argument(
        "--csv",
        help="also write the table as CSV here (default when an input is a folder: scores.csv in the "
        "current directory)",
    )
    s.add_argument(
        "--heatmap",
        help=f"save a PNG of where the pixel detector's evidence lies, for the first {MAX_IMAGES} images",
    )

    e = actions.add_parser("eval", help="accuracy at the own threshold, ROC AUC and average precision")
    e.add_argument("detector", help=DETECTOR_HELP)
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


def run_train(args) -> int:
    kinds = [k.strip() for k in args.detectors.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in DETECTOR_KINDS]
    if unknown or not kinds:
        raise DetectError(f"--detectors {args.detectors!r}: choose from {', '.join(DETECTOR_KINDS)}")
    if args.n < 20:
        raise DetectError("-n must be at least 20 (images per side)")
    settings = DetectorSettings(steps=args.steps, seed=args.seed)
    sets, notes = load_training_sets(args.real, args.fake, args.n, args.seed, settings.val_fraction)
    _note(notes)
    models = {kind: train_detector(kind, sets.real_train, sets.fake_train, settings) for kind in kinds}
    validation, calibration = validate_and_calibrate(models, sets)
    info = {
        "image_size": sets.real_train.shape[2],
        "channels": sets.real_train.shape[1],
        "real": args.real,
        "fake": args.fake,
        "n": args.n,
        "settings": asdict(settings),
        "validation": validation,
        "calibration": calibration,
        "primary": best_by_validation(validation),
    }
    for kind in kinds:
        figures = validation[kind]
        print(
            f"ganforge: {kind} detector: validation accuracy {figures['accuracy']:.3f}, "
            f"ROC AUC {figures['auc']:.3f}; {calibration_line(info, kind)}"
        )
    out = save_detector(args.out, models, info)
    real = np.concatenate([sets.real_train, sets.real_val])
    plot_spectra(
        {"real": real, **{Path(s).name: images for s, images in sets.fakes.items()}}, out / "spectra.png"
    )
    print(
        f"ganforge: wrote {out}/ ({', '.join(f'{k}.safetensors' for k in kinds)}, detector.json, "
        f"spectra.png); primary detector (the combined verdict): {info['primary']}"
    )
    return 0


def run_score(args) -> int:
    models, info = load_detector(resolve_detector(args.detector))
    kinds = [k for k in info["detectors"] if k in models]
    mapped = mapped_kind(models, [primary_kind(info), *kinds]) if args.heatmap else None
    if args.heatmap and mapped is None:
        raise DetectError(
            f"--heatmap shows a pixel detector's evidence, and {args.detector} has no pixel "
            f"detector (only: {', '.join(kinds)}); score without --heatmap"
        )
    for kind in kinds:
        print(f"# {calibration_line(info, kind)}")
    print(f"# verdict: the {primary_kind(info)} detector's (the primary one)")
    header = columns(kinds)
    print("\t".join(header))
    rows, shown, shown_names = [], [], []
    for source in args.images:
        images, names, notes = read_for_scoring(source, info["channels"], info["image_size"])
        _note(notes)
        new_rows = score_rows(names, source, {k: probabilities(models[k], images) for k in kinds}, info)
        for row in new_rows:
            print("\t".join(row))
        rows += new_rows
        room = MAX_IMAGES - len(shown_names)
        shown += list(images[:room])
        shown_names += names[:room]
    csv_path = args.csv or ("scores.csv" if any(Path(s).expanduser().is_dir() for s in args.images) else None)
    if csv_path:
        write_csv(csv_path, header, rows)
        print(f"ganforge: wrote {Path(csv_path).resolve()} ({len(rows)} images)", file=sys.stderr)
    if args.heatmap:
        model, cutoff, images = models[mapped], threshold(info, mapped), np.stack(shown)
        maps, scores = evidence_map(model, images), probabilities(model, images)
        plot_heatmaps(images, maps, scores, shown_names, cutoff, args.heatmap, mapped)
        more = f" (the first {len(shown)} of {len(rows)})" if len(rows) > len(shown) else ""
        print(f"ganforge: wrote {args.heatmap}{more}", file=sys.stderr)
    return 0


def default_real(info: dict) -> str:
    """The detector's real set, test split (images it never trained on)."""
    spec = held_out_real(info["real"])
    if spec is None:
        raise DetectError(
            f"the detector was trained on {info['real']}, which is not a data set "
            "with a test split: pass --real with held-out real images"
        )
    return spec


def run_eval(args) -> int:
    models, info = load_detector(resolve_detector(args.detector))
    real_spec = args.real or default_real(info)
    real, notes = fit_images(
        load_set(real_spec, args.n, args.seed), info["channels"], info["image_size"], real_spec
    )
    fakes = load_fakes(args.fake, args.n, args.seed, info["channels"], info["image_size"], notes)
    fake = np.concatenate(list(fakes.values()))
    _note(notes)
    scores = {
        kind: eval_figures(probabilities(model, real), probabilities(model, fake), threshold(info, kind))
        for kind, model in models.items()
    }
    report = {"real": real_spec, "fake": args.fake, "detector": str(args.detector), "scores": scores}
    print(
        f"{'detector':<10} {'threshold':>9} {'accuracy':>9} {'FPR':>6} {'TPR':>6} {'ROC AUC':>8} "
        f"{'avg prec':>8}   ({len(real)} real: {real_spec}; {len(fake)} generated: {', '.join(args.fake)})"
    )
    for kind, f in scores.items():
        print(
            f"{kind:<10} {f['threshold']:>9.3f} {f['accuracy']:>9.3f} {f['fpr']:>6.3f} {f['tpr']:>6.3f} "
            f"{f['auc']:>8.3f} {f['average_precision']:>8.3f}"
        )
    uncalibrated = [kind for kind in models if not info.get("calibration", {}).get(kind)]
    if uncalibrated:
        _note([f"{', '.join(uncalibrated)}: not calibrated (an older folder); accuracy at threshold 0.5"])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0
