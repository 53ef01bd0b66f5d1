"""The snapshot: a versioned JSON document everything after discovery reads.

Serialization is deterministic (sorted lists, sorted keys, fixed formatting), writes are
atomic (temporary file, then rename), and loading validates against the shipped schema."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from archviz import __version__
from archviz.errors import ArchvizError, SnapshotError

SCHEMA_VERSION = 1
SNAPSHOT_FILE = "snapshot.json"

# Every list in the snapshot, and the stable key it is sorted by.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "coverage": ("account_id", "kind", "region"),
    "vpcs": ("account_id", "region", "vpc_id"),
    "subnets": ("account_id", "region", "subnet_id"),
    "security_groups": ("account_id", "region", "group_id"),
    "endpoints": ("account_id", "region", "endpoint_id"),
    "service_details": ("account_id", "region", "service_region", "service_name", "service_type"),
    "endpoint_services": ("account_id", "region", "service_id"),
    "endpoint_connections": ("account_id", "region", "service_id", "endpoint_id"),
    "load_balancers": ("account_id", "region", "arn"),
    "marketplace_agreements": ("account_id", "agreement_id"),
}


def _sort_key(fields: tuple[str, ...]):
    return lambda rec: tuple("" if rec.get(f) is None else str(rec.get(f)) for f in fields)


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
    for kind in SORT_KEYS:
        if kind not in doc:
            doc[kind] = records.get(kind, [])
    return normalize(doc)


def normalize(doc: dict) -> dict:
    """Sort every known list by its stable key (in place) and return the document."""
    for kind, fields in SORT_KEYS.items():
        if isinstance(doc.get(kind), list):
            doc[kind] = sorted(doc[kind], key=_sort_key(fields))
    return doc


def dumps(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save(doc: dict, out_dir: Path) -> Path:
    path = Path(out_dir) / SNAPSHOT_FILE
    try:
        write_atomic(path, dumps(doc))
    except OSError as exc:
        raise ArchvizError(f"cannot write {path}: {exc.strerror or exc}")
    return path


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


def load(path: str | os.PathLike) -> dict:
    """Read and validate a snapshot file (or the snapshot.json inside a folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / SNAPSHOT_FILE
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise SnapshotError(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SnapshotError(f"{path}: not JSON ({exc})")
    return validate(doc, str(path))
