"""The snapshot: a versioned JSON document everything after discovery reads.

Serialization is deterministic (sorted lists, sorted keys, fixed formatting), writes are
atomic (temporary file, then rename), and loading validates against the shipped schema."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import jsonschema

from archviz import __version__
from archviz.environment import positive_int
from archviz.errors import ArchvizError, SnapshotError
from archviz.files import file_lock, output_file, regular_file, remove_temporaries, write_atomic
from archviz.records import KINDS

SCHEMA_VERSION = 1
SNAPSHOT_FILE = "snapshot.json"
MAX_BYTES = 1024**3  # the default limit on a JSON file archviz reads (ARCHVIZ_MAX_SNAPSHOT_BYTES sets another)
MAX_DEPTH = 64  # a real snapshot nests about 12 levels deep (an endpoint policy's conditions)

# Every list in the snapshot, and the stable key it is sorted by (declared in archviz.records).
SORT_KEYS: dict[str, tuple[str, ...]] = {key: kind.sort for key, kind in KINDS.items()}


def build(scope: dict, organization: dict | None, accounts: list[dict], coverage: list[dict],
          records: dict[str, list[dict]], generated_at: datetime | None = None) -> dict:
    """Assemble a schema-version-1 snapshot with every list in a stable order."""
    when = (generated_at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": when.isoformat().replace("+00:00", "Z"),
        "tool": {"name": "archviz", "version": __version__},
        "scope": scope,
        "organization": organization,
        "accounts": accounts,
        "coverage": coverage,
    }
    for kind in KINDS:
        if kind not in doc:
            doc[kind] = records.get(kind, [])
    return normalize(doc)


def normalize(doc: dict) -> dict:
    """Sort every known list by its stable key (in place) and return the document."""
    for key, kind in KINDS.items():
        if isinstance(doc.get(key), list):
            doc[key] = sorted(doc[key], key=kind.order)
    return doc


CHUNK = 64 * 1024  # characters per piece of a snapshot's text


def chunks(doc: dict) -> Iterator[bytes]:
    """The deterministic JSON of ``doc`` piece by piece, so a large snapshot is written or hashed
    without holding its whole text in memory. ``NaN`` and ``Infinity`` are not JSON: refused."""
    encoder = json.JSONEncoder(indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    pieces: list[str] = []
    size = 0
    try:
        for piece in encoder.iterencode(doc):  # hundreds of thousands of small pieces: in 64 KiB chunks
            pieces.append(piece)
            size += len(piece)
            if size >= CHUNK:
                yield "".join(pieces).encode("utf-8")
                pieces, size = [], 0
    except ValueError as exc:
        raise ArchvizError(f"cannot write a snapshot holding a value JSON cannot represent ({exc})")
    yield ("".join(pieces) + "\n").encode("utf-8")


def dumps(doc: dict) -> bytes:
    return b"".join(chunks(doc))


def sha256(doc: dict) -> str:
    """The SHA-256 of ``dumps(doc)``, computed without building it."""
    digest = hashlib.sha256()
    for piece in chunks(doc):
        digest.update(piece)
    return digest.hexdigest()


def write(doc: dict, path: Path) -> Path:
    """Write a snapshot file atomically and streamed, under a lock beside it; one-line errors."""
    path = output_file(path, label="", new_folder=True)  # never a link, a FIFO or a device
    try:
        with file_lock(path):  # two runs writing one snapshot: the second is told, not interleaved
            remove_temporaries(path.parent, lambda rel: rel == path.name, recursive=False)
            write_atomic(path, chunks(doc))
    except OSError as exc:
        raise ArchvizError(f"cannot write {path}: {exc.strerror or exc}")
    return path


def save(doc: dict, out_dir: Path) -> Path:
    return write(doc, Path(out_dir) / SNAPSHOT_FILE)


@lru_cache(maxsize=None)
def schema() -> dict:
    text = resources.files("archviz").joinpath("schema", f"snapshot-{SCHEMA_VERSION}.schema.json").read_text("utf-8")
    return json.loads(text)


def validate(doc: Any, source: str = "snapshot") -> dict:
    """Raise :class:`SnapshotError` with one line naming the first problem."""
    if not isinstance(doc, dict):
        raise SnapshotError(f"{source}: not an archviz snapshot (the top level is not a JSON object)")
    version = doc.get("schema_version")
    if version is None:
        raise SnapshotError(f"{source}: not an archviz snapshot (no schema_version)")
    if version != SCHEMA_VERSION:
        raise SnapshotError(f"{source}: snapshot schema_version {version!r} is not supported "
                            f"(this archviz {__version__} reads version {SCHEMA_VERSION})")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema()).iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = " ".join(error.message.split())
        if len(message) > 200:
            message = message[:197] + "..."
        raise SnapshotError(f"{source}: invalid snapshot at {where}: {message}")
    return doc


def _too_deep(doc: Any, limit: int) -> bool:
    """Whether ``doc`` nests deeper than ``limit`` (iteratively: deep input must not recurse)."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    return False


def _depth_error(doc: Any, limit: int = MAX_DEPTH) -> str | None:
    """Where ``doc`` nests deeper than ``limit``; the path is worked out only when it does."""
    if not isinstance(doc, (dict, list)) or not _too_deep(doc, limit):
        return None
    path: list[str] = []
    value = doc
    while isinstance(value, (dict, list)) and len(path) < limit:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        key, value = next((k, v) for k, v in items if isinstance(v, (dict, list)) and _too_deep(v, limit - len(path) - 1))
        path.append(str(key))
    return "/".join(path) or "(top level)"


# JSON may spell half of a UTF-16 pair alone (``"\\ud800"``): Python keeps it, UTF-8 cannot
# encode it, so every later write would fail. Only text holding such an escape is searched.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(doc: Any) -> bool:
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def read_json(path: Path, what: str = "file", max_bytes: int | None = None,
              error: type[ArchvizError] = SnapshotError) -> Any:
    """Parse a JSON file defensively: a regular file only (never a FIFO or a device), of a bounded
    size, no ``NaN``/``Infinity``, nesting bounded. Every problem is one line."""
    if max_bytes is None:
        max_bytes = positive_int("ARCHVIZ_MAX_SNAPSHOT_BYTES", MAX_BYTES)
    info = regular_file(path, error, f"an archviz {what} is a JSON file")
    if info.st_size > max_bytes:
        raise error(f"{path}: {info.st_size} bytes is more than the {max_bytes} bytes an archviz {what} may have "
                    f"(ARCHVIZ_MAX_SNAPSHOT_BYTES raises the limit)")
    try:
        with open(path, "rb") as f:
            data = f.read(info.st_size + 1)  # a file that grew since stat is read up to its limit below
        if len(data) > max_bytes:
            raise error(f"{path}: more than the {max_bytes} bytes an archviz {what} may have "
                        f"(ARCHVIZ_MAX_SNAPSHOT_BYTES raises the limit)")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise error(f"{path}: not an archviz {what} (JSON nested too deeply)")
    except ValueError as exc:
        raise error(f"{path}: not JSON ({exc})")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(doc):
        raise error(f"{path}: not an archviz {what} (a string holds an unpaired UTF-16 surrogate, which is not text)")
    where = _depth_error(doc)
    if where is not None:
        raise error(f"{path}: not an archviz {what} (nested deeper than {MAX_DEPTH} levels at {where})")
    return doc


def file_of(path: str | os.PathLike) -> Path:
    """The snapshot file a command's SNAPSHOT names: the file, or the snapshot.json inside a folder."""
    path = Path(path)
    return path / SNAPSHOT_FILE if path.is_dir() else path


def load(path: str | os.PathLike) -> dict:
    """Read and validate a snapshot file (or the snapshot.json inside a folder)."""
    path = file_of(path)
    return validate(read_json(path, "snapshot"), str(path))
