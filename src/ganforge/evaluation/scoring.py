"""Scores from the metric registry: which metrics a run asked for, their values and their cards.

Every metric comes from ``ganforge.metrics.registry`` (filled by ``metrics/catalog.py``): its
definition, direction, needs and parameters are read from there, never repeated here.
"""

from __future__ import annotations

from typing import Any

from threadpoolctl import threadpool_limits

from ganforge import __version__
from ganforge.metrics.errors import MetricError
from ganforge.metrics.features import FeatureNetwork, Features
from ganforge.metrics.registry import (
    ALIASES,
    METRICS,
    NEEDS,
    MetricSpec,
    all_columns,
    column_spec,
    spec_of,
)

# What a kind of run or source offers: "images" (features, and classes when the feature
# network is a classifier), "points" (2-D mixtures with modes); "conditional" is added for a
# conditional generator.
OFFERS = {"images": {"features"}, "points": {"modes"}}


def choices(offered: set[str]) -> list[str]:
    """The names ``--metrics`` accepts where ``offered`` needs are met (``auto`` first)."""
    usable = [s for s in METRICS.values() if s.needs <= offered]
    names = ["auto"]
    for spec in usable:
        names += [spec.name] + [c.name for c in spec.columns if c.name != spec.name]
    names += [alias for alias, parts in ALIASES.items() if all(METRICS[p] in usable for p in parts)]
    return names


def _expand(part: str) -> list[str]:
    """A name given to --metrics -> base columns (a metric, one of its columns or an alias)."""
    if part in ALIASES:
        return [c.name for name in ALIASES[part] for c in METRICS[name].columns]
    if part in METRICS:
        return [c.name for c in METRICS[part].columns]
    if part in all_columns():
        return [part]
    return []


def parse_metrics(text: str, offered: set[str], where: str = "this source") -> list[str]:
    """``"fid,kid,prdc"`` -> base column names in registry order; ``auto`` picks every
    ``auto`` metric whose needs ``offered`` meets. Unknown names, and names whose needs are
    not met, are a ``MetricError`` listing the valid ones for ``where``."""
    valid = choices(offered)
    if text.strip() == "auto":
        return [c.name for s in METRICS.values() if s.auto and s.needs <= offered for c in s.columns]
    wanted: list[str] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        columns = _expand(part)
        if not columns:
            raise MetricError(
                f"unknown metric '{part}'; for {where} choose from: {', '.join(valid)} (comma-separated)"
            )
        missing = spec_of(columns[0]).needs - offered
        if missing:
            needed = "; ".join(NEEDS[m] for m in sorted(missing))
            raise MetricError(f"{part} needs {needed}; for {where} choose from: {', '.join(valid)}")
        wanted += [c for c in columns if c not in wanted]
    if not wanted:
        raise MetricError("no metrics asked for; e.g. --metrics fid,kid")
    return [c for c in all_columns() if c in wanted]


def image_offers(network: FeatureNetwork | None, conditional: bool = False) -> set[str]:
    """What image metrics can use with ``network`` (None: not known yet, assume classes)."""
    offered = {"features"}
    if network is None or network.has_classes:
        offered.add("classes")
    if conditional:
        offered.add("conditional")
    return offered


def specs_for(columns: list[str]) -> list[MetricSpec]:
    """The registered metrics that write ``columns``, in registry order, each once."""
    wanted = {spec_of(c).name for c in columns}
    return [s for s in METRICS.values() if s.name in wanted]


def compute_scores(
    real: Features, fake: Features, columns: list[str], suffix: str
) -> dict[str, dict[str, Any]]:
    """Base column names -> ``{"<column>_<suffix>": {"value": float, "parameters": {...}, ...}}``
    (no cards), in registry order. ``real`` and ``fake``: float64 features ``[N, D]`` (and
    class probabilities for is/classes)."""
    out: dict[str, dict[str, Any]] = {}
    # One BLAS thread: KID's many small products ran ~10x slower when OpenBLAS's spinning
    # threads competed with torch's on a 2-core machine; one thread is never much slower here.
    with threadpool_limits(limits=1, user_api="blas"):
        for spec in specs_for(columns):
            for name, score in spec.function(real, fake).items():
                score["parameters"] = {**spec.parameters, **score.get("parameters", {})}
                out[name] = score
    return {f"{c}_{suffix}": out[c] for c in columns if c in out}


def protocol_card(
    column: str,
    network: FeatureNetwork,
    real_label: str,
    fake_label: str,
    n_real: int,
    n_fake: int,
    seed: int,
    parameters: dict | None = None,
) -> dict:
    """What decides a score (``column`` as written, e.g. ``fid_fmnist``), stored beside it and
    printed with it."""
    return {
        "metric": column,
        "definition": definition(column, parameters),
        **network.card(),
        "real": real_label,
        "fake": fake_label,
        "n_real": n_real,
        "n_fake": n_fake,
        "seed": seed,
        "parameters": parameters if parameters is not None else {},
        "ganforge_version": __version__,
    }


def definition(column: str, parameters: dict | None = None) -> str:
    """The registered one-line definition of a metrics column, parameters filled in."""
    found = column_spec(column)
    if found is None:
        raise MetricError(f"'{column}' is not a registered metric column")
    spec, col = found
    return spec.definition(col.name, parameters)


def with_cards(
    scores: dict,
    network: FeatureNetwork,
    real_label: str,
    n_real: int,
    fake_label: str,
    n_fake: int,
    seed: int,
) -> dict:
    """Attach a protocol card to each score (its ``parameters`` move into the card)."""
    for name, score in scores.items():
        score["protocol"] = protocol_card(
            name, network, real_label, fake_label, n_real, n_fake, seed, score.pop("parameters", {})
        )
    return scores
