"""What archviz reads from the environment, read when it is used (never at import, so a bad value
cannot break ``import archviz`` or a MkDocs build) and checked: a bad value is one line naming the
variable and what it expects (:class:`InputError`, exit code 2).

``ARCHVIZ_MAX_SNAPSHOT_BYTES``, ``ARCHVIZ_MAX_PACK_BYTES`` and ``ARCHVIZ_MAX_RAW_BYTES`` are read
with :func:`positive_int`,
``ARCHVIZ_SIGNING_KEY_PASSPHRASE`` with :func:`secret`; ``ARCHVIZ_DEBUG`` is a flag (any value but
the empty one) the command line reads itself. ``AWS_*`` variables are botocore's."""

from __future__ import annotations

import os
import re

from archviz.errors import InputError

_WHOLE = re.compile(r"[0-9]{1,30}")


def positive_int(name: str, default: int) -> int:
    """``name`` as a whole number greater than 0, in plain digits (no sign, exponent, unit or
    space); ``default`` when it is unset or empty."""
    value = os.environ.get(name, "")
    if not value:
        return default
    if not _WHOLE.fullmatch(value) or int(value) == 0:
        raise InputError(f"{name}: expected a whole number greater than 0, got {value!r} (unset it for {default})")
    return int(value)


def secret(name: str) -> bytes | None:
    """``name``'s bytes as the environment holds them (a passphrase need not be UTF-8); None when
    it is unset or empty."""
    value = os.environ.get(name)
    return os.fsencode(value) if value else None
