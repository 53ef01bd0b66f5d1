"""Untrusted text (Name tags, account names, ids) made safe to show, once for every output.

AWS lets anyone who can tag a resource choose its text. Before it reaches a diagram or a page:
control characters and line breaks fold into spaces, and invisible characters that change how
text reads (bidirectional overrides such as U+202E, zero-width spaces and joiners, the byte
order mark) are shown as a visible ``<U+202E>``, so ``hb-\\u202egnp.exe`` cannot pass for
``hb-exe.png``. Each output format then applies its own escaping on top."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls and the Unicode line and paragraph separators: one line, always.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _shown(ch: str) -> str:
    # Format characters (category Cf) are invisible by design: bidi controls, zero-width
    # spaces and joiners, U+FEFF, soft hyphen, tag characters.
    return f"<U+{ord(ch):04X}>" if unicodedata.category(ch) == "Cf" else ch


def visible(value: object) -> str:
    """One line of text with every invisible or direction-changing character shown."""
    s = " ".join(_BREAKS.sub(" ", "" if value is None else str(value)).split())
    if s.isascii():
        return s
    return "".join(_shown(ch) for ch in s)


def shorten(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"
