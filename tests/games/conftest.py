import numpy as np
import pytest
from PIL import Image


def _write_pairs(root, size, train=24, test=6):
    """``root/unpaired`` (trainA..testB) and ``root/paired`` (train|test/A, B) of ``size`` px: gray
    squares on black, B the same square tinted red (so the paired layout holds the true translation)."""
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("test", test)):
        for i in range(count):
            gray = np.zeros((size, size), np.uint8)
            top, left = rng.integers(1, 6, 2)
            side = rng.integers(5, 10)
            gray[top : top + side, left : left + side] = rng.integers(120, 255)
            a, b = np.stack([gray] * 3, -1), np.stack([gray, gray // 3, gray // 3], -1)
            for folder, image in (
                (root / "unpaired" / f"{split}A", a),
                (root / "unpaired" / f"{split}B", b),
                (root / "paired" / split / "A", a),
                (root / "paired" / split / "B", b),
            ):
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture(scope="session")
def write_pairs():
    """``write_pairs(root, size, train=24, test=6)``: the CycleGAN / pix2pix test folders."""
    return _write_pairs
