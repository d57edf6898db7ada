"""The detector for people: the shipped ``default``, calibration written by ``detect train`` and
printed by ``score``, the scores CSV, the evidence heatmap and ``eval``'s figures at the
detector's own threshold. End to end through the CLI's main function."""

import csv
import json

import numpy as np
import pytest
import torch
from cli_exit import cli
from PIL import Image
from scipy.ndimage import gaussian_filter

from ganforge.data.batches import to_unit_range
from ganforge.detect import DetectError, PixelDetector, SpectrumDetector, load_detector, shipped
from ganforge.detect.heatmap import evidence_map, pooled_head
from ganforge.detect.report import eval_figures, primary_kind

SIDE = 16


def images(n, seed, board=0, side=SIDE):
    """uint8 [n, side, side]: blurred noise ('real'), plus a faint checkerboard if ``board``."""
    rng = np.random.RandomState(seed)
    fields = gaussian_filter(rng.randn(n, side, side), sigma=(0, 1.5, 1.5))
    fields = fields / fields.std() * 50 + 128 + board * (np.indices((side, side)).sum(0) % 2 * 2 - 1)
    return np.clip(fields, 0, 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny two-detector folder trained on .npy files (so calibrated on held-out real images)."""
    root = tmp_path_factory.mktemp("detectux")
    np.save(root / "real.npy", images(220, seed=0))
    np.save(root / "fake.npy", images(220, seed=1, board=8))
    det = root / "det"
    assert (
        cli(
            "detect",
            "train",
            "--real",
            root / "real.npy",
            "--fake",
            root / "fake.npy",
            "--out",
            det,
            "-n",
            200,
            "--steps",
            60,
        )
        == 0
    )
    return root


def table(out):
    """stdout of `detect score` -> (comment lines, header, rows)."""
    lines = out.strip().splitlines()
    comments = [line for line in lines if line.startswith("# ")]
    rows = [line.split("\t") for line in lines if not line.startswith("# ")]
    return comments, rows[0], rows[1:]


def test_train_writes_calibration_and_score_prints_it(trained, capsys):
    info = json.loads((trained / "det" / "detector.json").read_text())
    assert set(info["calibration"]) == {"pixel", "spectrum"} and info["primary"] in ("pixel", "spectrum")
    for calibration in info["calibration"].values():
        assert 0 < calibration["threshold"] < 1 and 0 <= calibration["fpr"] <= 1
        assert calibration["n_real"] == 20  # 10 % of 200, held out before the training split
        assert calibration["real_source"] == f"{trained / 'real.npy'}, held out from training"

    np.save(trained / "mix.npy", np.concatenate([images(6, seed=7), images(6, seed=8, board=8)]))
    capsys.readouterr()
    assert cli("detect", "score", trained / "det", trained / "mix.npy") == 0
    comments, header, rows = table(capsys.readouterr().out)
    for kind in ("pixel", "spectrum"):
        c = info["calibration"][kind]
        line = (
            f"# {kind}: threshold {c['threshold']:.3f} (false positives on real test images: "
            f"{100 * c['fpr']:.1f} % of 20, {c['real_source']})"
        )
        assert line in comments
    assert header == [
        "file",
        "p_pixel",
        "p_spectrum",
        "verdict_pixel",
        "verdict_spectrum",
        "verdict",
        "input",
    ]
    assert [r[0] for r in rows] == [f"mix.npy[{i}]" for i in range(12)]
    for row in rows:
        for k, kind in enumerate(("pixel", "spectrum")):
            expected = "generated" if float(row[1 + k]) > info["calibration"][kind]["threshold"] else "real"
            assert row[3 + k] == expected
        assert row[5] == row[3 + ["pixel", "spectrum"].index(info["primary"])]
    # the detector learned: the checkerboard half is called generated more often than the clean half
    called = [r[5] == "generated" for r in rows]
    assert sum(called[6:]) > sum(called[:6])


def test_a_named_data_set_calibrates_on_its_test_split(tmp_path):
    np.save(tmp_path / "fake.npy", images(100, seed=2, board=10, side=8))
    det = tmp_path / "det"
    assert (
        cli(
            "detect",
            "train",
            "--real",
            "digits",
            "--fake",
            tmp_path / "fake.npy",
            "--out",
            det,
            "-n",
            100,
            "--steps",
            10,
            "--detectors",
            "spectrum",
        )
        == 0
    )
    calibration = json.loads((det / "detector.json").read_text())["calibration"]["spectrum"]
    assert calibration["real_source"] == "digits:test" and calibration["n_real"] == 100


def test_old_folder_without_calibration_still_scores_at_one_half(trained, tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("pixel.safetensors", "spectrum.safetensors"):
        (old / name).write_bytes((trained / "det" / name).read_bytes())
    info = json.loads((trained / "det" / "detector.json").read_text())
    del info["calibration"], info["primary"]
    (old / "detector.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert cli("detect", "score", old, trained / "real.npy") == 0
    comments, header, rows = table(capsys.readouterr().out)
    assert sum("not calibrated" in line for line in comments) == 2  # once per detector, not per image
    assert all(r[3] == ("generated" if float(r[1]) > 0.5 else "real") for r in rows)
    assert primary_kind(info) == max(info["validation"], key=lambda k: info["validation"][k]["auc"])
    report = tmp_path / "eval.json"
    assert (
        cli(
            "detect",
            "eval",
            old,
            "--real",
            trained / "real.npy",
            "--fake",
            trained / "fake.npy",
            "-n",
            20,
            "--json",
            report,
        )
        == 0
    )
    assert "not calibrated" in capsys.readouterr().err
    assert all(f["threshold"] == 0.5 for f in json.loads(report.read_text())["scores"].values())


def test_folder_writes_scores_csv_with_relative_names(trained, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(images(1, seed=3)[0]).save(folder / "a.png")
    Image.fromarray(images(1, seed=4, board=8)[0]).save(folder / "sub" / "b.png")
    (folder / "broken.png").write_bytes(b"not an image")
    np.save(tmp_path / "two.npy", images(2, seed=5))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    capsys.readouterr()
    assert cli("detect", "score", trained / "det", folder, tmp_path / "two.npy") == 0
    out, err = capsys.readouterr()
    assert "broken.png" in err and f"wrote {work / 'scores.csv'} (4 images)" in err
    with open(work / "scores.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == table(out)[1] and rows[1:] == table(out)[2]  # the CSV holds what was printed
    assert [r[0] for r in rows[1:]] == ["a.png", "sub/b.png", "two.npy[0]", "two.npy[1]"]
    assert [r[-1] for r in rows[1:]] == [str(folder)] * 2 + [str(tmp_path / "two.npy")] * 2
    assert all(0 <= float(p) <= 1 for r in rows[1:] for p in r[1:3])
    assert not list(work.glob(".*.tmp"))  # the atomic write left no temporary

    # an explicit --csv, and single files: no default CSV
    (work / "scores.csv").unlink()
    assert cli("detect", "score", trained / "det", tmp_path / "two.npy") == 0
    assert not (work / "scores.csv").exists()
    assert (
        cli("detect", "score", trained / "det", tmp_path / "two.npy", "--csv", tmp_path / "x" / "s.csv") == 0
    )
    assert len((tmp_path / "x" / "s.csv").read_text().splitlines()) == 3


def test_evidence_map_mean_is_the_logit():
    torch.manual_seed(0)
    model = PixelDetector(1, 20).eval()
    batch = images(5, seed=6, side=20)[:, None]
    maps = evidence_map(model, batch)
    assert maps.shape == (5, 5, 5)  # two stride-2 convolutions: a quarter of the side
    with torch.no_grad():
        logits = model(to_unit_range(torch.from_numpy(batch))).double().numpy()
    np.testing.assert_allclose(maps.mean((1, 2)), logits, rtol=1e-5, atol=1e-5)
    assert maps.std() > 0  # a map, not a constant
    with pytest.raises(DetectError, match="global average pooling"):
        pooled_head(SpectrumDetector(1, 20))


def test_heatmap_png_for_the_first_eight(trained, tmp_path, capsys):
    np.save(tmp_path / "ten.npy", images(10, seed=9, board=4))
    out = tmp_path / "heat.png"
    capsys.readouterr()
    assert cli("detect", "score", trained / "det", tmp_path / "ten.npy", "--heatmap", out) == 0
    assert "the first 8 of 10" in capsys.readouterr().err
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size[0] > 400


def test_heatmap_refused_without_a_pixel_detector(trained, tmp_path, capsys):
    det = tmp_path / "spectrum-only"
    assert (
        cli(
            "detect",
            "train",
            "--real",
            trained / "real.npy",
            "--fake",
            trained / "fake.npy",
            "--out",
            det,
            "-n",
            40,
            "--steps",
            5,
            "--detectors",
            "spectrum",
        )
        == 0
    )
    capsys.readouterr()
    assert cli("detect", "score", det, trained / "real.npy", "--heatmap", tmp_path / "h.png") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no pixel detector" in err[0]
    assert not (tmp_path / "h.png").exists()


def test_eval_reports_accuracy_at_own_threshold_and_average_precision(trained, tmp_path, capsys):
    report = tmp_path / "eval.json"
    assert (
        cli(
            "detect",
            "eval",
            trained / "det",
            "--real",
            trained / "real.npy",
            "--fake",
            trained / "fake.npy",
            "-n",
            60,
            "--json",
            report,
        )
        == 0
    )
    info = json.loads((trained / "det" / "detector.json").read_text())
    scores = json.loads(report.read_text())["scores"]
    for kind, figures in scores.items():
        assert figures["threshold"] == pytest.approx(info["calibration"][kind]["threshold"])
        assert 0 <= figures["average_precision"] <= 1 and figures["n_real"] == figures["n_fake"] == 60
    assert "avg prec" in capsys.readouterr().out


def test_eval_figures_by_hand():
    f = eval_figures(np.array([0.1, 0.3, 0.6]), np.array([0.5, 0.7, 0.9]), cutoff=0.55)
    assert f["fpr"] == pytest.approx(1 / 3) and f["tpr"] == pytest.approx(2 / 3)
    assert f["accuracy"] == pytest.approx(4 / 6)
    assert f["auc"] == pytest.approx(8 / 9)  # 8 of the 9 (real, generated) pairs ordered right


def test_default_resolves_and_scores_fashion_mnist_like_images(tmp_path, capsys):
    assert shipped.resolve_detector("default") == shipped.DEFAULT_DIR
    models, info = load_detector(shipped.DEFAULT_DIR)
    assert info["image_size"] == 28 and set(info["calibration"]) == set(models)
    try:
        from ganforge.detect import load_set

        real, is_fashion = load_set("fashion-mnist:test", 16, seed=3)[:, 0], True
    except Exception:  # no Fashion-MNIST on this machine: smooth 28 px images instead
        real, is_fashion = images(16, seed=3, side=28), False
    np.save(tmp_path / "real.npy", real)
    Image.fromarray(real[0]).save(tmp_path / "one.png")
    capsys.readouterr()
    assert cli("detect", "score", "default", tmp_path / "one.png", tmp_path / "real.npy") == 0
    comments, header, rows = table(capsys.readouterr().out)
    assert len(rows) == 17 and sum("false positives on real test images" in c for c in comments) == len(
        models
    )
    assert all(0 <= float(p) <= 1 for r in rows for p in r[1 : 1 + len(models)])
    if is_fashion:  # real test images: its calibrated false-positive rate is a few per cent at most
        assert sum(r[header.index("verdict")] == "real" for r in rows) >= 14
        np.save(tmp_path / "noise.npy", images(30, seed=4, board=20, side=28))
        report = tmp_path / "eval.json"
        assert (
            cli("detect", "eval", "default", "--fake", tmp_path / "noise.npy", "-n", 30, "--json", report)
            == 0
        )
        assert json.loads(report.read_text())["real"] == "fashion-mnist:test"


def test_missing_default_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shipped, "DEFAULT_DIR", tmp_path / "nowhere")
    assert cli("detect", "score", "default", tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "benchmarks/detect_zoo.py --ship" in err[0]
    assert cli("detect", "eval", "default", "--fake", tmp_path) == 2


def test_train_accepts_every_detector_kind_and_names_them_on_a_typo(tmp_path, capsys):
    assert (
        cli(
            "detect",
            "train",
            "--real",
            tmp_path,
            "--fake",
            tmp_path,
            "--out",
            tmp_path / "d",
            "--detectors",
            "dct,nope",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "nope" in err and "dct-aug" in err and "probe" in err
