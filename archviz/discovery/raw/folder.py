"""A raw folder on disk: reading it within its size limits, the layout archviz writes, and
parsing its files into the recorded calls."""

from __future__ import annotations

import json
import os
import re
import stat
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from archviz import __version__
from archviz.discovery.permissions import is_allowed
from archviz.discovery.raw.common import CRAWL_FILE, FORMAT, LIMIT_VARIABLE, MAX_FILE_BYTES, _FILE, canonical, parse_time
from archviz.environment import positive_int
from archviz.errors import ArchvizError, ReplayError

def max_raw_bytes() -> int:
    """How much a raw folder may hold, all files together (``ARCHVIZ_MAX_RAW_BYTES``, default
    1 GiB): it is read into memory, and parsed there."""
    return positive_int(LIMIT_VARIABLE, 1024**3)


def _entries(folder: Path, error: type[ArchvizError]) -> list[tuple[str, Path, os.stat_result]]:
    """Everything inside ``folder``, folders and files, by relative path, in order. A link, or
    anything else that is neither a folder nor a regular file, is refused, named: a raw folder
    never holds one."""
    def fail(exc: OSError) -> None:
        raise error(f"{exc.filename}: cannot read: {exc.strerror or exc}")

    found = []
    for root, dirs, names in os.walk(folder, onerror=fail):
        dirs.sort()
        for name in sorted(dirs + names):
            path = Path(root, name)
            try:
                info = os.lstat(path)
            except OSError as exc:
                fail(exc)
            if stat.S_ISLNK(info.st_mode):
                raise error(f"{path}: a link (a raw folder holds folders and JSON files only, never links)")
            if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                raise error(f"{path}: not a regular file (a raw folder holds JSON files only)")
            found.append((path.relative_to(folder).as_posix(), path, info))
    return found


_ACCOUNT_FOLDER = re.compile(r"^([0-9]{12}|caller)$")
_REGION_FOLDER = re.compile(r"^([a-z]{2}(-[a-z]+)+-[0-9]+|global)$")


def _raw_layout(rel: str, is_folder: bool) -> bool:
    """``rel`` is where a raw folder keeps things, and nothing else is: ``crawl.json``,
    ``<account id or caller>/<region or global>/`` folders and, in them,
    ``<service>.<Operation>.json`` files of operations archviz calls (``permissions.py``)."""
    parts = rel.split("/")
    folders = parts if is_folder else parts[:-1]
    if not all(pattern.match(p) for pattern, p in zip((_ACCOUNT_FOLDER, _REGION_FOLDER), folders)):
        return False
    if is_folder:
        return len(parts) <= 2
    match = _FILE.match(parts[-1])
    return rel == CRAWL_FILE or (len(parts) == 3 and match is not None
                                 and is_allowed(match.group("service"), match.group("operation")))


def _is_crawl_file(path: Path) -> bool:
    """``path`` is a ``crawl.json`` archviz wrote (a regular file naming archviz as its tool)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return False
        crawl = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(crawl, dict) and isinstance(crawl.get("tool"), dict) and crawl["tool"].get("name") == "archviz"


def read_folder(folder: Path) -> dict[str, bytes]:
    """A raw folder's files by relative path: regular files only (a link is refused), each of a
    bounded size, all together within :func:`max_raw_bytes`, checked before any is read."""
    folder = Path(folder)
    limit = max_raw_bytes()
    if not folder.is_dir():
        raise ReplayError(f"{folder}: not a folder (give the folder discover --raw wrote)")
    found = [(rel, path, info.st_size) for rel, path, info in _entries(folder, ReplayError)
             if stat.S_ISREG(info.st_mode)]
    for _, path, size in found:
        if size > MAX_FILE_BYTES:
            raise ReplayError(f"{path}: more than {MAX_FILE_BYTES} bytes: not a file of a raw folder")
    total = sum(size for _, _, size in found)
    if total > limit:
        raise ReplayError(f"{folder}: {total} bytes in {len(found)} files, more than {limit} bytes "
                          f"({LIMIT_VARIABLE} raises the limit)")
    files = {}
    for rel, path, size in found:
        try:
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
                files[rel] = f.read(size + 1)
        except OSError as exc:
            raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}")
        if len(files[rel]) != size:
            raise ReplayError(f"{path}: changed while it was read; read the raw folder again")
    return files


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _load(data: bytes, name: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ReplayError(f"{name}: not JSON ({exc})")


def _check_crawl(crawl: Any, name: str) -> dict:
    made = crawl.get("tool", {}).get("version") if isinstance(crawl, dict) and isinstance(crawl.get("tool"), dict) else None
    if not isinstance(crawl, dict) or crawl.get("format") != FORMAT:
        raise ReplayError(f"{name}: not a raw folder this archviz {__version__} reads"
                          + (f" (made by archviz {made})" if made else ""))
    problems = [key for key, kind in (("request", dict), ("home_region", str), ("started_at", str),
                                      ("finished_at", str)) if not isinstance(crawl.get(key), kind)]
    if crawl.get("caller") is not None and not isinstance(crawl.get("caller"), dict):
        problems.append("caller")
    if problems:
        raise ReplayError(f"{name}: not a raw folder's crawl.json ({', '.join(problems)} missing or of the wrong type)")
    for key in ("started_at", "finished_at"):
        parse_time(crawl[key])
    return crawl


def _check_record(record: Any) -> str | None:
    """What is wrong with one recorded call, or None."""
    if not isinstance(record, dict) or not isinstance(record.get("params"), dict):
        return "not a recorded call with its parameters"
    if not isinstance(record.get("sequence"), int) or isinstance(record.get("sequence"), bool):
        return "no sequence number"
    if "exception" in record:
        failure = record["exception"]
        ok = isinstance(failure, dict) and all(isinstance(failure.get(k), str) for k in ("type", "message"))
        return None if ok else "an exception without its type and message"
    status = record.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return "no HTTP status"
    if not isinstance(record.get("response"), dict):
        return "no answer"
    removed = record.get("removed", [])
    if not isinstance(removed, list) or not all(isinstance(r, str) for r in removed):
        return "a bad list of removed fields"
    return None


def parse(files: dict[str, bytes], source: str = "") -> tuple[dict, dict[tuple, deque]]:
    """``crawl.json`` and every recorded call, by lookup key. Any odd file is one clear error
    naming it (``source`` + its path)."""
    if CRAWL_FILE not in files:
        raise ReplayError(f"{source}{CRAWL_FILE}: no such file (not a raw folder of discover --raw)")
    crawl = _check_crawl(_load(files[CRAWL_FILE], source + CRAWL_FILE), source + CRAWL_FILE)
    calls: dict[tuple, deque] = defaultdict(deque)
    for rel in sorted(files):
        if rel == CRAWL_FILE:
            continue
        name = source + rel
        if not _raw_layout(rel, False):
            raise ReplayError(f"{name}: not a file of an archviz raw folder (<account>/<region>/<service>.<Operation>.json)")
        records = _load(files[rel], name)
        if not isinstance(records, list) or not records:
            raise ReplayError(f"{name}: not a list of recorded calls")
        index(rel, records, calls, name)
    return crawl, calls


def index(rel: str, records: list, calls: dict[tuple, deque], name: str) -> None:
    """Check the recorded calls of file ``rel`` (``name`` in errors) and add them to ``calls``,
    by lookup key (account, region, service, operation, parameters), in the order they came."""
    parts = rel.split("/")
    match = _FILE.match(parts[2])
    for i, record in enumerate(records):
        problem = _check_record(record)
        if problem:
            raise ReplayError(f"{name}: call {i + 1}: {problem}")
    for record in sorted(records, key=lambda r: r["sequence"]):
        key = (parts[0], parts[1], match["service"], match["operation"], canonical(record["params"]))
        calls[key].append(record)
