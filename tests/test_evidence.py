"""Audit evidence packs end to end, against the sandbox over HTTP: ``archviz evidence`` writes a
pack, ``archviz verify`` accepts it and ``sha256sum -c`` accepts it from the pack's own README;
every tampering is caught and named; a replay equals the live crawl; no credential reaches a
pack; the policy in ``iam/`` allows every operation the crawl made."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from moto.sts.models import sts_backends
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from archviz.discovery import permissions
from archviz.discovery.raw import Recorder, Replayer, scrub
from archviz.errors import ReplayError
from archviz.evidence.pack import MANIFEST, SIGNATURE, SUMS, sums
from archviz.sandbox import demo
from tests.conftest import invoke, key_pair, once_per_run, run_cli
from tests.site_tools import need

ROOT = Path(__file__).resolve().parent.parent
REGIONS = "us-east-1,eu-west-1"


def issued_credentials() -> set[str]:
    """Every access key, secret key and session token the sandbox's STS issued so far."""
    secrets = set()
    for account in list(sts_backends.keys()):
        for partition in ("aws",):
            for role in sts_backends[account][partition].assumed_roles:
                key = role.access_key
                secrets |= {key.access_key_id, key.secret_access_key, role.session_token}
    return {s for s in secrets if s}


def keypair(tmp: Path, name: str) -> tuple[Path, Path]:
    key = ed25519.Ed25519PrivateKey.generate()
    private, public = tmp / f"{name}.pem", tmp / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture(scope="session")
def crawled(request, tmp_path_factory):
    """The demo organization (five accounts, planted failures) crawled three ways over HTTP:
    ``evidence`` (signed), ``discover --raw`` with an external id, and the secrets STS issued;
    once per test run (tests copy what they alter)."""
    def crawl():
        server = request.getfixturevalue("server")
        tmp = tmp_path_factory.mktemp("evidence")
        server.reset()
        demo.seed(server.endpoint_url, *server.credentials)
        key, pub = keypair(tmp, "signer")
        pack = tmp / "pack.zip"
        made = run_cli(["evidence", "--org", "--role-name", demo.ROLE_NAME, "--regions", REGIONS, "--out", str(pack),
                        "--sign", str(key)], env=server.env())
        assert made.returncode == 0, made.stderr
        live = tmp / "live"
        raw = tmp / "raw"
        recorded = run_cli(["discover", "--org", "--role-name", demo.ROLE_NAME, "--regions", REGIONS,
                            "--external-id", "ext-id-do-not-leak", "--raw", str(raw), "--out", str(live)], env=server.env())
        assert recorded.returncode == 0, recorded.stderr
        secrets = issued_credentials() | set(server.credentials)
        server.reset()
        return {"tmp": tmp, "pack": pack, "key": key, "pub": pub, "live": live, "raw": raw, "secrets": secrets,
                "stderr": made.stderr}

    return once_per_run(tmp_path_factory, "evidence-crawled", crawl)


def verify(pack: Path, *args: str):
    return invoke(["verify", str(pack), *args])


def files_of(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def repack(files: dict[str, bytes], path: Path, rehash: bool = False) -> Path:
    """A pack with ``files``; with ``rehash``, the manifest and SHA256SUMS are made to agree
    with them (what a forger who knows the format would do; the signature then breaks)."""
    files = dict(files)
    if rehash:
        manifest = json.loads(files[MANIFEST])
        manifest["files"] = {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())
                             if k not in (MANIFEST, SUMS, SIGNATURE)}
        files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        files[SUMS] = sums(files[MANIFEST], manifest["files"])
        files.pop(SIGNATURE, None)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


# --- the pack as written ----------------------------------------------------------------------

def test_the_pack_verifies_with_its_key(crawled):
    result = verify(crawled["pack"], "--key", str(crawled["pub"]))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "verified, signature good" in line and "\n" not in line


def tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    need(not missing, f"{', '.join(missing)} not installed (the auditor's standard tools)")


def test_sha256sum_accepts_the_pack_from_its_own_readme(crawled, tmp_path):
    """The README's first command block, run as written (PACK.zip replaced by the pack's path)."""
    tools("unzip", "sha256sum")
    readme = files_of(crawled["pack"])["README.md"].decode()
    block = re.search(r"```\n(unzip -q PACK\.zip.*?)```", readme, re.S).group(1)
    script = block.replace("PACK.zip", str(crawled["pack"]))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(line.endswith(": OK") for line in lines)
    assert f"{MANIFEST}: OK" in lines and "snapshot.json: OK" in lines
    assert len(lines) == len(files_of(crawled["pack"])) - 2  # all but SHA256SUMS and the signature


def test_the_readme_signature_commands_check_the_signed_manifest(crawled, tmp_path):
    tools("openssl", "jq", "sha256sum")
    readme = files_of(crawled["pack"])["README.md"].decode()
    block = re.search(r"```\n(openssl pkeyutl.*?)```", readme, re.S).group(1)
    with zipfile.ZipFile(crawled["pack"]) as zf:
        zf.extractall(tmp_path)
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.replace("key.pub", str(crawled["pub"]))],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Signature Verified Successfully" in proc.stdout
    assert proc.stdout.count(": OK") == len(json.loads((tmp_path / MANIFEST).read_text())["files"])


def test_the_manifest_says_who_crawled_what_when_and_how(crawled):
    files = files_of(crawled["pack"])
    manifest = json.loads(files[MANIFEST])
    snapshot = json.loads(files["snapshot.json"])
    assert manifest["tool"]["name"] == "archviz" and manifest["crawl"]["started_at"] <= manifest["crawl"]["finished_at"]
    assert manifest["caller"]["Account"] == snapshot["scope"]["caller_account_id"]
    assert manifest["scope"] == snapshot["scope"] and manifest["crawl"]["request"]["org"] is True
    roles = {r["role_arn"]: r for r in manifest["assumed_roles"]}
    members = [a for a in snapshot["scope"]["accounts"] if a != manifest["caller"]["Account"]]
    assert set(roles) == {f"arn:aws:iam::{a}:role/{demo.ROLE_NAME}" for a in members}
    assert all(r["expires_at"] and r["session_arn"] for r in roles.values() if not r["error_code"])
    assert any(r["error_code"] == "AccessDenied" for r in roles.values())  # the demo's planted failure
    assert manifest["coverage"]["error"] == len(manifest["coverage"]["not_covered"]) > 0
    # every operation called, counted from raw/, with its IAM action
    counted = {}
    for name, data in files.items():
        if name.startswith("raw/") and name.count("/") == 3:
            service, operation = name.rsplit("/", 1)[1][:-5].split(".", 1)
            counted[f"{service}:{operation}"] = counted.get(f"{service}:{operation}", 0) + len(json.loads(data))
    assert {op: v["calls"] for op, v in manifest["operations"].items()} == counted
    assert "ec2:DescribeVpcEndpoints" in counted and "sts:AssumeRole" in counted
    assert manifest["iam_actions"] == sorted({v["iam_action"] for v in manifest["operations"].values()})
    unlisted = {MANIFEST, SUMS, SIGNATURE}
    assert set(manifest["files"]) == set(files) - unlisted
    assert all(hashlib.sha256(files[n]).hexdigest() == h for n, h in manifest["files"].items())


def test_no_credential_reaches_the_pack_or_the_raw_folder(crawled):
    secrets = crawled["secrets"] | {"ext-id-do-not-leak"}
    assert len(secrets) > 4  # the caller's keys and each assumed role's three
    blobs = [(name, data) for name, data in files_of(crawled["pack"]).items()]
    blobs.append(("pack.zip", crawled["pack"].read_bytes()))
    blobs += [(str(p), p.read_bytes()) for p in crawled["raw"].rglob("*") if p.is_file()]
    for name, data in blobs:
        for secret in secrets:
            assert secret.encode() not in data, f"{secret[:6]}... found in {name}"
    for name, data in blobs:
        assert b"Authorization" not in data and b"X-Amz-Signature" not in data, name
    record = json.loads(next(d for n, d in files_of(crawled["pack"]).items() if n.endswith("sts.AssumeRole.json")))
    kept = next(r for r in record if r["status"] == 200)
    assert set(kept["response"]["Credentials"]) == {"Expiration"}
    assert {"Credentials.AccessKeyId", "Credentials.SecretAccessKey", "Credentials.SessionToken"} <= set(kept["removed"])


def test_findings_are_ocsf_detection_findings(crawled):
    files = files_of(crawled["pack"])
    snapshot = json.loads(files["snapshot.json"])
    items = json.loads(files["findings.ocsf.json"])
    assert len(items) == len(snapshot["findings"]) > 0
    for item in items:
        finding = DetectionFinding.model_validate(item)
        assert finding.class_uid == 2004
    rows = files["findings.csv"].decode().splitlines()
    assert rows[0] == "rule,severity,title,resource,account,region,message,rationale,remediation"
    assert len(json.loads(files["findings.json"])["findings"]) == len(snapshot["findings"])


@pytest.mark.browser
def test_the_packs_report_opens_offline_in_a_real_browser_with_every_diagram(crawled, tmp_path):
    from tests.test_evidence_report import open_in_chromium

    files = files_of(crawled["pack"])
    (tmp_path / "report.html").write_bytes(files["report.html"])
    pages = [n for n in files if n.startswith("pages/") and n.endswith(".md")]
    shown = {m for n in pages for m in re.findall(r"!\[[^\]]*\]\([^)]*diagrams/([^)]+\.svg)\)", files[n].decode())}
    images = sum(len(re.findall(r"!\[[^\]]*\]\([^)]*diagrams/[^)]+\.svg\)", files[n].decode())) for n in pages)
    unshown = [n for n in files if n.startswith("pages/diagrams/") and n.rsplit("/", 1)[1] not in shown]
    found = open_in_chromium(tmp_path / "report.html", images + len(unshown))
    assert "Findings" in found["text"]


def test_the_same_snapshot_and_raw_answers_make_the_same_pack(crawled, tmp_path):
    args = ["evidence", "--snapshot", str(crawled["live"] / "snapshot.json"), "--raw", str(crawled["raw"])]
    first = invoke([*args, "--out", str(tmp_path / "a.zip")])
    second = invoke([*args, "--out", str(tmp_path / "b.zip")])
    assert first.returncode == second.returncode == 0, first.stderr
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert verify(tmp_path / "a.zip").returncode == 0


# --- tampering ----------------------------------------------------------------------------------

def _one_of_each(files: dict[str, bytes]) -> list[str]:
    picks = ["snapshot.json", "findings.csv", "findings.json", "findings.ocsf.json", "report.html", "README.md",
             MANIFEST, SUMS, "raw/crawl.json"]
    picks.append(next(n for n in sorted(files) if n.startswith("raw/") and n.endswith("ec2.DescribeVpcEndpoints.json")))
    picks.append(next(n for n in sorted(files) if n.startswith("pages/diagrams/") and n.endswith(".svg")))
    picks.append(next(n for n in sorted(files) if n.startswith("pages/accounts/")))
    return picks


def test_changing_one_byte_of_any_file_is_caught_and_named(crawled, tmp_path):
    files = files_of(crawled["pack"])
    for name in _one_of_each(files):
        changed = dict(files)
        data = bytearray(changed[name])
        data[len(data) // 2] ^= 0x01
        changed[name] = bytes(data)
        result = verify(repack(changed, tmp_path / "t.zip"))
        assert result.returncode == 7, (name, result.stdout, result.stderr)
        assert name in result.stderr, (name, result.stderr)
    # with the right key, a signature over an altered manifest fails too
    changed = dict(files)
    changed[MANIFEST] = changed[MANIFEST].replace(b'"pack_format": 2', b'"pack_format":  2')
    result = verify(repack(changed, tmp_path / "m.zip"), "--key", str(crawled["pub"]))
    assert result.returncode == 7 and SIGNATURE in result.stderr


def test_a_deleted_raw_response_is_caught(crawled, tmp_path):
    files = files_of(crawled["pack"])
    gone = next(n for n in sorted(files) if n.endswith("elbv2.DescribeLoadBalancers.json"))
    result = verify(repack({k: v for k, v in files.items() if k != gone}, tmp_path / "d.zip"))
    assert result.returncode == 7 and f"{gone}: removed" in result.stderr
    # a forger who also fixes the manifest: the replay misses the answer and says which
    result = verify(repack({k: v for k, v in files.items() if k != gone}, tmp_path / "d2.zip", rehash=True))
    assert result.returncode == 7 and "DescribeLoadBalancers" in result.stderr and "raw/" in result.stderr
    assert "/tmp" not in result.stderr  # named as in the pack


def test_an_added_file_is_caught(crawled, tmp_path):
    files = dict(files_of(crawled["pack"]), **{"raw/notes.txt": b"trust me"})
    result = verify(repack(files, tmp_path / "a.zip"))
    assert result.returncode == 7 and "raw/notes.txt: added" in result.stderr


def test_an_edited_connection_is_caught_even_when_every_hash_is_redone(crawled, tmp_path):
    files = files_of(crawled["pack"])
    doc = json.loads(files["snapshot.json"])
    connection = next(c for c in doc["connections"] if c["state"] == "available")
    connection["state"] = "rejected"
    files["snapshot.json"] = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    naive = verify(repack(files, tmp_path / "n.zip"))
    assert naive.returncode == 7 and "snapshot.json: altered" in naive.stderr
    forged = verify(repack(files, tmp_path / "f.zip", rehash=True))
    assert forged.returncode == 7
    assert f"connections[{connection['endpoint_id']}/{connection['service_id']}].state" in forged.stderr
    assert "'available'" in forged.stderr or '"available"' in forged.stderr


def test_a_forged_finding_is_caught_even_when_every_hash_is_redone(crawled, tmp_path):
    files = files_of(crawled["pack"])
    items = json.loads(files["findings.ocsf.json"])
    items.pop()
    files["findings.ocsf.json"] = (json.dumps(items, indent=2, sort_keys=True) + "\n").encode()
    result = verify(repack(files, tmp_path / "f.zip", rehash=True))
    assert result.returncode == 7 and "findings.ocsf.json: not what raw/ derives" in result.stderr


def test_a_pack_signed_with_one_key_fails_with_another(crawled, tmp_path):
    _, other = keypair(tmp_path, "other")
    result = verify(crawled["pack"], "--key", str(other))
    assert result.returncode == 7 and "does not match the key" in result.stderr
    unsigned = verify(repack({k: v for k, v in files_of(crawled["pack"]).items() if k != SIGNATURE}, tmp_path / "u.zip"),
                      "--key", str(crawled["pub"]))
    assert unsigned.returncode == 7 and "not signed" in unsigned.stderr
    plain = verify(crawled["pack"])
    assert plain.returncode == 0 and plain.stdout.startswith(f"{crawled['pack']}: verified, but its signature was NOT checked")


def test_ci_can_require_a_signature_and_read_the_verdict_as_json(crawled, tmp_path):
    """--require-signature: exit 7 for a pack without a signature, one signed by another key, and a
    check without --key; --format json gives the verdict on standard output either way."""
    _, other = keypair(tmp_path, "other")
    unsigned = repack({k: v for k, v in files_of(crawled["pack"]).items() if k != SIGNATURE}, tmp_path / "u.zip")
    assert verify(unsigned).returncode == 0  # without the flag an unsigned pack that holds together verifies
    cases = {"unsigned": (unsigned, ["--key", str(crawled["pub"])], "not signed"),
             "unsigned, no key": (unsigned, [], "no --key given"),
             "another key": (crawled["pack"], ["--key", str(other)], "does not match the key"),
             "no key": (crawled["pack"], [], "no --key given")}
    for name, (pack, args, message) in cases.items():
        result = verify(pack, "--require-signature", *args)
        assert result.returncode == 7 and message in result.stderr and len(result.stderr.splitlines()) == 1, name
        verdict = json.loads(verify(pack, "--require-signature", "--format", "json", *args).stdout)
        assert verdict["verified"] is False and verdict["exit_code"] == 7 and message in verdict["error"], name
    good = verify(crawled["pack"], "--require-signature", "--key", str(crawled["pub"]), "--format", "json")
    assert good.returncode == 0, good.stderr
    verdict = json.loads(good.stdout)
    assert verdict["verified"] is True and verdict["signature"] == "good" and verdict["findings"] > 0
    assert json.loads(verify(crawled["pack"], "--format", "json").stdout)["signature"] == "unchecked"


def test_a_pack_of_another_format_says_which_version_made_it(crawled, tmp_path):
    files = files_of(crawled["pack"])
    manifest = json.loads(files[MANIFEST])
    manifest.update(pack_format=99, tool={"name": "archviz", "version": "9.9.9"})
    files[MANIFEST] = json.dumps(manifest).encode()
    result = verify(repack(files, tmp_path / "v.zip"))
    assert result.returncode == 7 and "archviz 9.9.9" in result.stderr


@pytest.mark.parametrize("content, message, code", [
    (b"not a zip", "not a readable zip", 7),
    (None, "no such file", 2),
])
def test_verify_bad_input_is_one_line(tmp_path, content, message, code):
    path = tmp_path / "p.zip"
    if content is not None:
        path.write_bytes(content)
    result = verify(path)
    assert result.returncode == code and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unsafe_names_in_a_pack_are_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../escape.txt", b"x")
    (tmp_path / "p.zip").write_bytes(buffer.getvalue())
    result = verify(tmp_path / "p.zip")
    assert result.returncode == 7 and "unsafe file name" in result.stderr


def test_evidence_refuses_a_snapshot_its_raw_answers_do_not_derive(crawled, tmp_path):
    doc = json.loads((crawled["live"] / "snapshot.json").read_text())
    doc["endpoints"][0]["state"] = "deleted"
    (tmp_path / "s.json").write_text(json.dumps(doc))
    result = invoke(["evidence", "--snapshot", str(tmp_path / "s.json"), "--raw", str(crawled["raw"]),
                     "--out", str(tmp_path / "p.zip")])
    assert result.returncode == 2 and "not what the raw answers derive" in result.stderr
    assert "endpoints[" in result.stderr and not (tmp_path / "p.zip").exists()


@pytest.mark.parametrize("args, message", [
    (["--snapshot", "s.json"], "--snapshot and --raw go together"),
    (["--snapshot", "s.json", "--raw", "r", "--org"], "drop --org"),
    (["--snapshot", "s.json", "--raw", "r", "--ou", "ou-ab12-cd34ef56"], "drop --ou"),
    (["--org", "--sign", "missing.pem"], "missing.pem: no such file"),
])
def test_evidence_usage_errors(tmp_path, args, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(["evidence", *args, "--out", "p.zip"])
    assert result.returncode == 2 and message in result.stderr and "-ids" not in result.stderr


def test_a_key_that_is_not_ed25519_is_refused(tmp_path, monkeypatch):
    from cryptography.hazmat.primitives.asymmetric import rsa

    (tmp_path / "k.pem").write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    result = invoke(["evidence", "--org", "--sign", str(tmp_path / "k.pem"), "--out", str(tmp_path / "p.zip")])
    assert result.returncode == 2 and "not a PEM private key" in result.stderr
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "rsa.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    result = invoke(["evidence", "--org", "--sign", str(tmp_path / "rsa.pem"), "--out", str(tmp_path / "p.zip")])
    assert result.returncode == 2 and "not an Ed25519 key" in result.stderr
    private, _ = keypair(tmp_path, "plain")
    monkeypatch.setenv("ARCHVIZ_SIGNING_KEY_PASSPHRASE", "x")
    result = invoke(["evidence", "--org", "--sign", str(private), "--out", str(tmp_path / "p.zip")])
    assert result.returncode == 2 and "the key is not encrypted" in result.stderr


# --- replay -------------------------------------------------------------------------------------

def test_replay_equals_the_live_crawl_offline(crawled, tmp_path):
    """Byte for byte, generated_at included, with no AWS configuration at all and the endpoint
    pointing nowhere: nothing is sent."""
    result = run_cli(["discover", "--replay", str(crawled["raw"]), "--out", str(tmp_path)],
                     env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_CONFIG_FILE": "/dev/null",
                          "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "snapshot.json").read_bytes() == (crawled["live"] / "snapshot.json").read_bytes()
    live = json.loads((crawled["live"] / "snapshot.json").read_text())
    assert any(c["status"] == "error" for c in live["coverage"]) and live["connections"]


def test_replay_of_an_altered_raw_folder_fails_clearly(crawled, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(crawled["raw"], raw)
    victim = next(raw.rglob("ec2.DescribeVpcEndpoints.json"))
    records = json.loads(victim.read_text())
    records[0]["params"]["Filters"] = [{"Name": "vpc-id", "Values": ["vpc-forged"]}]
    victim.write_text(json.dumps(records))
    result = invoke(["discover", "--replay", str(raw), "--out", str(tmp_path / "out")])
    assert result.returncode == 2 and "asked ec2:DescribeVpcEndpoints" in result.stderr
    assert "but it was not recorded" in result.stderr and "ec2.DescribeVpcEndpoints.json" in result.stderr
    (raw / "stray.json").write_text("[]")
    result = invoke(["discover", "--replay", str(raw), "--out", str(tmp_path / "out")])
    assert result.returncode == 2 and "not a file of an archviz raw folder" in result.stderr


def test_replay_rejects_scope_options_and_other_folders(tmp_path):
    result = invoke(["discover", "--replay", str(tmp_path), "--org", "--out", str(tmp_path / "o")])
    assert result.returncode == 2 and "drop --org" in result.stderr
    (tmp_path / "empty").mkdir()  # beside --out: an output inside the raw folder is refused first
    result = invoke(["discover", "--replay", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert result.returncode == 2 and "crawl.json: no such file" in result.stderr
    result = invoke(["discover", "--raw", str(tmp_path / "same"), "--out", str(tmp_path / "same")])
    assert result.returncode == 2 and "--raw and --out must be different folders" in result.stderr


def test_raw_never_replaces_a_folder_that_is_not_a_raw_folder(sandbox, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = invoke(["discover", "--raw", str(tmp_path / "mine"), "--out", str(tmp_path / "o")], env=sandbox.env())
    assert result.returncode == 2 and "not an archviz raw folder" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "o").exists()  # refused before the crawl, not after it


def test_recording_keeps_pages_in_order_and_replay_serves_them_to_a_paginator(tmp_path):
    """Two pages of DescribeVpcEndpoints, answered by botocore's Stubber: the recorder keeps both
    with their page numbers; a replayer then serves them to a fresh client's paginator, checked
    against the service model; a call that was not recorded is refused, never sent."""
    import boto3

    def client():
        return boto3.client("ec2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y",
                            endpoint_url="http://127.0.0.1:9")

    live = client()
    recorder = Recorder()
    recorder.attach(live, "111122223333", "eu-west-1")
    with Stubber(live) as stub:
        stub.add_response("describe_vpc_endpoints", {"VpcEndpoints": [{"VpcEndpointId": "vpce-1"}], "NextToken": "t1"})
        stub.add_response("describe_vpc_endpoints", {"VpcEndpoints": [{"VpcEndpointId": "vpce-2"}]},
                          {"NextToken": "t1"})
        pages = list(live.get_paginator("describe_vpc_endpoints").paginate())
    assert [p["VpcEndpoints"][0]["VpcEndpointId"] for p in pages] == ["vpce-1", "vpce-2"]
    recorder.home_region = "eu-west-1"
    recorder.finished_at = recorder.started_at
    files = recorder.files({"org": False, "accounts": None, "ou_ids": None, "role_name": None, "regions": None})
    records = json.loads(files["111122223333/eu-west-1/ec2.DescribeVpcEndpoints.json"])
    assert [(r["page"], r["params"]) for r in records] == [(1, {}), (2, {"NextToken": "t1"})]
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    replayed = client()
    Replayer.from_folder(tmp_path).attach(replayed, "111122223333", "eu-west-1")
    items = [e["VpcEndpointId"] for p in replayed.get_paginator("describe_vpc_endpoints").paginate()
             for e in p["VpcEndpoints"]]
    assert items == ["vpce-1", "vpce-2"]
    with pytest.raises(ReplayError, match="asked ec2:DescribeVpcs .* but it was not recorded"):
        replayed.describe_vpcs()
    with pytest.raises(ReplayError, match="more often than it was recorded"):
        replayed.describe_vpc_endpoints()


def test_scrub_removes_secrets_wherever_they_are():
    value = {"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": "E"},
             "Items": [{"ExternalId": "X", "Name": "n"}]}
    kept, removed = scrub(value)
    assert kept == {"Credentials": {"Expiration": "E"}, "Items": [{"Name": "n"}]}
    assert removed == ["Credentials.AccessKeyId", "Credentials.SecretAccessKey", "Credentials.SessionToken",
                       "Items[0].ExternalId"]


# --- least privilege ----------------------------------------------------------------------------

def test_the_shipped_policies_allow_every_operation_a_crawl_made(crawled):
    """Every operation recorded in the sandbox crawl, with the policy that must allow it: the
    member role's for the units, the management statement for the caller's organization and
    STS calls (the caller's own account is crawled too, with the member policy)."""
    shipped = {name: json.loads((ROOT / "iam" / name).read_text()) for name in permissions.policies()}
    assert shipped == permissions.policies()  # the files are the generated policies (the role name a placeholder)
    policies = permissions.policies(role_name=demo.ROLE_NAME)  # as adapted to the demo's role name
    files = files_of(crawled["pack"])
    manifest = json.loads(files[MANIFEST])
    assert len(manifest["operations"]) >= 15
    for operation, info in manifest["operations"].items():
        service, name = operation.split(":")
        row = next(p for p in permissions.PERMISSIONS if (p.service, p.operation) == (service, name))
        policy = "archviz-management.json" if row.caller_only else "archviz-readonly.json"
        assert permissions.allows({policy: policies[policy]}, info["iam_action"]) or name == "AssumeRole", operation
    assumed = [r["params"]["RoleArn"] for n, d in files.items() if n.endswith("sts.AssumeRole.json") for r in json.loads(d)]
    assert assumed and all(permissions.allows({"m": policies["archviz-management.json"]}, "sts:AssumeRole", arn)
                           for arn in assumed)
    assert not permissions.allows(policies, "sts:AssumeRole", "arn:aws:iam::111122223333:role/Admin")


def test_an_encrypted_signing_key_is_read_with_its_passphrase(crawled, tmp_path, monkeypatch):
    key_pair(tmp_path, b"correct horse")
    args = ["evidence", "--snapshot", str(crawled["live"] / "snapshot.json"), "--raw", str(crawled["raw"]),
            "--out", str(tmp_path / "p.zip"), "--sign", str(tmp_path / "k.pem")]
    result = invoke(args)
    assert result.returncode == 2 and "the key is encrypted: set ARCHVIZ_SIGNING_KEY_PASSPHRASE" in result.stderr
    monkeypatch.setenv("ARCHVIZ_SIGNING_KEY_PASSPHRASE", "wrong")
    result = invoke(args)
    assert result.returncode == 2 and "is not its passphrase" in result.stderr and len(result.stderr.splitlines()) == 1
    monkeypatch.setenv("ARCHVIZ_SIGNING_KEY_PASSPHRASE", "correct horse")
    assert invoke(args).returncode == 0
    assert verify(tmp_path / "p.zip", "--key", str(tmp_path / "k.pub")).returncode == 0


# --- what the review found ----------------------------------------------------------------------

def test_replay_reads_nothing_of_the_machines_aws_configuration(crawled, tmp_path):
    """A profile that does not exist, a config file that does not parse, bad settings and an
    endpoint that is not a URL: a replay and a verify use none of it."""
    (tmp_path / "config").write_text("[broken\nnot ini")
    env = {"AWS_PROFILE": "nope", "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_DEFAULTS_MODE": "bogus",
           "AWS_ENDPOINT_URL": "notaurl", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "bogus", "AWS_MAX_ATTEMPTS": "x",
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "config")}
    result = run_cli(["discover", "--replay", str(crawled["raw"]), "--out", str(tmp_path / "o")], env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "snapshot.json").read_bytes() == (crawled["live"] / "snapshot.json").read_bytes()
    assert invoke(["verify", str(crawled["pack"])], env=env).returncode == 0


def test_an_answer_with_fields_this_botocore_does_not_know_still_replays(crawled, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(crawled["raw"], raw)
    victim = next(raw.rglob("ec2.DescribeVpcs.json"))
    records = json.loads(victim.read_text())
    records[0]["response"]["Vpcs"][0]["FieldOfANewerBotocore"] = {"Nested": True}
    victim.write_text(json.dumps(records))
    result = invoke(["discover", "--replay", str(raw), "--out", str(tmp_path / "o")])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "snapshot.json").read_bytes() == (crawled["live"] / "snapshot.json").read_bytes()


def test_a_pack_still_verifies_with_a_newer_archviz(crawled, monkeypatch):
    import archviz.evidence.verify as verify_module
    import archviz.snapshot as snapshot_module

    import archviz.evidence.findings as findings_module

    for module in (snapshot_module, verify_module, findings_module):
        monkeypatch.setattr(module, "__version__", "99.0.0")
    result = verify(crawled["pack"])
    assert result.returncode == 0, result.stderr


def test_answers_nobody_asked_for_are_caught(crawled, tmp_path):
    files = files_of(crawled["pack"])
    name = next(n for n in sorted(files) if n.endswith("ec2.DescribeVpcs.json"))
    records = json.loads(files[name])
    extra = dict(records[0], params={"VpcIds": ["vpc-0forged"]}, sequence=10**6)
    files[name] = json.dumps(records + [extra]).encode()
    result = verify(repack(files, tmp_path / "x.zip", rehash=True))
    assert result.returncode == 7 and "never asked for" in result.stderr and name[4:] in result.stderr
    files = files_of(crawled["pack"])
    files["raw/210987654321/eu-west-1/ec2.DescribeVpcs.json"] = json.dumps(records).encode()
    result = verify(repack(files, tmp_path / "y.zip", rehash=True))
    assert result.returncode == 7 and "never asked for" in result.stderr


def test_the_manifest_and_readme_are_derived_again(crawled, tmp_path):
    files = files_of(crawled["pack"])
    manifest = json.loads(files[MANIFEST])
    manifest["caller"]["Arn"] = "arn:aws:iam::123456789012:user/someone-else"
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    result = verify(repack(files, tmp_path / "m.zip", rehash=True))
    assert result.returncode == 7 and "manifest.json: not what raw/ derives: caller.Arn" in result.stderr
    files = files_of(crawled["pack"])
    files["README.md"] = files["README.md"].replace(b"sha256sum -c SHA256SUMS", b"echo OK")
    result = verify(repack(files, tmp_path / "r.zip", rehash=True))
    assert result.returncode == 7 and "README.md: not the README" in result.stderr


def _zip_with(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def test_links_folders_odd_names_and_case_twins_are_refused(crawled, tmp_path):
    files = files_of(crawled["pack"])
    link = zipfile.ZipInfo("pages/zlink")
    link.external_attr = (0o120777 << 16)
    folder = zipfile.ZipInfo("../../evil/")
    cases = {
        "link": ([(link, b"/etc/hostname")], "not a regular file"),
        "folder": ([(folder, b"")], "unsafe file name"),
        "twin": ([("Snapshot.json", b"{}")], "in the pack twice"),
        "accent": ([("pages/caf\u00e9.md", b"x")], "unsafe file name"),
        "newline": ([("pages/a\nb.md", b"x")], "unsafe file name"),
        "file and folder": ([("snapshot.json/x", b"x")], "both a file and a folder"),
    }
    for label, (extra, message) in cases.items():
        path = _zip_with(tmp_path / "z.zip", list(files.items()) + extra)
        result = verify(path)
        assert result.returncode == 7 and message in result.stderr, (label, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, label


def test_broken_packs_and_raw_folders_are_one_line_errors(crawled, tmp_path):
    files = files_of(crawled["pack"])
    del files["snapshot.json"]
    result = verify(repack(files, tmp_path / "s.zip", rehash=True))
    assert result.returncode == 7 and "snapshot.json" in result.stderr
    files = files_of(crawled["pack"])
    manifest = json.loads(files[MANIFEST])
    manifest["tool"] = "x"
    files[MANIFEST] = json.dumps(manifest).encode()
    result = verify(repack(files, tmp_path / "t.zip", rehash=True))
    assert result.returncode == 7 and "which archviz version" in result.stderr
    data = bytearray(crawled["pack"].read_bytes())
    offset = data.index(b"findings.csv") + 200  # inside its compressed data
    data[offset:offset + 40] = bytes(40)
    (tmp_path / "c.zip").write_bytes(bytes(data))
    result = verify(tmp_path / "c.zip")
    assert result.returncode == 7 and len(result.stderr.strip().splitlines()) == 1
    result = invoke(["verify", str(crawled["pack"])], env={"ARCHVIZ_MAX_PACK_BYTES": "abc"})
    assert result.returncode == 2 and "ARCHVIZ_MAX_PACK_BYTES" in result.stderr
    for change, message in (({"home_region": None}, "home_region"), ({"caller": "me"}, "caller"),
                            ({"finished_at": "yesterday"}, "not a time")):
        raw = tmp_path / f"raw-{len(message)}"
        shutil.copytree(crawled["raw"], raw)
        crawl = json.loads((raw / "crawl.json").read_text())
        crawl.update(change)
        (raw / "crawl.json").write_text(json.dumps(crawl))
        result = invoke(["discover", "--replay", str(raw), "--out", str(tmp_path / "o")])
        assert result.returncode == 2 and message in result.stderr, result.stderr
    for change, message in (({"status": "abc"}, "no HTTP status"), ({"sequence": "1"}, "no sequence"),
                            ({"exception": "boom"}, "an exception without"), ({"response": []}, "no answer")):
        raw = tmp_path / f"rec-{len(message)}"
        shutil.copytree(crawled["raw"], raw)
        victim = next(raw.rglob("ec2.DescribeVpcs.json"))
        records = json.loads(victim.read_text())
        records[0].update(change)
        victim.write_text(json.dumps(records))
        result = invoke(["discover", "--replay", str(raw), "--out", str(tmp_path / "o")])
        assert result.returncode == 2 and message in result.stderr and "call 1" in result.stderr, result.stderr


def test_credentials_inside_error_text_never_reach_a_recording_or_the_snapshot():
    """AWS's signature errors can quote the request they saw, session token included."""
    import boto3

    from archviz.discovery import aws

    token = "FQoGZXIvYXdzEJr" + "x" * 40
    aws.remember_secrets(token, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
    message = (f"The request signature we calculated does not match. Canonical request: x-amz-security-token:{token} "
               "Signature=0123456789abcdef0123456789abcdef key wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY "
               "from AKIAIOSFODNN7EXAMPLE")
    live = boto3.client("ec2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y",
                        endpoint_url="http://127.0.0.1:9")
    recorder = Recorder()
    recorder.attach(live, "111122223333", "eu-west-1")
    with Stubber(live) as stub:
        stub.add_client_error("describe_vpcs", "SignatureDoesNotMatch", message, http_status_code=403)
        with pytest.raises(Exception) as caught:
            live.describe_vpcs()
    shown = aws.error_message(caught.value)
    recorder.home_region, recorder.finished_at = "eu-west-1", recorder.started_at
    files = recorder.files({"org": False, "accounts": None, "ou_ids": None, "role_name": None, "regions": None})
    kept = json.loads(files["111122223333/eu-west-1/ec2.DescribeVpcs.json"])[0]
    for text in (shown, json.dumps(kept)):
        for secret in (token, "wJalrXUtnFEMI", "0123456789abcdef", "AKIAIOSFODNN7EXAMPLE"):
            assert secret not in text
    assert "removed-by-archviz" in shown and "response.Error.Message (part of the text)" not in kept["removed"]
    assert "Error.Message (part of the text)" in kept["removed"]
