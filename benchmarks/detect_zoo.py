"""Issue 15: the generator zoo, leave-one-family-out detection, and the shipped default detector.

1. Trains (or takes from the cache) every zoo member (``detect/zoo.py``: 12 runs of 7 families)
   and samples ``--n`` images per family, split evenly over its members.
2. For every family and every detector kind: trains the detector on all *other* families
   (their samples vs as many real training images of their domains), picks its own threshold
   on its 10 % validation split, and tests it on the held-out family against real test images
   of that family's domain: ROC AUC, average precision, accuracy at its threshold; then the
   same after JPEG q90/q75, blur, a 0.5x resize and noise applied to both sets.
3. ``--ship``: trains ``SHIPPED_KINDS`` on *all* families and writes the package's default
   detector (``src/ganforge/weights/detector/``) with its calibration.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/detect_zoo.py            # the tables
    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/detect_zoo.py --ship     # the default

Writes ``benchmarks/RESULTS-detect-zoo.md`` and ``.json`` (``--out`` changes the stem).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ganforge.detect.augment import wild_perturbations
from ganforge.detect.calibration import false_positive_rate
from ganforge.detect.lofo import Pool, family_slices, fit_calibrated, held_out_scores, training_sets
from ganforge.detect.models import DETECTOR_KINDS
from ganforge.detect.training import DetectorSettings, probabilities, save_detector
from ganforge.detect.zoo import FAMILIES, ZOO, ZOO_VERSION, lofo_folds, member_samples, real_images

KINDS = ("pixel", "pixel-aug", "spectrum", "dct", "dct-aug", "probe", "probe-aug")
SHIPPED_KINDS = ("spectrum", "pixel-aug")  # spectrum: the best worst-family LOFO AUC; pixel-aug: heatmaps
SHIP_DIR = Path(__file__).resolve().parents[1] / "src" / "ganforge" / "weights" / "detector"
FEATURE_STEPS = 1500  # Adam steps of a head on fixed features (cheap)
PIXEL_STEPS = 400  # Adam steps of the pixel CNN, batch 64 (most of the detectors' CPU time)
PIXEL_BATCH = 64


def settings_for(kind: str, args) -> DetectorSettings:
    pixel = kind.startswith("pixel")
    if pixel:
        return DetectorSettings(steps=args.pixel_steps, batch_size=PIXEL_BATCH, seed=0)
    return DetectorSettings(steps=args.feature_steps, seed=0)


def build_pool(n: int) -> Pool:
    """The zoo's samples (``n`` per family) and the real images of every domain."""
    fakes: dict[str, list[np.ndarray]] = {}
    for member in ZOO:
        size = sum(m.family == member.family for m in ZOO)
        started = time.process_time()
        fakes.setdefault(member.family, []).append(member_samples(member, n // size, seed=0))
        print(f"zoo: {member.name:<18} {n // size} samples ({time.process_time() - started:.0f} CPU-s)")
    domains = {m.family: m.domain for m in ZOO}
    per_domain = {d: sum(v == d for v in domains.values()) for d in set(domains.values())}
    return Pool(
        fakes={f: np.concatenate(parts) for f, parts in fakes.items()},
        domains=domains,
        real_train={d: real_images(d, "train", n * k, seed=0) for d, k in per_domain.items()},
        real_test={d: real_images(d, "test", n, seed=1) for d in per_domain},
        slices=family_slices(ZOO, n),
    )


def run_fold(pool: Pool, family: str, train_families: list[str], kinds, args, wild) -> dict:
    real, fake = training_sets(pool, train_families)
    domain = pool.domains[family]
    test_real, test_fake = pool.real_test[domain], pool.fakes[family]
    perturbed = {name: (f(test_real), f(test_fake)) for name, f in wild.items()}
    rows = {}
    for kind in kinds:
        started = time.process_time()
        model, threshold, validation = fit_calibrated(kind, real, fake, settings_for(kind, args))
        row = held_out_scores(probabilities(model, test_real), probabilities(model, test_fake), threshold)
        row.update(threshold=threshold, validation=validation, real_source=f"{domain}:test")
        row["fake_source"] = ", ".join(m.name for m in ZOO if m.family == family)
        row["wild"] = {
            name: held_out_scores(probabilities(model, r), probabilities(model, g), threshold)
            for name, (r, g) in perturbed.items()
        }
        row["cpu_seconds"] = round(time.process_time() - started, 1)
        rows[kind] = row
        print(
            f"lofo: {family:<9} {kind:<10} AUC {row['auc']:.3f} AP {row['ap']:.3f} acc {row['accuracy']:.3f}"
            f" | jpeg75 {row['wild']['jpeg-q75']['auc']:.3f} ({row['cpu_seconds']} CPU-s)",
            flush=True,
        )
    return {"train_families": train_families, "n_train_real": len(real), "n_train_fake": len(fake), **rows}


def markdown(results: dict) -> str:
    folds = results["folds"]
    kinds = [k for k in KINDS if all(k in fold for fold in folds.values())]
    load = ", ".join(str(r["load"]) for r in results["runs"])
    cpu = sum(r["cpu_seconds"] for r in results["runs"])
    lines = [
        f"Zoo v{ZOO_VERSION}: {len(ZOO)} runs of {len(FAMILIES)} families, {results['n']} samples per family;"
        f" load average at the start of each run: {load}; {cpu} CPU-s for the detector runs"
        " (the zoo came from the cache).",
        "",
        "### Leave one family out: ROC AUC (accuracy at the detector's own threshold, average precision)",
        "",
        "| held-out family | test images (real + generated) | " + " | ".join(kinds) + " |",
        "|---|---|" + "---:|" * len(kinds),
    ]
    for family, fold in folds.items():
        first = fold[kinds[0]]
        sizes = f"{first['n_real']} {first['real_source']} + {first['n_fake']} {first['fake_source']}"
        cells = [f"{fold[k]['auc']:.3f} ({fold[k]['accuracy']:.2f}, {fold[k]['ap']:.3f})" for k in kinds]
        lines.append(f"| {family} | {sizes} | " + " | ".join(cells) + " |")
    worst = {k: min(fold[k]["auc"] for fold in folds.values()) for k in kinds}
    lines.append("| **worst family** | | " + " | ".join(f"**{worst[k]:.3f}**" for k in kinds) + " |")
    wild = list(next(iter(folds.values()))[kinds[0]]["wild"])
    lines += ["", "### Robustness: worst-family ROC AUC after each perturbation (both sets perturbed)", ""]
    lines += ["| detector | clean | " + " | ".join(wild) + " |", "|---|---:|" + "---:|" * len(wild)]
    for k in kinds:
        cells = [f"{min(fold[k]['wild'][w]['auc'] for fold in folds.values()):.3f}" for w in wild]
        lines.append(f"| {k} | {worst[k]:.3f} | " + " | ".join(cells) + " |")
    lines += ["", "### ROC AUC per held-out family after JPEG q75", ""]
    lines += ["| held-out family | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for family, fold in folds.items():
        cells = [f"{fold[k]['wild']['jpeg-q75']['auc']:.3f}" for k in kinds]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def ship(pool: Pool, args) -> None:
    """Train ``SHIPPED_KINDS`` on every family and write the package's default detector."""
    real, fake = training_sets(pool, list(FAMILIES))
    fpr_real = real_images("fashion-mnist", "test", 10_000, seed=0)  # every test image
    models, calibration, validation = {}, {}, {}
    for kind in SHIPPED_KINDS:
        model, threshold, validation[kind] = fit_calibrated(kind, real, fake, settings_for(kind, args))
        calibration[kind] = {
            "threshold": threshold,  # balanced accuracy on the validation split (calibration.py)
            "fpr": false_positive_rate(probabilities(model, fpr_real), threshold),
            "n_real": len(fpr_real),
            "real_source": "fashion-mnist:test",
        }
        models[kind] = model
        fpr = calibration[kind]["fpr"]
        print(f"ship: {kind}: threshold {threshold:.4f}, FPR on fashion-mnist:test {fpr:.4f}")
    info = {
        "image_size": 28,
        "channels": 1,
        "real": "fashion-mnist",
        "fake": [f"zoo:{m.name}" for m in ZOO],
        "zoo_version": ZOO_VERSION,
        "n": {"real": len(real), "generated": len(fake)},
        "settings": {k: asdict(settings_for(k, args)) for k in SHIPPED_KINDS},
        "validation": validation,
        "calibration": calibration,
        "primary": SHIPPED_KINDS[0],  # the combined verdict (report.primary_kind); the rest explain
        "rebuild": "PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/detect_zoo.py --ship",
    }
    save_detector(SHIP_DIR, models, info)
    print(f"ship: wrote {SHIP_DIR}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="samples per family (and real test images)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"of: {', '.join(DETECTOR_KINDS)}")
    parser.add_argument("--families", help="comma list: hold out only these (default: all)")
    parser.add_argument("--pixel-steps", type=int, default=PIXEL_STEPS)
    parser.add_argument("--feature-steps", type=int, default=FEATURE_STEPS)
    parser.add_argument("--ship", action="store_true", help="write the default detector, no tables")
    parser.add_argument("--zoo-only", action="store_true", help="train and sample the zoo, then stop")
    parser.add_argument("--out", default="benchmarks/RESULTS-detect-zoo")
    args = parser.parse_args()

    started, load = time.process_time(), round(os.getloadavg()[0], 1)
    pool = build_pool(args.n)
    print(f"zoo ready: {time.process_time() - started:.0f} CPU-s")
    if args.zoo_only:
        return
    if args.ship:
        ship(pool, args)
        print(f"{time.process_time() - started:.0f} CPU-s")
        return
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    chosen = args.families.split(",") if args.families else FAMILIES
    results = previous_results(Path(f"{args.out}.json"), args.n)
    wild = wild_perturbations()
    for family, train, _ in lofo_folds():
        if family in chosen:
            fold = run_fold(pool, family, sorted({m.family for m in train}), kinds, args, wild)
            results["folds"].setdefault(family, {}).update(fold)
            Path(f"{args.out}.json").write_text(json.dumps(results, indent=1))  # a fold at a time
    results["runs"].append(
        {"kinds": kinds, "load": load, "cpu_seconds": round(time.process_time() - started)}
    )
    Path(f"{args.out}.json").write_text(json.dumps(results, indent=1))
    Path(f"{args.out}.md").write_text(markdown(results))
    print(markdown(results))


def previous_results(path: Path, n: int) -> dict:
    """The JSON of earlier runs (other kinds) of the same zoo and ``n``, to add to; else empty."""
    if path.is_file():
        results = json.loads(path.read_text())
        if results.get("n") == n and results.get("zoo_version") == ZOO_VERSION:
            return results
    return {"n": n, "zoo_version": ZOO_VERSION, "folds": {}, "runs": []}


if __name__ == "__main__":
    main()
