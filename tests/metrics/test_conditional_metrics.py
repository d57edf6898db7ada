"""Class accuracy and intra-class FID on hand-made arrays whose answers are known."""

import numpy as np
import pytest

from ganforge.metrics import MetricError
from ganforge.metrics.conditional import class_accuracy, intra_class_fid


def test_class_accuracy_counts_argmax_matches():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    assert class_accuracy(probs, np.array([0, 1, 2, 2])) == 0.75
    with pytest.raises(MetricError, match=r"0\.\.2"):
        class_accuracy(probs, np.array([0, 1, 2, 3]))
    with pytest.raises(MetricError, match=r"\[N\]"):
        class_accuracy(probs, np.array([0, 1]))


def test_intra_class_fid_is_per_class_and_averaged():
    rng = np.random.RandomState(0)
    dim, n = 3, 4000
    real = rng.randn(2 * n, dim)
    real_labels = np.repeat([0, 1], n)
    real[real_labels == 1] += 5  # two well separated classes
    fake = real.copy()
    fake[real_labels == 1, 0] += 2  # class 1 is off by 2 along one axis: FID = 2^2 = 4
    result = intra_class_fid(fake, real_labels, real, real_labels)
    assert result["per_class"][0] == pytest.approx(0, abs=1e-6)
    assert result["per_class"][1] == pytest.approx(4, rel=1e-6)
    assert result["mean"] == pytest.approx(2, rel=1e-6)
    # Swapping the classes keeps the overall distribution but is caught per class.
    swapped = intra_class_fid(real, 1 - real_labels, real, real_labels)
    assert swapped["mean"] > 70  # |5 * (1, 1, 1)|^2 = 75 per class


def test_intra_class_fid_needs_more_samples_than_features():
    feats = np.random.RandomState(1).randn(16, 8)
    labels = np.repeat([0, 1], 8)
    with pytest.raises(MetricError, match="more than 8"):
        intra_class_fid(feats, labels, feats, labels)


@pytest.fixture(scope="module")
def untrained_cdcgan_run(tmp_path_factory):
    """A run folder holding an untrained cDCGAN for Fashion-MNIST (skips without the data)."""
    import dataclasses

    import torch

    from ganforge.checkpoint import save_generator
    from ganforge.config import DataConfig, ModelConfig
    from ganforge.data import DataError, load_dataset
    from ganforge.models import build_generator

    try:
        load_dataset(DataConfig(name="fashion-mnist", split="test", download=False))
    except DataError:
        pytest.skip("Fashion-MNIST files not present")
    torch.manual_seed(0)
    cfg = ModelConfig(name="cdcgan", z_dim=16, g_width=8, num_classes=10)
    meta = {
        "model": dataclasses.asdict(cfg),
        "data_shape": [1, 28, 28],
        "num_classes": 10,
        "step": 0,
        "data": {"name": "fashion-mnist", "kind": "image", "class_names": None},
    }
    run_dir = tmp_path_factory.mktemp("cdcgan-run")
    save_generator(run_dir, build_generator(cfg, (1, 28, 28)), meta)
    return run_dir


def test_evaluate_conditional_on_an_untrained_generator(untrained_cdcgan_run):
    """End to end on Fashion-MNIST with the shipped evaluator: an untrained G is at chance and
    far from the real per-class statistics, which the context (real test images) is not."""
    from ganforge.metrics.conditional import evaluate_conditional

    report = evaluate_conditional(untrained_cdcgan_run, per_class=150)
    assert report["class_accuracy"] < 0.3
    assert report["context"]["class_accuracy_real"] > 0.85
    assert report["context"]["intra_fid_real"] < report["intra_fid"]["mean"] / 5
    assert sorted(report["intra_fid"]["per_class"]) == list(range(10))
    assert report["protocol"]["feature_network"] == "fmnist"


def test_eval_run_reports_the_conditional_metrics(untrained_cdcgan_run):
    """`ganforge eval --run` on a conditional run adds class accuracy and intra-class FID,
    with protocol cards and the real test split's figures as context."""
    from ganforge.metrics.evaluate import EvalSettings, evaluate_run, format_report

    report = evaluate_run(untrained_cdcgan_run, EvalSettings(metrics="conditional,fid", n=1500))
    scores = report["scores"]
    assert set(scores) == {"fid_fmnist", "class_accuracy_fmnist", "intra_fid_fmnist"}
    assert scores["class_accuracy_fmnist"]["value"] < 0.3
    assert scores["class_accuracy_fmnist"]["protocol"]["parameters"] == {"per_class": 150}
    floor = report["context"]["real_test"]
    assert floor["class_accuracy_fmnist"] > 0.85
    assert floor["intra_fid_fmnist"] < scores["intra_fid_fmnist"]["value"] / 5
    text = format_report(report)
    assert "class_accuracy_fmnist" in text and "Miyato" in text


def test_conditional_metrics_need_a_conditional_run(tmp_path):
    import dataclasses

    from ganforge.checkpoint import save_generator
    from ganforge.config import ModelConfig
    from ganforge.metrics.evaluate import EvalSettings, evaluate_run
    from ganforge.models import build_generator

    cfg = ModelConfig(name="dcgan", z_dim=16, g_width=8)
    meta = {
        "model": dataclasses.asdict(cfg),
        "data_shape": [1, 28, 28],
        "step": 0,
        "data": {"name": "fashion-mnist", "kind": "image", "class_names": None},
    }
    save_generator(tmp_path, build_generator(cfg, (1, 28, 28)), meta)
    with pytest.raises(MetricError, match="conditional generator"):
        evaluate_run(tmp_path, EvalSettings(metrics="conditional"))
