"""``archviz verify``: check an evidence pack by itself, offline.

In order, stopping at the first problem, and inflating nothing but ``manifest.json``,
``SHA256SUMS`` and the signature until the checks that need no other file have passed (a small
zip that would inflate to gigabytes costs neither the time nor the memory): the zip is readable,
nothing comes before it, its names are safe, and what it declares unpacked is within bounds,
in all and for each file that has one (the manifest, ``SHA256SUMS``, the signature, a raw
answer file); the manifest is one this archviz reads (else: which version made it), and a file
that neither it nor ``SHA256SUMS`` lists is refused; the signature, with ``--key``; the
manifest against ``SHA256SUMS``, no file there that the manifest does not list, every file it
lists there, and ``SHA256SUMS`` exactly the manifest's; then every listed file, inflated a piece
at a time, has the SHA-256 the manifest lists; then the snapshot is rebuilt from ``raw/`` alone
(the same collectors, served the recorded answers), analyzed with the settings the snapshot
records, and compared with ``snapshot.json``, and the findings files are made again from it and
compared with the pack's. A problem is :class:`VerificationError` (exit code 7) naming the
file and, inside the snapshot, the record and the field."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archviz import __version__
from archviz.environment import positive_int
from archviz.errors import InputError, ReplayError, VerificationError
from archviz.files import regular_file
from archviz.evidence.compare import first_difference
from archviz.discovery.raw import CRAWL_FILE, MAX_FILE_BYTES as MAX_RAW_FILE_BYTES
from archviz.evidence.pack import (MANIFEST, PACK_FORMATS, PAGES, RAW, README, SIGNATURE, SUMS, UNLISTED,
                                   analysis_settings, facts, findings_files, mismatch, readme, rederive, sums)
from archviz.snapshot import validate

MAX_FILES = 1_000_000
CHUNK = 1024**2  # how much of an entry is inflated at a time
# The manifest and SHA256SUMS are inflated and read before any hash can be checked, so their
# declared sizes are bounded first. The manifest lists every other file (a name and a SHA-256:
# about 125 bytes a file; SHA256SUMS's line for it is shorter) besides the crawl's facts (a few
# KB, and a line for each role assumed and each unit not covered): 64 MiB is some 500,000 files,
# all 22 operations in all 23 regions of a 1,000-account organization. A pack allowed to unpack
# to more than the default 4 GiB (ARCHVIZ_MAX_PACK_BYTES) may have them as large as 1/64 of that.
LIST_BYTES = 64 * 1024**2
# Bounded by the number of files too: the crawl's facts in 4 MiB, and 4 KiB for each file, 30
# times what a file's entry takes (a failed unit's facts come with the raw answer files of its error).
LIST_BASE_BYTES, LIST_BYTES_PER_FILE = 4 * 1024**2, 4096
SIGNATURE_BYTES = 1024  # a raw Ed25519 signature is 64 bytes
# A pack's names: our own, plain ASCII segments (a name with anything else was not written by archviz).
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")


def max_pack_bytes() -> int:
    """How much a pack may unpack to, all files together (``ARCHVIZ_MAX_PACK_BYTES``, default 4 GiB):
    verify holds the files it reads again in memory."""
    return positive_int("ARCHVIZ_MAX_PACK_BYTES", 4 * 1024**3)


@dataclass
class Pack:
    manifest: dict
    files: dict[str, bytes | bytearray]  # the files verify reads: all but the pages and report.html
    digests: dict[str, str]  # every file's SHA-256


@dataclass
class Verified:
    files: int
    answers: int
    connections: int
    findings: int
    signed: bool  # a signature was checked with --key
    unchecked_signature: bool  # the pack is signed but no --key was given
    made_by: str
    trusted: int  # accounts outside the organization the analysis treated as inside
    marketplace_links: int


def _entry_problem(entry: zipfile.ZipInfo, seen: dict[str, str], folders: set[str]) -> str | None:
    name = entry.filename
    if not _NAME.match(name) or ".." in name.split("/"):
        return f"unsafe file name in the pack: {name!r}"
    kind = stat.S_IFMT(entry.external_attr >> 16)
    if entry.is_dir() or (kind and kind != stat.S_IFREG):
        return f"{name}: not a regular file (a link or a folder entry; archviz packs hold files only)"
    folded = name.casefold()
    if folded in seen:
        return f"{name}: in the pack twice (as {seen[folded]})" if seen[folded] != name else f"{name}: in the pack twice"
    if folded in folders or any(p in seen for p in _parents(folded)):
        return f"{name}: both a file and a folder in the pack"
    return None


def _parents(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _held(name: str) -> bool:
    """Whether verify reads ``name`` beyond its hash: all but the pages and report.html (a drawing
    depends on the Graphviz version), which are hashed as they are inflated, never held whole."""
    return not (name.startswith(PAGES) or name == "report.html")


def _entries(zf: zipfile.ZipFile, path: Path, limit: int) -> dict[str, zipfile.ZipInfo]:
    """The zip's entries by name, each checked before any is inflated."""
    entries = zf.infolist()
    if len(entries) > MAX_FILES or sum(e.file_size for e in entries) > limit:
        raise VerificationError(f"{path}: more than {limit} bytes or {MAX_FILES} files once "
                                f"unpacked (ARCHVIZ_MAX_PACK_BYTES raises the limit)")
    first = min((e.header_offset for e in entries), default=0)
    if first:  # zipfile reads past a prefix (a script, another file); archviz never writes one
        raise VerificationError(f"{path}: {first} bytes before the zip's first entry (an archviz pack is "
                                f"a zip from its first byte)")
    seen: dict[str, str] = {}
    folders: set[str] = set()
    for entry in entries:
        problem = _entry_problem(entry, seen, folders)
        if problem:
            raise VerificationError(problem)
        seen[entry.filename.casefold()] = entry.filename
        folders.update(_parents(entry.filename.casefold()))
    return {e.filename: e for e in entries}


def _sizes(entries: dict[str, zipfile.ZipInfo], limit: int) -> None:
    """Refuse, from the sizes the zip declares, a file larger than it can be in an archviz pack,
    before any is inflated: the manifest and ``SHA256SUMS`` (see :data:`LIST_BYTES`), the
    signature, a raw answer file (no raw folder holds a larger one)."""
    # ... and no larger than the files the zip holds can need (a small zip cannot list much: a
    # manifest of 64 MiB of tiny JSON values costs gigabytes to parse).
    listing = (min(max(LIST_BYTES, limit // 64), LIST_BASE_BYTES + LIST_BYTES_PER_FILE * len(entries)),
               f"a manifest or SHA256SUMS may be in a pack of {len(entries)} files "
               f"(ARCHVIZ_MAX_PACK_BYTES raises the limit)")
    caps = {MANIFEST: listing, SUMS: listing,
            SIGNATURE: (SIGNATURE_BYTES, "a signature may be (an Ed25519 signature is 64 bytes)")}
    raw = (MAX_RAW_FILE_BYTES, "a raw answer file may be")
    for name, entry in entries.items():
        cap, what = caps.get(name, raw if name.startswith(RAW) else (None, ""))
        if cap is not None and entry.file_size > cap:
            raise VerificationError(f"{name}: {entry.file_size} bytes once unpacked, more than the {cap} {what}")


def _inflate(zf: zipfile.ZipFile, entry: zipfile.ZipInfo, hold: bool) -> tuple[str, bytearray | None]:
    """An entry's SHA-256 and, with ``hold``, its bytes: inflated a piece at a time, never past the
    size the zip declares for it, into one buffer that grows as they come (never joined, and never
    allocated from the declared size, which may be a lie)."""
    digest, size = hashlib.sha256(), 0
    data = bytearray() if hold else None
    with zf.open(entry) as f:
        while piece := f.read(CHUNK):
            if size + len(piece) > entry.file_size:  # zipfile stops at the declared size; not taken on trust
                break
            digest.update(piece)
            if data is not None:
                data += piece
            size += len(piece)
    if piece or size != entry.file_size:
        raise VerificationError(f"{entry.filename}: its size is not the one the zip declares")
    return digest.hexdigest(), data


def read_pack(path: Path, public_key: bytes | None = None, key_name: str = "") -> Pack:
    """The pack's manifest, its files and their hashes, checked in the order of the module's
    docstring within bounds: only plain files with plain names, each once whatever the case (a
    pack unpacks the same on every file system), from a zip with nothing before it, none
    declaring more than it can be. Only the manifest, ``SHA256SUMS`` and the signature are
    inflated (and held) before the signature (with ``public_key``) and all that the manifest and
    ``SHA256SUMS`` say of the pack's names are checked; then the listed files are inflated a
    piece at a time and hashed, and only those verify reads again are held."""
    path = Path(path)
    limit = max_pack_bytes()
    regular_file(path, InputError, "an evidence pack is a zip file")
    files: dict[str, bytes | bytearray] = {}
    digests: dict[str, str] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            entries = _entries(zf, path, limit)
            _sizes(entries, limit)
            for name in UNLISTED:
                if name in entries:
                    digests[name], files[name] = _inflate(zf, entries[name], hold=True)
            manifest = _manifest(files)
            listed = manifest["files"]
            summed = _parse_sums(files.get(SUMS, b""))
            for name in entries:
                if name not in listed and name not in summed and name not in UNLISTED:
                    raise VerificationError(f"{name}: added (the manifest does not list it)")
            if public_key is not None:
                check_signature(files, public_key, key_name)
            _check_listing(entries, files, digests[MANIFEST], listed, signed=public_key is not None)
            for name in sorted(listed):
                digests[name], data = _inflate(zf, entries[name], hold=_held(name))
                if digests[name] != listed[name]:
                    raise VerificationError(f"{name}: altered (its SHA-256 is not the one the manifest lists)")
                if data is not None:
                    files[name] = data
    except zipfile.BadZipFile as exc:
        raise VerificationError(f"{path}: not a readable zip file ({exc})")
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, RuntimeError, zlib.error) as exc:
        raise VerificationError(f"{path}: cannot read the zip ({exc})")
    return Pack(manifest, files, digests)


def _json(files: dict[str, bytes], name: str) -> Any:
    from archviz.snapshot import _no_constants

    if name not in files:
        raise VerificationError(f"{name}: missing from the pack")
    try:
        return json.loads(files[name].decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise VerificationError(f"{name}: not JSON ({exc})")


def _manifest(files: dict[str, bytes]) -> dict:
    if MANIFEST not in files:
        raise VerificationError(f"{MANIFEST} is missing: not an archviz evidence pack")
    manifest = _json(files, MANIFEST)
    if not isinstance(manifest, dict):
        raise VerificationError(f"{MANIFEST}: not an archviz manifest")
    tool = manifest.get("tool") if isinstance(manifest.get("tool"), dict) else {}
    made_by = f"archviz {tool.get('version')}" if isinstance(tool.get("version"), str) else "an unknown tool"
    pack_format = manifest.get("pack_format")
    if type(pack_format) is not int:  # not a bool, nor 1.0, though Python finds both equal to 1
        raise VerificationError(f"{MANIFEST}: pack_format is {pack_format!r}, not a whole number")
    if pack_format not in PACK_FORMATS:
        raise VerificationError(f"this pack was made by {made_by} (pack format {pack_format}); this archviz "
                                f"{__version__} verifies pack formats {', '.join(map(str, PACK_FORMATS))}: verify "
                                f"it with the version that made it")
    if not isinstance(manifest.get("files"), dict) or not all(isinstance(v, str) for v in manifest["files"].values()):
        raise VerificationError(f"{MANIFEST}: no file list")
    odd = [name for name in manifest["files"] if not _NAME.match(name) or name in UNLISTED]
    if odd:
        raise VerificationError(f"{MANIFEST}: lists a name no archviz pack holds: {odd[0]!r}")
    if not isinstance(tool.get("version"), str):
        raise VerificationError(f"{MANIFEST}: does not say which archviz version made the pack")
    return manifest


KEYS = "verify takes the signer's Ed25519 public key in PEM (make it with: openssl pkey -in KEY -pubout -out KEY.pub)"


def check_signature(files: dict[str, bytes], public_key: bytes, key_name: str) -> None:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        with warnings.catch_warnings():  # a deprecated key type (DSA, DH) warns: it is refused below anyway
            warnings.simplefilter("ignore")
            key = serialization.load_pem_public_key(public_key)
    except ValueError:
        raise InputError(f"--key {key_name}: not a PEM public key; {KEYS}")
    except UnsupportedAlgorithm as exc:  # a key type or curve the cryptography package cannot load
        raise InputError(f"--key {key_name}: not a key archviz can read ({exc}); {KEYS}")
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise InputError(f"--key {key_name}: not an Ed25519 public key; {KEYS}")
    if SIGNATURE not in files:
        raise VerificationError(f"{SIGNATURE} is missing: the pack is not signed, so --key cannot be checked")
    try:
        key.verify(files[SIGNATURE], files[MANIFEST])
    except InvalidSignature:
        raise VerificationError(f"{SIGNATURE}: the signature over {MANIFEST} does not match the key {key_name} "
                                f"(another key signed it, or the manifest was altered)")


def _parse_sums(data: bytes) -> dict[str, str]:
    listed = {}
    for line in data.decode("utf-8", "replace").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    return listed


def _check_listing(entries: dict[str, zipfile.ZipInfo], files: dict[str, bytes | bytearray], manifest_digest: str,
                   listed: dict[str, str], signed: bool) -> None:
    """What the manifest and ``SHA256SUMS`` say of the pack, checked with nothing else inflated:
    the manifest against ``SHA256SUMS`` first (so an altered manifest is named as such), then no
    file there that the manifest does not list and every file it lists there, then
    ``SHA256SUMS`` exactly the manifest's files and hashes and the manifest's hash."""
    if SUMS not in files:
        raise VerificationError(f"{SUMS}: removed")
    summed = _parse_sums(files[SUMS])
    if summed.get(MANIFEST) != manifest_digest:
        if signed:  # the signature holds: the manifest is the signer's
            raise VerificationError(f"{SUMS}: altered (it does not list the files' and the manifest's hashes)")
        # Which of the two was altered, told without inflating any file: if they agree on every
        # file, the manifest; if not, either could be.
        disputed = sorted(n for n in set(summed) | set(listed) if n != MANIFEST and summed.get(n) != listed.get(n))
        if not disputed:
            raise VerificationError(f"{MANIFEST}: altered (its SHA-256 is not the one {SUMS} lists)")
        raise VerificationError(f"{MANIFEST} or {SUMS}: altered (the manifest's SHA-256 is not the one {SUMS} "
                                f"lists, and the two do not list the same SHA-256 for {disputed[0]})")
    for name in sorted(entries):
        if name not in listed and name not in UNLISTED:
            raise VerificationError(f"{name}: added (the manifest does not list it)")
    for name in sorted(listed):
        if name not in entries:
            raise VerificationError(f"{name}: removed (the manifest lists it)")
    if files[SUMS] != sums(files[MANIFEST], listed):
        raise VerificationError(f"{SUMS}: altered (it does not list exactly the manifest's files and the manifest's hash)")


def verify(path: Path, public_key: bytes | None = None, key_name: str = "") -> Verified:
    pack = read_pack(path, public_key, key_name)
    files, manifest = pack.files, pack.manifest
    made_by = manifest["tool"]["version"]
    raw = {name[len(RAW):]: data for name, data in files.items() if name.startswith(RAW)}
    doc = _json(files, "snapshot.json")
    other = "" if made_by == __version__ else f" (the pack was made by archviz {made_by}; this is {__version__})"
    try:
        validate(doc, "snapshot.json")
        derived, operations = rederive(raw, analysis_settings(doc))
    except ReplayError as exc:
        raise VerificationError(f"raw/ does not rebuild the snapshot: {exc}{other}")
    except InputError as exc:  # includes SnapshotError
        raise VerificationError(f"{exc}{other}")
    derived["tool"] = doc["tool"]  # the archviz that made the snapshot, whichever re-derives it
    diff = mismatch(doc, derived)
    if diff:
        raise VerificationError(f"snapshot.json: not what raw/ derives: {diff}{other}")
    for name, expected in findings_files(derived, manifest["pack_format"]).items():
        if files.get(name) != expected:
            where = first_difference(json.loads(expected), _json(files, name)) if name.endswith(".json") else \
                _first_line_difference(expected, files.get(name, b""))
            raise VerificationError(f"{name}: not what raw/ derives: {where}{other}")
    said = {k: v for k, v in manifest.items() if k not in ("pack_format", "tool", "files")}
    diff = first_difference(facts(derived, raw, operations), said)
    if diff:
        raise VerificationError(f"{MANIFEST}: not what raw/ derives: {diff}{other}")
    crawl = json.loads(raw[CRAWL_FILE])
    expected = readme(derived, crawl, manifest["files"], made_by)
    if files.get(README) != expected:
        raise VerificationError(f"{README}: not the README archviz {made_by} writes for this pack: "
                                f"{_first_line_difference(expected, files.get(README, b''))}")
    analysis = derived["analysis"]
    return Verified(files=len(pack.digests), answers=sum(1 for n in raw if n.count("/") == 2),
                    connections=len(derived["connections"]), findings=len(derived["findings"]),
                    signed=public_key is not None, unchecked_signature=public_key is None and SIGNATURE in files,
                    made_by=made_by, trusted=len(analysis["trusted_accounts"]),
                    marketplace_links=len(analysis["marketplace_links"]))


def _first_line_difference(expected: bytes, actual: bytes) -> str:
    want, have = expected.decode("utf-8", "replace").splitlines(), actual.decode("utf-8", "replace").splitlines()
    for number, (a, b) in enumerate(zip(want, have), 1):
        if a != b:
            return f"line {number}: expected {a[:80]!r}, found {b[:80]!r}"
    return f"{len(want)} lines expected, {len(have)} found"
