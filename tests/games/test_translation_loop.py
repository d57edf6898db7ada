"""CycleGAN and pix2pix through the training loop (``training.train`` and ``ganforge train``):
bit-exact resume, SIGTERM, NaN, the learning-rate decay, the speed switches, ``eval.every``."""

import json
import os
import shutil
import signal

import numpy as np
import pytest
import torch
from tiny_translation import SIZE, tiny_translation

from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.cli import main
from ganforge.cli.train import EXIT_STOPPED
from ganforge.config import ConfigError, load_config
from ganforge.errors import GanforgeError
from ganforge.games.cyclegan import CycleGAN
from ganforge.games.pix2pix import Pix2Pix
from ganforge.training import train
from ganforge.training.log import read_metrics
from ganforge.training.loop import TrainingDiverged, lr_factor

GAMES = {"cyclegan": CycleGAN, "pix2pix": Pix2Pix}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory, write_pairs):
    return write_pairs(tmp_path_factory.mktemp("pairs"), SIZE)


@pytest.fixture(scope="module")
def many(tmp_path_factory, write_pairs):
    """Enough test images (130 > the fmnist evaluator's 128 feature dimensions) for FID."""
    return write_pairs(tmp_path_factory.mktemp("many"), SIZE, test=130)


def config(game, pairs, run_dir, *overrides, data=None):
    data = data or ("unpaired" if game == "cyclegan" else "paired")
    return load_config(
        None,
        [
            f"run.dir={run_dir}",
            "run.progress=false",
            f"model.name={game}",
            *tiny_translation(game, pairs),
            f"data.name={data}",
            f"data.root={pairs / data}",
            "train.steps=8",
            "train.log_every=2",
            "train.sample_every=1000",
            "train.checkpoint_every=4",
            "train.precision=fp32",
            *overrides,
        ],
    )


def run_cli(*args):
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    return stop.value.code


def assert_same(a, b, where=""):
    """Tensors equal bit for bit, recursively through dicts, lists and tuples."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize(
    ("game", "noise"),
    [("cyclegan", 0.0), ("cyclegan", 0.3), ("pix2pix", 0.0)],
    ids=["cyclegan", "noise", "pix2pix"],
)
def test_resume_through_ganforge_train_is_bit_exact(pairs, tmp_path, game, noise):
    # lr decay from step 4 on: the resumed half must also continue the schedule.
    extra = ("train.lr_decay_start=0.5", f"train.cycle_noise={noise}")
    straight = train(config(game, pairs, tmp_path / "a", *extra))
    split = tmp_path / "b"
    (split / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "a/checkpoints/step_0000004.pt", split / "checkpoints")
    assert run_cli("train", "--resume", str(split)) == 0
    a, b = load_checkpoint(latest_checkpoint(tmp_path / "a")), load_checkpoint(latest_checkpoint(split))
    assert a["step"] == b["step"] == 8
    # Every net and optimizer, the samplers, the pools (cyclegan) and the RNG states.
    for key in a.keys() - {"elapsed_seconds", "config"}:
        assert_same(a[key], b[key], key)
    if game == "cyclegan":
        assert a["pool_a"]["count"] == 6 and a["sampler_a"]["epoch"] == 2  # both were exercised
    for key, net in straight.game.nets.items():
        assert_same(net.state_dict(), b[key], key)
    rows_a, rows_b = read_metrics(tmp_path / "a/metrics.csv"), read_metrics(split / "metrics.csv")
    loss = "loss_G" if game == "cyclegan" else "loss_G_L1"
    assert rows_a[loss][-2:] == rows_b[loss][-2:] and rows_b["step"] == [6, 8]


@pytest.mark.parametrize("game", ["cyclegan", "pix2pix"])
def test_sigterm_stops_with_a_checkpoint_and_exit_75(pairs, tmp_path, monkeypatch, game):
    cls, calls = GAMES[game], []
    original = cls.iteration

    def iteration(self):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # the loop's handler turns it into a stop request
        return original(self)

    monkeypatch.setattr(cls, "iteration", iteration)
    config(game, pairs, tmp_path / "r").save(tmp_path / "preset.yaml")
    assert run_cli("train", "--config", str(tmp_path / "preset.yaml")) == EXIT_STOPPED == 75
    payload = load_checkpoint(latest_checkpoint(tmp_path / "r"))
    assert payload["step"] == 3 and payload["game"] == game


def test_a_nan_loss_stops_the_run_naming_the_step(pairs, tmp_path, monkeypatch):
    original, calls = Pix2Pix.iteration, []

    def iteration(self):
        stats = original(self)
        calls.append(1)
        if len(calls) == 5:
            stats["loss_D"] = torch.tensor(float("nan"))
        return stats

    monkeypatch.setattr(Pix2Pix, "iteration", iteration)
    with pytest.raises(TrainingDiverged, match="NaN/inf at step 5; .*last good checkpoint: .*step_0000004"):
        train(config("pix2pix", pairs, tmp_path / "r"))


def test_learning_rates_stay_then_fall_linearly_to_zero(pairs, tmp_path):
    train(config("cyclegan", pairs, tmp_path / "r", "train.lr_decay_start=0.5", "train.log_every=1"))
    rows = read_metrics(tmp_path / "r/metrics.csv")
    base = 2e-4
    assert set(rows) >= {"lr_g", "lr_d_a", "lr_d_b"}
    for column in ("lr_g", "lr_d_a", "lr_d_b"):
        # A row logs the rate of its step's update: constant for updates 1-4, then the line
        # (8 - s) / 4 that reaches 0 at the end of the run (update s = 8 would be at 0).
        assert rows[column][:5] == [base] * 5, column
        assert rows[column][4:] == pytest.approx([base * (8 - s) / 4 for s in range(4, 8)], rel=1e-5)
    assert lr_factor(8, 8, 0.5) == 0.0


@pytest.mark.parametrize("game", ["cyclegan", "pix2pix"])
def test_bf16_and_channels_last_train_on_cpu_and_compile_stays_eager(pairs, tmp_path, game):
    cfg = config(game, pairs, tmp_path / "r", "train.precision=bf16", "train.memory_format=channels_last")
    state = train(cfg)
    assert state.speed.precision == "bf16" and state.speed.memory_format == "channels_last"
    assert state.speed.compile == "eager"  # compile=auto: translation games run eagerly
    assert np.isfinite(read_metrics(tmp_path / "r/metrics.csv")["loss_G"]).all()
    with pytest.raises(ConfigError, match=f"not available for the {game} game"):
        train(config(game, pairs, tmp_path / "s", "train.compile=reduce-overhead"))


def test_eval_every_keeps_the_best_translators_by_mae_on_true_pairs(pairs, tmp_path):
    run = tmp_path / "r"
    train(config("pix2pix", pairs, run, "eval.every=4", "eval.n=4"))
    rows = read_metrics(run / "metrics.csv")
    scored = [(s, v) for s, v in zip(rows["step"], rows["mae"]) if v is not None and np.isfinite(v)]
    assert [s for s, _ in scored] == [4, 8] and all(0 <= v <= 1 for _, v in scored)
    best = json.loads((run / "generator-AtoB-best.json").read_text())["eval"]
    assert best["metric"] == "mae" and best["value"] == pytest.approx(min(v for _, v in scored), rel=1e-5)
    assert (run / "checkpoints/best.pt").is_file() and (run / "metrics.png").is_file()


def test_eval_every_without_truth_scores_fid_per_direction(pairs, many, tmp_path):
    run = tmp_path / "r"
    with pytest.raises(GanforgeError, match="scores FID, which needs more than 128 test images"):
        train(config("cyclegan", pairs, tmp_path / "few", "eval.every=8", "eval.feature_net=fmnist"))
    train(config("cyclegan", many, run, "eval.every=8", "eval.n=130", "eval.feature_net=fmnist"))
    rows = read_metrics(run / "metrics.csv")
    for column in ("fid_fmnist", "fid_fmnist_AtoB", "fid_fmnist_BtoA"):
        assert rows[column][-1] is not None and rows[column][-1] > 0, column
    # metrics.csv keeps 6 significant digits of each value, so the mean of the two rounded
    # directions can differ from the rounded mean by a unit in the sixth digit
    assert rows["fid_fmnist"][-1] == pytest.approx(
        (rows["fid_fmnist_AtoB"][-1] + rows["fid_fmnist_BtoA"][-1]) / 2, rel=1e-5
    )
    for direction in ("AtoB", "BtoA"):
        assert (run / f"generator-{direction}-best.safetensors").is_file()


def test_ganforge_eval_on_a_folder_pair_without_truth_gives_fid_and_says_why(many, tmp_path, capsys):
    run = tmp_path / "r"
    train(config("cyclegan", many, run, "train.steps=2"))
    assert run_cli("eval", "--run", str(run), "--feature-net", "fmnist", "--direction", "BtoA") == 0
    out = capsys.readouterr().out
    assert "holds no true translations" in out and "BtoA (130 test images)" in out and "AtoB (" not in out
    report = json.loads((run / "metrics.json").read_text())
    assert list(report["directions"]) == ["BtoA"]
    assert set(report["directions"]["BtoA"]["scores"]) == {"fid_fmnist"}
    assert set(report["directions"]["BtoA"]["context"]["identity"]) == {"fid_fmnist"}
