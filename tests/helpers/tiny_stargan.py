"""The tiny StarGAN of the game tests: 12 px colour domains written as a folder, narrow nets."""

import numpy as np
from PIL import Image

COLOURS = {"blue": (40, 60, 220), "green": (40, 200, 60), "red": (220, 50, 40)}


def write_colour_domains(root, per_domain=16, size=12):
    """train/ and test/ with one folder per colour: noisy squares of that colour."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name, rgb in COLOURS.items():
            (root / split / name).mkdir(parents=True)
            for i in range(per_domain if split == "train" else 3):
                pixels = np.clip(np.array(rgb) + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")


# The tiny StarGAN of these tests: 12 px colour domains, narrow nets, fp32 (exact comparisons).
TINY = [
    "data.name=folder",
    "data.image_size=12",
    "model.g_width=4",
    "model.d_width=8",
    "model.res_blocks=1",
    "train.loss=wgan-gp",
    "train.batch_size=8",
    "train.d_steps=2",
    "train.precision=fp32",
    "train.memory_format=contiguous",
]
