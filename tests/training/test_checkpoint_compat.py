"""Checkpoints written before the game-based core (format 1, single-GAN TrainState) resume
with today's code and continue bit-exactly; foreign formats fail with one clear line."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganforge.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ganforge.config import load_config
from ganforge.training import train

FIXTURES = Path(__file__).parent / "fixtures"
OLD_CHECKPOINT = FIXTURES / "format1-mlp-ring8-step6.pt"


def _fixture_script():
    """tests/training/fixtures/make_format1.py, the script that made the fixtures (its settings)."""
    spec = importlib.util.spec_from_file_location("make_format1", FIXTURES / "make_format1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE_FORMAT1 = _fixture_script()
OVERRIDES, weights = MAKE_FORMAT1.OVERRIDES, MAKE_FORMAT1.weights


def config(run_dir, steps=12):
    return load_config(None, [f"run.dir={run_dir}", f"train.steps={steps}", *OVERRIDES])


def test_a_format_1_checkpoint_resumes_bit_exactly(tmp_path):
    run = tmp_path / "old"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(OLD_CHECKPOINT, run / "checkpoints" / "step_0000006.pt")
    resumed = train(config(run), resume=True)
    straight_old = load_file(str(FIXTURES / "format1-mlp-ring8-straight12.safetensors"))
    got = weights(resumed)
    assert resumed.step == 12 and sorted(got) == sorted(straight_old)
    for key, value in straight_old.items():
        assert torch.equal(got[key], value), key  # as the old code's straight 12-step run
    # ... and as today's straight run: the GAN game draws its numbers in the old order.
    straight_new = weights(train(config(tmp_path / "new")))
    assert all(torch.equal(straight_new[k], v) for k, v in straight_old.items())


def test_the_gan_keeps_the_format_1_keys(tmp_path):
    train(config(tmp_path / "r", steps=6))
    new = load_checkpoint(tmp_path / "r" / "checkpoints" / "step_0000006.pt")
    old = load_checkpoint(OLD_CHECKPOINT)
    assert set(new) == set(old) | {"game"} and new["game"] == "gan"
    for key in ("G", "D", "G_ema", "opt_g", "opt_d", "sampler"):
        assert list(new[key]) == list(old[key]), key


@pytest.mark.parametrize("made, word", [(0, "an older"), (2, "a newer")])
def test_other_formats_name_the_version_that_made_them(tmp_path, made, word):
    path = tmp_path / "checkpoints" / "step_0000001.pt"
    path.parent.mkdir()
    torch.save({"format": made, "step": 1}, path)
    with pytest.raises(CheckpointError, match=f"made by {word} ganforge .*format {made}") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_best_checkpoint_is_written_by_save_checkpoint_outside_the_rotation(tmp_path):
    payload = {"step": 3, "x": torch.zeros(1)}
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, {**payload, "step": step}, keep=1)
    best = save_checkpoint(tmp_path, payload, which="best")
    assert best.name == "best.pt" and load_checkpoint(best)["step"] == 3
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.pt", "step_0000003.pt"]
