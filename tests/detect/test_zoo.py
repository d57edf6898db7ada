"""Issue 15: the new detector kinds learn and round-trip, the augmentations perturb, the zoo's
leave-one-family-out folds never leak a held-out family, its samples are cached by config,
and the shipped default detector loads with its calibration."""

import json
from pathlib import Path

import detect_toy_images as toy_images
import numpy as np
import pytest
import torch
from detect_toy_images import with_checkerboard

from ganforge.detect import DetectError, DetectorSettings, load_detector, save_detector, score_sets, split
from ganforge.detect import zoo as zoo_module
from ganforge.detect.augment import add_noise, blur, jpeg, random_blur_jpeg, resize_half, wild_perturbations
from ganforge.detect.lofo import Pool, family_slices, training_sets
from ganforge.detect.models import DETECTOR_KINDS, build_detector
from ganforge.detect.training import probabilities, train_detector
from ganforge.detect.zoo import ZOO, Member, lofo_folds, member_key, member_samples

SIDE = 28  # the probe reads the Fashion-MNIST evaluator, which takes 28 x 28 gray images
SHIPPED = Path(__file__).resolve().parents[2] / "src" / "ganforge" / "weights" / "detector"


def smooth_images(n, seed):
    return toy_images.smooth_images(n, seed, SIDE, sigma=2, mean=110)


@pytest.mark.parametrize(
    "kind, amplitude", [("dct", 4), ("dct-aug", 12), ("probe", 40), ("spectrum-aug", 24)]
)
def test_new_kinds_learn_a_checkerboard(kind, amplitude):
    real = smooth_images(400, seed=1)
    fake = with_checkerboard(smooth_images(400, seed=2), amplitude)
    real_train, real_test = split(real, 0.5, seed=0)
    fake_train, fake_test = split(fake, 0.5, seed=0)
    model = train_detector(kind, real_train, fake_train, DetectorSettings(steps=300, batch_size=64))
    figures = score_sets(model, real_test, fake_test)
    assert figures["auc"] > 0.9, figures


def test_every_kind_round_trips_through_a_folder(tmp_path):
    images = smooth_images(20, seed=3)
    models = {kind: build_detector(kind, 1, SIDE) for kind in ("pixel-aug", "dct", "probe")}
    for model in models.values():
        if hasattr(model, "fit_normalisation"):
            model.fit_normalisation(model.features(torch.randn(8, 1, SIDE, SIDE).clamp(-1, 1)))
    save_detector(tmp_path, models, {"image_size": SIDE, "channels": 1})
    loaded, info = load_detector(tmp_path)
    assert sorted(loaded) == sorted(models) and "probe" in info["evaluator_sha256"]
    for kind, model in models.items():
        expected = probabilities(model, images)
        np.testing.assert_allclose(probabilities(loaded[kind], images), expected, atol=1e-6)
    assert all(kind in DETECTOR_KINDS for kind in loaded)


def test_probe_refuses_other_shapes_and_other_evaluators(tmp_path):
    with pytest.raises(DetectError, match="28x28"):
        build_detector("probe", 3, 32)
    save_detector(tmp_path, {"probe": build_detector("probe", 1, SIDE)}, {"image_size": SIDE, "channels": 1})
    info = json.loads((tmp_path / "detector.json").read_text())
    info["evaluator_sha256"]["probe"] = "0" * 64
    (tmp_path / "detector.json").write_text(json.dumps(info))
    with pytest.raises(DetectError, match="retrain"):
        load_detector(tmp_path)


@pytest.mark.parametrize(
    "perturb", [lambda x: jpeg(x, 75), lambda x: blur(x, 1.0), resize_half, lambda x: add_noise(x, 5.0)]
)
@pytest.mark.parametrize("channels", [1, 3])
def test_perturbations_keep_dtype_and_shape_and_change_images(perturb, channels):
    images = with_checkerboard(smooth_images(6, seed=4), 20)
    images = np.repeat(images, channels, axis=1)
    before = images.copy()
    out = perturb(images)
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert np.abs(out.astype(int) - images).mean() > 0.5
    np.testing.assert_array_equal(images, before)  # the input is untouched


def test_wild_perturbations_and_training_augmentation():
    images = with_checkerboard(smooth_images(40, seed=5), 20)
    assert {"jpeg-q75", "jpeg-q90", "resize-0.5x"} <= set(wild_perturbations())
    first, again = random_blur_jpeg(images, seed=0), random_blur_jpeg(images, seed=0)
    np.testing.assert_array_equal(first, again)  # seeded
    changed = (first != images).any(axis=(1, 2, 3))
    assert 0.5 < changed.mean() < 0.95  # about 3 in 4 images blurred or coded (p = 0.5 each)


def test_lofo_never_trains_on_the_held_out_family():
    folds = list(lofo_folds(ZOO))
    assert [f for f, _, _ in folds] == list(dict.fromkeys(m.family for m in ZOO))
    for family, train, test in folds:
        assert test and all(m.family == family for m in test)
        assert all(m.family != family for m in train)
        assert len(train) + len(test) == len(ZOO)
    # WGAN-GP runs on the DCGAN networks: it is held out with them, never trained beside them
    assert next(m for m in ZOO if m.name == "wgan-gp").family == "dcgan"


def test_training_sets_match_each_family_with_its_domain():
    members = (Member("a", "a", "x", ()), Member("b", "b", "x", (), "pix2pix"), Member("c", "c", "x", ()))
    real = {"fashion-mnist": np.arange(8)[:, None], "fmnist-edges": 100 + np.arange(4)[:, None]}
    pool = Pool(
        fakes={f: np.full((4, 1), -1) for f in "abc"},
        domains={m.family: m.domain for m in members},
        real_train=real,
        real_test={},
        slices=family_slices(members, 4),
    )
    r, g = training_sets(pool, ["a", "b"])
    assert len(r) == len(g) == 8
    assert sorted(r[:, 0]) == [0, 1, 2, 3, 100, 101, 102, 103]
    r, _ = training_sets(pool, ["c"])
    assert sorted(r[:, 0]) == [4, 5, 6, 7]  # c's own slice: no real image shared with a


def test_zoo_samples_are_cached_by_config(tmp_path, monkeypatch):
    tiny = Member(
        "tiny-mlp",
        "mlp",
        "gan-mlp-digits.yaml",
        ("data.name=fashion-mnist", "train.steps=3", "model.g_width=16", "model.d_width=16"),
    )
    other = Member(tiny.name, tiny.family, tiny.preset, (*tiny.sets, "train.loss=lsgan"))
    assert member_key(tiny, 8, 0) != member_key(other, 8, 0)
    assert member_key(tiny, 8, 0) != member_key(tiny, 8, 1) != member_key(tiny, 9, 0)
    images = member_samples(tiny, 8, seed=0, folder=tmp_path)
    assert images.dtype == np.uint8 and images.shape == (8, 1, 28, 28)

    def no_training(*args):
        raise AssertionError("trained again although the samples are cached")

    monkeypatch.setattr(zoo_module, "train_member", no_training)
    np.testing.assert_array_equal(member_samples(tiny, 8, seed=0, folder=tmp_path), images)
    with pytest.raises(AssertionError, match="trained again"):
        member_samples(other, 8, seed=0, folder=tmp_path)  # another config: not in the cache


def test_shipped_default_loads_with_calibration_for_each_kind():
    models, info = load_detector(SHIPPED)
    assert sorted(models) == sorted(info["calibration"]) and info["primary"] in models
    for entry in info["calibration"].values():
        assert 0 < entry["threshold"] < 1 and 0 <= entry["fpr"] <= 1
        assert entry["n_real"] > 0 and entry["real_source"] == "fashion-mnist:test"
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) < 1_000_000
    scores = probabilities(next(iter(models.values())), smooth_images(4, seed=6))
    assert scores.shape == (4,) and np.all((0 <= scores) & (scores <= 1))
