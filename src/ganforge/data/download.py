"""Where data files are looked for, and how missing ones are fetched safely.

Every reader searches the same kind of list (``candidate_folders``) and, when allowed, fetches
into ``~/.cache/ganforge/<name>`` with ``fetch``: download to a hidden temporary file in the
target folder, check its digest, then rename, so an interrupted or tampered download never
leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from ganforge.data.registry import DataError

# Tests replace this to serve bytes without a network.
urlopen = urllib.request.urlopen

DATA_ENV = "GANFORGE_DATA"  # environment variable: a folder holding data sets
_TIMEOUT_SECONDS = 60  # per network read


def cache_dir(name: str) -> Path:
    """``~/.cache/ganforge/<name>``: where downloads go (not created here)."""
    return Path.home() / ".cache" / "ganforge" / name


def candidate_folders(name: str, root: str | None, extra: tuple[str, ...] = ()) -> list[Path]:
    """The folders to search for data set ``name``, in order, without duplicates.

    ``root`` (the config's ``data.root``; one that is not a folder raises DataError), then
    ``$GANFORGE_DATA/<name>``, ``~/.cache/ganforge/<name>``, then ``extra`` (e.g. a Debian
    package's folder). Not ``$GANFORGE_DATA`` itself: MNIST and Fashion-MNIST share file
    names, so a bare folder could silently serve the wrong set.
    """
    folders: list[Path] = []
    if root:
        # A typo must not fall through to another copy of the data silently.
        if not Path(root).expanduser().is_dir():
            raise DataError(
                f"data.root={root} is not a folder; fix the path, or leave data.root unset to "
                "search the usual places"
            )
        folders.append(Path(root).expanduser())
    env = os.environ.get(DATA_ENV)
    if env:
        folders.append(Path(env).expanduser() / name)
    folders.append(cache_dir(name))
    folders += [Path(p) for p in extra]
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def looked_in(folders: list[Path]) -> str:
    """The searched folders as one line, for error messages."""
    return ", ".join(str(f) for f in folders)


def fetch(url: str, destination: Path, algorithm: str, digest: str) -> Path:
    """Download ``url`` to ``destination`` if its ``algorithm`` digest (hex) matches.

    ``algorithm`` is a ``hashlib`` name ("sha256", "md5"). Raises ``DataError`` on a network
    failure or a wrong digest; in both cases nothing is left at ``destination``.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    temp_path = Path(temp_name)
    hasher = hashlib.new(algorithm)
    print(f"downloading {url} -> {destination}", file=sys.stderr)
    try:
        with os.fdopen(handle, "wb") as out, urlopen(url, timeout=_TIMEOUT_SECONDS) as response:
            while chunk := response.read(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest.lower():
            raise DataError(
                f"download of {url} has {algorithm} {hasher.hexdigest()}, expected "
                f"{digest}; the file was discarded (a broken mirror or proxy?)"
            )
        os.replace(temp_path, destination)
    except DataError:
        raise
    except (OSError, ValueError) as error:  # URLError, HTTPError, timeouts are OSErrors
        raise DataError(f"could not download {url}: {error}") from None
    finally:
        temp_path.unlink(missing_ok=True)
    return destination


def extract_tar(archive: Path, target: Path) -> None:
    """Unpack the .tar.gz ``archive`` into ``target``, refusing unsafe members.

    A member with an absolute path, a ``..`` component, or that is a link or device is
    rejected with ``DataError`` before anything is written. Unpacking goes to a temporary
    folder that is renamed into place, so ``target`` only ever holds complete folders.
    """
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                parts = Path(member.name).parts
                if (
                    member.name.startswith(("/", "\\"))
                    or ".." in parts
                    or not (member.isfile() or member.isdir())
                ):
                    raise DataError(
                        f"{archive} holds an unsafe entry '{member.name}'; "
                        "delete the archive and download it again"
                    )
            # The checks above are the defence; the "data" filter (Python >= 3.10.12) is a second.
            safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(staging, members=members, **safety)
        for child in staging.iterdir():
            final = target / child.name
            if final.exists():
                shutil.rmtree(final) if final.is_dir() else final.unlink()
            os.replace(child, final)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"cannot unpack {archive}: {error}; delete it and download again") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
