"""Two-domain data: the folder layouts (good and bad) and the built-in Fashion-MNIST pairs."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data import DataError, load_dataset
from ganforge.data import translation as T


def _write(path, value, size=(10, 10), mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, 7)
    Image.new(mode, size, color).save(path, format=fmt)


def _unpaired(root, counts=(3, 2, 2, 1)):
    for sub, count in zip(("trainA", "trainB", "testA", "testB"), counts):
        for i in range(count):
            suffix = ".png" if i % 2 == 0 else ".jpg"
            _write(root / sub / f"{i}{suffix}", 10 * i, mode="L" if i == 1 else "RGB")
    return root


def test_unpaired_layout_reads_every_domain_with_mixed_modes(tmp_path):
    data = T.load_translation(DataConfig(name="unpaired", root=str(_unpaired(tmp_path)), image_size=8), False)
    assert data.train_a.shape == (3, 3, 8, 8) and data.train_b.shape == (2, 3, 8, 8)
    assert data.test_a.shape == (2, 3, 8, 8) and data.test_b.shape == (1, 3, 8, 8)
    assert data.train_a.dtype == torch.uint8 and not data.paired
    assert data.train_a[0, 1, 0, 0] == 255  # RGB kept: green = 255 - 0


def test_unpaired_gray_conversion_and_the_data_registry(tmp_path):
    cfg = DataConfig(name="unpaired", root=str(_unpaired(tmp_path)), image_size=4, channels=1)
    data = load_dataset(cfg)
    assert data.kind == "pair" and data.channels == (1, 1) and data.image_size == 4


@pytest.mark.parametrize(
    ("remove", "message"),
    [("testB", r"testB is missing; the unpaired layout is DIR/trainA, trainB, testA, testB"), (None, "")],
)
def test_unpaired_missing_folder_is_one_line(tmp_path, remove, message):
    root = _unpaired(tmp_path)
    if remove is None:
        for path in (root / "trainB").iterdir():
            path.unlink()
        message = r"trainB holds no image files"
    else:
        for path in (root / remove).iterdir():
            path.unlink()
        (root / remove).rmdir()
    with pytest.raises(DataError, match=message):
        T.load_translation(DataConfig(name="unpaired", root=str(root)), False)


def test_unreadable_files_are_skipped_with_a_count_or_fail(tmp_path):
    root = _unpaired(tmp_path)
    (root / "trainA" / "broken.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        data = T.load_translation(DataConfig(name="unpaired", root=str(root), image_size=4), False)
    assert len(data.train_a) == 3
    with pytest.raises(DataError, match="broken.png"):
        T.load_translation(DataConfig(name="unpaired", root=str(root), on_corrupt="error"), False)


def test_unpaired_folders_refuse_pix2pix(tmp_path):
    with pytest.raises(DataError, match="data.name=paired"):
        T.load_translation(DataConfig(name="unpaired", root=str(_unpaired(tmp_path))), True)


def _paired_ab_folders(root):
    for split, count in (("train", 3), ("test", 2)):
        for i in range(count):
            _write(root / split / "A" / f"x{i}.png", 20 * i)
            _write(root / split / "B" / f"x{i}.png", 200 - 20 * i, fmt="JPEG")
    return root


def test_paired_a_b_folders_matched_by_name(tmp_path):
    data = T.load_translation(
        DataConfig(name="paired", root=str(_paired_ab_folders(tmp_path)), image_size=4), True
    )
    assert data.paired and data.test_paired
    assert data.train_a.shape == data.train_b.shape == (3, 3, 4, 4)
    assert data.train_a[:, 0, 0, 0].tolist() == [0, 20, 40]  # sorted by name, pairs aligned
    assert abs(int(data.train_b[2, 0, 0, 0]) - 160) <= 3  # JPEG rounding


def test_unmatched_pairs_are_one_line(tmp_path):
    root = _paired_ab_folders(tmp_path)
    (root / "train" / "B" / "x1.png").rename(root / "train" / "B" / "y1.png")
    with pytest.raises(DataError, match=r"2 file\(s\) in .*have no partner of the same name \(e.g. x1.png\)"):
        T.load_translation(DataConfig(name="paired", root=str(root)), True)


def test_side_by_side_ab_images(tmp_path):
    for split in ("train", "test"):
        for i in range(2):
            image = Image.new("RGB", (20, 10), (50, 50, 50))
            image.paste((200, 10, 10), (10, 0, 20, 10))  # right half: B
            (tmp_path / split).mkdir(exist_ok=True)
            image.save(tmp_path / split / f"{i}.png")
    data = T.load_translation(DataConfig(name="paired", root=str(tmp_path), image_size=5), True)
    assert data.train_a.shape == data.train_b.shape == (2, 3, 5, 5)
    assert data.train_a[0, :, 2, 2].tolist() == [50, 50, 50]
    assert data.train_b[0, :, 2, 2].tolist() == [200, 10, 10]


def test_paired_missing_split_and_empty_split(tmp_path):
    _paired_ab_folders(tmp_path)
    for path in (tmp_path / "test" / "A").iterdir():
        path.unlink()
    with pytest.raises(DataError, match="have no partner"):
        T.load_translation(DataConfig(name="paired", root=str(tmp_path)), True)
    with pytest.raises(DataError, match=r"nowhere is missing; the paired layout is DIR/train and DIR/test"):
        T._paired_split(tmp_path / "nowhere", DataConfig(name="paired"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="neither A/ \\+ B/ folders nor side-by-side"):
        T._paired_split(tmp_path / "empty", DataConfig(name="paired"))


def test_no_root_says_how(tmp_path):
    with pytest.raises(DataError, match="pass --set data.root=DIR"):
        T.load_translation(DataConfig(name="unpaired"), False)
    with pytest.raises(DataError, match="not a two-domain data set"):
        T.load_translation(DataConfig(name="fashion-mnist"), False)


# --- the built-in pairs, on fake Fashion-MNIST files -----------------------------------


@pytest.fixture
def fake_fmnist(tmp_path, idx_bytes, monkeypatch):
    rng = np.random.default_rng(0)
    for stem, count in (("train", 8), ("t10k", 3)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        images[:, :4] = 0  # a black border, as Fashion-MNIST has
        (tmp_path / f"{stem}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (tmp_path / f"{stem}-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(count, dtype=np.uint8) % 10))
    monkeypatch.setattr(T, "HALF", 4)  # the real split is 30,000 / 30,000 of 60,000
    return tmp_path


def test_fmnist_tint_unpaired_domains_hold_different_garments(fake_fmnist):
    data = T.load_translation(DataConfig(name="fmnist-tint", root=str(fake_fmnist)), False)
    assert data.train_a.shape == data.train_b.shape == (4, 3, 28, 28)
    assert not data.paired and data.test_paired and data.test_labels.tolist() == [0, 1, 2]
    gray = data.train_a[:, :1].numpy()
    assert torch.equal(data.train_a[:, 0], data.train_a[:, 2])  # A is gray as RGB
    assert not np.array_equal(T.tint(gray), data.train_b.numpy())  # B: other garments
    assert np.array_equal(T.tint(data.test_a[:, :1].numpy()), data.test_b.numpy())  # the ground truth
    assert data.train_b[:, :, 0, 0].sum() == 0  # black stays black


def test_fmnist_edges_paired_for_pix2pix(fake_fmnist):
    data = T.load_translation(DataConfig(name="fmnist-edges", root=str(fake_fmnist), image_size=32), True)
    assert data.paired and data.channels == (1, 1) and data.image_size == 32
    assert np.array_equal(T.edges(data.train_a.numpy()), data.train_b.numpy())
    assert set(np.unique(data.train_b.numpy())) <= {0, 255}


def test_tint_is_a_fixed_monotone_colour_map():
    gray = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    rgb = T.tint(gray).astype(int)
    luma = rgb[0, 0] * 299 + rgb[0, 1] * 587 + rgb[0, 2] * 114
    assert rgb[0, :, 0, 0].tolist() == [0, 0, 0]
    assert (np.diff(luma.ravel()) >= 0).all()


def test_edges_find_a_square_outline():
    square = np.zeros((1, 1, 12, 12), dtype=np.uint8)
    square[0, 0, 3:9, 3:9] = 255
    edge = T.edges(square)[0, 0] > 0
    assert edge[3, 5] and edge[2, 5] and not edge[5, 5] and not edge[0, 0]


def test_translation_sets_are_listed_as_pairs():
    from ganforge.data import DATASETS

    for name in ("unpaired", "paired", "fmnist-tint", "fmnist-edges"):
        assert DATASETS[name].kind == "pair" and DATASETS[name].summary
