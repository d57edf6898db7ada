"""Tell generated images from real ones: a pixel CNN and a frequency-spectrum classifier.

``ganforge detect train|score|eval`` (cli/detect.py) drives these functions:
``train_detector`` fits one detector on uint8 image arrays, ``probabilities`` scores images,
``score_sets`` gives accuracy and ROC AUC, ``save_detector``/``load_detector`` keep them in a
folder, and ``plot_spectra`` draws the average real and generated spectra.
"""

from ganforge.detect.features import log_spectrum
from ganforge.detect.inputs import DetectError, fit_images, load_set, read_for_scoring
from ganforge.detect.models import DETECTORS, PixelDetector, SpectrumDetector
from ganforge.detect.plots import plot_spectra
from ganforge.detect.training import (
    DetectorSettings,
    load_detector,
    probabilities,
    save_detector,
    score_sets,
    split,
    train_detector,
)

__all__ = [
    "DETECTORS",
    "DetectError",
    "DetectorSettings",
    "PixelDetector",
    "SpectrumDetector",
    "fit_images",
    "load_detector",
    "load_set",
    "log_spectrum",
    "plot_spectra",
    "probabilities",
    "read_for_scoring",
    "save_detector",
    "score_sets",
    "split",
    "train_detector",
]
