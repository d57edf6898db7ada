"""Pictures: sample grids, scatter plots of 2-D samples, training curves."""

from ganforge.viz.curves import plot_curves
from ganforge.viz.grid import image_grid, save_samples, to_uint8

__all__ = ["image_grid", "plot_curves", "save_samples", "to_uint8"]
