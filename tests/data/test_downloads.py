"""Fetching with checksums, and safe unpacking, with a fake URL opener (no network)."""

import dataclasses
import gzip
import hashlib
import io
import tarfile
import urllib.error

import numpy as np
import pytest

from ganforge.config import DataConfig
from ganforge.data import DataError, cifar, download, idx, load_dataset


def serve(monkeypatch, files: dict[str, bytes]) -> list[str]:
    """Make ``download.urlopen`` answer from ``files`` (URL -> bytes); returns URLs asked."""
    asked = []

    def fake_urlopen(url, timeout=None):
        asked.append(url)
        if url not in files:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return io.BytesIO(files[url])

    monkeypatch.setattr(download, "urlopen", fake_urlopen)
    return asked


def test_fetch_checks_the_digest(tmp_path, monkeypatch):
    payload = b"some bytes" * 1000
    serve(monkeypatch, {"http://x/file": payload})
    folder = tmp_path / "downloads"
    good = download.fetch("http://x/file", folder / "file", "sha256", hashlib.sha256(payload).hexdigest())
    assert good.read_bytes() == payload
    with pytest.raises(DataError, match="expected"):
        download.fetch("http://x/file", folder / "other", "sha256", "0" * 64)
    assert sorted(p.name for p in folder.iterdir()) == ["file"]  # no partial file left
    with pytest.raises(DataError, match="404"):
        download.fetch("http://x/missing", folder / "missing", "sha256", "0" * 64)
    assert sorted(p.name for p in folder.iterdir()) == ["file"]


def test_mnist_download_lands_in_cache(isolated, monkeypatch, idx_bytes):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([1, 2, 3], dtype=np.uint8)
    files = {
        "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(images)),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels)),
    }
    digests = {name: hashlib.md5(raw).hexdigest() for name, raw in files.items()}
    monkeypatch.setattr(idx, "MNIST", dataclasses.replace(idx.MNIST, digests=digests))
    asked = serve(monkeypatch, {idx.MNIST.mirror + name: raw for name, raw in files.items()})
    dataset = load_dataset(DataConfig(name="mnist", split="test"))
    assert dataset.data.shape == (3, 1, 28, 28) and dataset.labels.tolist() == [1, 2, 3]
    assert all(url.startswith("https://ossci-datasets.s3.amazonaws.com/mnist/") for url in asked)
    cache = isolated / ".cache" / "ganforge" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(files)
    # a second load reads the cache and asks nothing
    load_dataset(DataConfig(name="mnist", split="test"))
    assert len(asked) == 2


def test_tampered_download_is_rejected_and_not_kept(isolated, monkeypatch, idx_bytes):
    tampered = gzip.compress(idx_bytes(np.zeros((2, 28, 28))))
    serve(monkeypatch, {idx.FASHION_MNIST.mirror + name: tampered for name in idx.FASHION_MNIST.digests})
    monkeypatch.setattr(idx, "FASHION_MNIST", dataclasses.replace(idx.FASHION_MNIST, extra_folders=()))
    with pytest.raises(DataError) as error:
        load_dataset(DataConfig(name="fashion-mnist"))
    assert "sha256" in str(error.value) and "apt-get install" in str(error.value)
    cache = isolated / ".cache" / "ganforge" / "fashion-mnist"
    assert list(cache.iterdir()) == []  # no partial or unverified file


def test_network_failure_is_a_data_error(isolated, monkeypatch):
    monkeypatch.setattr(idx, "FASHION_MNIST", dataclasses.replace(idx.FASHION_MNIST, extra_folders=()))
    with pytest.raises(DataError, match="could not download"):  # conftest: network is off
        load_dataset(DataConfig(name="fashion-mnist"))


def tar_gz(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, raw in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def test_cifar_download_and_unpack(isolated, monkeypatch, py2_pickle):
    batch = {b"data": np.arange(3072, dtype=np.uint32).astype(np.uint8)[None], b"labels": [7]}
    entries = {
        f"cifar-10-batches-py/{name}": py2_pickle(batch)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    }
    archive = tar_gz(entries)
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", hashlib.md5(archive).hexdigest())
    serve(monkeypatch, {cifar.URL: archive})
    dataset = load_dataset(DataConfig(name="cifar10", split="test"))
    assert dataset.data.shape == (1, 3, 32, 32) and dataset.labels.tolist() == [7]
    cache = isolated / ".cache" / "ganforge" / "cifar10"
    assert [p.name for p in cache.iterdir()] == ["cifar-10-batches-py"]  # archive removed


@pytest.mark.parametrize("name", ["../escape.txt", "/tmp/ganforge-absolute.txt", "ok/../../escape.txt"])
def test_unsafe_tar_members_are_refused(tmp_path, name):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(tar_gz({"fine.txt": b"x", name: b"evil"}))
    target = tmp_path / "out"
    with pytest.raises(DataError, match="unsafe"):
        download.extract_tar(archive, target)
    assert list(target.iterdir()) == []  # nothing written, not even the fine member
    assert not (tmp_path / "escape.txt").exists()


def test_tar_links_are_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    (tmp_path / "bad.tar.gz").write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match="unsafe"):
        download.extract_tar(tmp_path / "bad.tar.gz", tmp_path / "out")
