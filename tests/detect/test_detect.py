"""The fake-image detectors: the FFT feature sees a checkerboard artefact, both detectors learn
to spot it on held-out images from a tiny training set, and the CLI handles odd input."""

import json

import detect_toy_images as toy_images
import numpy as np
import pytest
import torch
from detect_toy_images import with_checkerboard
from PIL import Image

from ganforge.cli import main
from ganforge.data.batches import to_unit_range
from ganforge.detect import (
    DetectError,
    DetectorSettings,
    load_detector,
    log_spectrum,
    read_for_scoring,
    score_sets,
    split,
    train_detector,
)

SIDE = 16


def smooth_images(n, seed):
    return toy_images.smooth_images(n, seed, SIDE, sigma=1.5, mean=128)


def test_zero_frequency_is_centred_and_checkerboard_lands_at_nyquist():
    flat = torch.zeros(1, 3, SIDE, SIDE) + 0.5
    spectrum = log_spectrum(flat)[0]
    assert spectrum.shape == (SIDE, SIDE)
    assert spectrum.argmax() == (SIDE // 2) * SIDE + SIDE // 2  # the DC term at the centre

    clean = smooth_images(50, seed=0)
    spectra_clean = log_spectrum(to_unit_range(torch.from_numpy(clean))).mean(0)
    spectra_board = log_spectrum(to_unit_range(torch.from_numpy(with_checkerboard(clean, 6))))
    gain = spectra_board.mean(0) - spectra_clean
    # A faint (+-6 of 255) checkerboard raises the Nyquist corner by orders of magnitude...
    assert gain[0, 0] > 3
    # ...and leaves the rest of the spectrum alone.
    rest = gain.clone()
    rest[0, 0] = 0
    assert rest.abs().max() < 0.5


@pytest.mark.parametrize("kind, steps", [("pixel", 150), ("spectrum", 400)])
def test_detector_beats_chance_on_held_out_images(kind, steps):
    real = smooth_images(600, seed=1)
    fake = with_checkerboard(smooth_images(600, seed=2), amplitude=4)  # invisible to the eye
    real_train, real_test = split(real, 0.5, seed=0)
    fake_train, fake_test = split(fake, 0.5, seed=0)
    model = train_detector(kind, real_train, fake_train, DetectorSettings(steps=steps, batch_size=64, seed=0))
    figures = score_sets(model, real_test, fake_test)
    assert figures["auc"] > 0.9 and figures["accuracy"] > 0.75, figures


def test_cli_train_score_eval_and_bad_input(tmp_path, capsys):
    real, fake = smooth_images(300, seed=3), with_checkerboard(smooth_images(300, seed=4), 8)
    np.save(tmp_path / "real.npy", real[:, 0])  # [N, H, W]: gray images
    np.save(tmp_path / "fake.npy", fake.transpose(0, 2, 3, 1))  # [N, H, W, C], as `sample` writes
    det = tmp_path / "det"
    run(
        [
            "detect",
            "train",
            "--real",
            str(tmp_path / "real.npy"),
            "--fake",
            str(tmp_path / "fake.npy"),
            "--out",
            str(det),
            "-n",
            "200",
            "--steps",
            "60",
        ]
    )
    info = json.loads((det / "detector.json").read_text())
    assert info["image_size"] == SIDE and info["channels"] == 1
    assert (det / "pixel.safetensors").is_file() and (det / "spectra.png").is_file()

    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(fake[0, 0]).save(folder / "gray.png")
    rgb = np.repeat(smooth_images(1, seed=5)[0, 0, :, :, None], 3, axis=2)
    Image.fromarray(np.pad(rgb, ((4, 4), (4, 4), (0, 0)))).resize((48, 48)).save(folder / "big_rgb.png")
    (folder / "broken.png").write_bytes(b"not an image")
    capsys.readouterr()
    run(["detect", "score", str(det), str(folder), "--csv", str(tmp_path / "scores.csv")])
    out, err = capsys.readouterr()
    rows = [line.split("\t") for line in out.strip().splitlines() if not line.startswith("# ")]
    assert rows[0][:3] == ["file", "p_pixel", "p_spectrum"]
    assert sorted(r[0] for r in rows[1:]) == ["big_rgb.png", "gray.png"]
    assert all(0 <= float(p) <= 1 for r in rows[1:] for p in r[1:3])
    assert "broken.png" in err and "resized to 16x16" in err and "converted to 1" in err

    report = tmp_path / "eval.json"
    run(
        [
            "detect",
            "eval",
            str(det),
            "--real",
            str(tmp_path / "real.npy"),
            "--fake",
            str(tmp_path / "fake.npy"),
            "-n",
            "100",
            "--json",
            str(report),
        ]
    )
    scores = json.loads(report.read_text())["scores"]
    assert set(scores) == {"pixel", "spectrum"}
    assert all(0 <= s["auc"] <= 1 and s["n_real"] == 100 for s in scores.values())


def test_unreadable_or_missing_input_is_named(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG garbage")
    with pytest.raises(DetectError, match="broken.png"):
        read_for_scoring(broken, 1, SIDE)
    with pytest.raises(DetectError, match="does not exist"):
        read_for_scoring(tmp_path / "nowhere.png", 1, SIDE)
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.jpg").write_bytes(b"nope")
    with pytest.raises(DetectError, match="x.jpg"):
        read_for_scoring(only_bad, 1, SIDE)
    np.save(tmp_path / "floats.npy", np.zeros((2, SIDE, SIDE), np.float32))
    with pytest.raises(Exception, match="uint8"):
        read_for_scoring(tmp_path / "floats.npy", 1, SIDE)
    with pytest.raises(DetectError, match="not a detector folder"):
        load_detector(tmp_path)


def run(argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 0
