"""Redacted output, end to end through the command line: the demo rendered with --redact leaks no
account id, address, organization id or ARN of an account of the snapshot in any byte of any file
it writes (SVG, PNG, Mermaid, markdown, JSON) nor in any file name; and the redacted snapshot
(archviz redact) analyses to the same counts."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from archviz import model
from archviz import snapshot as snap
from tests.conftest import run_cli

ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")
IPV6 = re.compile(r"(?<![0-9A-Za-z:])[0-9a-fA-F:]*:[0-9a-fA-F:]*:[0-9a-fA-F:]*(?![0-9A-Za-z:])")
ARN = re.compile(r"arn:aws[a-z-]*:[^\"\s<>|]*")


@pytest.fixture(scope="module")
def demo(demo_crawl, tmp_path_factory) -> tuple[dict, Path]:
    """The demo crawl, analysed, written as a user's snapshot; with an endpoint policy that
    names an address and the organization, so those paths are exercised too."""
    doc = copy.deepcopy(demo_crawl[1])
    ep = next(e for e in doc["endpoints"] if e["type"] == "Interface")
    ep["dns_names"] = ep["dns_names"] + ["*.vpce-0abc123def4567890-xyz12345.s3.us-east-1.vpce.amazonaws.com"]
    ep["policy"] = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
                                   "Condition": {"IpAddress": {"aws:SourceIp": ["10.3.7.9/32", "2001:db8:1::7"]},
                                                 "StringEquals": {"aws:PrincipalOrgID": doc["organization"]["id"]}}}]}
    model.apply(doc)
    path = tmp_path_factory.mktemp("redact-demo") / "snapshot.json"
    snap.write(doc, path)
    return doc, path


def _ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
        return True
    except ValueError:
        return False


def secrets_of(doc: dict) -> dict[str, set[str]]:
    """What must not survive: the snapshot's account ids, addresses (except 0.0.0.0/0, ::/0),
    its organization, root and OU ids, and its endpoints' DNS names."""
    text = snap.dumps(doc).decode()
    org = doc["organization"] or {}
    return {
        "account id": set(ACCOUNT.findall(text)),
        "IPv4 address": {a for a in IPV4.findall(text) if a != "0.0.0.0"},
        "IPv6 address": {a for a in IPV6.findall(text) if _ipv6(a) and a != "::"},
        "organization id": {i for i in [org.get("id"), org.get("root_id")] if i}
        | {ou["id"] for ou in org.get("organizational_units") or []},
        "endpoint DNS name": {n.removeprefix("*.") for e in doc["endpoints"] for n in e["dns_names"]},
    }


def leaks(folder: Path, secrets: dict[str, set[str]]) -> list[str]:
    found = []
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files
    for path in files:
        data = path.read_bytes()
        name = path.relative_to(folder).as_posix()
        for what, values in secrets.items():
            for value in values:
                if value.encode() in data or value in name:
                    found.append(f"{name}: {what} {value}")
        accounts = secrets["account id"]
        for arn in ARN.findall(data.decode("utf-8", "replace")):
            if any(a in arn for a in accounts):
                found.append(f"{name}: ARN {arn}")
    return found


def test_the_secrets_are_real(demo):
    """The search below is only worth something if the demo holds what it searches for."""
    secrets = secrets_of(demo[0])
    assert len(secrets["account id"]) >= 5 and len(secrets["IPv4 address"]) >= 10
    assert secrets["IPv6 address"] and secrets["organization id"] and secrets["endpoint DNS name"]
    plain = demo[1].parent / "plain"
    assert run_cli(["render", str(demo[1]), "--out", str(plain), "--format", "svg,png,drawio,mermaid"]).returncode == 0
    assert leaks(plain, secrets)  # an unredacted render does leak them: the search finds them


@pytest.mark.parametrize("extra", [[], ["--redact-names"]], ids=["ids", "names"])
def test_a_redacted_render_of_the_demo_leaks_no_id_or_address(demo, tmp_path, extra):
    doc, path = demo
    out = tmp_path / "out"
    result = run_cli(["render", str(path), "--out", str(out), "--format", "svg,png,drawio,mermaid", "--redact", *extra])
    assert result.returncode == 0, result.stderr
    assert len(list(out.rglob("*.svg"))) > 5 and list(out.rglob("*.png")) and list(out.rglob("*.mmd")) and list(out.rglob("*.drawio"))
    secrets = secrets_of(doc)
    if extra:
        secrets["name"] = {a["name"] for a in doc["accounts"] if a["name"]} | \
            {e["name"] for e in doc["endpoints"] + doc["endpoint_services"] + doc["vpcs"] if e.get("name")}
    assert leaks(out, secrets) == []
    assert not any(ACCOUNT.search(line) for line in result.stderr.splitlines())
    # still the same estate: the pages list as many accounts, services and findings
    index = (out / "index.md").read_text()
    assert index.count("](accounts/") == sum(1 for a in doc["accounts"] if a.get("crawled", True))
    assert len(list((out / "services").glob("*.md"))) == len(doc["endpoint_services"])
    if not extra:
        assert "| s3 | us-east-1 |" in (out / "use-cases" / "aws-service.md").read_text()  # AWS's names stay
        assert "shared-services" in index  # names stay without --redact-names


def test_the_same_key_gives_the_same_pages_across_runs(demo, tmp_path):
    key = tmp_path / "key"
    key.write_bytes(b"0123456789abcdef0123456789abcdef\n")
    runs = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        assert run_cli(["render", str(demo[1]), "--out", str(out), "--redact", "--redact-key", str(key)]).returncode == 0
        runs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()})
    assert runs[0] == runs[1]
    # without a key: deterministic too, but other pseudonyms than the keyed ones
    out = tmp_path / "nokey"
    assert run_cli(["render", str(demo[1]), "--out", str(out), "--redact"]).returncode == 0
    assert sorted(p.name for p in (out / "accounts").iterdir()) != \
        sorted(Path(n).name for n in runs[0] if n.startswith("accounts/"))


def test_redact_command_writes_a_snapshot_that_analyses_the_same(demo, tmp_path):
    doc, path = demo
    out = tmp_path / "public.json"
    result = run_cli(["redact", str(path), "--out", str(out)])
    assert result.returncode == 0, result.stderr
    assert run_cli(["validate", str(out)]).returncode == 0
    redacted = json.loads(out.read_text())
    assert Counter(c["use_case"] for c in redacted["connections"]) == Counter(c["use_case"] for c in doc["connections"])
    assert Counter(f["rule_id"] for f in redacted["findings"]) == Counter(f["rule_id"] for f in doc["findings"])
    assert leaks(tmp_path, secrets_of(doc)) == []
    # re-analysed from the file alone, it still gives the same counts
    again = model.analyze(snap.load(out))
    assert Counter(f["rule_id"] for f in again["findings"]) == Counter(f["rule_id"] for f in doc["findings"])


@pytest.mark.parametrize("args, code, message", [
    (["--out", "{src}"], 2, "is the snapshot being redacted"),
    (["--out", "{tmp}/x.json", "--redact-key", "{tmp}/short"], 2, "needs at least 16 bytes"),
    (["--out", "{tmp}/x.json", "--redact-key", "{tmp}/none"], 2, "none"),
])
def test_redact_command_errors_are_one_line(demo, tmp_path, args, code, message):
    (tmp_path / "short").write_bytes(b"tooshort")
    args = [a.format(src=demo[1], tmp=tmp_path) for a in args]
    result = run_cli(["redact", str(demo[1]), *args])
    assert result.returncode == code, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert "tooshort" not in result.stderr  # the key is never shown


def test_render_redact_options_need_redact(demo, tmp_path):
    result = run_cli(["render", str(demo[1]), "--out", str(tmp_path / "o"), "--redact-key", str(demo[1])])
    assert result.returncode == 2 and "--redact-key goes with --redact" in result.stderr


def test_diff_and_since_redacted_name_no_original(demo, tmp_path):
    """The changes section and diff's own output are redacted with the same mapping as the pages."""
    doc, path = demo
    new = copy.deepcopy(doc)
    new["endpoint_connections"].append(dict(new["endpoint_connections"][0], endpoint_id="vpce-0fresh0000000000",
                                            endpoint_owner="210987654321"))
    model.apply(new)
    new_path = tmp_path / "new.json"
    snap.write(new, new_path)
    out = tmp_path / "site"
    result = run_cli(["render", str(new_path), "--since", str(path), "--out", str(out), "--redact"])
    assert result.returncode == 0, result.stderr
    index = (out / "index.md").read_text()
    assert "## Changes since" in index and "vpce-0fresh0000000000" in index
    secrets = secrets_of(new)
    assert "210987654321" in secrets["account id"]
    assert leaks(out, secrets) == []
    result = run_cli(["diff", str(path), str(new_path), "--redact", "--format", "json", "--fail-on", "new-external-consumer"])
    assert result.returncode == 8
    assert not any(a in result.stdout + result.stderr for a in secrets["account id"])
    assert json.loads(result.stdout)["changes"][0]["id"] == "vpce-0fresh0000000000"


def test_a_redacted_render_refuses_to_leave_edited_files_of_a_plain_one(demo, tmp_path):
    """A plain render edited by hand, then a redacted render into the same folder: the edited
    page (named after an account, holding its id) would stay beside the redacted pages."""
    doc, path = demo
    out = tmp_path / "site"
    assert run_cli(["render", str(path), "--out", str(out)]).returncode == 0
    page = next((out / "accounts").glob("*.md"))
    page.write_text(page.read_text() + "\nedited by hand\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = run_cli(["render", str(path), "--out", str(out), "--redact"])
    assert result.returncode == 1
    assert "holds 1 file(s) this render does not write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(a in result.stderr for a in secrets_of(doc)["account id"])  # not even in the message
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing changed
    page.unlink()
    assert run_cli(["render", str(path), "--out", str(out), "--redact"]).returncode == 0
    assert leaks(out, secrets_of(doc)) == []  # the plain render's other files were removed or replaced


def test_out_must_be_a_regular_file(demo, tmp_path):
    import os

    fifo, link = tmp_path / "fifo", tmp_path / "link"
    os.mkfifo(fifo)
    link.symlink_to(demo[1])
    for args in (["redact", str(demo[1]), "--out", str(fifo)], ["diff", str(demo[1]), str(demo[1]), "--out", str(fifo)],
                 ["diff", str(demo[1]), str(demo[1]), "--out", str(link)]):
        result = run_cli(args)
        assert result.returncode == 2 and "not a regular file" in result.stderr, result.stderr
    assert fifo.exists() and not fifo.is_file() and link.is_symlink()


def test_a_redacted_render_refuses_a_folder_holding_other_files(demo, tmp_path):
    """The folder `archviz snapshot` writes holds snapshot.json beside the pages: publishing it
    after a redacted render would publish the snapshot too."""
    out = tmp_path / "estate"
    out.mkdir()
    (out / "snapshot.json").write_bytes(demo[1].read_bytes())
    result = run_cli(["render", str(out), "--out", str(out), "--redact"])
    assert result.returncode == 1 and "(snapshot.json)" in result.stderr, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["snapshot.json"]
    # a page of one's own beside a --site section, the same
    site = tmp_path / "docs" / "privatelink"
    assert run_cli(["render", str(demo[1]), "--site", str(site), "--redact"]).returncode == 0
    (site / "changes.md").write_text("# What changed\n")
    result = run_cli(["render", str(demo[1]), "--site", str(site), "--redact"])
    assert result.returncode == 1 and "(changes.md)" in result.stderr
