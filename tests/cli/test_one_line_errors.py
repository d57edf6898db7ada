"""What a user sees when a command meets a file it cannot use: one line and exit code 2, never a
traceback (a fresh user's path through the docs, audited 2026-11-29)."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.evaluation.sources import Source, load_source, read_folder
from ganforge.metrics.errors import MetricError


def run_cli(capsys, *argv):
    """``ganforge ARGV`` -> (exit status, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in argv])
    return done.value.code, capsys.readouterr().err


def assert_one_line(err: str, *phrases: str) -> None:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("ganforge: error:")]
    assert len(lines) == 1, err
    for phrase in phrases:
        assert phrase in lines[0], err


def write_digit_folder(folder, count=6, broken=()):
    """``count`` 8x8 gray PNGs (and unreadable files named ``broken``) in ``folder``."""
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for name in broken:
        (folder / name).write_bytes(b"not an image")
    for i in range(count):
        Image.fromarray(rng.randint(0, 255, (8, 8), np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("one-line") / "run"
    settings = [
        "run.progress=false",
        "data.name=digits",
        "model.name=mlp",
        "model.g_width=8",
        "model.d_width=8",
        "train.batch_size=16",
        "train.steps=2",
        "train.log_every=1",
        "eval.every=0",
        f"run.dir={run}",
    ]
    with pytest.raises(SystemExit) as done:
        main(["train", *[a for s in settings for a in ("--set", s)]])
    assert done.value.code == 0
    return run


def test_an_output_in_a_folder_that_cannot_exist_is_one_line(tiny_run, tmp_path, capsys):
    """`--out` under a regular file (or in /proc, or a read-only folder) used to end in a
    FileExistsError / NotADirectoryError traceback from mkdir."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, err = run_cli(capsys, "sample", "--run", tiny_run, "-n", 4, "--out", blocker / "sub" / "x.png")
    assert code == 2
    assert_one_line(err, str(blocker))
    assert not (blocker.parent / "sub").exists()


def test_any_os_error_of_a_command_is_one_line(monkeypatch, capsys):
    """The safety net for every command: an OSError (full disk, permissions) names the file."""
    import ganforge.cli.info as info

    def full_disk(args):
        raise OSError(28, "No space left on device", "/runs/x/metrics.json")

    monkeypatch.setattr(info, "run", full_disk)
    code, err = run_cli(capsys, "info")
    assert code == 2
    assert_one_line(err, "/runs/x/metrics.json", "No space left on device")


def test_ganforge_warnings_are_one_line(tmp_path):
    """A skipped unreadable training image is reported as `ganforge: warning: ...`, not as
    Python's two-line warning with the source file, line number and code. In a process of its
    own, as a user runs it: pytest records warnings instead of printing them."""
    root = write_digit_folder(tmp_path / "imgs", broken=["broken.png"])
    settings = [
        "run.progress=false",
        "data.name=folder",
        f"data.root={root}",
        "data.image_size=8",
        "data.channels=1",
        "model.name=mlp",
        "model.g_width=8",
        "model.d_width=8",
        "train.batch_size=2",
        "train.steps=1",
        "eval.every=0",
        f"run.dir={tmp_path / 'run'}",
    ]
    argv = [sys.executable, "-m", "ganforge", "train", *[a for s in settings for a in ("--set", s)]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    skipped = [line for line in done.stderr.splitlines() if "broken.png" in line]
    assert skipped == [f"ganforge: warning: skipped 1 unreadable image file(s): {root / 'broken.png'}"]
    assert "UserWarning" not in done.stderr and "warnings.warn" not in done.stderr


def test_warnings_stay_recordable(tmp_path, capsys):
    """Only the format changes: a caller of main() that records warnings still gets them."""
    root = write_digit_folder(tmp_path / "imgs", count=3, broken=["broken.png"])
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        code, _ = run_cli(
            capsys,
            "eval",
            "--real",
            "digits:test",
            "--fake",
            root,
            "--metrics",
            "kid",
            "--feature-net",
            "fmnist",
            "--no-context",
        )
    assert code == 0


def test_a_folder_whose_first_file_is_unreadable_is_read(tmp_path):
    """`eval --fake FOLDER` took its size from the first file and crashed (PIL traceback)
    when that one was unreadable; now it is skipped like any other unreadable file."""
    folder = write_digit_folder(tmp_path / "imgs", count=3, broken=["0-broken.png"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the skip warning; its format is tested above
        images, _ = read_folder(folder, None, 0)
    assert images.shape == (3, 1, 8, 8) and images.dtype == np.uint8
    only_broken = tmp_path / "bad"
    only_broken.mkdir()
    (only_broken / "a.png").write_bytes(b"no")
    with pytest.raises(MetricError, match="none of the 1 image files"):
        read_folder(only_broken, None, 0)


def test_a_zero_dimensional_npy_is_a_metric_error(tmp_path):
    """`eval --fake one-number.npy` raised TypeError (len() of unsized object)."""
    path = tmp_path / "scalar.npy"
    np.save(path, np.uint8(3))
    with pytest.raises(MetricError, match=r"shape \(\); expected uint8 images"):
        load_source(Source("npy", str(path), path=path), None, 0)


def test_too_few_images_for_fid_says_how_many_are_needed(tmp_path, capsys):
    """It said `feats_a has 100 samples for 128 feature dimensions`, naming an argument of an
    internal function; now it names the images, the count needed and the options."""
    path = tmp_path / "few.npy"
    np.save(path, np.zeros((100, 28, 28), np.uint8))
    code, err = run_cli(
        capsys, "eval", "--real", "digits:test", "--fake", path, "--metrics", "fid", "--feature-net", "fmnist"
    )
    assert code == 2
    assert_one_line(
        err, "needs at least 129 samples", f"{path} gives 100 images", "--n", "--metrics without fid"
    )
    assert "feats_a" not in err


def test_the_command_line_starts_without_sklearn():
    """sklearn (imported at the top of three detect modules) cost every `ganforge` command,
    `--help` included, 1.5-3 s of start-up; only the detectors' figures need it, so it is
    imported where they are computed."""
    code = "import sys; import ganforge.cli as c; c.build_parser(); print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_evaluator_train_advises_its_own_root_flag(tmp_path, monkeypatch, capsys):
    """The readers' advice says `--set data.root=DIR`, train's flag; `evaluator train` has --root."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run_cli(capsys, "evaluator", "train", "mnist", "--root", empty, "--out", tmp_path)
    assert code == 2
    assert_one_line(err, "--root DIR")
    assert "data.root" not in err
    code, err = run_cli(capsys, "evaluator", "train", "mnist", "--root", tmp_path / "typo", "--out", tmp_path)
    assert code == 2
    assert_one_line(err, "--root ", "typo is not a folder", "leave --root unset")
    assert "data.root" not in err
