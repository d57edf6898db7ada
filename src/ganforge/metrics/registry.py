"""The one registry of metrics: what each is, which way is better, what it needs, its columns.

A metric is one decorated function (see ``catalog.py``)::

    @register_metric("fid", columns={"fid": ("Frechet distance ...; lower is better", LOWER)},
                     needs={"features"})
    def fid(real, fake): ...

Its *parameters* (the protocol values printed on its card, e.g. ``k=3``) are the keyword-only
arguments of that function with their defaults, read by ``inspect.signature``: written once,
where the computation uses them. Definitions may name them (``"k={k}"``). Every table, curve,
protocol card and ``ganforge info`` line is derived from ``METRICS``.

Columns: a metric writes one or more columns (``precision``, ``recall``). Metrics computed on a
feature network's features carry its name (``fid_fmnist``, ``intra_fid_inception``);
``column_spec`` maps such a column back to its metric by the registered names, never by
splitting at ``_``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ganforge.metrics.errors import MetricError

LOWER, HIGHER = -1, 1  # direction: the sign of "better"

# What a metric may need, in words for error messages.
NEEDS = {
    "features": "image features (a feature network)",
    "classes": "a classifier network (fmnist, mnist, cifar10; not inception)",
    "conditional": "a conditional generator (cgan, cdcgan)",
    "modes": "a 2-D mixture with known modes (ring8, grid25)",
    "pairs": "translations with their true translation (a cyclegan/pix2pix run on paired test data)",
}


@dataclass(frozen=True)
class Column:
    """One output of a metric: ``name`` (without the feature network suffix)."""

    name: str
    definition: str  # one line; may name the metric's parameters as {name}
    direction: int  # LOWER or HIGHER is better


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: ``function`` computes all of ``columns`` at once."""

    name: str
    function: Callable[..., dict[str, dict[str, Any]]]
    columns: tuple[Column, ...]
    needs: frozenset[str]
    auto: bool  # part of ``--metrics auto`` when its needs are met

    @property
    def parameters(self) -> dict[str, Any]:
        """The function's keyword-only defaults: the protocol values (``{"k": 3}``)."""
        signature = inspect.signature(self.function)
        return {
            name: p.default
            for name, p in signature.parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
        }

    @property
    def suffixed(self) -> bool:
        """True when its columns carry the feature network's name (``fid_fmnist``)."""
        return "features" in self.needs

    def definition(self, column: str, parameters: Mapping[str, Any] | None = None) -> str:
        """The column's one-line definition with the parameter values filled in."""
        text = next(c.definition for c in self.columns if c.name == column)
        return text.format(**{**self.parameters, **(parameters or {})})


METRICS: dict[str, MetricSpec] = {}
# Group names accepted by --metrics besides metric and column names.
ALIASES: dict[str, tuple[str, ...]] = {}


def register_metric(
    name: str,
    columns: Mapping[str, tuple[str, int]],
    needs: Iterable[str] = ("features",),
    auto: bool = True,
) -> Callable[[Callable], Callable]:
    """Decorator: register ``function`` as metric ``name`` writing ``columns``
    (``{column: (definition, LOWER | HIGHER)}``). The function is returned unchanged."""
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"metric {name}: unknown needs {sorted(unknown)}; choose from {sorted(NEEDS)}")

    def decorate(function: Callable) -> Callable:
        taken = {c.name for spec in METRICS.values() for c in spec.columns} | set(METRICS)
        clash = ({name} | set(columns)) & taken
        if clash:
            raise ValueError(f"metric {name}: the name or a column is already registered: {sorted(clash)}")
        METRICS[name] = MetricSpec(
            name=name,
            function=function,
            columns=tuple(Column(c, text, direction) for c, (text, direction) in columns.items()),
            needs=frozenset(needs),
            auto=auto,
        )
        return function

    return decorate


def unregister_metric(name: str) -> None:
    """Remove a metric (tests register toy metrics and clean up after)."""
    METRICS.pop(name, None)


def all_columns() -> list[str]:
    """Every registered column name (without suffix), in registry order."""
    return [c.name for spec in METRICS.values() for c in spec.columns]


def spec_of(column: str) -> MetricSpec:
    """The metric that writes base column ``column`` (``precision`` -> the ``pr`` spec)."""
    for spec in METRICS.values():
        if any(c.name == column for c in spec.columns):
            return spec
    raise MetricError(f"no metric writes a column '{column}'; registered: {', '.join(all_columns())}")


def column_spec(column: str) -> tuple[MetricSpec, Column] | None:
    """A metrics.csv column (``fid_fmnist``, ``intra_fid_fmnist``, ``modes_covered``) -> its
    metric and column, or None when no metric writes it. A suffixed column is matched to the
    longest registered column name it extends, so ``intra_fid_x`` is intra-class FID, not FID."""
    best: tuple[MetricSpec, Column] | None = None
    for spec in METRICS.values():
        for col in spec.columns:
            exact = column == col.name
            extends = spec.suffixed and column.startswith(col.name + "_")
            if (exact or extends) and (best is None or len(col.name) > len(best[1].name)):
                best = (spec, col)
    return best


def direction(column: str) -> int:
    """+1 when a larger value of this column is better, -1 when smaller is; unknown columns
    are an error naming the registered ones."""
    found = column_spec(column)
    if found is None:
        raise MetricError(f"'{column}' is not a metric column; registered: {', '.join(all_columns())}")
    return found[1].direction
