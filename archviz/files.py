"""Writing files the way every archviz output needs: atomically, with the mode a plain ``open()``
would give, under a per-folder lock, and without leaving temporaries behind."""

from __future__ import annotations

import fcntl
import os
import re
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from archviz.errors import ArchvizError, InputError

TEMP_MARK = ".archviz-"  # in the name of every temporary file archviz writes
LOCK_FILE = ".archviz.lock"
LOCK_SUFFIX = ".archviz.lock"

_umask_lock = threading.Lock()


def default_mode() -> int:
    """The mode ``open()`` gives a new file under the current umask. The umask can only be
    read by setting it, so it is set back at once, under a lock."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def regular_file(path: Path, error: type[ArchvizError], kind: str) -> os.stat_result:
    """``path``'s status; it must be a regular file (never a FIFO or a device, which could block a
    read forever or never end). ``kind`` says what it should be; every problem is one line."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: not a regular file ({kind})")
    return info


def resolved(path: Path, shown: str) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise InputError(f"{shown}: cannot follow {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links and links to it too
    except OSError:
        return a.resolve() == b.resolve()


def output_file(path: Path, inputs: Iterable[Path | None] = (), label: str = "--out",
                new_folder: bool = False) -> Path:
    """The one check before a run replaces a file of its output (every command, before any work):
    the file is written to a temporary and renamed over ``path``, so a ``path`` that is there must
    be a regular file (never a folder, a link, a FIFO or a device such as ``/dev/stdout``, which
    the rename would replace); it must be none of the run's ``inputs`` and inside none of its
    input folders (a raw folder), which would be lost or spoilt; and its folder must exist,
    unless the output is a folder the run creates (``new_folder``)."""
    path = Path(path)
    shown = f"{label} {path}" if label else str(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise InputError(f"{shown}: not a regular file (archviz writes a new file and renames it into place, "
                         f"which would replace a folder, a link, a FIFO or a device)")
    for given in (Path(g) for g in inputs if g is not None):
        if given.is_dir() and resolved(path, shown).is_relative_to(resolved(given, shown)):
            raise InputError(f"{shown} is inside {given}, an input folder of this run: write the output elsewhere, "
                             f"so the input is kept as it is")
        if path.exists() and given.exists() and _same(path, given):
            raise InputError(f"{shown} is also an input of this run ({given}): write the output elsewhere, "
                             f"so the input is kept")
    parent = path.parent
    if not new_folder and not parent.is_dir():
        raise InputError(f"{shown}: no such folder {parent}")
    if new_folder and parent.exists() and not parent.is_dir():
        raise InputError(f"{shown}: {parent} is not a folder")
    return path


def write_atomic(path: Path, data: bytes | Iterable[bytes], mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half.

    The file gets ``mode``, else the mode of the file it replaces, else the mode ``open()`` would
    give it (``mkstemp`` alone creates 0600). The temporary is named ``.NAME.archviz-*.tmp``, so a
    later run can recognise one that a killed run left behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = existing_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), default_mode() if mode is None else mode)
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


def existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


# Temporaries of a target NAME: ``.NAME.archviz-XXXX.tmp``, and ``.NAME.XXXXXXXX.tmp`` as archviz
# 0.1.0 named them (mkstemp's eight random characters).
_TEMPORARY = re.compile(r"^\.(?P<target>.+?)(?:\.archviz-[A-Za-z0-9_]+|\.[a-z0-9_]{8})\.tmp$")


def temporary_target(name: str) -> str | None:
    """The file a temporary of archviz's naming was going to become, or None."""
    match = _TEMPORARY.match(name)
    return match.group("target") if match else None


def remove_temporaries(folder: Path, owned, recursive: bool = True) -> list[Path]:
    """Delete the temporaries killed archviz runs left in ``folder`` for the files ``owned(rel)``
    says the caller manages (the caller holds the lock that covers those files)."""
    removed = []
    for root, dirs, names in os.walk(folder):
        if not recursive:
            dirs.clear()
        for name in names:
            target = temporary_target(name)
            rel = os.path.relpath(os.path.join(root, target), folder) if target else None
            if rel and owned(rel):
                path = Path(root) / name
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


@contextmanager
def lock(path: Path, what: str) -> Iterator[None]:
    """Hold the archviz lock file ``path`` or say at once that another run holds it.

    The lock is an ``flock``, released by the kernel if the process dies, so a killed run never
    leaves it held; the file is removed on release. Because a file can be removed between another
    run's ``open`` and its ``flock``, the lock counts only if the path still names the locked file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, default_mode())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise ArchvizError(f"another archviz run is writing to {what} (it holds {path}); "
                                   f"wait for it to finish, or write elsewhere") from None
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)  # removed by the run that held it: take the new one
    except OSError as exc:
        raise ArchvizError(f"cannot write {what}: {exc.strerror or exc}")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def folder_lock(folder: Path):
    """The lock of an output folder that archviz writes as a whole (a render)."""
    return lock(Path(folder) / LOCK_FILE, str(folder))


def file_lock(path: Path):
    """The lock of one file archviz replaces (a snapshot), beside it: ``.NAME.archviz.lock``."""
    path = Path(path)
    return lock(path.parent / f".{path.name}{LOCK_SUFFIX}", str(path))
