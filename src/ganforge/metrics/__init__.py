"""Sample-quality metrics as pure functions of arrays (features, class probabilities, points).

They never see a trainer or a model: the feature networks and ``ganforge.evaluation`` produce
float64 arrays ``[N, D]`` and pass them here; results come back as Python floats or small dicts.
Every metric is registered once in ``catalog.py`` (``registry.register_metric``): its
definition, direction, needs, columns and protocol parameters.
"""

from ganforge.metrics import catalog  # noqa: F401  (fills the registry)
from ganforge.metrics.errors import MetricError, MetricWarning
from ganforge.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from ganforge.metrics.kid import kid
from ganforge.metrics.prdc import density_coverage, prdc, precision_recall
from ganforge.metrics.scores import class_coverage, inception_score
from ganforge.metrics.toy2d import mode_coverage

__all__ = [
    "MetricError",
    "MetricWarning",
    "class_coverage",
    "density_coverage",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
    "kid",
    "mode_coverage",
    "prdc",
    "precision_recall",
]
