"""The image readers: IDX (MNIST-like), CIFAR pickles, image folders, CelebA, digits."""

import dataclasses
import gzip
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data import DATASETS, DataError, idx, load_dataset
from ganforge.data.cifar import safe_load

# --- helpers that write files in the real formats ----------------------------------------


@pytest.fixture
def write_mnist_like(idx_bytes):
    """Writes the two IDX files of a split (gzip-compressed unless told otherwise)."""

    def write(folder: Path, split: str, images, labels, compress: bool = True) -> None:
        prefix = "train" if split == "train" else "t10k"
        folder.mkdir(parents=True, exist_ok=True)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            raw = idx_bytes(np.asarray(array))
            name = f"{prefix}-{kind}-ubyte"
            if compress:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)

    return write


@pytest.fixture
def write_cifar(py2_pickle):
    """Writes a complete tiny cifar-10-batches-py/: 5 train batches, test batch, meta."""

    def write(folder: Path, per_batch: int = 2, seed: int = 0) -> dict:
        rng = np.random.default_rng(seed)
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            labels = [int(x) for x in rng.integers(0, 10, per_batch)]
            batch = {b"batch_label": b"x", b"labels": labels, b"data": data, b"filenames": []}
            (folder / name).write_bytes(py2_pickle(batch))
            written[name] = data
        names = [
            b"airplane",
            b"automobile",
            b"bird",
            b"cat",
            b"deer",
            b"dog",
            b"frog",
            b"horse",
            b"ship",
            b"truck",
        ]
        meta = {b"num_cases_per_batch": per_batch, b"label_names": names, b"num_vis": 3072}
        (folder / "batches.meta").write_bytes(py2_pickle(meta))
        return written

    return write


# --- IDX ----------------------------------------------------------------------------------


def test_idx_round_trip(tmp_path, write_mnist_like):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    write_mnist_like(tmp_path, "test", images, labels)
    dataset = load_dataset(DataConfig(name="mnist", root=str(tmp_path), split="test"))
    assert dataset.kind == "image" and dataset.data.dtype == torch.uint8
    assert dataset.data.shape == (5, 1, 28, 28)
    assert torch.equal(dataset.data[:, 0], torch.from_numpy(images))
    assert dataset.labels.dtype == torch.int64
    assert dataset.labels.tolist() == labels.tolist()
    assert dataset.class_names == [str(d) for d in range(10)]


def test_idx_uncompressed_files_and_limit(tmp_path, write_mnist_like):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
    write_mnist_like(tmp_path, "train", images, np.array([0, 9, 2]), compress=False)
    dataset = load_dataset(DataConfig(name="fashion-mnist", root=str(tmp_path), limit=2))
    assert dataset.data.shape == (2, 1, 28, 28) and dataset.labels.tolist() == [0, 9]
    assert dataset.class_names[9] == "Ankle boot"


def test_idx_resize_and_channels(tmp_path, write_mnist_like):
    images = np.random.default_rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    write_mnist_like(tmp_path, "train", images, np.zeros(4, dtype=np.uint8))
    dataset = load_dataset(DataConfig(name="mnist", root=str(tmp_path), image_size=32, channels=3))
    assert dataset.data.shape == (4, 3, 32, 32)
    # gray -> RGB replicates the plane
    assert torch.equal(dataset.data[:, 0], dataset.data[:, 1])
    assert torch.equal(dataset.data[:, 0], dataset.data[:, 2])
    same = load_dataset(DataConfig(name="mnist", root=str(tmp_path), image_size=28))
    assert torch.equal(same.data[:, 0], torch.from_numpy(images))  # native size: untouched


@pytest.mark.parametrize("damage", ["truncated", "bad_magic", "broken_gzip", "short_header"])
def test_corrupt_idx_raises_data_error_naming_file(tmp_path, damage, write_mnist_like, idx_bytes):
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    write_mnist_like(tmp_path, "train", images, np.zeros(4, dtype=np.uint8))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = idx_bytes(images)
    if damage == "truncated":
        path.write_bytes(gzip.compress(raw[:-100]))
    elif damage == "bad_magic":
        path.write_bytes(gzip.compress(b"\x12\x34" + raw[2:]))
    elif damage == "broken_gzip":
        compressed = gzip.compress(raw)
        path.write_bytes(compressed[: len(compressed) // 2])
    else:
        path.write_bytes(gzip.compress(raw[:9]))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))


def test_idx_image_label_count_mismatch(tmp_path, write_mnist_like):
    write_mnist_like(tmp_path, "train", np.zeros((4, 28, 28)), np.zeros(3))
    with pytest.raises(DataError, match="one label each"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))


def test_idx_search_order_env_folder(tmp_path, monkeypatch, write_mnist_like):
    data_home = tmp_path / "datasets"
    write_mnist_like(data_home / "mnist", "train", np.full((2, 28, 28), 7), np.zeros(2))
    monkeypatch.setenv("GANFORGE_DATA", str(data_home))
    assert load_dataset(DataConfig(name="mnist")).data.unique().tolist() == [7]
    # data.root wins over $GANFORGE_DATA
    write_mnist_like(tmp_path / "mine", "train", np.full((2, 28, 28), 9), np.zeros(2))
    mine = load_dataset(DataConfig(name="mnist", root=str(tmp_path / "mine")))
    assert mine.data.unique().tolist() == [9]


def test_missing_mnist_names_places_looked(tmp_path, isolated, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "shared"))
    (tmp_path / "nowhere").mkdir()  # empty
    with pytest.raises(DataError) as error:
        load_dataset(DataConfig(name="mnist", root=str(tmp_path / "nowhere"), download=False))
    message = str(error.value)
    for place in (
        tmp_path / "nowhere",
        tmp_path / "shared" / "mnist",
        tmp_path / "shared",
        isolated / ".cache" / "ganforge" / "mnist",
    ):
        assert str(place) in message
    assert "data.root" in message and "\n" not in message


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist", "cifar10", "celeba-attributes"])
def test_a_data_root_that_is_not_a_folder_is_refused(tmp_path, name):
    # not a fall-through to another copy of the data (Debian's Fashion-MNIST, the cache)
    with pytest.raises(DataError, match=r"data.root=.*typo is not a folder; fix the path"):
        load_dataset(DataConfig(name=name, root=str(tmp_path / "typo")))


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    nowhere = tmp_path / "no-debian-package"
    monkeypatch.setattr(
        idx, "FASHION_MNIST", dataclasses.replace(idx.FASHION_MNIST, extra_folders=(str(nowhere),))
    )
    with pytest.raises(DataError) as error:
        load_dataset(DataConfig(name="fashion-mnist"))  # download on; the network is off
    message = str(error.value)
    assert str(nowhere) in message and "apt-get install dataset-fashion-mnist" in message
    assert "network disabled" in message


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_real_fashion_mnist_files():
    train = load_dataset(DataConfig(name="fashion-mnist", root=str(FASHION)))
    assert train.data.shape == (60000, 1, 28, 28) and train.data.dtype == torch.uint8
    assert torch.bincount(train.labels).tolist() == [6000] * 10  # balanced, labels 0..9
    test = load_dataset(DataConfig(name="fashion-mnist", root=str(FASHION), split="test"))
    assert test.data.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert train.data.float().mean() > 50  # real pictures, not an empty buffer


# --- CIFAR --------------------------------------------------------------------------------


def test_cifar_python2_pickles_and_pixel_layout(tmp_path, write_cifar):
    written = write_cifar(tmp_path / "cifar-10-batches-py")
    train = load_dataset(DataConfig(name="cifar10", root=str(tmp_path)))
    assert train.data.shape == (10, 3, 32, 32) and train.data.dtype == torch.uint8
    row = written["data_batch_1"][0]
    image = train.data[0].numpy()
    # the first 1024 bytes are the red plane, row by row; then green, then blue
    assert np.array_equal(image[0], row[:1024].reshape(32, 32))
    assert np.array_equal(image[1], row[1024:2048].reshape(32, 32))
    assert np.array_equal(image[2], row[2048:].reshape(32, 32))
    assert np.array_equal(train.data[2].numpy().reshape(-1), written["data_batch_2"][0])
    assert train.class_names[0] == "airplane" and train.class_names[9] == "truck"
    test = load_dataset(
        DataConfig(
            name="cifar10",
            root=str(tmp_path / "cifar-10-batches-py"),
            split="test",
            channels=1,
            image_size=16,
        )
    )
    assert test.data.shape == (2, 1, 16, 16)


def test_cifar_numpy1_module_name_accepted(tmp_path, py2_pickle):
    data = np.arange(3072, dtype=np.uint32).astype(np.uint8)[None]
    raw = py2_pickle({b"data": data, b"labels": [1]})
    raw = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in raw  # as written by numpy 1.x (and the real files)
    (tmp_path / "batch").write_bytes(raw)
    assert np.array_equal(safe_load(tmp_path / "batch")["data"], data)


class Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_cifar_refuses_pickles_that_call_code(tmp_path, write_cifar):
    target = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil(str(target))}, protocol=2))
    with pytest.raises(DataError, match="not allowed"):
        load_dataset(DataConfig(name="cifar10", root=str(tmp_path), split="test"))
    assert not target.exists()


def test_cifar_wrong_content_rejected(tmp_path, write_cifar, py2_pickle):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    bad = {b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}
    (folder / "test_batch").write_bytes(py2_pickle(bad))
    with pytest.raises(DataError, match="3072"):
        load_dataset(DataConfig(name="cifar10", root=str(tmp_path), split="test"))


def test_missing_cifar_names_places(tmp_path, isolated):
    with pytest.raises(DataError) as error:
        load_dataset(DataConfig(name="cifar10", download=False))
    assert str(isolated / ".cache" / "ganforge" / "cifar10") in str(error.value)
    assert "cifar-10-python.tar.gz" in str(error.value)


# --- image folders ------------------------------------------------------------------------


def make_folder(root: Path, with_corrupt: bool = True) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    paths = {
        "a": root / "a.png",
        "b": root / "b.png",
        "c": root / "c.jpg",
    }
    Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(paths["a"])
    Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(paths["b"])
    Image.fromarray(rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)).save(paths["c"], quality=90)
    if with_corrupt:
        good = io.BytesIO()
        Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(good, format="PNG")
        paths["bad"] = root / "broken.png"
        paths["bad"].write_bytes(good.getvalue()[:60])  # valid header, truncated pixels
    (root / "notes.txt").write_text("not an image")
    return paths


def test_folder_skips_corrupt_file_with_warning(tmp_path):
    paths = make_folder(tmp_path / "images")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable .*broken\.png"):
        dataset = load_dataset(DataConfig(name="folder", root=str(tmp_path / "images")))
    assert dataset.data.shape == (3, 3, 64, 64) and dataset.data.dtype == torch.uint8
    assert dataset.labels is None
    assert paths["bad"].exists()


def test_folder_error_mode_names_the_file(tmp_path):
    make_folder(tmp_path / "images")
    with pytest.raises(DataError, match=r"broken\.png"):
        load_dataset(DataConfig(name="folder", root=str(tmp_path / "images"), on_corrupt="error"))


def test_folder_size_channels_and_determinism(tmp_path):
    make_folder(tmp_path / "images", with_corrupt=False)
    config = DataConfig(name="folder", root=str(tmp_path / "images"), image_size=16, channels=1)
    first, second = load_dataset(config), load_dataset(config)
    assert first.data.shape == (3, 1, 16, 16)
    assert torch.equal(first.data, second.data)
    rgb = load_dataset(DataConfig(name="folder", root=str(tmp_path / "images"), image_size=8))
    assert rgb.data.shape == (3, 3, 8, 8)
    # the gray PNG (b.png, second in sorted order) comes back with three equal planes
    assert torch.equal(rgb.data[1, 0], rgb.data[1, 1])


def test_folder_center_crop(tmp_path):
    wide = np.zeros((10, 30), dtype=np.uint8)
    wide[:, 10:20] = 255  # only the middle square is white
    (tmp_path / "images").mkdir()
    Image.fromarray(wide).save(tmp_path / "images" / "wide.png")
    dataset = load_dataset(
        DataConfig(name="folder", root=str(tmp_path / "images"), image_size=10, channels=1)
    )
    assert dataset.data.min() == 255


def test_folder_subfolders_are_classes_and_splits(tmp_path):
    for split, classes in (("train", ("dogs", "cats")), ("test", ("cats",))):
        for name in classes:
            make_folder(tmp_path / "set" / split / name, with_corrupt=False)
    train = load_dataset(DataConfig(name="folder", root=str(tmp_path / "set"), image_size=8))
    assert train.class_names == ["cats", "dogs"]
    assert train.labels.tolist() == [0, 0, 0, 1, 1, 1]
    test = load_dataset(DataConfig(name="folder", root=str(tmp_path / "set"), split="test", image_size=8))
    assert len(test) == 3 and test.class_names == ["cats"]


def test_folder_without_test_split_or_root(tmp_path):
    make_folder(tmp_path / "images", with_corrupt=False)
    with pytest.raises(DataError, match="no test split"):
        load_dataset(DataConfig(name="folder", root=str(tmp_path / "images"), split="test"))
    with pytest.raises(DataError, match="data.root"):
        load_dataset(DataConfig(name="folder"))


def test_celeba_uses_partition_file(tmp_path, monkeypatch):
    images = tmp_path / "celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    for i in range(1, 4):
        Image.fromarray(np.full((218, 178, 3), i * 40, dtype=np.uint8)).save(images / f"{i:06d}.jpg")
    (images.parent / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n")
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    train = load_dataset(DataConfig(name="celeba"))
    test = load_dataset(DataConfig(name="celeba", split="test", image_size=32))
    assert train.data.shape == (1, 3, 64, 64) and test.data.shape == (1, 3, 32, 32)
    assert abs(train.data.float().mean().item() - 40) < 3
    assert abs(test.data.float().mean().item() - 120) < 3


def test_missing_celeba_says_where_to_get_it(isolated):
    with pytest.raises(DataError) as error:
        load_dataset(DataConfig(name="celeba"))
    assert "img_align_celeba" in str(error.value) and "CelebA" in str(error.value)
    assert str(isolated / ".cache" / "ganforge" / "celeba") in str(error.value)


# --- digits and the registry --------------------------------------------------------------


def test_digits_split_shape_and_labels():
    from sklearn.datasets import load_digits

    train = load_dataset(DataConfig(name="digits"))
    test = load_dataset(DataConfig(name="digits", split="test"))
    assert train.data.shape == (1437, 1, 8, 8) and test.data.shape == (360, 1, 8, 8)
    assert train.data.dtype == torch.uint8 and train.data.max() == 255
    assert train.data.min() == 0
    bundle = load_digits()  # the reader finds its file without importing scikit-learn
    assert train.labels.tolist() == bundle.target[:1437].tolist()
    assert test.labels.tolist() == bundle.target[1437:].tolist()
    pixels = np.rint(bundle.images[1437:] * (255 / 16)).astype(np.uint8)
    assert np.array_equal(test.data[:, 0].numpy(), pixels)
    assert train.class_names == [str(d) for d in range(10)]
    big = load_dataset(DataConfig(name="digits", split="test", image_size=32, channels=3))
    assert big.data.shape == (360, 3, 32, 32)


def test_registered_names_and_kinds():
    expected = {
        "fashion-mnist": "image",
        "mnist": "image",
        "cifar10": "image",
        "folder": "image",
        "celeba": "image",
        "digits": "image",
        "ring8": "points",
        "grid25": "points",
        "spiral": "points",
        "moons": "points",
    }
    for name, kind in expected.items():
        assert DATASETS[name].kind == kind and DATASETS[name].summary


def test_bad_channels_is_a_data_error():
    with pytest.raises(DataError, match="channels"):
        load_dataset(DataConfig(name="digits", channels=2))
