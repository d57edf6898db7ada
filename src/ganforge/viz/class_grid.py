"""A grid with one row per class, each row labelled with its class name (conditional GANs)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganforge.viz.grid import image_grid

PADDING = 2  # pixels between images before scaling, as image_grid draws them


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except (TypeError, OSError):
        return ImageFont.load_default()


def class_rows_grid(images: np.ndarray, row_names: list[str], min_side: int = 800) -> Image.Image:
    """Tile uint8 ``[R * C, H, W, ch]`` images (row-major, R = len(row_names) rows of C) and
    write each row's name in a margin on the left."""
    rows = len(row_names)
    if rows == 0 or len(images) % rows:
        raise ValueError(f"{len(images)} images do not fill {rows} rows evenly")
    columns = len(images) // rows
    grid = image_grid(images, columns=columns, padding=PADDING, min_side=min_side)
    height = images.shape[1]
    scale = grid.height / (rows * (height + PADDING) + PADDING)  # image_grid's upscaling
    font = _font(max(10, int(0.45 * height * scale)))
    probe = ImageDraw.Draw(grid)
    margin = int(max(probe.textlength(name, font=font) for name in row_names)) + 12
    canvas = Image.new(
        grid.mode, (grid.width + margin, grid.height), 255 if grid.mode == "L" else (255, 255, 255)
    )
    canvas.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for r, name in enumerate(row_names):
        middle = (PADDING + r * (height + PADDING) + height / 2) * scale
        left, top, right, bottom = draw.textbbox((0, 0), name, font=font)
        draw.text(
            (margin - 6 - right, middle - (top + bottom) / 2),
            name,
            fill=0 if grid.mode == "L" else (0, 0, 0),
            font=font,
        )
    return canvas
