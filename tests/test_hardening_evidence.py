"""Hardening of evidence packs and of what archviz reads from the environment: a bad variable is
one line naming it (in the CLI and in a MkDocs build); a key of another type or curve is one line
saying which keys are accepted; a zip bomb is refused before it is inflated and what is only
hashed is streamed; a manifest's pack_format must be a whole number; bytes before the zip are
refused; OCSF times are milliseconds (and packs of format 1, written with seconds, still verify)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tracemalloc
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from archviz.discovery.raw import dumps, parse_time
from archviz.evidence import findings
from archviz.evidence.pack import MANIFEST, PACK_FORMAT, SUMS, sums, zip_bytes
from archviz.sandbox.privatelink import STATE
from tests.conftest import invoke, run_cli
from tests.site_tools import mkdocs_build
from tests.test_evidence_findings import EPOCH, WHEN, findings_estate

ZEROS = 200 * 1024**2  # a bomb's inflated size; deflate makes it about 200 KB
LOW = ZEROS // 10  # verify's peak allocation must stay far below it

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


@pytest.fixture(scope="module")
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
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.BestAvailableEncryption(b"caf\xe9")))
    (tmp_path / "k.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
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


def keys(public: bool) -> dict[str, bytes]:
    """Every kind of file that is not an Ed25519 key in PEM of the kind asked for."""
    ed = ed25519.Ed25519PrivateKey.generate()
    der = ed.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
        if public else ed.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    return {"brainpoolP512t1": BRAINPOOL_PUBLIC if public else BRAINPOOL_PRIVATE,
            "P-256": _pem(ec.generate_private_key(ec.SECP256R1()), public),
            "RSA": _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048), public),
            "DER": der, "garbage": b"\x00\x01 not a key at all \xff", "empty": b"",
            "the other half": _pem(ed, not public)}


@pytest.mark.parametrize("kind", list(keys(True)))
def test_verify_key_that_is_not_an_ed25519_public_key_is_one_line(small, tmp_path, kind):
    (tmp_path / "k.pub").write_bytes(keys(True)[kind])
    result = invoke(["verify", str(small.pack), "--key", str(tmp_path / "k.pub")])
    one_line(result, 2, f"--key {tmp_path / 'k.pub'}", "Ed25519 public key in PEM")


@pytest.mark.parametrize("kind", list(keys(False)))
def test_evidence_sign_key_that_is_not_an_ed25519_private_key_is_one_line(tmp_path, kind):
    (tmp_path / "k.pem").write_bytes(keys(False)[kind])
    result = invoke(["evidence", "--org", "--sign", str(tmp_path / "k.pem"), "--out", str(tmp_path / "p.zip")])
    one_line(result, 2, f"--sign {tmp_path / 'k.pem'}", "Ed25519 private key in PEM")
    assert not (tmp_path / "p.zip").exists()


# --- zip bombs --------------------------------------------------------------------------------

def add_zeros(path: Path, name: str, size: int = ZEROS) -> Path:
    """Add an entry of ``size`` zero bytes to the zip, written in pieces (never held whole)."""
    chunk = bytes(1024**2)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w") as f:
        for _ in range(size // len(chunk)):
            f.write(chunk)
    return path


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

