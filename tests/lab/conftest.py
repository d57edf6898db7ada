"""A tiny real `ganforge train` run, shared by the image-mode tests (built once per session)."""

import pytest
import torch

from ganforge.config import load_config
from ganforge.training.loop import train


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """40 steps of the MLP GAN on the bundled 8x8 digits: samples, metrics, 2 checkpoints."""
    run_dir = tmp_path_factory.mktemp("runs") / "digits"
    cfg = load_config(
        overrides=[
            f"run.dir={run_dir}",
            "run.progress=false",
            "data.name=digits",
            "model.name=mlp",
            "model.z_dim=8",
            "model.g_width=32",
            "model.d_width=32",
            "train.steps=40",
            "train.batch_size=32",
            "train.log_every=10",
            "train.sample_every=20",
            "train.checkpoint_every=20",
        ]
    )
    torch.manual_seed(0)
    train(cfg)
    return run_dir
