"""Tell generated images from real ones: a pixel CNN and classifiers on fixed features
(Fourier spectrum, DCT, the frozen evaluator's features); ``zoo.py`` trains every ganforge
generator family to test them on families they never saw.

``ganforge detect train|score|eval`` (cli/detect.py) drives these functions:
``train_detector`` fits one detector on uint8 image arrays, ``probabilities`` scores images,
``score_sets`` gives accuracy and ROC AUC, ``save_detector``/``load_detector`` keep them in a
folder, and ``plot_spectra`` draws the average real and generated spectra.
"""

from ganforge.detect.features import log_dct, log_spectrum
from ganforge.detect.inputs import DetectError, fit_images, load_set, read_for_scoring
from ganforge.detect.models import (
    DETECTOR_KINDS,
    DETECTORS,
    DCTDetector,
    PixelDetector,
    ProbeDetector,
    SpectrumDetector,
    build_detector,
)
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
    "DCTDetector",
    "DETECTORS",
    "DETECTOR_KINDS",
    "ProbeDetector",
    "build_detector",
    "log_dct",
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
