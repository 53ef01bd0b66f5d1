"""Untrusted text (Name tags, account names, ids) made safe to show, once for every output.

AWS lets anyone who can tag a resource choose its text. Before it reaches a diagram or a page:
control characters and line breaks fold into spaces, and invisible characters that change how
text reads (bidirectional overrides such as U+202E, zero-width spaces and joiners, the byte
order mark) are shown as a visible ``<U+202E>``, so ``hb-\\u202egnp.exe`` cannot pass for
``hb-exe.png``. Each output format then applies its own escaping on top.

Text that becomes a title (a page's first heading, a navigation entry) gets more: a docs
site's theme writes titles into ``<title>``, navigation and attributes as it likes (Material
for MkDocs writes ``page.title | striptags``, which turns ``&lt;`` back into ``<``; navigation
titles are written as they are), so no escaping of ours survives every theme. There, ``<``,
``>`` and ``"`` become look-alikes that mean nothing to any parser: no tag can open, and no
double-quoted attribute can end, however many times a theme unescapes the title. ``&`` and
``'`` stay as they are: an entity unescaped once is text again, and names like ``R&D`` and
``O'Brien`` keep their spelling (both themes escape titles they put in attributes)."""

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


# What opens a tag or ends an attribute, as characters that look alike and mean nothing to HTML.
_LOOKALIKES = str.maketrans({"<": "\u2039", ">": "\u203a", '"': "\uff02"})


def title(value: object) -> str:
    """:func:`visible` text for a title: also no ``<``, ``>`` or ``"``, whatever a theme does with it."""
    return visible(value).translate(_LOOKALIKES)


def shorten(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"
