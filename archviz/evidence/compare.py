"""The first difference between two snapshots, named the way an auditor can find it: the list,
the record by its identity (never by its position), and the field."""

from __future__ import annotations

import json
from typing import Any

from archviz.snapshot import SORT_KEYS

# What names one record of each list (the snapshot's sort keys, plus the model's lists).
IDENTITY: dict[str, tuple[str, ...]] = dict(SORT_KEYS, connections=("endpoint_id", "service_id"),
                                            findings=("rule_id", "account_id", "region", "resource_id", "message"))


def _shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _label(record: Any, fields: tuple[str, ...]) -> str:
    if not isinstance(record, dict):
        return _shown(record, 40)
    return "/".join(str(record.get(f)) for f in fields if record.get(f) is not None) or "?"


def first_difference(expected: Any, actual: Any, path: str = "", kind: str | None = None) -> str | None:
    """Where ``actual`` first differs from ``expected``, or None when they are equal. Lists of the
    snapshot's known records are matched by identity, so an added or removed record is named
    as such; other lists are compared item by item."""
    if type(expected) is not type(actual):
        return f"{path or '(top level)'}: expected {_shown(expected)}, found {_shown(actual)}"
    if isinstance(expected, dict):
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else key
            if key not in actual:
                return f"{where}: missing (expected {_shown(expected[key])})"
            if key not in expected:
                return f"{where}: not expected (found {_shown(actual[key])})"
            diff = first_difference(expected[key], actual[key], where, key if not path else None)
            if diff:
                return diff
        return None
    if isinstance(expected, list):
        fields = IDENTITY.get(kind or "")
        if fields and all(isinstance(r, dict) for r in expected + actual):
            want = {_label(r, fields): r for r in expected}
            have = {_label(r, fields): r for r in actual}
            for label in sorted(set(want) | set(have)):
                where = f"{path}[{label}]"
                if label not in have:
                    return f"{where}: missing"
                if label not in want:
                    return f"{where}: not expected"
                diff = first_difference(want[label], have[label], where)
                if diff:
                    return diff
            if len(want) == len(expected) and len(have) == len(actual):
                return None
        for i, (a, b) in enumerate(zip(expected, actual)):
            diff = first_difference(a, b, f"{path}[{i}]")
            if diff:
                return diff
        if len(expected) != len(actual):
            return f"{path}: {len(expected)} items expected, {len(actual)} found"
        return None
    if expected != actual:
        return f"{path or '(top level)'}: expected {_shown(expected)}, found {_shown(actual)}"
    return None
