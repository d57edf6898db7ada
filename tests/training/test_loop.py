"""The training loop: exact resume, crash safety, divergence, and learning on real digits."""

import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from ganforge.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from ganforge.cli import main
from ganforge.config import ConfigError
from ganforge.losses import LOSSES, GANLoss, d_bce, g_nonsaturating
from ganforge.training import TrainingDiverged, train
from ganforge.training.log import read_metrics


def flat(state_dict):
    return torch.cat([v.flatten().float() for v in state_dict.values()])


def test_run_folder_layout(tmp_path, tiny_digits):
    state = train(tiny_digits(tmp_path / "run", "train.steps=20", "train.sample_every=10"))
    run = tmp_path / "run"
    for name in (
        "config.yaml",
        "metrics.csv",
        "curves.png",
        "generator.safetensors",
        "generator.json",
        "samples/step_0000010.png",
        "samples/step_0000020.png",
    ):
        assert (run / name).is_file(), name
    metrics = read_metrics(run / "metrics.csv")
    assert metrics["step"] == [5, 10, 15, 20]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "lr_d", "lr_g", "seconds"} <= set(metrics)
    assert state.step == 20


@pytest.mark.parametrize(
    "extra", [[], ["train.ema_decay=0.9", "train.d_steps=2"], ["train.loss=wgan-gp", "model.dropout=0.2"]]
)
def test_resume_is_bit_exact(tmp_path, extra, tiny_digits):
    straight = train(tiny_digits(tmp_path / "a", "train.steps=30", *extra))
    train(tiny_digits(tmp_path / "b", "train.steps=15", *extra))
    resumed = train(tiny_digits(tmp_path / "b", "train.steps=30", *extra), resume=True)
    assert resumed.step == 30
    for name in ("G", "D", "G_ema"):
        a, b = getattr(straight, name), getattr(resumed, name)
        if a is not None:
            assert torch.equal(flat(a.state_dict()), flat(b.state_dict())), name
    a_opt, b_opt = straight.opt_d.state_dict()["state"], resumed.opt_d.state_dict()["state"]
    assert all(torch.equal(a_opt[k]["exp_avg"], b_opt[k]["exp_avg"]) for k in a_opt)
    # metrics.csv describes one history: the resumed rows equal the straight run's.
    a_rows, b_rows = read_metrics(tmp_path / "a/metrics.csv"), read_metrics(tmp_path / "b/metrics.csv")
    assert a_rows["step"] == b_rows["step"] and a_rows["d_loss"] == b_rows["d_loss"]


def test_lr_decay_follows_the_step_and_survives_resume(tmp_path, tiny_digits):
    extra = ["train.steps=30", "train.lr_decay_start=0.5", "train.checkpoint_every=15"]
    straight = train(tiny_digits(tmp_path / "a", *extra))
    rows = read_metrics(tmp_path / "a/metrics.csv")
    base = straight.cfg.train.lr_g
    # A row logs the rate of its step's last update: constant up to step 15, then
    # (30 - s) / 15 of it for the update that starts at s updates.
    lr_g = dict(zip(rows["step"], rows["lr_g"]))
    assert [lr_g[s] for s in (5, 10, 15)] == [base] * 3
    # (metrics.csv keeps 6 significant digits)
    assert lr_g[20] == pytest.approx(base * 11 / 15, rel=1e-5)
    assert lr_g[30] == pytest.approx(base / 15, rel=1e-5)
    assert rows["lr_d"][-1] == pytest.approx(straight.cfg.train.lr_d / 15, rel=1e-5)
    # Resuming from the step-15 checkpoint of the same 30-step run continues the schedule.
    (tmp_path / "b/checkpoints").mkdir(parents=True)
    (tmp_path / "b/checkpoints/step_0000015.pt").write_bytes(
        (tmp_path / "a/checkpoints/step_0000015.pt").read_bytes()
    )
    resumed = train(tiny_digits(tmp_path / "b", *extra), resume=True)
    assert torch.equal(flat(straight.G.state_dict()), flat(resumed.G.state_dict()))
    assert torch.equal(flat(straight.D.state_dict()), flat(resumed.D.state_dict()))


def test_resume_refuses_a_different_run(tmp_path, tiny_digits):
    train(tiny_digits(tmp_path / "r", "train.steps=10"))
    with pytest.raises(ConfigError, match="model.z_dim cannot change on resume"):
        train(tiny_digits(tmp_path / "r", "train.steps=20", "model.z_dim=8"), resume=True)
    with pytest.raises(Exception, match="already holds a run"):
        train(tiny_digits(tmp_path / "r", "train.steps=20"))
    with pytest.raises(Exception, match="nothing to resume"):
        train(tiny_digits(tmp_path / "empty", "train.steps=20"), resume=True)


def test_keeps_last_k_checkpoints_and_they_load_safely(tmp_path, tiny_digits):
    train(tiny_digits(tmp_path / "r", "train.steps=50", "train.keep_checkpoints=2"))
    names = [p.name for p in list_checkpoints(tmp_path / "r")]
    assert names == ["step_0000040.pt", "step_0000050.pt"]
    payload = load_checkpoint(latest_checkpoint(tmp_path / "r"))
    assert payload["step"] == 50 and payload["config"]["train"]["steps"] == 50


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, tiny_digits):
    train(tiny_digits(tmp_path / "r", "train.steps=10"))
    path = latest_checkpoint(tmp_path / "r")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="unreadable.*delete it"):
        train(tiny_digits(tmp_path / "r", "train.steps=20"), resume=True)


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, tiny_digits):
    calls = {"n": 0}

    def d_poisoned(real_logits, fake_logits):
        calls["n"] += 1
        loss = d_bce(real_logits, fake_logits)
        return loss * float("nan") if calls["n"] > 23 else loss

    monkeypatch.setitem(LOSSES, "poisoned", GANLoss(d_poisoned, g_nonsaturating, "test", True))
    with pytest.raises(TrainingDiverged, match="NaN/inf at step 24.*step_0000020.pt"):
        train(tiny_digits(tmp_path / "r", "train.steps=40", "train.loss=poisoned"))
    assert [p.name for p in list_checkpoints(tmp_path / "r")] == ["step_0000010.pt", "step_0000020.pt"]
    payload = load_checkpoint(latest_checkpoint(tmp_path / "r"))
    assert all(torch.isfinite(v).all() for v in payload["G"].values())


def _cli(run_dir, steps):
    return [
        sys.executable,
        "-m",
        "ganforge",
        "train",
        "--set",
        f"run.dir={run_dir}",
        "--set",
        "run.progress=false",
        "--set",
        "data.name=digits",
        "--set",
        "model.name=mlp",
        "--set",
        "train.batch_size=32",
        "--set",
        f"train.steps={steps}",
        "--set",
        "train.checkpoint_every=100",
        "--set",
        "train.sample_every=100000",
    ]


def _wait_for_checkpoint(run_dir, process, timeout=240):
    deadline = time.time() + timeout
    while latest_checkpoint(run_dir) is None:
        assert process.poll() is None, "training ended before a checkpoint appeared"
        assert time.time() < deadline, "no checkpoint in time"
        time.sleep(0.05)


def test_kill_9_then_resume(tmp_path, capsys):
    run = tmp_path / "r"
    process = subprocess.Popen(_cli(run, 100_000), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_checkpoint(run, process)
    time.sleep(0.3)  # let it get into the middle of later writes
    process.send_signal(signal.SIGKILL)
    process.wait()
    # Every checkpoint left behind is complete; no temp file is mistaken for one.
    for path in list_checkpoints(run):
        load_checkpoint(path)
    step = load_checkpoint(latest_checkpoint(run))["step"]
    # The resume through the same command line, in this process (a second child would only
    # add its start-up): it finishes with exit code 0.
    with pytest.raises(SystemExit) as done:
        main(["train", "--resume", str(run), "--set", f"train.steps={step + 50}"])
    assert done.value.code == 0, capsys.readouterr().err
    assert load_checkpoint(latest_checkpoint(run))["step"] == step + 50


def test_ctrl_c_writes_a_checkpoint(tmp_path):
    run = tmp_path / "r"
    process = subprocess.Popen(_cli(run, 100_000), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(run, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 75, err  # stopped, resumable (cli/train.py: EXIT_STOPPED)
    assert "checkpoint written" in err and "--resume" in err
    stopped_at = int(re.search(r"stopped at step (\d+)", err).group(1))
    assert stopped_at > 100  # past the first periodic checkpoint ...
    assert load_checkpoint(latest_checkpoint(run))["step"] == stopped_at  # ... and saved on exit
    assert (run / "generator.safetensors").is_file()


def test_learns_digits(tmp_path):
    """On real digits G's samples become digits of many classes (judged by a classifier fitted
    on the data), and get closer to the data than G's first samples were."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from ganforge.config import load_config
    from ganforge.training import build_state

    images, labels = load_digits(return_X_y=True)
    judge = LogisticRegression(max_iter=2000).fit(images / 16, labels)
    cfg = load_config(
        "configs/gan-mlp-digits.yaml",
        [
            f"run.dir={tmp_path}",
            "run.progress=false",
            "run.seed=2",
            "train.steps=1500",
            "model.g_width=128",
            "model.d_width=128",
        ],
    )
    real = torch.tensor(images, dtype=torch.float32) / 8 - 1

    def judged(G):
        torch.manual_seed(5)
        with torch.no_grad():
            fake = G.eval()(torch.rand(1000, cfg.model.z_dim) * 2 - 1).flatten(1)
        classes = np.bincount(judge.predict(((fake + 1) * 8).numpy() / 16), minlength=10)
        nearest = torch.cdist(fake, real).min(1).values.mean().item()
        return classes, nearest

    _, nearest_before = judged(build_state(cfg).G)
    state = train(cfg)
    classes, nearest_after = judged(state.G)
    assert (classes >= 50).sum() >= 5, classes  # at least 5 digit classes with >= 5 % share
    assert nearest_after < 0.6 * nearest_before
    m = read_metrics(tmp_path / "metrics.csv")
    assert max(m["g_loss"]) - min(m["g_loss"]) > 0.3  # the game moved
