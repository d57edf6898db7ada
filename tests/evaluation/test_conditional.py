"""Conditional runs end to end: class accuracy and intra-class FID of an untrained cDCGAN,
sampled per class (G's mode restored), with protocol cards and the real test split's context."""

import pytest
import torch

from ganforge.evaluation.compare import EvalSettings
from ganforge.evaluation.conditional import evaluate_conditional, sample_classes
from ganforge.evaluation.report import format_report
from ganforge.evaluation.runs import evaluate_run
from ganforge.metrics import MetricError


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
    report = evaluate_conditional(untrained_cdcgan_run, per_class=150)
    scores = report["scores"]
    assert scores["class_accuracy"]["value"] < 0.3
    assert report["context"]["class_accuracy"] > 0.85
    assert report["context"]["intra_fid"] < scores["intra_fid"]["value"] / 5
    assert sorted(scores["intra_fid"]["per_class"]) == list(range(10))
    assert report["protocol"]["feature_network"] == "fmnist"


def test_eval_run_reports_the_conditional_metrics(untrained_cdcgan_run):
    """`ganforge eval --run` on a conditional run adds class accuracy and intra-class FID,
    with protocol cards and the real test split's figures as context."""
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


class LabelEcho(torch.nn.Module):
    """A conditional G whose images are its label, constant over pixels."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, z, labels):
        return (labels.float() / 10 * self.scale).view(-1, 1, 1, 1).expand(-1, 1, 2, 2)


def test_sample_classes_orders_classes_and_restores_train_mode():
    G = LabelEcho().train()
    meta = {"model": {"name": "cgan", "z_dim": 3, "noise": "normal"}, "num_classes": 4}
    images, labels = sample_classes(G, meta, per_class=2, seed=0)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3] and images.shape == (8, 1, 2, 2)
    assert G.training  # before the shared sampling function, G was left in eval mode
