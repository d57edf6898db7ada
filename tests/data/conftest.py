"""Shared set-up for the data tests: offline, a fresh home, writers for the real formats.

Every data test runs with no network, a fresh home folder and no $GANFORGE_DATA. The
writers are fixtures (not imports) so the tests work under any pytest import mode.
"""

import io
import pickle
import struct
import urllib.error

import numpy as np
import pytest

from ganforge.data import download


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(download.DATA_ENV, raising=False)

    def no_network(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(download, "urlopen", no_network)
    return home


def _idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: two zero bytes, type 0x08 (ubyte), ndim, big-endian dims, the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def idx_bytes():
    return _idx_bytes


class Py2Pickler(pickle._Pickler):
    """Writes every str and bytes as a Python 2 ``str``, as the official CIFAR files do."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def _py2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


@pytest.fixture
def py2_pickle():
    return _py2_pickle
