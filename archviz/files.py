"""Writing files the way every archviz output needs: atomically, with the mode a plain ``open()``
would give, under a per-folder lock, and without leaving temporaries behind."""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from archviz.errors import ArchvizError

TEMP_MARK = ".archviz-"  # in the name of every temporary file archviz writes
LOCK_FILE = ".archviz.lock"

_umask_lock = threading.Lock()


def default_mode() -> int:
    """The mode ``open()`` gives a new file under the current umask. The umask can only be
    read by setting it, so it is set back at once, under a lock."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half.

    The file gets the mode ``open()`` would give it (``mkstemp`` alone creates 0600), and a file
    that is replaced keeps its mode. The temporary is named ``.NAME.archviz-*.tmp``, so a later
    run can recognise one that a killed run left behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            for piece in [data] if isinstance(data, bytes) else data:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def is_temporary(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name and name.endswith(".tmp")


def remove_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries killed archviz runs left in ``folder`` (call it holding the lock)."""
    removed = []
    for root, _dirs, names in os.walk(folder):
        for name in names:
            if is_temporary(name):
                path = Path(root) / name
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s archviz lock or say at once that another run holds it.

    The lock is an ``flock`` on ``.archviz.lock``, released by the kernel if the process dies,
    so a killed run never leaves it held; the file is removed on release. Because a file can be
    removed between another run's ``open`` and its ``flock``, the lock counts only if the path
    still names the file that was locked."""
    folder = Path(folder)
    path = folder / LOCK_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, default_mode())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise ArchvizError(f"another archviz run is writing to {folder} (it holds {path}); "
                                   f"wait for it to finish, or write elsewhere") from None
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)  # removed by the run that held it: take the new one
    except OSError as exc:
        raise ArchvizError(f"cannot write {folder}: {exc.strerror or exc}")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
