"""``ganforge eval``'s StarGAN breakdown: translations grouped by target and by change, each
group's means and its truth ratio (``evaluation/stargan_breakdown.py``)."""

import pytest
import torch

from ganforge.data.domains import Domains
from ganforge.evaluation.stargan_breakdown import (
    BREAKDOWN_COLUMNS,
    breakdown,
    change_groups,
    format_breakdown,
    summarize,
    target_groups,
)

STYLES = Domains(("red", "green", "blue", "inverted", "striped"), multi_label=True)
RED, GREEN = [1.0, 0, 0], [0.0, 1, 0]


def vectors(*rows):
    return torch.tensor(rows, dtype=torch.float32)


# source -> target: tint only; inverted on; striped off and the tint; striped on
SOURCES = vectors(RED + [0, 0], RED + [0, 0], RED + [0, 1], GREEN + [1, 0])
TARGETS = vectors(GREEN + [0, 0], RED + [1, 0], GREEN + [0, 0], GREEN + [1, 1])


def test_changes_name_what_each_translation_changes():
    groups = {name: mask.tolist() for name, mask in change_groups(STYLES, SOURCES, TARGETS).items()}
    assert groups == {
        "red|green|blue changed": [True, False, True, False],
        "inverted on": [False, True, False, False],
        "striped on": [False, False, False, True],
        "striped off": [False, False, True, False],
        "only red|green|blue changed": [True, False, False, False],
        "only inverted on": [False, True, False, False],
        "only striped on": [False, False, False, True],
    }  # no translation turns inverted off: no empty group


def test_single_label_domains_have_no_changes_but_targets():
    domains = Domains(("a", "b", "c"), multi_label=False)
    sources, targets = torch.eye(3)[[0, 1, 2, 0]], torch.eye(3)[[1, 2, 0, 2]]
    assert change_groups(domains, sources, targets) == {}
    groups = target_groups(domains, torch.eye(3)[[2, 0, 1]], targets)
    assert list(groups) == ["c", "a", "b"]  # the order of the scored targets
    assert groups["c"].tolist() == [False, True, False, True]


def test_groups_get_their_means_and_the_ratio_of_means():
    values = {
        "garment_accuracy": torch.tensor([1.0, 0, 1, 1]),
        "truth_mae": torch.tensor([0.1, 0.3, 0.2, 0.2]),
        "identity_truth_mae": torch.tensor([0.5, 0.5, 0.2, 0.4]),
    }
    groups = {"all": torch.ones(4, dtype=torch.bool), "two": torch.tensor([0, 1, 1, 0]).bool()}
    table = summarize(groups, values)
    assert table["all"]["n"] == 4 and table["all"]["garment_accuracy"] == pytest.approx(0.75)
    assert table["all"]["truth_mae_ratio"] == pytest.approx(0.8 / 1.6)  # ratio of the means
    two = {"n": 2, "garment_accuracy": 0.5, "truth_mae": 0.25, "identity_truth_mae": 0.35}
    assert table["two"] == pytest.approx(two | {"truth_mae_ratio": 0.25 / 0.35})


def test_the_report_tables_weigh_back_to_the_overall_scores():
    combos = torch.unique(TARGETS, dim=0)
    right = torch.tensor([1.0, 0, 0, 1])
    report = breakdown(STYLES, combos, SOURCES, TARGETS, {"garment_accuracy": right})
    per_target = report["per_target"]
    assert sum(row["n"] for row in per_target.values()) == 4
    assert set(per_target) == {"green", "red+inverted", "green+inverted+striped"}
    total = sum(row["n"] * row["garment_accuracy"] for row in per_target.values())
    assert total / 4 == pytest.approx(right.mean().item())
    lines = format_breakdown(report, BREAKDOWN_COLUMNS)
    assert ["per_target", "n", "garment_accuracy"] in [line.split() for line in lines]
    assert any(line.startswith("only striped on") for line in lines)
    assert format_breakdown({}, BREAKDOWN_COLUMNS) == []
