"""Redaction's keys and pseudonyms: the HMAC key (a file, or derived from the snapshot), and the
keyed, collision-free pseudonyms of ids, names and addresses (prefix-preserving for addresses)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Callable, Iterable

from archviz import snapshot
from archviz.errors import InputError
from archviz.files import regular_file
from archviz.redact.patterns import KEY_BYTES_MAX, KEY_BYTES_MIN, DERIVED, KEY_CONTEXT

def load_key(path: str | Path) -> bytes:
    """The bytes of a key file (one trailing newline dropped, so ``openssl rand -hex 32 > KEY``
    works). Every problem is one line naming the file; the key itself is never printed."""
    path = Path(path)
    advice = "make one with: openssl rand -hex 32 > KEY"
    info = regular_file(path, InputError, f"a redaction key is a file of at least {KEY_BYTES_MIN} bytes; {advice}")
    if info.st_size > KEY_BYTES_MAX:
        raise InputError(f"{path}: too large to be a redaction key (more than {KEY_BYTES_MAX} bytes)")
    try:
        with open(path, "rb") as f:
            data = f.read(KEY_BYTES_MAX + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}")
    if data.endswith(b"\n"):
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    if len(data) < KEY_BYTES_MIN:
        raise InputError(f"{path}: a redaction key needs at least {KEY_BYTES_MIN} bytes, this one has {len(data)} "
                         f"({advice})")
    return data


def derived_key(doc: dict) -> bytes:
    """The key used when none is given: a hash of the snapshot itself. The same input gives the
    same bytes (archviz's outputs are deterministic), yet without the original snapshot nobody
    can recompute it, so the pseudonyms cannot be reversed by trying candidate ids. The discovery
    records are hashed in the snapshot's own order (:func:`archviz.snapshot.normalize`), without
    the analysis, so a reordered or re-analysed copy of a snapshot gets the same key."""
    digest = hashlib.sha256(KEY_CONTEXT)
    crawled = {k: v for k, v in doc.items() if k not in DERIVED}  # what the model derives is no secret
    for piece in snapshot.chunks(snapshot.normalize(crawled)):  # a reordered snapshot: the same key
        digest.update(piece)
    return digest.digest()


class Pseudonyms:
    """Original -> pseudonym for one kind of value, without collisions.

    ``candidate(original, n)`` proposes the n-th pseudonym of an original; a candidate already
    taken (an original of any input, or another original's pseudonym) is skipped for the next, so
    two originals never share a pseudonym and a pseudonym never reads as another original."""

    def __init__(self, candidate: Callable[[str, int], str], taken: set[str]):
        self._candidate = candidate
        self._taken = taken
        self.known: dict[str, str] = {}

    def reserve(self, originals: Iterable[str]) -> None:
        """Assign in sorted order, so the mapping depends on the set of originals, not on the
        order they were met in."""
        self._taken.update(originals)
        for original in sorted(originals):
            self[original]

    def __getitem__(self, original: str) -> str:
        found = self.known.get(original)
        if found is None:
            self._taken.add(original)  # one the pre-scan did not see (value() of something else)
            n = 0
            found = self._candidate(original, n)
            while found in self._taken:
                n += 1
                found = self._candidate(original, n)
            self._taken.add(found)
            self.known[original] = found
        return found


class PrefixPreserving:
    """Crypto-PAn with HMAC-SHA256 as the pseudorandom function: output bit i is input bit i
    flipped by the first bit of HMAC(key, label + the input's first i bits). Two addresses that
    share an n-bit prefix share the n-bit prefix of their pseudonyms, so subnets, containment and
    overlap survive. Flips are cached per prefix down to ``cached_bits`` (where addresses share
    prefixes); deeper bits are computed per address (each address is cached by the caller)."""

    def __init__(self, key: bytes, label: str, bits: int, cached_bits: int):
        self._key = key
        self._label = label.encode()
        self.bits = bits
        self._cached_bits = cached_bits
        self._flips: dict[str, int] = {}

    def _flip(self, prefix: str) -> int:
        return hmac.digest(self._key, self._label + prefix.encode(), "sha256")[0] >> 7

    def __call__(self, address: int) -> int:
        bits = format(address, f"0{self.bits}b")
        out = 0
        for i in range(self.bits):
            prefix = bits[:i]
            if i < self._cached_bits:
                flip = self._flips.get(prefix)
                if flip is None:
                    flip = self._flips[prefix] = self._flip(prefix)
            else:
                flip = self._flip(prefix)
            out = (out << 1) | ((bits[i] == "1") ^ flip)
        return out

    def network(self, address: int, prefix_len: int) -> int:
        """The pseudonym of a network: its address's, masked to the prefix (valid notation)."""
        host_bits = self.bits - prefix_len
        return (self(address) >> host_bits) << host_bits if prefix_len else 0


def base36(data: bytes, length: int) -> str:
    n = int.from_bytes(data, "big")
    out = []
    for _ in range(length):
        n, d = divmod(n, 36)
        out.append("0123456789abcdefghijklmnopqrstuvwxyz"[d])
    return "".join(out)
