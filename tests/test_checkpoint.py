"""Atomic writes and safe loading of checkpoints and exported generators."""

import json
import pickle

import pytest
import torch

from ganforge.checkpoint import (
    CheckpointError,
    atomic_write,
    load_checkpoint,
    load_generator,
    save_checkpoint,
    save_generator,
)
from ganforge.config import ModelConfig
from ganforge.models import build_models


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def crash(tmp):
        with open(tmp, "wb") as handle:
            handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_pickled_objects_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "checkpoints" / "step_0000001.pt"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps({"format": 1, "step": 1, "x": Evil()}))
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(path)


def test_foreign_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a ganforge checkpoint"):
        load_checkpoint(path)


def test_save_keeps_the_newest(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, {"step": step, "t": torch.ones(1) * step}, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_0000002.pt", "step_0000003.pt"]
    assert load_checkpoint(tmp_path / "checkpoints" / names[-1])["t"].item() == 3


def test_generator_round_trip_and_errors(tmp_path):
    cfg = ModelConfig(name="dcgan", z_dim=8, g_width=4, d_width=4)
    G, _ = build_models(cfg, (1, 28, 28))
    G.eval()
    meta = {"model": vars(cfg), "data_shape": [1, 28, 28], "step": 3}
    save_generator(tmp_path, G, meta)
    G2, meta2 = load_generator(tmp_path)
    z = torch.rand(2, 8)
    assert torch.equal(G(z), G2(z)) and meta2["step"] == 3
    with pytest.raises(CheckpointError, match="no exported generator 'best'"):
        load_generator(tmp_path, "best")
    (tmp_path / "generator.json").write_text(json.dumps({**meta, "data_shape": [1, 32, 32]}))
    with pytest.raises(CheckpointError, match="cannot rebuild the generator"):
        load_generator(tmp_path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"g_width": 30000}, "model.g_width=30000 is too large"),  # the tester's 3.9 GB, 13 s
        (
            {"name": "mlp", "g_width": 12000, "hidden_layers": 4},
            "G would have 441,552,784 parameters",
        ),  # in bounds
    ],
)
def test_an_absurd_generator_json_is_refused_before_allocating(tmp_path, change, message):
    cfg = ModelConfig(name="dcgan", z_dim=8, g_width=4, d_width=4)
    G, _ = build_models(cfg, (1, 28, 28))
    meta = {"model": vars(cfg), "data_shape": [1, 28, 28], "step": 3}
    save_generator(tmp_path, G, meta)
    (tmp_path / "generator.json").write_text(json.dumps({**meta, "model": {**vars(cfg), **change}}))
    with pytest.raises(CheckpointError, match=f"cannot rebuild the generator.*{message}"):
        load_generator(tmp_path)
