"""`detect score` on a .npy: the header is checked before anything is read (issue 13, item 8)."""

import numpy as np
import pytest

from ganforge.detect.inputs import DetectError, read_for_scoring


def _header_only(path, shape):
    """A .npy file whose header claims ``shape`` uint8 but which holds no data."""
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False, "shape": shape})


def test_a_header_claiming_1e8_images_is_refused_without_reading(tmp_path):
    path = tmp_path / "huge.npy"
    _header_only(path, (10**8, 28, 28))
    with pytest.raises(DetectError, match=r"shape \(100000000, 28, 28\) \(73.0 GiB\); at most 2 GiB.*split"):
        read_for_scoring(path, 1, 28)


def test_a_truncated_npy_is_one_line(tmp_path):
    path = tmp_path / "short.npy"
    _header_only(path, (100, 28, 28))
    with pytest.raises(DetectError, match=r"truncated: its header claims shape \(100, 28, 28\)"):
        read_for_scoring(path, 1, 28)


def test_a_good_npy_still_reads(tmp_path):
    path = tmp_path / "ok.npy"
    np.save(path, np.zeros((3, 28, 28), np.uint8))
    images, names, _ = read_for_scoring(path, 1, 28)
    assert images.shape == (3, 1, 28, 28) and names[0] == "ok.npy[0]"
