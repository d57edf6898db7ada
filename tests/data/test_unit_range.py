"""uint8 pixels <-> [-1, 1] floats: exact round trip, clamping, dtype checks."""

import pytest
import torch

from ganforge.data.batches import from_unit_range, to_unit_range


def test_round_trip_is_exact_for_every_pixel_value():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(4, 1, 8, 8)
    unit = to_unit_range(pixels)
    assert unit.dtype == torch.float32 and unit.shape == pixels.shape
    assert unit.min() == -1.0 and unit.max() == 1.0
    assert torch.equal(from_unit_range(unit), pixels)


def test_from_unit_range_clamps_and_rounds():
    x = torch.tensor([-3.0, -1.0, 0.0, 0.999, 1.0, 7.0])
    assert from_unit_range(x).tolist() == [0, 0, 128, 255, 255, 255]
    assert from_unit_range(x).dtype == torch.uint8


def test_to_unit_range_rejects_floats():
    with pytest.raises(TypeError, match="uint8"):
        to_unit_range(torch.zeros(1, 1, 2, 2))
