"""Write a folder of domains of my own invention for StarGAN's "own domains" check
(docs/stargan.md): sklearn's 8x8 digits upscaled to 28 px (bicubic) in three styles, one
sub-folder each: ``plain`` (white on black), ``inverted`` and ``framed`` (a 2-px white
frame). Each digit image appears in one style only (index mod 3: unpaired); images 1500 and
up form ``test/``.

    python benchmarks/stargan_own_domains.py --root /tmp/digits-domains
    ganforge train --config configs/stargan-fmnist-styles.yaml --set data.name=folder \\
        --set data.root=/tmp/digits-domains --set run.dir=/tmp/digits-run
    ganforge eval --run /tmp/digits-run
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

STYLES = ("plain", "inverted", "framed")
TEST_FROM = 1500  # images from this index on are the test split
FRAME = 2  # pixels


def styled(digit: np.ndarray, style: str) -> np.ndarray:
    """An 8x8 digit in 0..16 -> uint8 [28, 28] in ``style``."""
    image = np.array(Image.fromarray((digit / 16 * 255).astype(np.uint8)).resize((28, 28), Image.BICUBIC))
    if style == "inverted":
        image = 255 - image
    elif style == "framed":
        image[:FRAME, :] = image[-FRAME:, :] = 255
        image[:, :FRAME] = image[:, -FRAME:] = 255
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="folder to write train/<style>/ and test/<style>/ into")
    root = Path(parser.parse_args().root)
    for i, digit in enumerate(load_digits().images):
        style = STYLES[i % len(STYLES)]
        folder = root / ("test" if i >= TEST_FROM else "train") / style
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(styled(digit, style)).save(folder / f"{i:04d}.png")


if __name__ == "__main__":
    main()
