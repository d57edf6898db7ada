"""Where a StarGAN run's points go: ``ganforge eval``'s scores split by target and by change.

``ganforge eval --run`` scores thousands of translations at once; its means hide which targets
or which kind of change fail. This module splits the per-translation values into groups:

- ``per_target``: one group per target label combination (``"red+striped"``);
- ``per_change`` (multi-label domains): what a translation changes between its source's
  labels and its target's: an exclusive group (a tint, a hair colour) ``red|green|blue changed``,
  another attribute ``NAME on`` or ``NAME off``. These overlap (a translation that turns
  ``striped`` on and changes the tint is in both); ``only ...`` holds the translations whose
  one change is that one (``only red|green|blue changed``: the tint alone).

Each group gets its size ``n`` and the mean of every per-translation value; where both the
error against the rendered truth and identity's are given, also their ratio over the group
(``truth_mae_ratio``: the group's mean error over identity's mean error, as the overall score).
"""

from __future__ import annotations

import torch

from ganforge.data.domains import Domains

# The per-translation values printed in the breakdown's tables, where present.
BREAKDOWN_COLUMNS = (
    "domain_accuracy",
    "attribute_accuracy",
    "all_attributes_accuracy",
    "garment_accuracy",
    "truth_mae",
    "truth_mae_ratio",
    "reconstruction_mae",
)


def label_name(domains: Domains, vector: torch.Tensor) -> str:
    """``"red+striped"``: the domains a label vector ``[K]`` turns on (``"none"`` if none)."""
    on = [name for name, v in zip(domains.names, vector.tolist()) if v > 0.5]
    return "+".join(on) or "none"


def target_groups(domains: Domains, combos: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{target name: bool mask [M]}`` over translations with targets ``[M, K]``, one per
    label combination of ``combos [T, K]`` that has translations."""
    groups = {label_name(domains, combo): (targets == combo).all(1) for combo in combos}
    return {name: mask for name, mask in groups.items() if mask.any()}


def change_groups(domains: Domains, sources: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{change: bool mask [M]}`` for translations from labels ``sources [M, K]`` to
    ``targets [M, K]`` (module docstring); empty for single-label domains, where every
    translation is one change of domain (``per_target`` says it all)."""
    if not domains.multi_label:
        return {}
    changes: dict[str, torch.Tensor] = {}
    grouped = set()
    for group in domains.groups():
        grouped.update(group)
        name = "|".join(domains.names[k] for k in group)
        changes[f"{name} changed"] = (sources[:, group] != targets[:, group]).any(1)
    for k, name in enumerate(domains.names):
        if k not in grouped:
            changes[f"{name} on"] = (sources[:, k] < 0.5) & (targets[:, k] > 0.5)
            changes[f"{name} off"] = (sources[:, k] > 0.5) & (targets[:, k] < 0.5)
    # Each group or attribute changes at most once per translation (an attribute is either
    # turned on or off), so the masks' sum is the number of changes it makes.
    count = torch.stack(list(changes.values())).sum(0)
    only = {f"only {name}": mask & (count == 1) for name, mask in changes.items()}
    return {name: mask for name, mask in (changes | only).items() if mask.any()}


def summarize(groups: dict[str, torch.Tensor], values: dict[str, torch.Tensor]) -> dict[str, dict]:
    """``{group: {"n": size, value name: mean over the group, ...}}`` for per-translation
    ``values`` ``{name: [M]}``; with ``truth_mae`` and ``identity_truth_mae`` among them, also
    the group's ``truth_mae_ratio``."""
    out = {}
    for name, mask in groups.items():
        row: dict[str, float | int] = {"n": int(mask.sum())}
        row |= {key: float(v[mask].float().mean()) for key, v in values.items()}
        if "truth_mae" in row and "identity_truth_mae" in row:
            row["truth_mae_ratio"] = row["truth_mae"] / row["identity_truth_mae"]
        out[name] = row
    return out


def breakdown(
    domains: Domains,
    combos: torch.Tensor,
    sources: torch.Tensor,
    targets: torch.Tensor,
    values: dict[str, torch.Tensor],
) -> dict[str, dict]:
    """``{"per_target": ..., "per_change": ...}`` (``summarize`` of each grouping) for
    translations from labels ``sources [M, K]`` to ``targets [M, K]`` with ``values``
    ``{name: [M]}``; ``combos [T, K]`` are the targets scored, most frequent first."""
    return {
        "per_target": summarize(target_groups(domains, combos, targets), values),
        "per_change": summarize(change_groups(domains, sources, targets), values),
    }


def format_breakdown(report: dict, columns: tuple[str, ...]) -> list[str]:
    """Printed lines of the report's ``per_target`` and ``per_change`` tables (the ``columns``
    present in them), or none when the report has neither."""
    lines = []
    for title in ("per_target", "per_change"):
        table = report.get(title) or {}
        if not table:
            continue
        shown = [c for c in columns if c in next(iter(table.values()))]
        rows = [[title, "n", *shown]]
        rows += [[name, str(row["n"]), *(f"{row[c]:.4g}" for c in shown)] for name, row in table.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["", *("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)]
    return lines
