"""End to end through the command line: train -> sample (png, npy, walk) -> info, and the
one-line errors a user sees for bad input."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main


def run_cli(*args):
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    return stop.value.code


# DCGAN on the bundled digits, upscaled to 28 px: always available, trains in a blink.
SETTINGS = [
    "run.progress=false",
    "data.name=digits",
    "data.image_size=28",
    "model.g_width=8",
    "model.d_width=8",
    "train.batch_size=32",
    "train.steps=6",
    "train.log_every=3",
    "train.sample_every=3",
    "train.checkpoint_every=3",
    "eval.every=0",
]
TINY = [arg for setting in SETTINGS for arg in ("--set", setting)]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert (
        run_cli("train", "--config", "configs/dcgan-fashion-mnist.yaml", "--set", f"run.dir={run}", *TINY)
        == 0
    )
    return run


def test_train_writes_the_run_folder(trained_run):
    for name in ("samples/step_0000003.png", "curves.png", "generator.json", "metrics.csv"):
        assert (trained_run / name).is_file()


def test_resume_extends_the_budget(trained_run, capsys):
    assert run_cli("train", "--resume", str(trained_run), "--set", "train.steps=9") == 0
    assert "9 steps" in capsys.readouterr().out


def test_sample_png_npy_and_walk(trained_run, tmp_path):
    assert run_cli("sample", "--run", str(trained_run), "-n", "10", "--out", str(tmp_path / "s.npy")) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.dtype == np.uint8 and samples.shape[0] == 10 and samples.ndim == 4
    assert samples.shape[-1] in (1, 3)
    assert run_cli("sample", "--run", str(trained_run), "-n", "16", "--out", str(tmp_path / "g.png")) == 0
    assert Image.open(tmp_path / "g.png").size[0] >= 100
    assert (
        run_cli(
            "sample",
            "--run",
            str(trained_run),
            "-n",
            "3",
            "--interpolate",
            "5",
            "--out",
            str(tmp_path / "walk.npy"),
        )
        == 0
    )
    walk = np.load(tmp_path / "walk.npy").astype(float)
    assert walk.shape[0] == 15
    # Along a row, neighbouring frames differ less than the row's two ends.
    row = walk[:5]
    assert np.abs(row[1] - row[0]).mean() < np.abs(row[4] - row[0]).mean()


def test_same_seed_same_samples(trained_run, tmp_path):
    for name in ("a", "b"):
        run_cli(
            "sample",
            "--run",
            str(trained_run),
            "-n",
            "4",
            "--seed",
            "7",
            "--out",
            str(tmp_path / f"{name}.npy"),
        )
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_info_lists_registries(capsys):
    assert run_cli("info") == 0
    out = capsys.readouterr().out
    for name in ("fashion-mnist", "ring8", "dcgan", "mlp", "minimax", "wgan-gp"):
        assert name in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--set", "train.stepz=3"], "unknown key 'train.stepz'"),
        (["train", "--set", "data.name=imagenet"], "unknown data set 'imagenet'; choose one of"),
        (["train", "--set", "data.name=digits", "--set", "data.image_size=48"], "dcgan supports"),
        (["sample", "--run", "/nonexistent", "--out", "x.png"], "no exported generator"),
        (["sample", "--run", "/nonexistent", "--out", "x.jpg"], "give a .png"),
        (["train", "--resume", "/nonexistent"], "nothing to resume"),
    ],
)
def test_bad_input_is_one_line(args, message, capsys, tmp_path, monkeypatch):
    # From a scratch folder: the default run.dir (runs/default, locked before the data set is
    # read) must not land in the checkout, shared by parallel test workers.
    monkeypatch.chdir(tmp_path)
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "ganforge", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("ganforge ")


def test_a_closed_pipe_is_not_a_traceback():
    """`ganforge ... | head` closes the pipe early: the command stops quietly."""
    code = (
        "import ganforge.cli.info as info\n"
        "def flood(args):\n"
        "    for _ in range(100_000):\n"
        "        print('x' * 99)\n"
        "info.run = flood\n"
        "from ganforge.cli import main\n"
        "main(['info'])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)  # the reader takes a little, then goes away like `head` does
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err
