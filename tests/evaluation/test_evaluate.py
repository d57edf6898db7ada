"""Evaluation orchestration: sources, metric names, scores with protocol cards, the real-feature
cache, context baselines, and the best-value tracking used during training."""

import json

import numpy as np
import pytest
import torch

from ganforge.config import DataConfig, EvalConfig
from ganforge.data import DataError, load_dataset
from ganforge.evaluation.compare import EvalSettings, evaluate
from ganforge.evaluation.during_training import TrainingEvaluator
from ganforge.evaluation.report import format_report
from ganforge.evaluation.scoring import compute_scores, image_offers, parse_metrics
from ganforge.evaluation.sources import images_from_array, parse_source
from ganforge.metrics.errors import MetricError
from ganforge.metrics.features import Features, get_feature_network
from ganforge.metrics.registry import direction
from ganforge.sampling import NonFiniteSamples, sample_generator

pytestmark = pytest.mark.usefixtures("offline_inception")  # tests/conftest.py


@pytest.fixture(scope="module")
def fmnist_train():
    try:
        return load_dataset(DataConfig(name="fashion-mnist", split="train", download=False))
    except DataError:
        pytest.skip("Fashion-MNIST files are not on this machine")


IMAGES = image_offers(None)


def test_parse_metrics_groups_order_and_errors():
    assert parse_metrics("kid, fid", IMAGES) == ["fid", "kid"]
    assert parse_metrics("prdc,is", IMAGES) == ["precision", "recall", "density", "coverage", "is"]
    assert parse_metrics("dc", IMAGES) == ["density", "coverage"]
    with pytest.raises(MetricError, match="unknown metric 'fd'.*fid, kid"):
        parse_metrics("fd", IMAGES)
    no_classes = type("Net", (), {"has_classes": False, "name": "inception"})()
    with pytest.raises(MetricError, match="is needs a classifier network"):
        parse_metrics("fid,is", image_offers(no_classes))
    assert "is" not in parse_metrics("auto", image_offers(no_classes))


def test_metric_direction():
    assert direction("fid_fmnist") == -1 and direction("kid_inception") == -1
    assert direction("coverage_fmnist") == 1 and direction("modes_covered") == 1
    assert direction("reverse_kl") == -1


@pytest.mark.parametrize(
    "shape,layout",
    [((5, 8, 9), "NHW"), ((5, 8, 9, 3), "NHWC"), ((5, 3, 8, 9), "NCHW"), ((5, 8, 9, 4), "NHWC")],
)
def test_images_from_array_layouts(shape, layout):
    array = np.random.RandomState(0).randint(0, 256, shape, dtype=np.uint8)
    images, notes = images_from_array(array, "x.npy")
    assert images.shape[0] == 5 and images.shape[2:] == (8, 9)
    if layout == "NHW":
        expected = array[:, None]
    elif layout == "NCHW":
        expected = array
    else:
        expected = array.transpose(0, 3, 1, 2)[:, :3]
    np.testing.assert_array_equal(images, expected)
    assert bool(notes) == (shape[-1] == 4)  # dropping alpha is reported


def test_images_from_array_refuses_floats_and_odd_shapes():
    with pytest.raises(MetricError, match="uint8"):
        images_from_array(np.zeros((2, 8, 8), np.float32), "x.npy")
    with pytest.raises(MetricError, match="shape"):
        images_from_array(np.zeros((2, 5, 8, 8), np.uint8), "x.npy")


def test_parse_source_kinds(tmp_path):
    assert parse_source("fashion-mnist:test").label == "fashion-mnist:test"
    assert parse_source("mnist").data_cfg.split == "train"
    np.save(tmp_path / "x.npy", np.zeros((2, 8, 8), np.uint8))
    assert parse_source(str(tmp_path / "x.npy")).kind == "npy"
    assert parse_source(str(tmp_path)).kind == "folder"
    with pytest.raises(MetricError, match="point set"):
        parse_source("ring8")
    with pytest.raises(MetricError, match="neither"):
        parse_source("no-such-set:test")


def test_compute_scores_names_and_parameters():
    rng = np.random.RandomState(0)
    real = Features(rng.randn(60, 4), np.full((60, 3), 1 / 3))
    probs = np.eye(3)[rng.randint(0, 3, 40)] * 0.9 + 0.1 / 3
    fake = Features(rng.randn(40, 4) + 0.5, probs)
    scores = compute_scores(real, fake, parse_metrics("auto", IMAGES), "net")
    assert list(scores) == [
        f"{m}_net" for m in ("fid", "kid", "precision", "recall", "density", "coverage", "is", "classes")
    ]
    assert scores["kid_net"]["parameters"] == {"subsets": 100, "subset_size": 40}
    assert scores["precision_net"]["parameters"] == {"k": 3}
    assert scores["coverage_net"]["parameters"] == {"k": 5}
    assert scores["classes_net"]["value"] == 3
    assert 1 <= scores["is_net"]["value"] <= 3
    assert scores["fid_net"]["value"] > 0.1  # the fakes are shifted by 0.5 per dimension


def test_npy_against_data_set_with_cards_context_and_cache(tmp_path, fmnist_train, offline_inception):
    fake_path = tmp_path / "fake.npy"
    np.save(fake_path, fmnist_train.data[:300, 0].numpy())  # [N, H, W] real training images
    settings = EvalSettings(metrics="fid,kid,prdc,is,classes", n=300)
    report = evaluate(parse_source("fashion-mnist:test"), parse_source(str(fake_path)), settings)
    scores = report["scores"]
    assert set(scores) == {
        f"{m}_fmnist" for m in ("fid", "kid", "precision", "recall", "density", "coverage", "is", "classes")
    }
    card = scores["fid_fmnist"]["protocol"]
    for key in (
        "metric",
        "feature_network",
        "feature_network_sha256",
        "input_size",
        "resize",
        "n_real",
        "n_fake",
        "real",
        "seed",
        "ganforge_version",
    ):
        assert key in card, key
    assert card["n_real"] == card["n_fake"] == 300 and card["real"] == "fashion-mnist:test"
    assert not report["real_cached"]
    # Real images scored as "generated" sit at the real-vs-real floor, far below the trivial
    # generators, and their classes are all there.
    context = report["context"]
    assert set(context) == {"real_train", "uniform_noise", "one_repeated_image"}
    fid = scores["fid_fmnist"]["value"]
    assert fid < 3 * context["real_train"]["fid_fmnist"] + 1
    assert fid * 5 < context["one_repeated_image"]["fid_fmnist"]
    assert fid * 5 < context["uniform_noise"]["fid_fmnist"]
    assert context["one_repeated_image"]["classes_fmnist"] == 1
    assert scores["classes_fmnist"]["value"] == 10
    text = format_report(report)
    assert "fid_fmnist" in text and "real_train" in text and "protocol:" in text

    # second call: real statistics and context come from the cache, with the same numbers
    stats = sorted(p.name for p in (offline_inception / "stats").iterdir())
    assert any(name.startswith("real-fashion-mnist-test-fmnist") for name in stats)
    assert not any(name.endswith(".tmp") for name in stats)
    again = evaluate(parse_source("fashion-mnist:test"), parse_source(str(fake_path)), settings)
    assert again["real_cached"]
    assert again["scores"]["fid_fmnist"]["value"] == pytest.approx(fid, rel=1e-12)
    assert again["context"] == json.loads(json.dumps(context))


def test_too_few_samples_is_a_clear_error(tmp_path, fmnist_train):
    fake_path = tmp_path / "fake.npy"
    np.save(fake_path, fmnist_train.data[:50].numpy())  # [N, 1, H, W]
    with pytest.raises(MetricError, match="at least 129 samples"):
        evaluate(
            parse_source("fashion-mnist:test"),
            parse_source(str(fake_path)),
            EvalSettings(metrics="fid", context=False),
        )


def test_training_evaluator_tracks_the_best_value(fmnist_train):
    cfg = EvalConfig(every=10, metrics="kid,fid", n=200)
    history = [
        {"step": "10", "kid_fmnist": "0.5"},
        {"step": "20", "kid_fmnist": ""},
        {"step": "30", "kid_fmnist": "0.2"},
    ]
    evaluator = TrainingEvaluator(cfg, DataConfig(name="fashion-mnist"), fmnist_train, 0, "cpu", history)
    assert evaluator.columns == ["fid_fmnist", "kid_fmnist"]  # printing order
    assert evaluator.best_column == "fid_fmnist" and evaluator.best_value is None
    assert evaluator.improved({"fid_fmnist": 40.0})
    assert not evaluator.improved({"fid_fmnist": 41.0})
    assert evaluator.improved({"fid_fmnist": 39.0}) and evaluator.best_value == 39.0
    resumed = TrainingEvaluator(
        EvalConfig(every=10, metrics="fid,kid", n=200, best_metric="kid_fmnist"),
        DataConfig(name="fashion-mnist"),
        fmnist_train,
        0,
        "cpu",
        history,
    )
    assert resumed.best_value == 0.2  # recovered from metrics.csv rows
    assert resumed.due(20, 25) and resumed.due(25, 25) and not resumed.due(21, 25)
    with pytest.raises(MetricError, match="best_metric"):
        TrainingEvaluator(
            EvalConfig(every=10, best_metric="fid_inception"),
            DataConfig(name="fashion-mnist"),
            fmnist_train,
            0,
            "cpu",
        )


def test_feature_network_choice_for_auto():
    assert get_feature_network("auto", "fashion-mnist").name == "fmnist"
    with pytest.raises(MetricError, match="Inception weights"):
        get_feature_network("auto", "celeba")  # natural images need Inception's file


def test_nan_generator_output_is_an_error():
    class Broken(torch.nn.Module):
        def forward(self, z):
            return torch.full((len(z), 1, 28, 28), float("nan"))

    meta = {"model": {"z_dim": 4, "noise": "normal"}}
    with pytest.raises(NonFiniteSamples, match="NaN"):
        sample_generator(Broken(), meta, 3, seed=0)
