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


# One tiny run per registered model family (and per conditioning of cdcgan's D). Conditional
# runs leave model.num_classes empty, so the saved config says null (the run view must find
# the count elsewhere); "cgan-k12" sets it, with more classes than the data has.
FAMILY_RUNS = {
    "mlp": ["model.name=mlp"],
    "dcgan": ["model.name=dcgan", "data.image_size=28"],
    "cgan": ["model.name=cgan"],
    "cgan-k12": ["model.name=cgan", "model.num_classes=12"],
    "cdcgan": ["model.name=cdcgan", "data.image_size=28"],
    "cdcgan-acgan": ["model.name=cdcgan", "model.conditioning=acgan", "data.image_size=28"],
}


def tiny_run(run_dir, overrides, steps=4):
    cfg = load_config(
        overrides=[
            f"run.dir={run_dir}",
            "run.progress=false",
            "data.name=digits",
            "model.z_dim=8",
            "model.g_width=8",
            "model.d_width=8",
            f"train.steps={steps}",
            "train.batch_size=16",
            "train.log_every=2",
            f"train.sample_every={steps}",
            f"train.checkpoint_every={steps}",
            *overrides,
        ]
    )
    torch.manual_seed(0)
    train(cfg)
    return run_dir


@pytest.fixture(scope="session", params=sorted(FAMILY_RUNS))
def family_run(request, tmp_path_factory):
    """``(name, run folder)`` of a 4-step digits run of one model family."""
    name = request.param
    return name, tiny_run(tmp_path_factory.mktemp("families") / name, FAMILY_RUNS[name])


@pytest.fixture(scope="session")
def family_runs():
    """The table above: run name -> its config overrides."""
    return FAMILY_RUNS
