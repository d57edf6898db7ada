"""From image sets to a calibrated detector folder: the steps behind ``ganforge detect train``.

Three disjoint sets of real images: the training part, the validation part (its figures, and
the threshold each detector chooses there) and the *test* part, real images that played no
role at all, on which the chosen threshold's false-positive rate is measured. For a named data
set (``fashion-mnist``) the test part is its test split; for a folder or ``.npy`` it is a share
of the images held out before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ganforge.data import DATASETS
from ganforge.detect.calibration import calibrate
from ganforge.detect.inputs import fit_images, load_set
from ganforge.detect.training import probabilities, score_sets, split

MAX_TEST_REAL = 2000  # real test images drawn from a data set's test split for the calibration


@dataclass
class TrainingSets:
    """uint8 ``[N, C, S, S]`` image sets of one size and channel count."""

    real_train: np.ndarray
    real_val: np.ndarray
    real_test: np.ndarray  # never trained on, never used to choose the threshold
    real_source: str  # where real_test comes from, as printed beside the false-positive rate
    fake_train: np.ndarray
    fake_val: np.ndarray
    fakes: dict[str, np.ndarray]  # every --fake set, whole (for the spectra figure)


def held_out_real(spec: str) -> str | None:
    """``fashion-mnist`` or ``fashion-mnist:train`` -> ``fashion-mnist:test``; None for folders,
    ``.npy`` files and a test split (nothing is held out from it)."""
    if Path(spec).expanduser().exists():
        return None
    name, _, part = spec.partition(":")
    return f"{name}:test" if name in DATASETS and part in ("", "train") else None


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


def load_training_sets(
    real_spec: str, fake_specs: list[str], n: int, seed: int, val_fraction: float
) -> tuple[TrainingSets, list[str]]:
    """``n`` real and ``n`` generated images, split as the module docstring says, and the notes
    on what was converted. The real images set the size and channel count."""
    real = load_set(real_spec, n, seed)
    channels, size = real.shape[1], real.shape[2]
    real, notes = fit_images(real, channels, size, real_spec)  # square, if not already
    test_spec = held_out_real(real_spec)
    if test_spec:
        real_test, changed = fit_images(
            load_set(test_spec, min(n, MAX_TEST_REAL), seed), channels, size, test_spec
        )
        notes += changed
        source = test_spec
    else:
        real, real_test = split(real, val_fraction, seed + 1)
        source = f"{real_spec}, held out from training"
    real_train, real_val = split(real, val_fraction, seed)
    fakes = load_fakes(fake_specs, n, seed, channels, size, notes)
    fake_train, fake_val = split(np.concatenate(list(fakes.values())), val_fraction, seed)
    return TrainingSets(real_train, real_val, real_test, source, fake_train, fake_val, fakes), notes


def validate_and_calibrate(
    models: dict[str, nn.Module], sets: TrainingSets
) -> tuple[dict[str, dict], dict[str, dict[str, Any]]]:
    """Per detector: validation figures (accuracy at 0.5, ROC AUC) and calibration (the
    threshold that balances errors on the validation part, its false-positive rate on the
    real test part; see ``calibration.calibrate``)."""
    validation, calibration = {}, {}
    for kind, model in models.items():
        validation[kind] = score_sets(model, sets.real_val, sets.fake_val)
        calibration[kind] = calibrate(
            probabilities(model, sets.real_val),
            probabilities(model, sets.fake_val),
            probabilities(model, sets.real_test),
            sets.real_source,
        )
    return validation, calibration


def best_by_validation(validation: dict[str, dict]) -> str:
    """The detector with the highest validation ROC AUC (ties: the first): the folder's primary."""
    return max(validation, key=lambda kind: validation[kind]["auc"])
