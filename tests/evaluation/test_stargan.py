"""``ganforge eval --run`` on StarGAN runs: every column on fmnist-styles, the subset that
applies (with notes) on a folder of domains, and the cached judge."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import DataConfig, load_config
from ganforge.data.styles import combinations, garments, render, unrender
from ganforge.evaluation.stargan import content_scores, evaluate_stargan_run, is_stargan_run, truth_scores
from ganforge.files import cache_root
from ganforge.training import train

TINY = [
    "run.progress=false",
    "model.name=stargan",
    "data.image_size=12",
    "model.g_width=4",
    "model.d_width=8",
    "model.res_blocks=1",
    "train.batch_size=8",
    "train.d_steps=1",
    "train.steps=2",
    "train.log_every=1",
    "train.sample_every=1000",
    "train.precision=fp32",
    "train.memory_format=contiguous",
]
STYLES_COLUMNS = {
    "attribute_accuracy",
    "all_attributes_accuracy",
    "reconstruction_mae",
    "garment_accuracy",
    "truth_mae",
    "truth_mae_ratio",
    "fid_per_domain",
}


@pytest.fixture(scope="module")
def styles_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("styles") / "run"
    train(load_config(None, [f"run.dir={run}", "data.name=fmnist-styles", "data.limit=2000", *TINY]))
    return run


@pytest.fixture(scope="module")
def styles_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("styles-cache")


@pytest.fixture(scope="module")
def first_report(styles_run, styles_cache_dir):
    """The first scoring of ``styles_run`` in a fresh cache: it trains the judge (the costly
    part, ~10 s) and caches it there for this module's other tests."""
    torch.set_num_threads(1)  # module scope runs before tests/conftest.py's autouse fixture
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANFORGE_CACHE", str(styles_cache_dir))
        return evaluate_stargan_run(styles_run, n=150, seed=3)


@pytest.fixture
def styles_cache(first_report, styles_cache_dir, monkeypatch):
    """The cache that holds the judge ``first_report`` trained."""
    monkeypatch.setenv("GANFORGE_CACHE", str(styles_cache_dir))
    return styles_cache_dir


def run_cli(*args):
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    return stop.value.code


def test_eval_on_fmnist_styles_returns_every_column(styles_run, styles_cache, tmp_path, capsys):
    assert is_stargan_run(styles_run)
    out = tmp_path / "m.json"
    assert run_cli("eval", "--run", str(styles_run), "--n", "300", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert set(report["scores"]) == STYLES_COLUMNS and report["notes"] == []
    assert all(name in printed for name in STYLES_COLUMNS)
    assert report["n_sources"] == 300 and report["targets"] == 12
    assert report["n_fake"] == 3300  # 300 sources x the 11 styles other than their own
    score = {name: s["value"] for name, s in report["scores"].items()}
    real, identity = report["context"]["real_test"], report["context"]["identity"]
    # The judge learned the styles of real images (far better than calling the input the target).
    assert real["attribute_accuracy"] > identity["attribute_accuracy"] + 0.1
    assert real["garment_accuracy"] > 0.5  # the shipped evaluator on gray-converted real inputs
    assert score["truth_mae_ratio"] == pytest.approx(score["truth_mae"] / identity["truth_mae"])
    assert 0 < score["reconstruction_mae"] < 1 and score["fid_per_domain"] > real["fid_per_domain"] > 0
    assert len(report["per_domain_fid"]) == 12
    # The breakdown: a row per target (its 275 translations: the 300 sources not in it), and
    # the kinds of change; the rows weigh back to the overall scores.
    per_target, per_change = report["per_target"], report["per_change"]
    assert list(per_target) == list(report["per_domain_fid"]) and len(per_target) == 12
    assert sum(row["n"] for row in per_target.values()) == 3300
    for name in ("garment_accuracy", "truth_mae", "attribute_accuracy", "reconstruction_mae"):
        mean = sum(row["n"] * row[name] for row in per_target.values()) / 3300
        assert mean == pytest.approx(score[name], abs=1e-6)
    assert {"red|green|blue changed", "only inverted on", "striped off"} <= set(per_change)
    assert per_change["striped on"]["n"] + per_change["striped off"]["n"] < 3300  # some keep it
    assert "per_target" in printed and "only striped off" in printed


def test_the_judge_is_cached_and_the_scores_repeat(styles_run, first_report, styles_cache):
    first = first_report  # trained the judge in memory, then wrote it
    judges = list((cache_root() / "stargan-judges").glob("fmnist-styles-*.safetensors"))
    assert len(judges) == 1 and str(judges[0]) in first["real"]
    stamp = judges[0].stat().st_mtime_ns
    second = evaluate_stargan_run(styles_run, n=150, seed=3)
    assert first["scores"] == second["scores"] and judges[0].stat().st_mtime_ns == stamp


def test_a_folder_run_gets_the_scores_that_apply_and_says_why_not_the_others(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("test", 4)):
        for name, rgb in {"blue": (40, 60, 220), "red": (220, 50, 40)}.items():
            (tmp_path / "domains" / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(np.array(rgb) + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(tmp_path / "domains" / split / name / f"{i}.png")
    run = tmp_path / "run"
    settings = [f"run.dir={run}", "data.name=folder", f"data.root={tmp_path / 'domains'}", *TINY]
    train(load_config(None, settings))
    report = evaluate_stargan_run(run)
    assert set(report["scores"]) == {"domain_accuracy", "reconstruction_mae", "fid_per_domain"}
    assert report["context"]["real_test"]["domain_accuracy"] == 1.0  # the colours are easy
    assert report["context"]["identity"]["domain_accuracy"] == 0.0  # inputs are the other colour
    notes = " ".join(report["notes"])
    assert "fmnist-styles only" in notes and "2 of 2 targets skipped" in notes
    assert report["scores"]["fid_per_domain"]["value"] is None


def test_unrender_undoes_render_up_to_rounding():
    gray, _ = garments(DataConfig(name="fmnist-styles", split="test", limit=100))
    styles = combinations(len(gray), "test")
    assert (unrender(render(gray, styles), styles).int() - gray.int()).abs().max() <= 1
    wrong = styles.clone()
    wrong[:, 3] = 1 - wrong[:, 3]  # read in the wrong style: far from the garment
    assert (unrender(render(gray, styles), wrong).float() - gray.float()).abs().mean() > 50


def test_the_rendered_truth_scores_like_real_images_and_a_blur_does_not():
    """The content and truth scorers read a perfect translator's output (the rendered truth)
    as well as real styled images: same garment accuracy, no error. A blurred truth keeps
    the style but loses garment accuracy: the score measures the garment, not the style."""
    gray, garment = (x[:300] for x in garments(DataConfig(name="fmnist-styles", split="test")))
    styles = combinations(len(gray), "test")
    targets = styles.roll(1, dims=0)  # another garment's style: mostly a different one
    inputs, truth = render(gray, styles), render(gray, targets)
    out = {"scores": {}, "context": {"real_test": {}, "identity": {}}, "notes": []}
    content_scores(truth, garment, inputs, targets, styles, torch.zeros(len(gray)), "cpu", out)
    truth_scores(truth, inputs, truth, out)
    score = {name: s["value"] for name, s in out["scores"].items()}
    assert score["garment_accuracy"] == pytest.approx(
        out["context"]["real_test"]["garment_accuracy"], abs=0.02
    )
    assert score["garment_accuracy"] > 0.8 and score["truth_mae"] == 0
    blurred = torch.nn.functional.avg_pool2d(truth.float(), 5, 1, 2).round().to(torch.uint8)
    content_scores(blurred, garment, inputs, targets, styles, torch.zeros(len(gray)), "cpu", out)
    assert out["scores"]["garment_accuracy"]["value"] < score["garment_accuracy"] - 0.2
