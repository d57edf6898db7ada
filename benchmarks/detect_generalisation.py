"""Does a fake-image detector generalise to generators it never saw?

Trains the pixel and the spectrum detector on Fashion-MNIST (real, training split) against
samples of the *seen* runs, then scores each *held-out* run against real test images and prints
a markdown table: rows = held-out generator, columns = ROC AUC (and accuracy) per detector.
It also draws the average spectra of real images and of every run (``--spectra``).

The runs are ordinary ganforge run folders; docs/detect.md's table came from (CPU, 28 px):

    G=configs/dcgan-fashion-mnist.yaml
    ganforge train --config $G --set run.dir=R/dcgan-s0 --set train.steps=1500
    ganforge train --config $G --set run.dir=R/dcgan-lsgan --set train.steps=1500 \
        --set train.loss=lsgan
    ganforge train --config $G --set run.dir=R/dcgan-s1 --set train.steps=1500 --set run.seed=1
    ganforge train --config $G --set run.dir=R/dcgan-hinge --set train.steps=1500 \
        --set train.loss=hinge
    ganforge train --config configs/gan-mlp-digits.yaml --set data.name=fashion-mnist \
        --set run.dir=R/mlp --set train.steps=3000 --set train.lr_g=0.0002 --set train.lr_d=0.0002
    ganforge train --config configs/cdcgan-fashion-mnist.yaml --set run.dir=R/cdcgan-preset
    ganforge train --config configs/cdcgan-fashion-mnist.yaml --set run.dir=R/cdcgan-preset-acgan \
        --set model.conditioning=acgan
    python benchmarks/detect_generalisation.py --seen R/dcgan-s0 R/dcgan-lsgan \
        --held-out R/dcgan-s1 R/dcgan-hinge R/mlp R/cdcgan-preset R/cdcgan-preset-acgan \
        --spectra docs/spectra.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ganforge.detect import (
    DETECTORS,
    DetectorSettings,
    fit_images,
    load_set,
    plot_spectra,
    score_sets,
    train_detector,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", default="fashion-mnist")
    parser.add_argument("--seen", nargs="+", required=True, help="runs the detectors train on")
    parser.add_argument("--held-out", nargs="+", required=True, help="runs they never see")
    parser.add_argument("-n", type=int, default=6000, help="training images per side")
    parser.add_argument("--n-eval", type=int, default=2000, help="test images per side")
    parser.add_argument("--steps", type=int, default=DetectorSettings.steps)
    parser.add_argument("--spectra", help="also save the average spectra figure here")
    parser.add_argument("--json", help="write the table as JSON here")
    args = parser.parse_args()

    started = time.perf_counter()
    real = load_set(args.real, args.n, seed=0)
    channels, size = real.shape[1], real.shape[2]

    def fakes(run: str, n: int, seed: int) -> np.ndarray:
        return fit_images(load_set(run, n, seed), channels, size, run)[0]

    seen = np.concatenate([fakes(run, args.n // len(args.seen), 0) for run in args.seen])
    settings = DetectorSettings(steps=args.steps)
    models = {kind: train_detector(kind, real, seen, settings) for kind in DETECTORS}

    real_test = load_set(f"{args.real}:test", args.n_eval, seed=1)
    rows = {
        "seen runs, new samples": np.concatenate(
            [fakes(run, args.n_eval // len(args.seen), 1) for run in args.seen]
        )
    }
    rows.update({Path(run).name: fakes(run, args.n_eval, 1) for run in args.held_out})
    table = {
        name: {kind: score_sets(model, real_test, images) for kind, model in models.items()}
        for name, images in rows.items()
    }

    print(
        f"trained on {args.real} vs {', '.join(Path(r).name for r in args.seen)} "
        f"({len(real)} + {len(seen)} images, {args.steps} steps); tested on "
        f"{args.real}:test ({len(real_test)}) vs {args.n_eval} samples per row\n"
    )
    print("| held-out generator | " + " | ".join(f"{k} AUC (acc.)" for k in DETECTORS) + " |")
    print("|---|" + "---:|" * len(DETECTORS))
    for name, scores in table.items():
        cells = [f"{scores[k]['auc']:.3f} ({scores[k]['accuracy']:.2f})" for k in DETECTORS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2))
    if args.spectra:
        sets = {
            "real (test)": real_test,
            **{Path(r).name: fakes(r, args.n_eval, 2) for r in [*args.seen, *args.held_out]},
        }
        plot_spectra(sets, args.spectra)
        print(f"wrote {args.spectra}")


if __name__ == "__main__":
    main()
