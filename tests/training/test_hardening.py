"""What a hostile tester broke (issue 13): damaged checkpoints, resume from the checkpoint's
config, disk full, absurd sizes, interrupted runs' exit code, file modes."""

import errno
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
import torch

from ganforge.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from ganforge.cli import main
from ganforge.cli.train import EXIT_STOPPED
from ganforge.config import ConfigError
from ganforge.training import train


def run_cli(*args):
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    return stop.value.code


def test_an_empty_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "step_0000010.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="step_0000010.pt is unreadable"):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, tiny_digits, capsys, damage):
    run = tmp_path / "r"
    train(tiny_digits(run, "train.steps=20"))
    newest = latest_checkpoint(run)
    newest.write_bytes(b"" if damage == "empty" else newest.read_bytes()[:1000])
    capsys.readouterr()
    state = train(tiny_digits(run, "train.steps=30"), resume=True)
    err = capsys.readouterr().err
    assert "step_0000020.pt is unreadable" in err and "resuming from step_0000010.pt instead" in err
    assert state.step == 30 and load_checkpoint(latest_checkpoint(run))["step"] == 30


def test_resume_takes_the_config_from_the_checkpoint(tmp_path, tiny_digits, capsys):
    run = tmp_path / "r"
    train(tiny_digits(run, "train.steps=10"))
    (run / "config.yaml").write_text("")  # emptied ...
    assert run_cli("train", "--resume", str(run), "--set", "train.steps=20") == 0
    (run / "config.yaml").unlink()  # ... or deleted: the checkpoint holds the whole config
    assert run_cli("train", "--resume", str(run), "--set", "train.steps=30") == 0
    assert load_checkpoint(latest_checkpoint(run))["step"] == 30
    assert "model:\n  name: mlp" in (run / "config.yaml").read_text()  # written again


def test_config_yaml_is_replaced_atomically(tmp_path, tiny_digits):
    run = tmp_path / "r"
    train(tiny_digits(run, "train.steps=10"))
    inode = (run / "config.yaml").stat().st_ino
    train(tiny_digits(run, "train.steps=20"), resume=True)
    # A new file renamed over the old one (a reader sees one or the other, never a half).
    assert (run / "config.yaml").stat().st_ino != inode


def test_disk_full_while_checkpointing_keeps_the_previous_one(tmp_path, tiny_digits, monkeypatch):
    real_save = torch.save
    calls = {"n": 0}

    def save_until_full(obj, path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_save(obj, path, *args, **kwargs)
        with open(path, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save_until_full)
    run = tmp_path / "r"
    full = "disk is full; the previous checkpoint .*step_0000010.pt is intact"
    with pytest.raises(CheckpointError, match=full):
        train(tiny_digits(run, "train.steps=30"))
    monkeypatch.undo()
    assert [p.name for p in list_checkpoints(run)] == ["step_0000010.pt"]
    assert load_checkpoint(list_checkpoints(run)[0])["step"] == 10
    assert not list((run / "checkpoints").glob(".*.tmp"))


def test_lowering_steps_below_the_checkpoint_is_refused(tmp_path, tiny_digits):
    run = tmp_path / "r"
    train(tiny_digits(run, "train.steps=20"))
    with pytest.raises(ConfigError, match="train.steps=10 is below step 20"):
        train(tiny_digits(run, "train.steps=10"), resume=True)
    assert train(tiny_digits(run, "train.steps=20"), resume=True).step == 20  # equal: nothing to do


def test_checkpoints_get_the_same_mode_as_other_files(tmp_path, tiny_digits):
    previous = os.umask(0o022)
    try:
        run = tmp_path / "r"
        train(tiny_digits(run, "train.steps=10"))
    finally:
        os.umask(previous)
    files = [
        latest_checkpoint(run),
        *(run / name for name in ("generator.safetensors", "config.yaml", "metrics.csv")),
    ]
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    assert set(modes.values()) == {0o644}, modes


@pytest.mark.parametrize(
    "setting, message",
    [
        ("model.z_dim=100000000", "model.z_dim=100000000 is too large"),
        ("model.g_width=10000000", "model.g_width=10000000 is too large"),
        ("model.g_width=16000", "would have"),  # within the bound, but billions of parameters
    ],
)
def test_absurd_sizes_are_one_line(tmp_path, capsys, setting, message):
    args = ["--set", f"run.dir={tmp_path / 'r'}", "--set", "data.name=digits", "--set", "model.name=mlp"]
    assert run_cli("train", *args, "--set", setting) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_interrupted_run_exits_with_its_own_code(tmp_path):
    run = tmp_path / "r"
    command = [sys.executable, "-m", "ganforge", "train", "--set", f"run.dir={run}"]
    for setting in ("run.progress=false", "data.name=digits", "model.name=mlp", "train.steps=1000000"):
        command += ["--set", setting]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (run / "metrics.csv").is_file():  # training has started
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_STOPPED == 75, err
    assert "checkpoint written" in err
    assert load_checkpoint(latest_checkpoint(run))["step"] < 1_000_000


def test_no_readable_checkpoint_is_one_line(tmp_path, tiny_digits, capsys):
    run = tmp_path / "r"
    train(tiny_digits(run, "train.steps=20"))
    for path in list_checkpoints(run):
        path.write_bytes(b"")
    assert run_cli("train", "--resume", str(run), "--set", "train.steps=30") == 2
    err = capsys.readouterr().err
    assert "none of the 2 checkpoints" in err and "step_0000020.pt is unreadable" in err
    assert err.count("\n") == 1
