"""``benchmarks/stargan_tuning.py``'s ``--save-g`` and ``--init-g`` (docs/stargan.md, "Phase
12"): the weights one run saves are where the next one starts. Tiny colour domains; no scores."""

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny_stargan import TINY, write_colour_domains

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tuning(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import stargan_tuning

    yield stargan_tuning
    sys.modules.pop("stargan_tuning", None)


def run(tuning, monkeypatch, tmp_path, *flags, lr_g="0.001", seed=0):
    """One probe run of 2 game iterations on the tiny domains, unscored."""
    sets = [*TINY, f"data.root={tmp_path / 'domains'}", f"run.dir={tmp_path / 'run'}"]
    sets += ["train.steps=2", f"train.lr_g={lr_g}", f"run.seed={seed}"]
    argv = ["stargan_tuning.py", "--config", str(ROOT / "configs/stargan-fmnist-styles.yaml"), "--test", "0"]
    monkeypatch.setattr(sys, "argv", [*argv, *(a for s in sets for a in ("--set", s)), *flags])
    tuning.main()


def test_init_g_starts_from_the_weights_save_g_wrote(tuning, monkeypatch, tmp_path):
    write_colour_domains(tmp_path / "domains")
    trained, again, fresh = (tmp_path / f"{name}.safetensors" for name in ("trained", "again", "fresh"))
    run(tuning, monkeypatch, tmp_path, "--save-g", str(trained))
    # at a rate of 1e-12 (the config refuses 0) G leaves a run as it entered it, whatever the seed
    run(tuning, monkeypatch, tmp_path, "--init-g", str(trained), "--save-g", str(again), lr_g="1e-12", seed=1)
    run(tuning, monkeypatch, tmp_path, "--save-g", str(fresh), lr_g="1e-12", seed=1)
    saved, loaded, untrained = load_file(str(trained)), load_file(str(again)), load_file(str(fresh))
    assert saved.keys() == loaded.keys() and len(saved) > 4
    assert all(torch.allclose(saved[k], loaded[k], rtol=0, atol=1e-9) for k in saved)
    assert max((saved[k] - untrained[k]).abs().max().item() for k in saved) > 1e-2
