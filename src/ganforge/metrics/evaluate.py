"""Moved: the evaluation orchestration now lives in ``ganforge.evaluation``.

Only ``TrainingEvaluator`` is re-exported here, for ``training/loop.py`` until its import line
reads ``from ganforge.evaluation.during_training import TrainingEvaluator``; delete this file
then (it is the only place ``metrics`` reaches into ``evaluation``).
"""

from ganforge.evaluation.during_training import TrainingEvaluator

__all__ = ["TrainingEvaluator"]
