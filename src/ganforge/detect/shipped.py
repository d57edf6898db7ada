"""The detector that ships inside the package, reached by the name ``default``.

``ganforge detect score default image.png`` reads ``ganforge/weights/detector/`` (detector.json
and one ``<kind>.safetensors`` per detector, the format ``save_detector`` writes), so a user
needs no training run to score an image. ``benchmarks/detect_zoo.py --ship`` rebuilds the folder
deterministically.
"""

from __future__ import annotations

from pathlib import Path

from ganforge.detect.inputs import DetectError

DEFAULT_NAME = "default"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "weights" / "detector"  # shipped with the package
REBUILD = "python benchmarks/detect_zoo.py --ship (in a ganforge source checkout)"


def resolve_detector(name: str) -> Path:
    """``default`` -> the shipped detector folder; anything else is a folder path, as given.

    A folder that happens to be called ``default`` is reached as ``./default``.
    """
    if name != DEFAULT_NAME:
        return Path(name).expanduser()
    if not (DEFAULT_DIR / "detector.json").is_file():
        raise DetectError(
            f"the default detector is not installed (no {DEFAULT_DIR}/detector.json); "
            f"rebuild it with {REBUILD}"
        )
    return DEFAULT_DIR
