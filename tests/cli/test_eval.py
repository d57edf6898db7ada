"""End to end through the CLI: train a tiny run with eval.every (best generator kept, metric
columns, metrics.png), `ganforge eval` on it and on .npy files, and the one-line errors."""

import json

import numpy as np
import pytest
import torch
from cli_exit import cli
from safetensors.torch import load_file

from ganforge.checkpoint import load_checkpoint
from ganforge.config import DataConfig
from ganforge.data import DataError, load_dataset
from ganforge.training.log import read_metrics

TINY = [
    "--config",
    "configs/dcgan-fashion-mnist.yaml",
    "--set",
    "data.limit=300",
    "--set",
    "model.g_width=8",
    "--set",
    "model.d_width=8",
    "--set",
    "train.steps=6",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.log_every=2",
    "--set",
    "train.sample_every=100",
    "--set",
    "train.checkpoint_every=100",
    "--set",
    "run.progress=false",
    "--set",
    "run.device=cpu",
    "--set",
    "eval.every=0",
]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    try:
        load_dataset(DataConfig(name="fashion-mnist", split="test", download=False))
    except DataError:
        pytest.skip("Fashion-MNIST files are not on this machine")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "tiny"
    # Module scope runs before the function-scoped autouse fixtures (tests/conftest.py): set
    # their private cache and single thread here too, so both trainings compute alike.
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANFORGE_CACHE", str(tmp_path_factory.mktemp("cache")))
        assert (
            cli(
                "train",
                *TINY,
                "--set",
                f"run.dir={run}",
                "--set",
                "eval.every=2",
                "--set",
                "eval.n=300",
                "--set",
                "eval.metrics=fid,kid,coverage",
            )
            == 0
        )
    return run


def test_training_with_eval_every_keeps_the_best_generator(run_dir):
    columns = read_metrics(run_dir / "metrics.csv")
    fid = columns["fid_fmnist"]
    assert columns["step"] == [2, 4, 6] and len(fid) == 3 and all(v > 0 for v in fid)
    assert "kid_fmnist" in columns and "coverage_fmnist" in columns
    best = json.loads((run_dir / "generator-best.json").read_text())
    best_step = columns["step"][int(np.argmin(fid))]
    assert best["eval"]["metric"] == "fid_fmnist" and best["step"] == best_step
    assert best["eval"]["value"] == pytest.approx(min(fid), rel=1e-5)
    payload = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    assert payload["step"] == best_step
    assert (run_dir / "metrics.png").stat().st_size > 0


def test_evaluation_does_not_change_training(run_dir, tmp_path):
    plain = tmp_path / "plain"
    assert cli("train", *TINY, "--set", f"run.dir={plain}") == 0
    evaluated, reference = (
        load_file(run_dir / "generator.safetensors"),
        load_file(plain / "generator.safetensors"),
    )
    for key in reference:
        assert (evaluated[key] == reference[key]).all(), key
    assert "fid_fmnist" not in read_metrics(plain / "metrics.csv")


def test_eval_run_writes_metrics_json_with_protocol_cards(run_dir, capsys):
    assert cli("eval", "--run", run_dir, "--n", 300, "--metrics", "fid,kid,prdc,is,classes") == 0
    printed = capsys.readouterr().out
    report = json.loads((run_dir / "metrics.json").read_text())
    assert report["which"] == "last" and report["step"] == 6
    for name in (
        "fid_fmnist",
        "kid_fmnist",
        "precision_fmnist",
        "recall_fmnist",
        "density_fmnist",
        "coverage_fmnist",
        "is_fmnist",
        "classes_fmnist",
    ):
        card = report["scores"][name]["protocol"]
        assert card["metric"] == name and card["n_fake"] == 300 and card["n_real"] == 300
        assert card["real"] == "fashion-mnist:train" and card["feature_network"] == "fmnist"
        assert name in printed
    # the context baselines sit beside the run's figure
    assert set(report["context"]) == {"real_test", "uniform_noise", "one_repeated_image"}
    assert "real_test" in printed and "protocol:" in printed

    assert (
        cli("eval", "--run", run_dir, "--n", 300, "--which", "best", "--metrics", "fid", "--no-context") == 0
    )
    best = json.loads((run_dir / "metrics-best.json").read_text())
    assert best["which"] == "best" and "context" not in best


def test_eval_on_npy_files(run_dir, tmp_path, capsys):
    samples = tmp_path / "samples.npy"
    assert cli("sample", "--run", run_dir, "-n", 300, "--out", samples) == 0
    out = tmp_path / "m.json"
    assert (
        cli("eval", "--real", "fashion-mnist:test", "--fake", samples, "--metrics", "fid,kid", "--out", out)
        == 0
    )
    report = json.loads(out.read_text())
    assert report["n_fake"] == 300 and report["real"] == "fashion-mnist:test"
    assert report["scores"]["fid_fmnist"]["protocol"]["fake"] == str(samples)
    # an RGB 32 px copy is converted (and said so) rather than refused
    rgb = np.repeat(np.load(samples), 3, axis=-1)
    rgb = np.pad(rgb, ((0, 0), (2, 2), (2, 2), (0, 0)))
    np.save(tmp_path / "rgb.npy", rgb)
    capsys.readouterr()
    assert (
        cli(
            "eval",
            "--real",
            "fashion-mnist:test",
            "--fake",
            tmp_path / "rgb.npy",
            "--metrics",
            "fid",
            "--no-context",
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "converted to gray" in printed and "resized to 28x28" in printed


def test_bad_usage_is_a_one_line_error(tmp_path, capsys):
    assert cli("eval") == 2
    assert "give --run" in capsys.readouterr().err
    np.save(tmp_path / "x.npy", np.zeros((10, 28, 28), np.float32))
    assert cli("eval", "--real", "fashion-mnist:test", "--fake", tmp_path / "x.npy") == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "uint8" in errors[0]  # one line, no traceback
    assert cli("train", *TINY, "--set", f"run.dir={tmp_path / 'r'}", "--set", "eval.every=3") == 2
    assert "multiple of train.log_every" in capsys.readouterr().err


def test_point_runs_get_mode_coverage(tmp_path):
    run = tmp_path / "ring"
    assert (
        cli(
            "train",
            "--config",
            "configs/gan-ring8.yaml",
            "--set",
            f"run.dir={run}",
            "--set",
            "train.steps=4",
            "--set",
            "train.log_every=2",
            "--set",
            "eval.every=2",
            "--set",
            "data.n_points=2000",
            "--set",
            "run.progress=false",
        )
        == 0
    )
    columns = read_metrics(run / "metrics.csv")
    assert len(columns["modes_covered"]) == 2 and "high_quality_share" in columns
    assert cli("eval", "--run", run) == 0
    report = json.loads((run / "metrics.json").read_text())
    scores = report["scores"]
    assert 0 <= scores["modes_covered"]["value"] <= 8 and scores["modes_covered"]["of"] == 8
    assert report["n_fake"] == 2500  # PacGAN's protocol
    assert scores["high_quality_share"]["protocol"]["parameters"] == {"hq_threshold_std": 3.0}


def test_unknown_metric_on_a_point_run_lists_the_valid_names(tmp_path, capsys):
    """Issue 13 item 10: `eval --metrics foo` on a 2-D run used to be ignored."""
    run = tmp_path / "ring"
    argv = ["--config", "configs/gan-ring8.yaml", "--set", f"run.dir={run}", "--set", "train.steps=2"]
    assert cli("train", *argv, "--set", "train.log_every=2", "--set", "run.progress=false") == 0
    capsys.readouterr()
    assert cli("eval", "--run", run, "--metrics", "foo") == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "unknown metric 'foo'" in errors[0] and "mode_coverage" in errors[0]
    assert cli("eval", "--run", run, "--metrics", "fid") == 2  # an image metric on points
    assert "fid needs image features" in capsys.readouterr().err
    assert cli("eval", "--run", run, "--metrics", "modes_covered", "--no-context") == 0
