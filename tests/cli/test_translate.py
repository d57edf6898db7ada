"""`ganforge translate` on tiny CycleGAN, pix2pix and StarGAN runs trained in the test session
(tests/conftest.py: translation_run): every input processed in batches, names kept, the .npy
layout and order, grid sizes, and one clear line for each bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.checkpoint import CheckpointError, load_generator, load_inference
from ganforge.cli import main
from ganforge.models.translation import build_generator
from ganforge.viz.grid import image_grid


def cli(capsys, *argv):
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error" in line]
    return done.value.code, errors, captured


def translate(capsys, run, inputs, out, *options):
    """``ganforge translate --run RUN --input INPUTS --out OUT [OPTIONS]``, as ``cli`` returns it."""
    return cli(capsys, "translate", "--run", run, "--input", inputs, "--out", out, *options)


def write_inputs(folder, count=7, size=16, rgb=True):
    """``count`` images of distinct brightness named in an order their index does not follow."""
    folder.mkdir(parents=True)
    names = []
    for i in range(count):
        value = 20 + 30 * i
        pixels = np.full((size, size, 3) if rgb else (size, size), value, np.uint8)
        name = f"img_{(count - i) * 7:03d}"
        Image.fromarray(pixels).save(folder / f"{name}.png")
        names.append(name)
    return sorted(names)


def test_every_input_of_a_folder_is_translated_in_batches_names_kept(translation_run, tmp_path, capsys):
    run = translation_run("cyclegan")
    names = write_inputs(tmp_path / "in")
    code, errors, _ = translate(capsys, run, tmp_path / "in", tmp_path / "out", "--batch-size", 3)
    assert code == 0 and not errors
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.png")) == names
    # the folder's images equal the .npy's rows, in sorted file-name order
    assert translate(capsys, run, tmp_path / "in", tmp_path / "o.npy", "--batch-size", 3)[0] == 0
    array = np.load(tmp_path / "o.npy")
    assert array.dtype == np.uint8 and array.shape == (7, 16, 16, 3)
    for row, name in zip(array, names, strict=True):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / f"{name}.png")), row)
    # batching does not change the result (instance norm: each image on its own; float rounding)
    assert translate(capsys, run, tmp_path / "in", tmp_path / "one.npy", "--batch-size", 7)[0] == 0
    assert np.abs(np.load(tmp_path / "one.npy").astype(int) - array).max() <= 2


def test_npy_output_matches_the_generator_and_directions_differ(translation_run, tmp_path, capsys):
    run = translation_run("cyclegan")
    write_inputs(tmp_path / "in", count=4)
    for direction in ("AtoB", "BtoA"):
        code, _, _ = translate(
            capsys, run, tmp_path / "in", tmp_path / f"{direction}.npy", "--direction", direction
        )
        assert code == 0
    G, _ = load_inference(run, "BtoA")
    pictures = sorted((tmp_path / "in").glob("*.png"))
    x = torch.from_numpy(np.stack([np.asarray(Image.open(p)) for p in pictures])).permute(0, 3, 1, 2)
    with torch.no_grad():
        expected = ((G(x.float() / 127.5 - 1).clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1)
    assert np.abs(np.load(tmp_path / "BtoA.npy").astype(int) - expected.numpy().astype(int)).max() <= 1
    assert not np.array_equal(np.load(tmp_path / "AtoB.npy"), np.load(tmp_path / "BtoA.npy"))


def test_grid_rows_show_input_translation_and_reconstruction(translation_run, tmp_path, capsys):
    write_inputs(tmp_path / "in", count=5)
    tile = np.zeros((16, 16, 3), np.uint8)
    for game, columns in (("cyclegan", 3), ("pix2pix", 2)):
        out = tmp_path / f"{game}.png"
        assert translate(capsys, translation_run(game), tmp_path / "in", out, "--batch-size", 2)[0] == 0
        assert Image.open(out).size == image_grid(np.stack([tile] * 5 * columns), columns=columns).size


def test_npy_and_single_image_inputs_are_resized_to_the_run(translation_run, tmp_path, capsys):
    run = translation_run("pix2pix")
    gray = np.random.default_rng(0).integers(0, 255, (5, 24, 24), dtype=np.uint8)
    np.save(tmp_path / "in.npy", gray)
    code, _, captured = translate(capsys, run, tmp_path / "in.npy", tmp_path / "dir")
    assert code == 0 and captured.err.count("resizing inputs to the run's 16x16") == 1
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == [f"{i:06d}.png" for i in range(5)]
    Image.fromarray(gray[0]).save(tmp_path / "one.png")
    assert translate(capsys, run, tmp_path / "one.png", tmp_path / "one.npy")[0] == 0
    assert np.load(tmp_path / "one.npy").shape == (1, 16, 16, 3)
    # RGBA rows: the alpha is dropped, so they translate like the RGB rows they hold
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.save(tmp_path / "rgb.npy", rgb)
    np.save(tmp_path / "rgba.npy", np.concatenate([rgb, np.full_like(rgb[..., :1], 7)], axis=-1))
    for name in ("rgb", "rgba"):
        assert translate(capsys, run, tmp_path / f"{name}.npy", tmp_path / f"{name}-out.npy")[0] == 0
    assert np.array_equal(np.load(tmp_path / "rgb-out.npy"), np.load(tmp_path / "rgba-out.npy"))


@pytest.mark.parametrize("generator", ["auto", "skip", "pixel"])
def test_stargan_targets_and_the_all_grid(translation_run, tmp_path, capsys, generator):
    run = translation_run("stargan", generator)
    write_inputs(tmp_path / "in", count=4)
    outs = {}
    for domain in ("red", "blue"):
        assert translate(capsys, run, tmp_path / "in", tmp_path / f"{domain}.npy", "--to", domain)[0] == 0
        outs[domain] = np.load(tmp_path / f"{domain}.npy")
    assert outs["red"].shape == (4, 16, 16, 3) and not np.array_equal(outs["red"], outs["blue"])
    assert translate(capsys, run, tmp_path / "in", tmp_path / "all.png", "--to", "all")[0] == 0
    tile = np.zeros((16, 16, 3), np.uint8)
    assert Image.open(tmp_path / "all.png").size == image_grid(np.stack([tile] * 16), columns=4).size
    code, errors, _ = translate(capsys, run, tmp_path / "in", tmp_path / "x.npy", "--to", "purple")
    assert code == 2 and len(errors) == 1 and "purple" in errors[0] and "blue, gray, red" in errors[0]
    code, errors, _ = translate(capsys, run, tmp_path / "in", tmp_path / "x.npy", "--to", "all")
    assert code == 2 and "grid.png" in errors[0] and not (tmp_path / "x.npy").exists()


def test_bad_inputs_are_one_line(translation_run, tmp_path, capsys):
    cyclegan, pix2pix = translation_run("cyclegan"), translation_run("pix2pix")
    (tmp_path / "empty").mkdir()
    code, errors, _ = translate(capsys, cyclegan, tmp_path / "empty", tmp_path / "x.npy")
    assert code == 2 and len(errors) == 1 and "no image files" in errors[0]
    write_inputs(tmp_path / "in", count=3)
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    code, errors, captured = translate(capsys, cyclegan, tmp_path / "in", tmp_path / "x.npy")
    assert code == 0 and "skipped 1 unreadable" in captured.out
    assert np.load(tmp_path / "x.npy").shape[0] == 3
    code, errors, _ = translate(capsys, pix2pix, tmp_path / "in", tmp_path / "y.npy", "--direction", "BtoA")
    assert code == 2 and len(errors) == 1 and "no BtoA generator" in errors[0] and "AtoB" in errors[0]
    code, errors, _ = translate(capsys, cyclegan, tmp_path / "in", tmp_path / "y.npy", "--to", "red")
    assert code == 2 and "--direction" in errors[0]
    code, errors, _ = translate(capsys, cyclegan, tmp_path / "in", tmp_path / "y.npy", "--which", "best")
    assert code == 2 and len(errors) == 1 and "AtoB-best" in errors[0]


def test_nan_weights_are_an_error_and_write_nothing(translation_run, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    run = translation_run("pix2pix")
    meta = json.loads((run / "generator-AtoB.json").read_text())
    G = build_generator(meta)
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(float("nan"))
    from ganforge.checkpoint import save_generator

    save_generator(broken, G, meta, which="AtoB")
    write_inputs(tmp_path / "in", count=2)
    code, errors, _ = translate(capsys, broken, tmp_path / "in", tmp_path / "x.npy")
    assert code == 2 and len(errors) == 1 and "NaN" in errors[0] and not (tmp_path / "x.npy").exists()


def test_gan_runs_and_translation_runs_point_to_each_other(translation_run, tmp_path, capsys):
    import dataclasses

    from ganforge.checkpoint import save_generator
    from ganforge.config import ModelConfig
    from ganforge.models import build_generator as build_gan

    cfg = ModelConfig(name="mlp", z_dim=4, g_width=8)
    meta = {"model": dataclasses.asdict(cfg), "data_shape": [2], "step": 1, "data": {"name": "ring8"}}
    save_generator(tmp_path / "gan", build_gan(cfg, (2,)), meta)
    write_inputs(tmp_path / "in", count=1)
    code, errors, _ = translate(capsys, tmp_path / "gan", tmp_path / "in", tmp_path / "x.npy")
    assert code == 2 and len(errors) == 1 and "this run generates, use `ganforge sample`" in errors[0]
    for game in ("cyclegan", "stargan"):
        code, errors, _ = cli(capsys, "sample", "--run", translation_run(game), "--out", tmp_path / "s.png")
        assert code == 2 and len(errors) == 1 and "ganforge translate" in errors[0]
        with pytest.raises(CheckpointError, match="translate"):
            load_generator(translation_run(game))


def test_attribute_targets_turn_the_named_set_on_and_respect_exclusive_groups():
    from ganforge.cli.translate import TranslateError, target_vectors

    meta = {
        "domain_names": ["red", "green", "blue", "inverted", "striped"],
        "multi_label": True,
        "exclusive_groups": [["red", "green", "blue"]],
    }
    (vector,) = target_vectors(meta, "blue,striped")
    assert vector.tolist() == [0, 0, 1, 0, 1]
    assert [v.argmax().item() for v in target_vectors(meta, "all")] == [0, 1, 2, 3, 4]
    with pytest.raises(TranslateError, match="red, green exclude each other"):
        target_vectors(meta, "red,green")
    with pytest.raises(TranslateError, match="valid: red, green, blue, inverted, striped"):
        target_vectors(meta, "Blond_Hair")
    with pytest.raises(TranslateError, match="needs --to"):
        target_vectors(meta, None)
    single = {"domain_names": ["a", "b"], "multi_label": False}
    with pytest.raises(TranslateError, match="name one of a, b"):
        target_vectors(single, "a,b")


def test_inputs_that_share_a_stem_keep_their_suffix_so_none_is_overwritten():
    from pathlib import Path

    from ganforge.cli.translate import output_stems

    paths = [Path("a.jpg"), Path("a.png"), Path("b.png"), Path("sub/c.png")]
    assert output_stems(paths) == ["a.jpg", "a.png", "b", "sub/c"]
