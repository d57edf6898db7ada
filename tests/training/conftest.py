import pytest

from ganforge.config import load_config


def _tiny_digits(run_dir, *overrides):
    """An MLP GAN on the 8x8 digits that trains a step in about a millisecond."""
    return load_config(
        None,
        [
            f"run.dir={run_dir}",
            "run.progress=false",
            "data.name=digits",
            "model.name=mlp",
            "model.g_width=64",
            "model.d_width=64",
            "model.z_dim=16",
            "train.batch_size=32",
            "train.log_every=5",
            "train.sample_every=1000",
            "train.checkpoint_every=10",
            *overrides,
        ],
    )


@pytest.fixture
def tiny_digits():
    return _tiny_digits


def _tiny_dcgan(run_dir, *overrides):
    """A tiny DCGAN (convolutions and batch norm in G and D) on the digits upscaled to 28 px."""
    return load_config(
        None,
        [
            f"run.dir={run_dir}",
            "run.progress=false",
            "data.name=digits",
            "data.image_size=28",
            "model.name=dcgan",
            "model.g_width=8",
            "model.d_width=8",
            "model.z_dim=16",
            "train.batch_size=16",
            "train.log_every=2",
            "train.sample_every=1000",
            "train.checkpoint_every=1000",
            *overrides,
        ],
    )


@pytest.fixture
def tiny_dcgan():
    return _tiny_dcgan
