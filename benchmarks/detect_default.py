"""Rebuild the detector shipped in the package (``ganforge detect score default ...``).

A PROVISIONAL default, until the generator-zoo benchmark picks the detector that generalises
best: the pixel and spectrum detectors trained small on Fashion-MNIST (real, training split)
against the samples of a short DCGAN run, calibrated on the Fashion-MNIST test split. It knows
one generator, barely trained: a score on images of any other generator says little (see
docs/detect.md, "Generalisation").

    python benchmarks/detect_default.py [--out src/ganforge/weights/detector]

Deterministic on a CPU (one thread, fixed seeds): the same files every time, about 20
CPU-seconds. The weights are stored as float16 (half the size); the calibration is computed
with those rounded weights, so it describes exactly what ``default`` loads.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ganforge.cli import main as ganforge
from ganforge.detect import DetectorSettings, save_detector, train_detector
from ganforge.detect.build import best_by_validation, load_training_sets, validate_and_calibrate
from ganforge.detect.shipped import DEFAULT_DIR

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "dcgan-fashion-mnist.yaml"
REAL = "fashion-mnist"
KINDS = ("pixel", "spectrum")
N = 2000  # real and generated training images (10 % of each held out for validation)
DETECTOR_STEPS = 200  # updates per detector
# The short DCGAN run whose samples are the "generated" side.
GAN_SETTINGS = {
    "run.threads": "1",
    "run.seed": "0",
    "run.progress": "false",
    "model.g_width": "16",
    "model.d_width": "16",
    "train.steps": "200",
    "train.batch_size": "32",
    "train.log_every": "100",
    "train.sample_every": "200",
    "train.checkpoint_every": "200",
    "eval.every": "0",
}


def train_gan(run_dir: Path) -> None:
    overrides = [arg for key, value in GAN_SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    try:
        ganforge(["train", "--config", str(CONFIG), "--set", f"run.dir={run_dir}", *overrides])
    except SystemExit as stop:
        if stop.code:
            raise


def round_to_half(model: torch.nn.Module) -> torch.nn.Module:
    """Round the weights to float16 values (kept as float32), as they will be stored."""
    return model.half().float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_DIR), help="detector folder to (over)write")
    args = parser.parse_args()
    torch.set_num_threads(1)  # bit-exact rebuilds
    started = time.process_time()
    with tempfile.TemporaryDirectory(prefix="ganforge-default-detector-") as scratch:
        run_dir = Path(scratch) / "dcgan-short"
        train_gan(run_dir)
        settings = DetectorSettings(steps=DETECTOR_STEPS, seed=0)
        sets, _notes = load_training_sets(REAL, [str(run_dir)], N, 0, settings.val_fraction)
    models = {
        kind: round_to_half(train_detector(kind, sets.real_train, sets.fake_train, settings))
        for kind in KINDS
    }
    validation, calibration = validate_and_calibrate(models, sets)
    info = {
        "image_size": sets.real_train.shape[2],
        "channels": sets.real_train.shape[1],
        "real": REAL,
        "fake": [f"a short DCGAN run on {REAL} ({', '.join(f'{k}={v}' for k, v in GAN_SETTINGS.items())})"],
        "n": N,
        "settings": asdict(settings),
        "validation": validation,
        "calibration": calibration,
        "primary": best_by_validation(validation),
        "provisional": "trained on one barely-trained DCGAN only; replaced by the generator-zoo detector",
        "stored_dtype": "float16",
        "rebuild": "python benchmarks/detect_default.py",
    }
    out = save_detector(args.out, {kind: model.half() for kind, model in models.items()}, info)
    size = sum(f.stat().st_size for f in out.iterdir())
    for kind in KINDS:
        figures, c = validation[kind], calibration[kind]
        print(
            f"{kind}: validation AUC {figures['auc']:.3f}, threshold {c['threshold']:.3f}, "
            f"false positives {100 * c['fpr']:.1f} % of {c['n_real']} ({c['real_source']})"
        )
    seconds = time.process_time() - started
    print(f"wrote {out}/ ({size / 1024:.0f} KB); primary {info['primary']}; {seconds:.0f} CPU-s")


if __name__ == "__main__":
    main()
