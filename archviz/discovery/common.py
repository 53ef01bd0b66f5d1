"""Small pure helpers shared by the transforms."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def tags_dict(tags: list[dict] | None) -> dict[str, str]:
    """AWS tag lists (``Key``/``Value`` or ``key``/``value``) as a plain mapping."""
    out: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return dict(sorted(out.items()))


def iso(value: Any) -> str | None:
    """A timestamp as UTC ISO 8601 (``2024-11-26T17:29:44Z``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return str(value)


def normalize_state(state: str | None) -> str | None:
    """AWS spells endpoint states both ``PendingAcceptance`` and ``pendingAcceptance``:
    keep one spelling (lower camel case) so comparisons never depend on the source."""
    if not state:
        return state
    return state[0].lower() + state[1:]


def parse_policy(document: str | None) -> tuple[Any, str | None]:
    """An endpoint policy as parsed JSON; unparseable text is kept verbatim beside ``None``."""
    if not document:
        return None, None
    try:
        return json.loads(document), None
    except ValueError:
        return None, document
