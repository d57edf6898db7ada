"""Export: the ONNX and TorchScript files reproduce the PyTorch generator (max |delta| <= 1e-4 in
float32) at any batch size, carry the labels input when conditional, and record their metadata."""

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from ganforge.checkpoint import save_generator
from ganforge.cli import main
from ganforge.config import ModelConfig
from ganforge.export import (
    PARITY_LIMIT,
    ExportError,
    check_parity,
    example_inputs,
    export_generator,
    format_for,
    parity_ok,
)
from ganforge.models import build_generator


def make_run(tmp_path, name, shape, num_classes=None, noise="uniform"):
    """A run folder holding a freshly initialised (untrained) generator and its metadata."""
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, z_dim=12, g_width=8, noise=noise, num_classes=num_classes)
    G = build_generator(cfg, shape)
    # Train-mode batch statistics would make every output depend on the batch; one forward in
    # train mode moves the running statistics off their initial values, as training would.
    with torch.no_grad():
        G.train()(*example_inputs({"model": dataclasses.asdict(cfg), "num_classes": num_classes}, 16))
    meta = {
        "model": dataclasses.asdict(cfg),
        "data_shape": list(shape),
        "step": 1,
        "num_classes": num_classes,
        "data": {"name": "test", "kind": "image", "class_names": None},
    }
    run = tmp_path / name
    save_generator(run, G, meta)
    return run, G.eval(), meta


def test_onnx_conditional_parity_dynamic_batch_and_metadata(tmp_path, capsys):
    run, G, meta = make_run(tmp_path, "cdcgan", (1, 28, 28), num_classes=4, noise="normal")
    out = tmp_path / "G.onnx"
    main_exit(["export", "--run", str(run), "--out", str(out)])
    assert "max |delta|" in capsys.readouterr().out
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z", "labels"]
    for n in (1, 5):  # neither is the traced batch of 2
        z, labels = example_inputs(meta, n, seed=n)
        got = session.run(None, {"z": z.numpy(), "labels": labels.numpy()})[0]
        with torch.no_grad():
            expected = G(z, labels).numpy()
        assert got.shape == (n, 1, 28, 28)
        assert np.abs(got - expected).max() <= PARITY_LIMIT
    stored = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(stored["ganforge"])["num_classes"] == 4


@pytest.mark.parametrize(
    "name, shape, classes", [("dcgan", (3, 32, 32), None), ("cgan", (1, 8, 8), 3), ("mlp", (2,), None)]
)
def test_torchscript_parity(tmp_path, name, shape, classes):
    run, G, meta = make_run(tmp_path, name, shape, num_classes=classes)
    out = tmp_path / "G.pt"
    main_exit(["export", "--run", str(run), "--out", str(out), "--format", "torchscript"])
    assert check_parity(G, meta, out, n=7) <= PARITY_LIMIT
    files = {"generator.json": ""}
    module = torch.jit.load(str(out), _extra_files=files)
    assert json.loads(files["generator.json"])["data_shape"] == list(shape)
    assert module(*example_inputs(meta, 1)).shape == (1, *shape)


def test_parity_check_catches_a_different_generator(tmp_path):
    run, G, meta = make_run(tmp_path, "cgan", (1, 8, 8), num_classes=3)
    out = export_generator(G, meta, tmp_path / "G.pt")
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.01)
    assert check_parity(G, meta, out) > 10 * PARITY_LIMIT


def test_format_errors(tmp_path):
    assert format_for("g.onnx") == "onnx" and format_for("g.bin", "torchscript") == "torchscript"
    with pytest.raises(ExportError, match="pass --format"):
        format_for(tmp_path / "G.bin")
    with pytest.raises(ExportError, match="unknown export format"):
        format_for("g.onnx", "tflite")


def main_exit(argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 0


def break_weights(run, G, meta):
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(float("nan"))
    save_generator(run, G, meta)


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_a_nan_generator_is_refused_and_leaves_no_file(tmp_path, capsys, suffix):
    """Issue 13 item 3: NaN parity printed FAILED, exited 0 and left the file."""
    run, G, meta = make_run(tmp_path, "cgan", (1, 8, 8), num_classes=3)
    break_weights(run, G, meta)
    out = tmp_path / f"G{suffix}"
    with pytest.raises(SystemExit) as stop:
        main(["export", "--run", str(run), "--out", str(out)])
    assert stop.value.code != 0 and "NaN" in capsys.readouterr().err
    assert list(tmp_path.glob("*G*")) == []


def test_nan_parity_is_a_failure_and_leaves_no_file(tmp_path, monkeypatch, capsys):
    import ganforge.cli.export as cli_export

    run, G, meta = make_run(tmp_path, "mlp", (2,))
    monkeypatch.setattr(cli_export, "check_parity", lambda *args, **kwargs: float("nan"))
    out = tmp_path / "G.pt"
    with pytest.raises(SystemExit) as stop:
        main(["export", "--run", str(run), "--out", str(out)])
    captured = capsys.readouterr()
    assert stop.value.code != 0 and "FAILED" in captured.out and "not written" in captured.err
    assert list(tmp_path.glob("*G*")) == []
    assert not parity_ok(float("nan")) and parity_ok(0.0) and not parity_ok(1.0)


# --- translation generators (tiny runs from tests/conftest.py: translation_run) ------------


def export_cli(capsys, *argv):
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    return stop.value.code, captured


@pytest.mark.parametrize(
    ("game", "direction", "generator"),
    [
        ("cyclegan", "AtoB", "auto"),
        ("cyclegan", "BtoA", "auto"),
        ("stargan", None, "auto"),
        ("stargan", None, "skip"),
        ("stargan", None, "pixel"),
    ],
)
def test_translation_onnx_parity_at_two_sizes(translation_run, tmp_path, capsys, game, direction, generator):
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from ganforge.checkpoint import load_inference
    from ganforge.export import example_inputs, run_exported

    run = translation_run(game, generator)
    out = tmp_path / "G.onnx"
    extra = ["--direction", direction] if direction else []
    code, captured = export_cli(capsys, "export", "--run", run, "--out", out, "--check-samples", 5, *extra)
    assert code == 0, captured.err
    assert "at 16x16 and 32x32 px" in captured.out and " ok" in captured.out
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == (["image", "labels"] if game == "stargan" else ["image"])
    G, meta = load_inference(run, direction or "last")
    assert meta.get("generator", "resnet") == ("resnet" if generator == "auto" else generator)
    for n, size in ((3, 16), (1, 24), (2, 32)):  # batch, height and width all dynamic
        inputs = example_inputs(meta, n, seed=size, size=size)
        got = run_exported(out, "onnx", inputs)
        with torch.no_grad():
            expected = G(*inputs).numpy()
        assert got.shape == (n, 3, size, size) and np.abs(got - expected).max() <= PARITY_LIMIT
    if game == "stargan":  # the label input steers the output
        image, labels = example_inputs(meta, 2, seed=0)
        other = run_exported(out, "onnx", (image, labels.roll(1, dims=1)))
        assert np.abs(other - run_exported(out, "onnx", (image, labels))).max() > 1e-3


def test_translation_torchscript_and_direction_errors(translation_run, tmp_path, capsys):
    code, captured = export_cli(
        capsys,
        "export",
        "--run",
        translation_run("pix2pix"),
        "--out",
        tmp_path / "G.pt",
        "--check-samples",
        3,
    )
    assert code == 0 and "ok" in captured.out and (tmp_path / "G.pt").is_file()
    code, captured = export_cli(
        capsys,
        "export",
        "--run",
        translation_run("pix2pix"),
        "--direction",
        "BtoA",
        "--out",
        tmp_path / "B.pt",
    )
    assert code == 2 and "no BtoA generator" in captured.err and not (tmp_path / "B.pt").exists()
    code, captured = export_cli(
        capsys,
        "export",
        "--run",
        translation_run("stargan"),
        "--direction",
        "AtoB",
        "--out",
        tmp_path / "S.pt",
    )
    assert code == 2 and "--direction is for CycleGAN" in captured.err


def test_unet_sizes_must_be_multiples_of_its_depth():
    from ganforge.export import parity_sizes, size_factor

    meta = {"generator": "unet", "in_channels": 1, "image_size": 28}
    assert size_factor(meta) is None and parity_sizes(meta) == [28]  # padded to 32 inside: fixed size
    meta["image_size"] = 32  # a 1x1 bottleneck: torch.export would specialise the size
    assert size_factor(meta) is None and parity_sizes(meta) == [32]
    meta["image_size"] = 512  # a 2x2 bottleneck (depth stays 8): dynamic, checked at 512 and 1024
    assert size_factor(meta) == 256 and parity_sizes(meta) == [512, 1024]
    assert size_factor({"family": "stargan", "image_size": 12}) == 4
    assert size_factor({"family": "stargan", "generator": "skip", "image_size": 12}) == 4


@pytest.mark.parametrize(("size", "full_res"), [(28, False), (16, True)])
def test_a_unet_up_to_256_px_exports_at_its_fixed_size(tmp_path, capsys, size, full_res):
    """The pix2pix preset's U-Net pads 28 px to 32 inside, and a 16 px one has a 1x1 bottleneck
    (which made the export fail before): both exported and checked at their size only."""
    pytest.importorskip("onnxruntime")
    from ganforge.export import example_inputs, run_exported
    from ganforge.models.translation import build_generator as build_translator
    from ganforge.models.translation import generator_meta

    torch.manual_seed(0)
    meta = generator_meta("unet", 1, 1, size, 4, norm="batch", dropout=True, full_res=full_res)
    save_generator(tmp_path / "run", build_translator(meta), meta, which="AtoB")
    out = tmp_path / "G.onnx"
    code, captured = export_cli(
        capsys, "export", "--run", tmp_path / "run", "--out", out, "--check-samples", 3
    )
    assert code == 0, captured.err
    assert f"at {size}x{size} px" in captured.out and f"H = W = {size} fixed" in captured.out
    assert run_exported(out, "onnx", example_inputs(meta, 5)).shape == (5, 1, size, size)
