"""One writer per run folder (issue 13, item 1) and the clean-up of a killed writer's
temporaries (item 4). The second writer is a real second process."""

import os
import signal
import subprocess
import sys

import pytest

from ganforge.checkpoint import latest_checkpoint, load_checkpoint, load_generator
from ganforge.cli import main
from ganforge.runlock import RunFolderLocked, hold
from ganforge.training import train

HOLDER = (
    "import sys\n"
    "from ganforge.runlock import hold\n"
    "with hold(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    sys.stdin.read()\n"  # holds the lock until the test closes stdin (or kills it)
)


@pytest.fixture
def holder():
    """Start a second process that holds a run folder's lock, as a training run does."""
    processes = []

    def start(run_dir):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(run_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().strip() == "held"
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def run_cli(*args):
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    return stop.value.code


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, tiny_digits, holder):
    run = tmp_path / "r"
    process = holder(run)
    with pytest.raises(RunFolderLocked, match=f"being written by process {process.pid}"):
        train(tiny_digits(run, "train.steps=10"))
    assert latest_checkpoint(run) is None and not (run / "config.yaml").exists()


def test_resume_while_training_is_one_line(tmp_path, tiny_digits, holder, capsys):
    run = tmp_path / "r"
    train(tiny_digits(run, "train.steps=10"))
    before = (run / "metrics.csv").read_text()
    process = holder(run)
    assert run_cli("train", "--resume", str(run), "--set", "train.steps=20") == 2
    err = capsys.readouterr().err
    assert f"process {process.pid}" in err and err.count("\n") == 1
    assert (run / "metrics.csv").read_text() == before
    # Readers never take the lock: the exported generator and checkpoints still load.
    G, meta = load_generator(run)
    assert meta["step"] == 10
    assert load_checkpoint(latest_checkpoint(run))["step"] == 10


def test_kill_9_leaves_no_stale_lock(tmp_path, tiny_digits, holder):
    run = tmp_path / "r"
    process = holder(run)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (run / ".lock").exists()  # the file stays; the kernel dropped the lock
    state = train(tiny_digits(run, "train.steps=10"))
    assert state.step == 10


def test_the_lock_is_released_after_a_run_and_after_an_error(tmp_path):
    run = tmp_path / "r"
    with pytest.raises(RuntimeError), hold(run):
        raise RuntimeError("boom")
    with hold(run):
        assert (run / ".lock").read_text().strip() == str(os.getpid())


def test_stale_temporaries_are_removed_at_start_up(tmp_path, tiny_digits):
    run = tmp_path / "r"
    train(tiny_digits(run, "train.steps=10"))
    # What a kill -9 during atomic writes leaves: hidden, named after the target, ending .tmp.
    stale = [
        run / "checkpoints" / f".step_0000020.pt.{os.getpid()}.0badf00d.tmp",
        run / "checkpoints" / ".step_0000020.pt.k2j4_x9q.tmp",  # mkstemp's names, before files.py
        run / ".config.yaml.123.abcd0123.tmp",
        run / "samples" / ".step_0000020.png.1.ffffffff.tmp",
    ]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    kept = run / "notes.tmp"  # not one of ours: not hidden
    kept.write_text("mine")
    train(tiny_digits(run, "train.steps=20"), resume=True)
    assert not [p for p in stale if p.exists()]
    assert kept.read_text() == "mine"
