"""Feature networks: the shipped evaluator (its record and accuracy), feature shapes, the
conversion rule for other sizes and channels, determinism, NaN refusal, and rebuilding an
evaluator with `ganforge evaluator train` (on a tiny MNIST-format set written here)."""

import gzip
import json
import struct

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data import DataError, load_dataset
from ganforge.files import file_sha256
from ganforge.metrics import classifier as ev
from ganforge.metrics.errors import MetricError
from ganforge.metrics.features import get_feature_network


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def fmnist():
    return get_feature_network("fmnist")


def random_images(n, channels=1, size=28, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (n, channels, size, size), dtype=np.uint8)


def test_shipped_evaluator_record():
    weights = ev.WEIGHTS_DIR / "evaluator-fashion-mnist.safetensors"
    info = json.loads(weights.with_suffix(".json").read_text())
    assert info["sha256"] == file_sha256(weights)  # the record describes this very file
    assert info["test_accuracy"] >= 0.91
    assert info["command"].startswith("ganforge evaluator train fashion-mnist")
    assert info["seed"] == info["recipe"]["seed"]
    assert weights.stat().st_size < 1_000_000  # a few hundred KB


def test_features_shapes_and_probabilities(fmnist):
    feats, notes = fmnist.extract(random_images(7))
    assert notes == []
    assert feats.features.shape == (7, 128) and feats.features.dtype == np.float64
    assert feats.probs.shape == (7, 10)
    np.testing.assert_allclose(feats.probs.sum(axis=1), 1.0, atol=1e-9)
    assert fmnist.card()["feature_network_sha256"] == fmnist.sha256
    assert fmnist.name == "fmnist" and fmnist.dim == 128


def test_features_are_deterministic_and_batch_independent(fmnist):
    images = random_images(20, seed=1)
    first = fmnist.extract(images)[0].features
    again = fmnist.extract(images)[0].features
    other_batching = fmnist.extract(images, batch_size=3)[0].features
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, other_batching, rtol=1e-5, atol=1e-5)


def test_other_sizes_and_channels_are_converted_with_notes(fmnist):
    rgb32 = random_images(4, channels=3, size=32)
    prepared, notes = fmnist.prepare(rgb32, label="x.npy")
    assert prepared.shape == (4, 1, 28, 28)
    assert len(notes) == 2 and "converted to gray" in notes[0] and "32x32" in notes[1]
    # the same conversion for features: a converted set equals the set converted by hand
    direct = fmnist.extract(prepared)[0].features
    np.testing.assert_array_equal(fmnist.extract(rgb32)[0].features, direct)


def test_bad_images_are_refused(fmnist, monkeypatch):
    with pytest.raises(MetricError, match="uint8"):
        fmnist.extract(random_images(2).astype(np.float32))

    def nan_forward(batch):
        return torch.full((len(batch), 128), float("nan")), None

    monkeypatch.setattr(fmnist, "forward", nan_forward)
    with pytest.raises(MetricError, match="NaN"):
        fmnist.extract(random_images(2))


def test_shipped_evaluator_accuracy_on_real_test_set():
    try:
        test = load_dataset(DataConfig(name="fashion-mnist", split="test", download=False))
    except DataError:
        pytest.skip("Fashion-MNIST test files are not on this machine")
    evaluator = ev.load_classifier("fashion-mnist")
    assert ev.accuracy(evaluator.model, test.data, test.labels) >= 0.91
    # features come standardized by the training set's statistics: about N(0, 1) per feature
    feats = get_feature_network("fmnist").extract(test.data[:2000].numpy())[0].features
    assert np.abs(feats.mean(axis=0)).max() < 0.25
    assert 0.8 < feats.std(axis=0).mean() < 1.2


def test_fit_is_deterministic():
    images = torch.from_numpy(random_images(96, seed=2))
    labels = torch.arange(96) % 3
    recipe = ev.Recipe(widths=(4, 4, 8), feature_dim=8, epochs=2, batch_size=16)
    first = ev.fit(images, labels, 3, recipe).state_dict()
    second = ev.fit(images, labels, 3, recipe).state_dict()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    other_seed = ev.fit(images, labels, 3, ev.Recipe(**{**vars(recipe), "seed": 1})).state_dict()
    assert not torch.equal(first["classifier.weight"], other_seed["classifier.weight"])


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_missing_evaluator_says_how_to_build_it():
    with pytest.raises(MetricError, match="ganforge evaluator train mnist"):
        get_feature_network("mnist")
    with pytest.raises(MetricError, match="unknown feature network"):
        get_feature_network("vgg")


def test_evaluator_train_command_builds_a_loadable_network(tmp_path, capsys):
    # A learnable MNIST-format set: the class is the bright row band of the image.
    rng = np.random.RandomState(0)
    root = tmp_path / "mnist"
    root.mkdir()
    for prefix, count in (("train", 520), ("t10k", 100)):
        labels = np.arange(count) % 10
        images = rng.randint(0, 60, (count, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 * label + 4 : 2 * label + 7] = 255
        _write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as done:
        main(["evaluator", "train", "mnist", "--root", str(root), "--out", str(out), "--epochs", "2"])
    assert done.value.code == 0
    weights = out / "evaluator-mnist.safetensors"
    info = json.loads(weights.with_suffix(".json").read_text())
    assert info["sha256"] == file_sha256(weights) and info["tag"] == "mnist"
    assert info["test_accuracy"] > 0.5  # a trivially separable set
    network = get_feature_network(str(weights))
    assert network.name == "mnist" and network.class_names == [str(d) for d in range(10)]
    assert "test accuracy" in capsys.readouterr().out
