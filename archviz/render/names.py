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


MAX_STEM = 100  # file systems allow 255 bytes a name; leave room for prefixes and suffixes


def sanitized(ident: str) -> str:
    return _UNSAFE.sub("_", ident).lstrip(".")[:MAX_STEM] or "_"


def _suffixed(ident: str, length: int) -> str:
    return f"{sanitized(ident)}-{hashlib.sha256(ident.encode('utf-8')).hexdigest()[:length]}"


def _clashes(stems: dict[str, str]) -> set[str]:
    """The ids whose stem another id also has (case-insensitively)."""
    holders = defaultdict(list)
    for ident, stem in stems.items():
        holders[stem.lower()].append(ident)
    return {ident for group in holders.values() if len(group) > 1 for ident in group}


def unique_stems(idents: Iterable[str]) -> dict[str, str]:
    """A stem per id: the id itself where it is a safe name, else a hash is added; where stems
    still meet (an id can look like another's hashed stem), the hash grows until none do."""
    stems = {i: i if sanitized(i) == i else _suffixed(i, 8) for i in set(idents)}
    length = 8
    while clash := _clashes(stems):
        length = min(length * 2, 64)
        stems.update({i: _suffixed(i, length) for i in clash})
        if length == 64 and _clashes(stems):
            raise ValueError("ids whose SHA-256 collide")  # not expected in this universe
    return stems


class Names:
    """Stems per kind of page or diagram (``use-case``, ``service``, ``account``, ``ou``) for a set of
    ids; a page's folder is its kind's (:func:`archviz.render.kinds.page`)."""

    def __init__(self, ids: dict[str, Iterable[str]]):
        self._stems = {(kind, ident): stem for kind, idents in ids.items()
                       for ident, stem in unique_stems(idents).items()}

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._stems

    def stem(self, kind: str, ident: str) -> str:
        return self._stems[(kind, ident)]

    def diagram(self, kind: str, ident: str) -> str:
        """The diagram's name without folder or extension (``service-vpce-svc-1``)."""
        return f"{kind}-{self.stem(kind, ident)}"
