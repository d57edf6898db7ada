"""The metric registry: one decorated function adds a metric to every table, card, curve and
listing; columns map to their metric explicitly; parameters come from the function itself."""

import numpy as np
import pytest

from ganforge.cli.info import metric_lines
from ganforge.evaluation.scoring import compute_scores, image_offers, parse_metrics, protocol_card
from ganforge.metrics import MetricError
from ganforge.metrics.features import Features
from ganforge.metrics.registry import (
    HIGHER,
    LOWER,
    METRICS,
    column_spec,
    direction,
    register_metric,
    unregister_metric,
)
from ganforge.viz.metric_curves import lower_is_better


@pytest.fixture
def toy_metric():
    """A metric added the way a contributor would: one decorated function."""

    @register_metric(
        "mean_gap",
        columns={"mean_gap": ("distance of feature means, clipped at {clip}; lower is better", LOWER)},
    )
    def mean_gap(real, fake, *, clip: float = 10.0):
        gap = np.linalg.norm(real.features.mean(0) - fake.features.mean(0))
        return {"mean_gap": {"value": float(min(gap, clip))}}

    yield mean_gap
    unregister_metric("mean_gap")


def test_a_registered_metric_reaches_scores_cards_curves_and_info(toy_metric):
    features = np.random.RandomState(0).randn(20, 3)
    real, fake = Features(features), Features(features + 1)  # means 1 apart on each axis
    columns = parse_metrics("fid,mean_gap", image_offers(None))
    assert columns == ["fid", "mean_gap"]  # registry order
    scores = compute_scores(real, fake, columns, "net")
    assert scores["mean_gap_net"]["value"] == pytest.approx(np.sqrt(3))
    assert scores["mean_gap_net"]["parameters"] == {"clip": 10.0}  # from the signature
    assert direction("mean_gap_net") == LOWER and lower_is_better("mean_gap_net")
    network = type("Net", (), {"card": lambda self: {"feature_network": "net"}})()
    card = protocol_card("mean_gap_net", network, "r", "f", 20, 20, 0, {"clip": 10.0})
    assert card["definition"] == "distance of feature means, clipped at 10.0; lower is better"
    assert "mean_gap" in metric_lines() and "clip=10.0" in metric_lines()["mean_gap"]
    assert "mean_gap" in parse_metrics("auto", image_offers(None))


def test_registering_a_taken_name_or_column_fails(toy_metric):
    with pytest.raises(ValueError, match="already registered"):
        register_metric("fid2", columns={"fid": ("again", LOWER)})(lambda real, fake: {})
    with pytest.raises(ValueError, match="unknown needs"):
        register_metric("x", columns={"x": ("x", HIGHER)}, needs={"telepathy"})


def test_columns_map_to_their_metric_explicitly():
    # `column.split("_")[0]` would read intra_fid_fmnist as "intra" and guess its direction.
    assert column_spec("intra_fid_fmnist")[0].name == "conditional"
    assert direction("intra_fid_fmnist") == LOWER and direction("class_accuracy_fmnist") == HIGHER
    assert direction("reverse_kl") == LOWER and direction("high_quality_share") == HIGHER
    assert direction("fid_inception") == LOWER and direction("density_fmnist") == HIGHER
    assert column_spec("modes_covered_x") is None  # point columns carry no suffix
    with pytest.raises(MetricError, match="not a metric column.*fid"):
        direction("loss_d")
    assert not lower_is_better("loss_d")


def test_protocol_values_are_the_functions_defaults():
    assert METRICS["classes"].parameters == {"min_share": 0.02}
    assert METRICS["mode_coverage"].parameters == {"hq_threshold_std": 3.0}
    assert METRICS["pr"].parameters == {"k": 3} and METRICS["dc"].parameters == {"k": 5}
    assert "2%" in METRICS["classes"].definition("classes")
    for spec in METRICS.values():  # every definition formats with its own parameters
        for column in spec.columns:
            assert "{" not in spec.definition(column.name)


@pytest.mark.parametrize(
    "text, offered, message",
    [
        ("foo", {"features", "classes"}, "unknown metric 'foo'.*fid, kid"),
        ("foo", {"modes"}, "unknown metric 'foo'.*mode_coverage"),
        ("fid", {"modes"}, "fid needs image features"),
        ("conditional", {"features", "classes"}, "conditional needs a conditional generator"),
        ("classes", {"features"}, "classes needs a classifier"),
        (" , ", {"features"}, "no metrics asked for"),
    ],
)
def test_bad_metric_names_list_the_valid_ones(text, offered, message):
    with pytest.raises(MetricError, match=message):
        parse_metrics(text, offered)
