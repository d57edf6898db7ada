"""`ganforge sample` refuses what it cannot do well, in one line: NaN weights, a sample count
that would not fit in memory, a latent walk of fewer than 2 steps (issue 13 items 3, 8, 10)."""

import dataclasses

import numpy as np
import pytest
import torch

from ganforge.checkpoint import save_generator
from ganforge.cli import main
from ganforge.cli.sample import MAX_BYTES
from ganforge.config import ModelConfig
from ganforge.models import build_generator


def make_run(tmp_path, broken=False):
    torch.manual_seed(0)
    cfg = ModelConfig(name="mlp", z_dim=4, g_width=8)
    G = build_generator(cfg, (2,))
    if broken:
        with torch.no_grad():
            next(G.parameters()).fill_(float("nan"))
    meta = {
        "model": dataclasses.asdict(cfg),
        "data_shape": [2],
        "step": 1,
        "data": {"name": "ring8", "kind": "points", "class_names": None},
    }
    save_generator(tmp_path / "run", G, meta)
    return tmp_path / "run"


def cli(capsys, *argv):
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in argv])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    return done.value.code, errors


def test_sample_works_and_nan_weights_are_an_error(tmp_path, capsys):
    good = make_run(tmp_path / "good")
    assert cli(capsys, "sample", "--run", good, "-n", 5, "--out", tmp_path / "ok.npy")[0] == 0
    assert np.load(tmp_path / "ok.npy").shape == (5, 2)
    code, errors = cli(
        capsys, "sample", "--run", make_run(tmp_path, broken=True), "--out", tmp_path / "x.npy"
    )
    assert code == 2 and len(errors) == 1 and "NaN" in errors[0]
    assert not (tmp_path / "x.npy").exists()


def test_a_sample_count_beyond_memory_is_one_line(tmp_path, capsys):
    code, errors = cli(
        capsys, "sample", "--run", make_run(tmp_path), "-n", 10**10, "--out", tmp_path / "x.npy"
    )
    assert code == 2 and len(errors) == 1 and "GiB of memory" in errors[0]
    assert str(MAX_BYTES // 8) in errors[0]  # how many fit: 2 float32 values per point


@pytest.mark.parametrize("steps", [0, 1, -3])
def test_interpolate_below_two_steps_is_an_error(tmp_path, capsys, steps):
    run = make_run(tmp_path)
    code, errors = cli(capsys, "sample", "--run", run, "--interpolate", steps, "--out", tmp_path / "w.png")
    assert code == 2 and len(errors) == 1 and "at least 2 steps" in errors[0]
