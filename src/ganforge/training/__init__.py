"""Training: the alternating D/G steps, the run state and the loop that schedules them.

The names below load on first use (PEP 562): games import ``training.distributed`` and
``training.speed``, and the loop imports the games, so loading the loop here eagerly would
make importing ``ganforge.games`` first a circular import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainState": "ganforge.training.state",
    "build_state": "ganforge.training.state",
    "TrainingDiverged": "ganforge.training.loop",
    "train": "ganforge.training.loop",
    "train_iteration": "ganforge.training.loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ganforge.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
