"""What recording and replay share: the raw format's constants, scrubbing of secrets, times and
canonical parameters."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

from archviz.discovery.aws import REMOVED, redact
from archviz.errors import ReplayError

FORMAT = 1
CRAWL_FILE = "crawl.json"
# Values that are credentials or secrets, wherever they appear, in parameters and answers alike.
SECRET_FIELDS = frozenset({"AccessKeyId", "SecretAccessKey", "SessionToken", "ExternalId", "Password",
                           "SecretString", "SecretBinary"})
PLACEHOLDER = REMOVED
# Answers of which only these members are kept: an AssumeRole answer keeps the session's role ARN
# and the expiry (the credentials are removed by SECRET_FIELDS; the rest is not needed).
KEEP_ONLY = {("sts", "AssumeRole"): frozenset({"AssumedRoleUser", "Credentials"})}
_FILE = re.compile(r"^(?P<service>[a-z0-9-]+)\.(?P<operation>[A-Za-z0-9]+)\.json$")
MAX_FILE_BYTES = 256 * 1024**2
LIMIT_VARIABLE = "ARCHVIZ_MAX_RAW_BYTES"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_time(text: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError(f"not a time: {text!r}")


def iso(when: dt.datetime, ms: bool = False) -> str:
    return when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds" if ms else "seconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """A parsed answer as JSON: timestamps in ISO 8601, blobs in base64 (the model says which)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def scrub(value: Any, path: str = "", removed: list[str] | None = None) -> tuple[Any, list[str]]:
    """``value`` without :data:`SECRET_FIELDS`, and the dotted paths of what was removed."""
    removed = [] if removed is None else removed
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in SECRET_FIELDS:
                removed.append(where)
            else:
                kept[key] = scrub(item, where, removed)[0]
        return kept, removed
    if isinstance(value, list):
        return [scrub(item, f"{path}[{i}]", removed)[0] for i, item in enumerate(value)], removed
    if isinstance(value, str):
        clean = redact(value)
        if clean != value:
            removed.append(f"{path} (part of the text)")
        return clean, removed
    return value, removed


def canonical(params: dict) -> str:
    """The key a call is looked up by: its parameters, secrets removed, as sorted JSON."""
    return json.dumps(scrub(_plain(params))[0], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


_TOKEN_CACHE: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
