"""File helpers every package uses: atomic writes (and the clean-up of what a killed
writer left), the cache folder, file hashes.

They sit below everything else (no ganforge imports), so checkpoints, evaluation, the
detector and the metrics share them without importing each other.

Every file ganforge writes into a run folder that a reader may open while it changes
(checkpoints, the exported generator, ``config.yaml``) goes through ``atomic_write``: the
data lands in a hidden temporary beside the target (``.<name>.<pid>.<random>.tmp``) and is
renamed over it once complete. ``kill -9`` in the middle leaves that temporary behind;
``remove_stale_temporaries`` deletes them when the next writer takes the run folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

# The temporaries atomic_write creates (and, before it named them with the pid, mkstemp did).
_TEMPORARY = re.compile(r"^\..+\.tmp$")


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then rename over ``path``.

    A reader (or a crash, or ``kill -9``) sees either the old file or the complete new one,
    never a half-written file. The new file gets the mode every other file gets (0666 less
    the umask), not mkstemp's 0600: a checkpoint is no more secret than the generator, the
    samples or metrics.csv beside it, and a user who wants the run private sets a umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the kernel applies the umask
    try:
        mode = os.stat(tmp).st_mode
        write(tmp)
        os.chmod(tmp, mode)  # some writers (safetensors) re-create the file as 0600
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def cache_root() -> Path:
    """``$GANFORGE_CACHE`` or ``~/.cache/ganforge``: cached statistics and downloaded weights."""
    env = os.environ.get("GANFORGE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganforge"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file (the protocol card's weights hash)."""
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def remove_stale_temporaries(run_dir: str | Path) -> list[Path]:
    """Delete the temporaries of interrupted atomic writes in a run folder and its direct
    sub-folders (``checkpoints/``, ``samples/``); returns what was removed.

    Only safe while holding the run folder's lock (runlock.py): no other writer is then
    half-way through a write.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    folders = [run_dir, *(p for p in run_dir.iterdir() if p.is_dir() and not p.is_symlink())]
    removed = []
    for folder in folders:
        for path in folder.iterdir():
            if _TEMPORARY.match(path.name) and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
