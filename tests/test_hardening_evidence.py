"""Hardening of evidence packs and of what archviz reads from the environment: a bad variable is
one line naming it (in the CLI and in a MkDocs build); a key of another type or curve is one line
saying which keys are accepted; a zip bomb is refused before it is inflated (from its declared
size, or because a check that needs no file inflated fails first) and what is only hashed is
streamed; a manifest's pack_format must be a whole number; bytes before the zip are
refused; OCSF times are milliseconds (and packs of format 1, written with seconds, still verify)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import tracemalloc
import warnings
import zipfile
import zlib
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from archviz.discovery.raw import dumps, parse_time
from archviz.evidence import findings
from archviz.evidence.pack import MANIFEST, PACK_FORMAT, SIGNATURE, SUMS, sums, zip_bytes
from archviz.sandbox.state import STATE
from tests.conftest import invoke, key_pair, run_cli
from tests.site_tools import mkdocs_build
from tests.test_evidence_findings import EPOCH, WHEN, findings_estate

ZEROS = 200 * 1024**2  # a bomb's inflated size; deflate makes it about 200 KB
LOW = ZEROS // 10  # verify's peak allocation must stay far below it
GIB = 1024**3  # a bigger bomb's: about 1 MB in the zip
MIB = 1024**2

# openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP512t1 (a curve the cryptography
# package cannot load): a throwaway key made for this test.
BRAINPOOL_PRIVATE = b"""-----BEGIN PRIVATE KEY-----
MIHsAgEAMBQGByqGSM49AgEGCSskAwMCCAEBDgSB0DCBzQIBAQRAbBE1H6NvSash
6kBS699Ik5/kK+gW7FyF0xjLyiL/3HRdxONpJcT+dTUjuv59+mVCzxsYf/299jpi
0uZNncqFE6GBhQOBggAEN4KheUalWoWmo+V9CQZclda3oKHSglMTlx2n8mBTjSDD
QgiuyuG6FJ0Gvi60pHx5YanoW2mPbKIoFVoG24XZ1oebkr6SrEtVN+wlWmXjlHFx
bNQ0wnIN34yy6wiNuH8TIZqcBm9qLIuQJTN0YEJGBxc1zYcfAct37x7I7fhdnHc=
-----END PRIVATE KEY-----
"""
BRAINPOOL_PUBLIC = b"""-----BEGIN PUBLIC KEY-----
MIGbMBQGByqGSM49AgEGCSskAwMCCAEBDgOBggAEN4KheUalWoWmo+V9CQZclda3
oKHSglMTlx2n8mBTjSDDQgiuyuG6FJ0Gvi60pHx5YanoW2mPbKIoFVoG24XZ1oeb
kr6SrEtVN+wlWmXjlHFxbNQ0wnIN34yy6wiNuH8TIZqcBm9qLIuQJTN0YEJGBxc1
zYcfAct37x7I7fhdnHc=
-----END PUBLIC KEY-----
"""


@pytest.fixture(scope="session")  # session: set up once per worker, however pytest-xdist interleaves the modules
def small(server, tmp_path_factory):
    """A real pack of a small crawl (the caller's account, one region, one planted AccessDenied:
    one finding), with its snapshot and raw folder to make packs again."""
    tmp = tmp_path_factory.mktemp("hardening")
    server.reset()
    STATE.add_fault("DescribeVpcEndpoints", "AccessDenied")
    made = invoke(["evidence", "--regions", "us-east-1", "--out", str(tmp / "pack.zip")], env=server.env())
    server.reset()
    assert made.returncode == 0, made.stderr
    with zipfile.ZipFile(tmp / "pack.zip") as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    for name, data in files.items():
        if name.startswith("raw/"):
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
    (tmp / "snapshot.json").write_bytes(files["snapshot.json"])
    assert json.loads(files["snapshot.json"])["findings"]
    return SimpleNamespace(pack=tmp / "pack.zip", files=files, raw=tmp / "raw", snapshot=tmp / "snapshot.json")


def one_line(result, code: int, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code and len(lines) == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def made(files: dict[str, bytes], path: Path, manifest: dict | None = None) -> Path:
    """A pack of ``files`` written as archviz writes one; with ``manifest``, that manifest (and
    SHA256SUMS made to agree with it)."""
    files = dict(files)
    if manifest is not None:
        files[MANIFEST] = dumps(manifest)
        files[SUMS] = sums(files[MANIFEST], manifest["files"])
    path.write_bytes(zip_bytes(files, parse_time("2026-01-02T03:04:05Z")))
    return path


def peak(call):
    """``call()``'s result and the most memory Python held while it ran."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- the environment --------------------------------------------------------------------------

BAD_NUMBERS = ["1e9", "-1", "abc", "0", "1.5", "12 MB", " 100"]


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_bad_snapshot_size_limit_is_one_line_naming_the_variable(small, value):
    result = invoke(["validate", str(small.snapshot)], env={"ARCHVIZ_MAX_SNAPSHOT_BYTES": value})
    one_line(result, 2, "ARCHVIZ_MAX_SNAPSHOT_BYTES", "expected a whole number greater than 0", repr(value))


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_bad_pack_size_limit_is_one_line_naming_the_variable(small, value):
    result = invoke(["verify", str(small.pack)], env={"ARCHVIZ_MAX_PACK_BYTES": value})
    one_line(result, 2, "ARCHVIZ_MAX_PACK_BYTES", "expected a whole number greater than 0", repr(value))


def test_the_size_limits_are_read_when_used(small):
    size = small.snapshot.stat().st_size
    result = invoke(["validate", str(small.snapshot)], env={"ARCHVIZ_MAX_SNAPSHOT_BYTES": str(size - 1)})
    one_line(result, 3, "ARCHVIZ_MAX_SNAPSHOT_BYTES raises the limit")
    assert invoke(["validate", str(small.snapshot)], env={"ARCHVIZ_MAX_SNAPSHOT_BYTES": str(size)}).returncode == 0
    result = invoke(["verify", str(small.pack)], env={"ARCHVIZ_MAX_PACK_BYTES": "1000"})
    one_line(result, 7, "more than 1000 bytes", "ARCHVIZ_MAX_PACK_BYTES")


def test_a_bad_limit_is_no_traceback_in_a_fresh_process(small):
    result = run_cli(["validate", str(small.snapshot)], env={"ARCHVIZ_MAX_SNAPSHOT_BYTES": "1e9"})
    one_line(result, 2, "ARCHVIZ_MAX_SNAPSHOT_BYTES")


def test_a_bad_limit_fails_a_mkdocs_build_with_one_line(small, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Docs\n")
    (tmp_path / "network").mkdir()
    shutil.copy(small.snapshot, tmp_path / "network" / "snapshot.json")
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nplugins:\n  - archviz:\n      snapshot: network/snapshot.json\n")
    proc = mkdocs_build(tmp_path, ARCHVIZ_MAX_SNAPSHOT_BYTES="1e9")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1 and errors[0].startswith("ERROR   -  archviz: ARCHVIZ_MAX_SNAPSHOT_BYTES"), proc.stderr


def test_a_passphrase_that_is_not_utf8_is_taken_as_its_bytes(small, tmp_path, monkeypatch):
    key_pair(tmp_path, b"caf\xe9")
    monkeypatch.setenv("ARCHVIZ_SIGNING_KEY_PASSPHRASE", os.fsdecode(b"caf\xe9"))  # Latin-1, as a shell may hold it
    result = invoke(["evidence", "--snapshot", str(small.snapshot), "--raw", str(small.raw),
                     "--sign", str(tmp_path / "k.pem"), "--out", str(tmp_path / "p.zip")])
    assert result.returncode == 0, result.stderr
    assert invoke(["verify", str(tmp_path / "p.zip"), "--key", str(tmp_path / "k.pub")]).returncode == 0


# --- keys -------------------------------------------------------------------------------------

def _pem(key, public: bool) -> bytes:
    if public:
        return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


# A 512-bit Diffie-Hellman key pair (made once: DH parameters take long to generate), whose
# loading warns (CryptographyDeprecationWarning): the warning must not reach the one line.
DH_PUBLIC = b"""-----BEGIN PUBLIC KEY-----
MIGaMFMGCSqGSIb3DQEDATBGAkEAmknCLt2mVe3Nj+lSeG9Y8EsNWmZBNf4ZZmuE
ehM6/Z3NtrRXJYkM3UYri4jDREs7+iAUf6owvFg06i4eRuP59wIBAgNDAAJAP8rh
PTnu4uCdt7GfwJPXKoSWhkxRHEGW4edF5ETLfpLEx6oh8CHMwtoZ2HDIyfd2Ts+t
pV55/afUt0tKROaTfQ==
-----END PUBLIC KEY-----
"""
DH_PRIVATE = b"""-----BEGIN PRIVATE KEY-----
MIGcAgEAMFMGCSqGSIb3DQEDATBGAkEAmknCLt2mVe3Nj+lSeG9Y8EsNWmZBNf4Z
ZmuEehM6/Z3NtrRXJYkM3UYri4jDREs7+iAUf6owvFg06i4eRuP59wIBAgRCAkA9
hKOobsxdSMhfL3JJsz+XMh22THWuoEt7A/DcJNMAkT/BXSYh/7yGuilXkwZ4kZWc
FexllYT6YfCME37etQ31
-----END PRIVATE KEY-----
"""


def keys(public: bool) -> dict[str, bytes]:
    """Every kind of file that is not an Ed25519 key in PEM of the kind asked for."""
    ed = ed25519.Ed25519PrivateKey.generate()
    der = ed.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
        if public else ed.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    return {"brainpoolP512t1": BRAINPOOL_PUBLIC if public else BRAINPOOL_PRIVATE,
            "P-256": _pem(ec.generate_private_key(ec.SECP256R1()), public),
            "RSA": _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048), public),
            "DH": DH_PUBLIC if public else DH_PRIVATE, "DER": der, "garbage": b"\x00\x01 not a key at all \xff", "empty": b"",
            "the other half": _pem(ed, not public)}


@pytest.mark.parametrize("kind", list(keys(True)))
def test_verify_key_that_is_not_an_ed25519_public_key_is_one_line(small, tmp_path, kind):
    (tmp_path / "k.pub").write_bytes(keys(True)[kind])
    with warnings.catch_warnings(record=True) as warned:  # a warning would print lines of its own
        warnings.simplefilter("always")
        result = invoke(["verify", str(small.pack), "--key", str(tmp_path / "k.pub")])
    assert [str(w.message) for w in warned] == []
    one_line(result, 2, f"--key {tmp_path / 'k.pub'}", "Ed25519 public key in PEM")


@pytest.mark.parametrize("kind", list(keys(False)))
def test_evidence_sign_key_that_is_not_an_ed25519_private_key_is_one_line(tmp_path, kind):
    (tmp_path / "k.pem").write_bytes(keys(False)[kind])
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        result = invoke(["evidence", "--org", "--sign", str(tmp_path / "k.pem"), "--out", str(tmp_path / "p.zip")])
    assert [str(w.message) for w in warned] == []
    one_line(result, 2, f"--sign {tmp_path / 'k.pem'}", "Ed25519 private key in PEM")
    assert not (tmp_path / "p.zip").exists()


# --- zip bombs --------------------------------------------------------------------------------

class _Zeros:
    """A deflater for zeros written a MiB at a time: after a full flush, deflate starts afresh,
    so each MiB deflates to the same bytes, made once (a GiB bomb is written in a fraction of a
    second; zipfile still counts its size and CRC-32)."""

    def __init__(self):
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.piece = deflate.compress(bytes(MIB)) + deflate.flush(zlib.Z_FULL_FLUSH)
        self.end = deflate.flush()

    def compress(self, data: bytes) -> bytes:
        assert data is ZERO_MIB
        return self.piece

    def flush(self) -> bytes:
        return self.end


ZERO_MIB = bytes(MIB)


def add_zeros(path: Path, name: str, size: int = ZEROS) -> Path:
    """Add an entry of ``size`` zero bytes (whole MiBs) to the zip, deflated, written in pieces
    (never held whole)."""
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w", force_zip64=size >= 2**31) as f:
        f._compressor = _Zeros()  # zipfile's deflater for this entry, replaced by the one above
        for _ in range(size // MIB):
            f.write(ZERO_MIB)
    return path


def inflated_by(monkeypatch) -> list[int]:
    """A counter of the bytes every zip entry opened from now on inflates."""
    count = [0]
    read = zipfile.ZipExtFile.read

    def counted(self, n=-1):
        data = read(self, n)
        count[0] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counted)
    return count


@pytest.fixture(scope="module")
def inflating(tmp_path_factory) -> float:
    """How long inflating a GiB bomb takes on this machine, as verify would (in pieces, holding
    none, hashing none): a bomb refused before it is inflated takes far less."""
    bomb = add_zeros(tmp_path_factory.mktemp("gib") / "bomb.zip", "zeros", GIB)
    start = time.monotonic()
    with zipfile.ZipFile(bomb) as zf, zf.open("zeros") as f:
        while f.read(MIB):
            pass
    return time.monotonic() - start


def refused_cheaply(monkeypatch, inflating: float, pack: Path, *args: str):
    """``verify PACK``'s result, checked to have inflated, held and taken next to nothing: less
    than a MiB inflated (the small pack's manifest and SHA256SUMS take a few KB), less than LOW
    held, and less than a fifth of the time a GiB bomb takes to inflate."""
    inflated = inflated_by(monkeypatch)
    start = time.monotonic()
    result, most = peak(lambda: invoke(["verify", str(pack), *args]))
    took = time.monotonic() - start
    assert inflated[0] < MIB, f"verify inflated {inflated[0]} bytes of a pack it refuses"
    assert most < LOW, f"verify held {most} bytes for a pack it refuses"
    assert took < inflating / 5, f"verify took {took:.2f} s to refuse a pack (inflating a GiB takes {inflating:.2f} s)"
    return result


def test_an_unlisted_entry_is_refused_before_it_is_inflated(small, tmp_path):
    bomb = add_zeros(Path(shutil.copy(small.pack, tmp_path / "bomb.zip")), "raw/zeros.json")
    assert bomb.stat().st_size < small.pack.stat().st_size + ZEROS // 100
    result, most = peak(lambda: invoke(["verify", str(bomb)]))
    one_line(result, 7, "raw/zeros.json: added (the manifest does not list it)")
    assert most < LOW, f"verify held {most} bytes for an entry it refuses"


def test_a_file_verify_only_hashes_is_streamed(small, tmp_path):
    """report.html listed (with a wrong hash) but 200 MB of zeros: hashed in pieces, never held."""
    manifest = json.loads(small.files[MANIFEST])
    manifest["files"]["report.html"] = "0" * 64
    pack = made({k: v for k, v in small.files.items() if k != "report.html"}, tmp_path / "p.zip", manifest)
    add_zeros(pack, "report.html")
    result, most = peak(lambda: invoke(["verify", str(pack)]))
    one_line(result, 7, "report.html: altered")
    assert most < LOW, f"verify held {most} bytes to hash one file"


def _declare_size(path: Path, name: str, size: int) -> None:
    """Make the zip's directory and the entry's local header declare ``size`` for ``name``."""
    with zipfile.ZipFile(path) as zf:
        info, start = zf.getinfo(name), zf.start_dir
    data = bytearray(path.read_bytes())
    data[info.header_offset + 22:info.header_offset + 26] = size.to_bytes(4, "little")
    at = start
    while data[at:at + 4] == b"PK\x01\x02":
        lengths = [int.from_bytes(data[at + i:at + i + 2], "little") for i in (28, 30, 32)]
        if data[at + 46:at + 46 + lengths[0]] == name.encode():
            data[at + 24:at + 28] = size.to_bytes(4, "little")
        at += 46 + sum(lengths)
    path.write_bytes(bytes(data))


def test_an_entry_that_inflates_beyond_its_declared_size_is_refused_without_inflating_it(small, tmp_path):
    pack = add_zeros(made({k: v for k, v in small.files.items() if k != "report.html"}, tmp_path / "p.zip"),
                     "report.html")
    _declare_size(pack, "report.html", len(small.files["report.html"]))
    result, most = peak(lambda: invoke(["verify", str(pack)]))
    one_line(result, 7, "report.html")
    assert most < LOW


BOMBED = {SIGNATURE: "the 1024 a signature may be (an Ed25519 signature is 64 bytes)",
          SUMS: "a manifest or SHA256SUMS may be in a pack of",
          MANIFEST: "a manifest or SHA256SUMS may be in a pack of"}


@pytest.mark.parametrize("name", list(BOMBED))
def test_a_bombed_manifest_sha256sums_or_signature_is_refused_from_its_declared_size(small, tmp_path, monkeypatch,
                                                                                     inflating, name):
    """Verify reads these three before any hash is checked: a GiB of any of them is refused from
    the size the zip declares, before one byte of it is inflated."""
    bomb = add_zeros(made({k: v for k, v in small.files.items() if k != name}, tmp_path / "bomb.zip"), name, GIB)
    assert bomb.stat().st_size < small.pack.stat().st_size + 2 * MIB
    result = refused_cheaply(monkeypatch, inflating, bomb)
    one_line(result, 7, f"{name}: {GIB} bytes once unpacked, more than", BOMBED[name])


def test_a_manifest_of_tiny_json_values_is_bounded_by_the_files_the_pack_holds(small, tmp_path, monkeypatch,
                                                                               inflating):
    """40 MiB of ``[],`` deflate to some 40 KB and would cost gigabytes to parse: a manifest may
    be no larger than the files the zip holds can need (4 MiB and 4 KiB a file)."""
    files = len(small.files)
    junk = b"[" + b"[]," * (40 * MIB // 3) + b"[]]"
    bomb = made(dict(small.files, **{MANIFEST: junk}), tmp_path / "bomb.zip")
    assert bomb.stat().st_size < small.pack.stat().st_size + MIB
    result = refused_cheaply(monkeypatch, inflating, bomb)
    one_line(result, 7, f"manifest.json: {len(junk)} bytes once unpacked, more than the "
                        f"{4 * MIB + 4096 * files} a manifest or SHA256SUMS may be in a pack of {files} files")


def test_a_raw_answer_file_larger_than_any_raw_folder_holds_is_refused_from_its_declared_size(small, tmp_path,
                                                                                              monkeypatch, inflating):
    """A GiB raw answer file, listed in the manifest, in a pack without SHA256SUMS: no raw
    folder holds a file over 256 MiB, so the zip's directory is enough to refuse it."""
    manifest = json.loads(small.files[MANIFEST])
    manifest["files"]["raw/zeros.json"] = "0" * 64
    files = {k: v for k, v in small.files.items() if k != SUMS}
    bomb = add_zeros(made(dict(files, **{MANIFEST: dumps(manifest)}), tmp_path / "bomb.zip"), "raw/zeros.json", GIB)
    result = refused_cheaply(monkeypatch, inflating, bomb)
    one_line(result, 7, f"raw/zeros.json: {GIB} bytes once unpacked, more than the 268435456 a raw answer file may be")


def _listing_zeros(small) -> tuple[dict[str, bytes], dict]:
    """The small pack's files and manifest, the manifest listing raw/zeros.json too (with a hash
    that is not theirs: only inflating them would say so) and SHA256SUMS agreeing with it."""
    manifest = json.loads(small.files[MANIFEST])
    manifest["files"]["raw/zeros.json"] = "0" * 64
    files = dict(small.files, **{MANIFEST: dumps(manifest)})
    files[SUMS] = sums(files[MANIFEST], manifest["files"])
    return files, manifest


def _with_zeros(files: dict[str, bytes], path: Path) -> Path:
    """A pack of ``files`` and raw/zeros.json, 200 MB of zeros (a raw answer file may be 256 MiB)."""
    return add_zeros(made(files, path), "raw/zeros.json")


def test_a_pack_without_sha256sums_is_refused_before_any_listed_file_is_inflated(small, tmp_path, monkeypatch,
                                                                                 inflating):
    files, _ = _listing_zeros(small)
    del files[SUMS]
    one_line(refused_cheaply(monkeypatch, inflating, _with_zeros(files, tmp_path / "p.zip")), 7, f"{SUMS}: removed")


def test_the_signature_is_checked_before_any_listed_file_is_inflated(small, tmp_path, monkeypatch, inflating):
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "k.pub").write_bytes(_pem(key, public=True))
    files, _ = _listing_zeros(small)
    cases = {"not signed": (None, f"{SIGNATURE} is missing: the pack is not signed"),
             "another key": (ed25519.Ed25519PrivateKey.generate(),
                             f"{SIGNATURE}: the signature over {MANIFEST} does not match the key")}
    for label, (signer, message) in cases.items():
        if signer is not None:
            files[SIGNATURE] = signer.sign(files[MANIFEST])
        pack = _with_zeros(files, tmp_path / f"{label}.zip")
        one_line(refused_cheaply(monkeypatch, inflating, pack, "--key", str(tmp_path / "k.pub")), 7, message)
    files[SIGNATURE] = key.sign(files[MANIFEST])  # the signature holds: then raw/zeros.json is inflated
    result = invoke(["verify", str(_with_zeros(files, tmp_path / "signed.zip")), "--key", str(tmp_path / "k.pub")])
    one_line(result, 7, "raw/zeros.json: altered (its SHA-256 is not the one the manifest lists)")
    files[MANIFEST] = files[MANIFEST].replace(b'"pack_format": 2', b'"pack_format":  2')
    files[SIGNATURE] = key.sign(files[MANIFEST])  # a manifest the key signed, SHA256SUMS not made again
    pack = _with_zeros(files, tmp_path / "resigned.zip")
    one_line(refused_cheaply(monkeypatch, inflating, pack, "--key", str(tmp_path / "k.pub")), 7,
             f"{SUMS}: altered (it does not list the files' and the manifest's hashes)")


def test_a_held_file_is_inflated_into_one_buffer(small, tmp_path):
    """A file verify reads again (here a raw answer file, listed with its hash: it is replayed)
    costs its size in memory once, not twice (its pieces and then their join)."""
    files, manifest = _listing_zeros(small)
    manifest["files"]["raw/zeros.json"] = hashlib.sha256(bytes(ZEROS)).hexdigest()
    files[MANIFEST] = dumps(manifest)
    files[SUMS] = sums(files[MANIFEST], manifest["files"])
    result, most = peak(lambda: invoke(["verify", str(_with_zeros(files, tmp_path / "p.zip"))]))
    one_line(result, 7, "raw/ does not rebuild the snapshot: raw/zeros.json")
    assert ZEROS < most < 1.5 * ZEROS, f"verify held {most} bytes for a file of {ZEROS}"


def _edit_facts(files: dict[str, bytes], manifest: dict) -> None:
    manifest["scope"]["mode"] = "forged"
    files[MANIFEST] = dumps(manifest)  # SHA256SUMS left as it was


def _edit_a_hash(files: dict[str, bytes], manifest: dict) -> None:
    manifest["files"]["snapshot.json"] = "0" * 64
    files[MANIFEST] = dumps(manifest)  # SHA256SUMS left as it was


def _list_a_missing_file(files: dict[str, bytes], manifest: dict) -> None:
    manifest["files"]["raw/gone.json"] = "0" * 64
    files[MANIFEST] = dumps(manifest)
    files[SUMS] = sums(files[MANIFEST], manifest["files"])


def _edit_a_line_of_sums(files: dict[str, bytes], manifest: dict) -> None:
    files[SUMS] = files[SUMS].replace(manifest["files"]["snapshot.json"].encode(), b"0" * 64)


LISTINGS = {
    "facts": (_edit_facts, f"{MANIFEST}: altered (its SHA-256 is not the one {SUMS} lists)"),
    "a hash": (_edit_a_hash, f"{MANIFEST} or {SUMS}: altered (the manifest's SHA-256 is not the one {SUMS} lists, "
                             f"and the two do not list the same SHA-256 for snapshot.json)"),
    "a missing file": (_list_a_missing_file, "raw/gone.json: removed (the manifest lists it)"),
    "a line of SHA256SUMS": (_edit_a_line_of_sums, f"{SUMS}: altered (it does not list exactly the manifest's files "
                                                   f"and the manifest's hash)"),
}


@pytest.mark.parametrize("case", list(LISTINGS))
def test_the_manifest_and_sha256sums_are_checked_against_each_other_before_any_listed_file_is_inflated(
        small, tmp_path, monkeypatch, inflating, case):
    """What the manifest and SHA256SUMS say of the pack needs no other file: it is checked, and
    which of them was altered named, before raw/zeros.json (listed in both) is inflated."""
    edit, message = LISTINGS[case]
    files, manifest = _listing_zeros(small)
    edit(files, manifest)
    one_line(refused_cheaply(monkeypatch, inflating, _with_zeros(files, tmp_path / "p.zip")), 7, message)


# --- the zip and its manifest -----------------------------------------------------------------

@pytest.mark.parametrize("value", [True, 1.0, float(PACK_FORMAT), str(PACK_FORMAT), None])
def test_pack_format_must_be_a_whole_number(small, tmp_path, value):
    manifest = json.loads(small.files[MANIFEST])
    manifest["pack_format"] = value
    result = invoke(["verify", str(made(small.files, tmp_path / "p.zip", manifest))])
    one_line(result, 7, f"{MANIFEST}: pack_format is {value!r}, not a whole number")


def test_the_pack_as_made_again_verifies(small, tmp_path):
    assert invoke(["verify", str(made(small.files, tmp_path / "p.zip", json.loads(small.files[MANIFEST])))]).returncode == 0


PREFIX = b"#!/bin/sh\necho 'a self-extracting archive'\nexit 0\n"


def test_bytes_before_the_zip_are_refused(small, tmp_path):
    (tmp_path / "cat.zip").write_bytes(PREFIX + small.pack.read_bytes())  # offsets as in the pack: shifted
    result = invoke(["verify", str(tmp_path / "cat.zip")])
    one_line(result, 7, f"{len(PREFIX)} bytes before the zip's first entry")
    (tmp_path / "sfx.zip").write_bytes(PREFIX)  # offsets counting the prefix, as zip -A makes them
    with zipfile.ZipFile(tmp_path / "sfx.zip", "a") as zf:
        for name, data in sorted(small.files.items()):
            zf.writestr(name, data)
    result = invoke(["verify", str(tmp_path / "sfx.zip")])
    one_line(result, 7, f"{len(PREFIX)} bytes before the zip's first entry")


# --- OCSF times -------------------------------------------------------------------------------

def test_ocsf_times_are_milliseconds():
    items = json.loads(findings.to_ocsf(findings_estate()))
    assert items
    for item in items:
        assert item["time"] == item["finding_info"]["created_time"] == EPOCH * 1000 > 10**12
        finding = DetectionFinding.model_validate(item)
        assert datetime.fromtimestamp(finding.time / 1000, timezone.utc) == finding.time_dt == parse_time(WHEN)


def test_the_packs_ocsf_time_is_its_snapshots_in_milliseconds(small):
    generated = parse_time(json.loads(small.files["snapshot.json"])["generated_at"])
    items = json.loads(small.files["findings.ocsf.json"])
    assert items and json.loads(small.files[MANIFEST])["pack_format"] == PACK_FORMAT == 2
    for item in items:
        assert item["time"] == item["finding_info"]["created_time"] == int(generated.timestamp()) * 1000 > 10**12


def test_a_pack_of_format_1_with_its_times_in_seconds_still_verifies(small, tmp_path):
    doc = json.loads(small.files["snapshot.json"])
    seconds = findings.to_ocsf(doc, milliseconds=False)
    assert json.loads(seconds)[0]["time"] * 1000 == json.loads(small.files["findings.ocsf.json"])[0]["time"]

    def pack(fmt: int, ocsf: bytes, name: str) -> Path:
        files = dict(small.files, **{"findings.ocsf.json": ocsf})
        manifest = json.loads(files[MANIFEST])
        manifest["pack_format"] = fmt
        manifest["files"]["findings.ocsf.json"] = hashlib.sha256(ocsf).hexdigest()
        return made(files, tmp_path / name, manifest)

    assert invoke(["verify", str(pack(1, seconds, "old.zip"))]).returncode == 0
    one_line(invoke(["verify", str(pack(1, small.files["findings.ocsf.json"], "a.zip"))]), 7,
             "findings.ocsf.json: not what raw/ derives")
    one_line(invoke(["verify", str(pack(2, seconds, "b.zip"))]), 7, "findings.ocsf.json: not what raw/ derives")

