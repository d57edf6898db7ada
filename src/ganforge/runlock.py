"""One writer per run folder: an exclusive lock held for the whole training run.

``train`` takes it before touching the folder; a second ``train`` on the same ``run.dir``,
or a ``--resume`` while the run trains, fails at once with one line naming the process that
holds it. The lock is ``flock`` on ``<run>/.lock``: the kernel releases it when the holder
exits in any way (``kill -9`` included), so there is never a stale lock to delete by hand.
The file itself stays (deleting it would let two writers lock two different files) and holds
the holder's pid, for the message only.

Readers (``sample``, ``eval``, ``export``, the lab's run view) never take the lock: every file
they read is replaced atomically, so they keep working while a run trains.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ganforge.errors import GanforgeError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not protected against a second writer
    fcntl = None

LOCK_NAME = ".lock"


class RunFolderLocked(GanforgeError):
    """Another process is writing to this run folder."""


def _holder(handle) -> str:
    handle.seek(0)
    text = handle.read(32).strip()
    return f"process {text}" if text.isdigit() else "another process"


@contextlib.contextmanager
def hold(run_dir: str | Path) -> Iterator[None]:
    """Hold the run folder's lock for the ``with`` block (creating the folder if needed).

    Under torchrun only rank 0 writes the folder, so only rank 0 locks it.
    """
    if fcntl is None or int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK_NAME, "a+")
    except OSError as err:
        raise GanforgeError(f"cannot use run.dir={run_dir}: {err.strerror}") from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderLocked(
                f"{run_dir} is being written by {_holder(handle)} (a training run); "
                "wait for it to finish or stop it, or set run.dir elsewhere"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the last descriptor releases the flock
