"""StarGAN's domain data: folder domains, CelebA attributes, fmnist-styles and its truth."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data import DataError, load_dataset
from ganforge.data.domains import Domains
from ganforge.data.styles import STYLE_NAMES, combinations, render

# --- writers in the true formats -------------------------------------------------------------

ALL_ATTRIBUTES = ["5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "Male", "Young"]


def write_celeba(root: Path, rows: dict[str, list[int]]) -> None:
    """img_align_celeba/ images (brightness = 40 * index) and list_attr_celeba.txt beside them:
    line 1 the count, line 2 the names, then '<file> <+1|-1 ...>' with CelebA's spacing."""
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    lines = [str(len(rows)), " ".join(ALL_ATTRIBUTES) + " "]
    for i, (name, values) in enumerate(rows.items(), start=1):
        Image.fromarray(np.full((218, 178, 3), 40 * i, dtype=np.uint8)).save(images / name)
        lines.append(name + "".join(f" {v:2d}" for v in values))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")


def write_domain_folder(root: Path, domains: dict[str, int], value_of) -> None:
    for name, count in domains.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((12, 12, 3), value_of(name), dtype=np.uint8)).save(
                root / name / f"{i}.png"
            )


# --- folder domains --------------------------------------------------------------------------


def test_folder_subfolders_are_single_label_domains(tmp_path):
    values = {"angry": 10, "happy": 200, "sad": 100}
    for split in ("train", "test"):
        write_domain_folder(tmp_path / split, {"happy": 2, "angry": 3, "sad": 1}, values.get)
    dataset = load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8))
    domains = Domains.of(dataset)
    assert domains == Domains(("angry", "happy", "sad"), multi_label=False)
    vectors = domains.vectors(dataset)
    assert vectors.shape == (6, 3) and torch.equal(vectors.sum(1), torch.ones(6))
    # each image's one-hot vector names the folder it came from
    for image, vector in zip(dataset.data, vectors):
        assert abs(image.float().mean().item() - values[domains.names[int(vector.argmax())]]) < 2
    test = load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8, split="test"))
    assert Domains.of(test) == domains


def test_flat_folder_has_no_domains(tmp_path):
    write_domain_folder(tmp_path, {"only": 2}, lambda name: 5)
    with pytest.raises(DataError, match="sub-folder per domain"):
        Domains.of(load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8)))


def test_single_label_targets_and_unknown_names():
    domains = Domains(("angry", "happy", "sad"), multi_label=False)
    source = torch.eye(3)[[0, 2]]
    assert torch.equal(domains.turn_on(source, ["happy"]), torch.eye(3)[[1, 1]])
    assert [t.argmax(1).tolist() for t in domains.grid_targets(source)] == [[0, 0], [1, 1], [2, 2]]
    with pytest.raises(DataError, match="valid domains: angry, happy, sad"):
        domains.turn_on(source, ["fearful"])


# --- CelebA attributes -----------------------------------------------------------------------


def test_celeba_attributes_multi_label(tmp_path, monkeypatch):
    write_celeba(
        tmp_path / "celeba",
        {
            "000001.jpg": [-1, 1, -1, -1, -1, 1, 1],
            "000002.jpg": [1, -1, 1, -1, -1, -1, 1],
            "000003.jpg": [-1, -1, -1, 1, -1, 1, -1],
        },
    )
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    dataset = load_dataset(DataConfig(name="celeba-attributes", image_size=16))
    assert dataset.data.shape == (3, 3, 16, 16)
    assert dataset.attribute_names == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    expected = [[1, 0, 0, 1, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0]]
    assert dataset.attributes.dtype == torch.float32 and dataset.attributes.tolist() == expected
    assert abs(dataset.data[2].float().mean().item() - 120) < 3  # rows follow the images
    picked = load_dataset(DataConfig(name="celeba-attributes", image_size=8, attributes="Male,Gray_Hair"))
    assert picked.attributes.tolist() == [[1, 0], [0, 0], [1, 0]]
    with pytest.raises(DataError, match=r"unknown attribute\(s\) Bald; valid: 5_o_Clock_Shadow, Black_Hair"):
        load_dataset(DataConfig(name="celeba-attributes", attributes="Male,Bald"))


def test_malformed_attribute_file_is_one_line(tmp_path, monkeypatch):
    write_celeba(tmp_path / "celeba", {"000001.jpg": [1, 1, 1, 1, 1, 1, 1]})
    path = tmp_path / "celeba" / "list_attr_celeba.txt"
    path.write_text(path.read_text().replace(" 1\n", " 0\n"))
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    with pytest.raises(DataError, match="line 3: expected an image name and 7 values"):
        load_dataset(DataConfig(name="celeba-attributes"))


def test_hair_colours_are_exclusive():
    domains = Domains(("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), multi_label=True)
    source = torch.tensor([[1.0, 0, 0, 1, 0]])
    assert domains.turn_on(source, ["Blond_Hair", "Young"]).tolist() == [[0, 1, 0, 1, 1]]
    columns = [t.tolist()[0] for t in domains.grid_targets(source)]
    assert columns == [[1, 0, 0, 1, 0], [0, 1, 0, 1, 0], [0, 0, 1, 1, 0], [1, 0, 0, 0, 0], [1, 0, 0, 1, 1]]


# --- fmnist-styles ---------------------------------------------------------------------------


def test_combinations_are_fixed_per_split_and_cover_all_styles():
    train = combinations(1200, "train")
    assert torch.equal(train, combinations(1200, "train"))
    assert not torch.equal(train[:100], combinations(100, "test"))
    assert torch.equal(train[:, :3].sum(1), torch.ones(1200))
    codes = {tuple(row) for row in train.int().tolist()}
    assert len(codes) == 12


def test_render_is_invertible_and_each_style_visible():
    torch.manual_seed(0)
    garment = torch.randint(0, 256, (1, 1, 28, 28), dtype=torch.uint8)
    plain = render(garment, torch.tensor([[1.0, 0, 0, 0, 0]]))
    assert torch.equal(plain[:, 0], garment[:, 0])  # red channel at full strength
    inverted = render(garment, torch.tensor([[1.0, 0, 0, 1, 0]]))
    assert torch.equal(inverted[:, 0], 255 - garment[:, 0])
    striped = render(garment, torch.tensor([[0.0, 0, 1, 0, 1]])).float()
    assert torch.equal(striped[:, 2, :2], garment[:, 0, :2].float())  # rows 0-1 bright
    assert torch.allclose(striped[:, 2, 2:4], (garment[:, 0, 2:4].float() * 0.4).round())  # rows 2-3 dark
    with pytest.raises(DataError, match="exactly one of red, green, blue"):
        render(garment, torch.tensor([[1.0, 1, 0, 0, 0]]))


def test_fmnist_styles_loader(tmp_path, monkeypatch, idx_bytes):
    import gzip

    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    for kind, array in (("images-idx3", images), ("labels-idx1", np.arange(20) % 10)):
        (folder / f"train-{kind}-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.asarray(array))))
    dataset = load_dataset(DataConfig(name="fmnist-styles", root=str(folder), download=False))
    assert dataset.data.shape == (20, 3, 28, 28) and dataset.attribute_names == STYLE_NAMES
    assert dataset.labels.tolist() == (np.arange(20) % 10).tolist()
    expected = render(torch.from_numpy(images)[:, None], combinations(20, "train"))
    assert torch.equal(dataset.data, expected)
    small = load_dataset(DataConfig(name="fmnist-styles", root=str(folder), image_size=32, limit=5))
    assert small.data.shape == (5, 3, 32, 32) and small.attributes.shape == (5, 5)
    # Only the kept garments are resized, but each keeps the styles the whole split gives it.
    assert torch.equal(small.attributes, dataset.attributes[:5])
    with pytest.raises(DataError, match="colour"):
        load_dataset(DataConfig(name="fmnist-styles", root=str(folder), channels=1))
