"""The file of account ids that ``discover --accounts-from FILE`` crawls: read, bounded and
parsed into a sorted list of 12-digit ids, with one-line errors naming the file and the line."""

from __future__ import annotations

import re
import sys

from archviz.config import ACCOUNT as ACCOUNT_RE
from archviz.errors import InputError

MAX_BYTES = 10 * 1024**2  # far more than any organization's list of ids


def read_account_ids(source: str) -> list[str]:
    """``--accounts-from FILE`` (``-``: standard input): one 12-digit account id at the start of
    each line; whatever follows a comma, a tab, a semicolon or a space is ignored (so the CSV
    ``id,name`` and the AWS CLI's text output both work), ``#`` starts a comment, blank lines are
    skipped. A bad line is one error naming the file and the line."""
    name = "<stdin>" if source == "-" else source
    return parse_account_ids(_text(_read(source, name), name), name)


def parse_account_ids(text: str, name: str) -> list[str]:
    """The sorted, distinct ids of a list's text (see :func:`read_account_ids`); ``name`` is the
    file the errors name."""
    ids = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        first = re.split(r"[,\t; ]", line, maxsplit=1)[0].strip().strip('"\'')
        if not ACCOUNT_RE.match(first):
            shown = first if len(first) <= 40 else first[:37] + "..."
            raise InputError(f"{name}:{number}: expected a 12-digit account id at the start of the line, got {shown!r}")
        ids.append(first)
    if not ids:
        raise InputError(f"{name}: no account ids in it (one 12-digit id a line; # starts a comment)")
    return sorted(set(ids))


def _read(source: str, name: str) -> bytes:
    """At most one byte more than :data:`MAX_BYTES` of the file, or of standard input for ``-``."""
    try:
        if source == "-":
            stream = getattr(sys.stdin, "buffer", None)
            return stream.read(MAX_BYTES + 1) if stream is not None else \
                sys.stdin.read(MAX_BYTES + 1).encode("utf-8")
        with open(source, "rb") as f:
            return f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file")
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}")


def _text(data: bytes, name: str) -> str:
    if len(data) > MAX_BYTES:
        raise InputError(f"{name}: more than {MAX_BYTES // 1024**2} MiB: not a list of account ids")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})")
