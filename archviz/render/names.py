"""File names for pages and diagrams, unique per resource.

Ids come from the snapshot and are untrusted: only ``[A-Za-z0-9._-]`` survive in a file name,
so ``../../x`` cannot choose where a file goes. Sanitizing can make two ids meet
(``vpce-svc:a`` and ``vpce-svc/a``), and two ids can differ only in case, which one file on a
case-insensitive disk cannot tell apart. Either way, a short hash of the id is appended, so
every resource keeps its own page and diagram, whatever the order the ids come in."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from typing import Iterable

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
PAGE_FOLDERS = {"use-case": "use-cases", "service": "services", "account": "accounts"}


def sanitized(ident: str) -> str:
    return _UNSAFE.sub("_", ident).lstrip(".") or "_"


def _suffixed(ident: str) -> str:
    return f"{sanitized(ident)}-{hashlib.sha256(ident.encode('utf-8')).hexdigest()[:8]}"


class Names:
    """Stems per kind of page (``use-case``, ``service``, ``account``) for a set of ids."""

    def __init__(self, ids: dict[str, Iterable[str]]):
        self._stems: dict[tuple[str, str], str] = {}
        for kind, idents in ids.items():
            idents = sorted(set(idents))
            folded = defaultdict(list)
            for ident in idents:
                folded[sanitized(ident).lower()].append(ident)
            for ident in idents:
                plain = sanitized(ident)
                clash = plain != ident or len(folded[plain.lower()]) > 1
                self._stems[(kind, ident)] = _suffixed(ident) if clash else plain

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._stems

    def stem(self, kind: str, ident: str) -> str:
        return self._stems[(kind, ident)]

    def page(self, kind: str, ident: str) -> str:
        return f"{PAGE_FOLDERS[kind]}/{self.stem(kind, ident)}.md"

    def diagram(self, kind: str, ident: str) -> str:
        """The diagram's name without folder or extension (``service-vpce-svc-1``)."""
        return f"{kind}-{self.stem(kind, ident)}"
