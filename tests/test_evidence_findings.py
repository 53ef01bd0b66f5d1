"""Findings as audit evidence: every finding a CSV row with its rule's rationale and remediation,
no spreadsheet formula let through, OCSF Detection Findings that py-ocsf-models reads back, and the
same bytes from the same snapshot."""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import datetime, timezone

import pytest
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from archviz import __version__, model
from archviz import snapshot as snap
from archviz.evidence import findings as ev
from tests.test_model import EU, ME, MEMBER, OUTSIDE, PARTNER, R, detail, doc, endpoint, service

WHEN = "2026-01-02T03:04:05Z"
EPOCH = int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp())
HOSTILE = '=HYPERLINK("http://evil.example/?a,b","click me")\nsecond line'
FULL = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
OCSF_SEVERITY = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}


def analyzed(**records) -> dict:
    d = doc(**records)
    d["generated_at"] = WHEN
    return snap.validate(model.apply(d))


def findings_estate() -> dict:
    """Findings of four severities, two of them on one resource, and a formula for a service name."""
    hostile = service(principals=["*"])
    hostile["name"] = HOSTILE
    shared = service(sid="vpce-svc-0000000000000002", name="com.amazonaws.vpce.us-east-1.vpce-svc-0000000000000002",
                     principals=[f"arn:aws:iam::{OUTSIDE}:root", f"arn:aws:iam::{PARTNER}:root"])
    shared["name"], shared["tags"] = "café", {"Name": "café", "team": "@payments"}
    coverage = [{"account_id": MEMBER, "region": EU, "kind": "region", "status": "error", "error_code": "AccessDenied",
                 "message": "x", "failed_operations": ["ec2:DescribeVpcEndpoints"]}]
    d = analyzed(coverage=coverage, endpoint_services=[hostile, shared], service_details=[detail()],
                 endpoints=[endpoint("vpce-1", policy=FULL), endpoint("vpce-2", region=EU, service_region=R)])
    assert {f["severity"] for f in d["findings"]} == {"high", "medium", "low", "info"}
    return d


@pytest.fixture
def estate() -> dict:
    return findings_estate()


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# --- CSV --------------------------------------------------------------------------------------------

def test_every_finding_is_a_row_with_its_rationale_and_remediation(estate):
    header, *body = parse_csv(ev.to_csv(estate))
    assert header == ["rule", "severity", "title", "resource", "account", "region", "message", "rationale",
                      "remediation"]
    assert len(body) == len(estate["findings"]) >= 6
    for f, row in zip(estate["findings"], body):
        rule = model.CATALOG[f["rule_id"]]
        assert row == [f["rule_id"], f["severity"], f["title"], f["resource_id"], f["account_id"], f["region"],
                       ev.neutralise(f["message"]), rule.rationale, rule.remediation]
        assert row[7] and row[8]


def test_csv_line_ends_are_crlf_and_text_is_utf8(estate):
    data = ev.to_csv(estate)
    assert data.startswith(b"rule,severity,title,resource,account,region,message,rationale,remediation\r\n")
    assert data.endswith(b"\r\n") and "café".encode("utf-8") in data
    assert not data.startswith(b"\xef\xbb\xbf")


def test_a_formula_in_a_message_comes_out_as_text_and_round_trips(estate):
    message = next(f["message"] for f in estate["findings"] if f["rule_id"] == "endpoint-service-open-to-all")
    assert message.startswith("=HYPERLINK(")
    cells = [row[6] for row in parse_csv(ev.to_csv(estate))[1:]]
    assert "'" + message in cells  # quoted, embedded comma, quotes and newline intact
    assert not any(cell.startswith(ev.FORMULA_TRIGGERS) for row in parse_csv(ev.to_csv(estate)) for cell in row)
    # rows() keeps the raw value, for callers that are not spreadsheets
    assert message in [r["message"] for r in ev.rows(estate)]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_every_formula_trigger_gets_an_apostrophe(value):
    assert ev.neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["vpce-1", "a=b", " =1", "'quoted", "", "123456789012"])
def test_plain_text_is_left_alone(value):
    assert ev.neutralise(value) == value


def test_rule_texts_come_from_the_analysis_then_the_catalog(estate):
    rules = estate["analysis"]["rules"]
    policy = next(r for r in rules if r["rule_id"] == "endpoint-policy-full-access")
    policy["rationale"], policy["remediation"] = "the snapshot's own words", "its own fix"
    rules.remove(next(r for r in rules if r["rule_id"] == "coverage-gap"))
    texts = {r["rule"]: (r["rationale"], r["remediation"]) for r in ev.rows(estate)}
    assert texts["endpoint-policy-full-access"] == ("the snapshot's own words", "its own fix")
    gap = model.CATALOG["coverage-gap"]
    assert texts["coverage-gap"] == (gap.rationale, gap.remediation)


# --- JSON -------------------------------------------------------------------------------------------

def test_json_is_each_finding_plus_its_rule_texts(estate):
    data = ev.to_json(estate)
    out = json.loads(data)
    assert set(out) == {"generated_at", "tool", "findings"}
    assert out["generated_at"] == WHEN and out["tool"] == {"name": "archviz", "version": __version__}
    assert [{k: v for k, v in f.items() if k not in ("rationale", "remediation")} for f in out["findings"]] == \
        estate["findings"]
    for f in out["findings"]:
        rule = model.CATALOG[f["rule_id"]]
        assert (f["rationale"], f["remediation"]) == (rule.rationale, rule.remediation)
    assert data == (json.dumps(out, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    assert "café".encode("utf-8") in data
    assert "rationale" not in estate["findings"][0]  # the snapshot itself is left alone


# --- OCSF -------------------------------------------------------------------------------------------

def test_ocsf_findings_parse_back_through_py_ocsf_models(estate):
    items = json.loads(ev.to_ocsf(estate))
    assert len(items) == len(estate["findings"])
    for f, item in zip(estate["findings"], items):
        parsed = DetectionFinding.model_validate(item)
        assert parsed.model_dump(mode="json", exclude_none=True) == item
        assert item["class_uid"] == 2004 and item["type_uid"] == 200401 and item["activity_id"] == 1
        assert item["severity_id"] == OCSF_SEVERITY[f["severity"]]
        assert item["status_id"] == 1 and item["status"] == "New"
        assert item["cloud"]["provider"] == "AWS"
        assert (item["cloud"]["account"]["uid"], item["cloud"]["region"]) == (f["account_id"], f["region"])
        assert item["time"] == item["finding_info"]["created_time"] == EPOCH * 1000 and item["time_dt"] == WHEN
        assert (item["finding_info"]["title"], item["finding_info"]["desc"], item["message"]) == (
            f["title"], f["message"], f["message"])
        assert item["metadata"]["event_code"] == item["finding_info"]["analytic"]["uid"] == f["rule_id"]
        assert item["metadata"]["product"] == {"name": "archviz", "uid": "archviz", "vendor_name": "archviz",
                                               "version": __version__}
        assert item["remediation"]["desc"] == model.CATALOG[f["rule_id"]].remediation
        assert item["risk_details"] == model.CATALOG[f["rule_id"]].rationale
        assert item["resources"][0]["uid"] == f["resource_id"] and item["resources"][0]["region"] == f["region"]
        assert item["unmapped"] == {"evidence": f["evidence"]}


def test_ocsf_severity_ids_cover_every_archviz_severity(estate):
    assert set(ev.SEVERITY_IDS) == set(model.SEVERITIES)
    for severity, expected in OCSF_SEVERITY.items():
        d = copy.deepcopy(estate)
        for f in d["findings"]:
            f["severity"] = severity
        assert {(i["severity_id"], i["severity"]) for i in json.loads(ev.to_ocsf(d))} == {
            (expected, ev.SEVERITY_IDS[severity].name)}


def test_ocsf_accounts_resources_and_organization(estate):
    items = {(i["metadata"]["event_code"], i["resources"][0]["uid"]): i for i in json.loads(ev.to_ocsf(estate))}
    open_service = items[("endpoint-service-open-to-all", "vpce-svc-0000000000000001")]
    assert open_service["resources"][0]["type"] == "AWS::EC2::VPCEndpointService"
    assert open_service["resources"][0]["name"] == HOSTILE
    assert open_service["cloud"]["account"]["type_id"] == 10 and open_service["cloud"]["org"]["uid"] == "o-1"
    assert open_service["cloud"]["account"]["uid"] == ME
    assert open_service["remediation"]["references"][0].startswith("https://docs.aws.amazon.com/vpc/")
    endpoint_item = items[("endpoint-policy-full-access", "vpce-1")]
    assert endpoint_item["resources"][0]["type"] == "AWS::EC2::VPCEndpoint"
    gap = items[("coverage-gap", f"{MEMBER}/{EU}")]
    assert gap["resources"][0]["type"] == "Other" and "references" not in gap["remediation"]
    labels = items[("endpoint-service-untrusted-principal", "vpce-svc-0000000000000002")]["resources"][0]["labels"]
    assert labels == ["Name:café", "team:@payments"]


def test_ocsf_uids_are_readable_stable_and_unique(estate):
    items = json.loads(ev.to_ocsf(estate))
    uids = [i["finding_info"]["uid"] for i in items]
    assert len(set(uids)) == len(uids)
    assert f"archviz-endpoint-policy-full-access-{MEMBER}-{R}-vpce-1" in uids
    base = f"archviz-endpoint-service-untrusted-principal-{ME}-{R}-vpce-svc-0000000000000002-"
    shared = [u for u in uids if u.startswith(base)]
    assert len(shared) == 2  # one service, two outside principals: told apart by a hash suffix
    # a later crawl with another finding elsewhere leaves these uids as they were
    later = copy.deepcopy(estate)
    later["findings"].append(dict(later["findings"][0], resource_id="vpce-svc-0000000000000009"))
    assert set(uids) <= {i["finding_info"]["uid"] for i in json.loads(ev.to_ocsf(later))}


# --- every form -------------------------------------------------------------------------------------

@pytest.mark.parametrize("export", [ev.to_csv, ev.to_json, ev.to_ocsf], ids=lambda f: f.__name__)
def test_same_snapshot_same_bytes(estate, export):
    assert export(estate) == export(copy.deepcopy(estate)) == export(json.loads(json.dumps(estate)))


def test_time_is_the_snapshots_not_the_clock(estate):
    later = dict(estate, generated_at="2027-06-01T00:00:00Z")
    assert {i["time_dt"] for i in json.loads(ev.to_ocsf(later))} == {"2027-06-01T00:00:00Z"}
    assert json.loads(ev.to_json(later))["generated_at"] == "2027-06-01T00:00:00Z"


def test_no_findings_gives_a_header_and_an_empty_array():
    d = analyzed(endpoints=[endpoint("vpce-1", policy=None)])
    assert d["findings"] == []
    assert ev.to_csv(d) == b"rule,severity,title,resource,account,region,message,rationale,remediation\r\n"
    assert json.loads(ev.to_ocsf(d)) == [] and ev.to_ocsf(d) == b"[]\n"
    assert json.loads(ev.to_json(d))["findings"] == []


def test_an_unanalyzed_snapshot_is_refused():
    d = doc()
    with pytest.raises(ValueError, match="analyze"):
        ev.to_csv(d)


# --- archviz findings: a snapshot's findings without a pack ------------------------------------------

def test_archviz_findings_writes_a_pack_s_findings_files_from_a_snapshot_alone(estate, tmp_path):
    from archviz.evidence.pack import findings_files
    from tests.conftest import invoke

    path = tmp_path / "snapshot.json"
    snap.write(estate, path)
    pack = findings_files(estate)
    for fmt, name in (("csv", "findings.csv"), ("json", "findings.json"), ("ocsf", "findings.ocsf.json")):
        result = invoke(["findings", str(path), "--format", fmt])
        assert result.returncode == 0, result.stderr
        assert result.stdout == pack[name].decode("utf-8").replace("\r\n", "\n"), fmt  # (click's runner folds CRLF)
        out = tmp_path / f"out.{fmt}"
        written = invoke(["findings", str(path), "--format", fmt, "--out", str(out)])
        assert written.returncode == 0 and out.read_bytes() == pack[name] and written.stdout == ""  # the very bytes
        assert written.stderr.strip() == f"findings: {len(estate['findings'])} findings written to {out}"
    ocsf = json.loads(invoke(["findings", str(path), "--format", "ocsf"]).stdout)
    assert {f["time"] for f in ocsf} == {EPOCH * 1000}  # milliseconds: the crawl's date, not 1970
    rows = parse_csv(invoke(["findings", str(path), "--format", "csv"]).stdout.encode("utf-8"))
    assert not [cell for row in rows[1:] for cell in row if cell[:1] in ev.FORMULA_TRIGGERS]


def test_archviz_findings_keeps_only_the_severities_asked_for_and_refuses_bad_input(estate, tmp_path):
    from tests.conftest import invoke

    path = tmp_path / "snapshot.json"
    snap.write(estate, path)
    def kept(severity: str) -> list[dict]:
        return json.loads(invoke(["findings", str(path), "--min-severity", severity]).stdout)["findings"]

    assert kept("high") and {f["severity"] for f in kept("high")} == {"high"}
    assert {f["severity"] for f in kept("medium")} == {"high", "medium"}
    assert len(kept("info")) == len(estate["findings"])
    missing = invoke(["findings", str(tmp_path / "none.json")])
    assert missing.returncode == 3 and len(missing.stderr.splitlines()) == 1 and "Traceback" not in missing.stderr
    assert invoke(["findings", str(path), "--format", "xml"]).returncode == 2
    assert invoke(["findings", str(path), "--out", str(path)]).returncode == 2  # never over its own input


def test_a_reader_that_stops_early_ends_the_command_quietly(estate, tmp_path):
    """``archviz findings SNAPSHOT | head -1``: a closed pipe is no internal error."""
    import os
    import subprocess
    import sys

    path = tmp_path / "snapshot.json"
    snap.write(estate, path)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    proc = subprocess.run([sys.executable, "-m", "archviz", "findings", str(path)], stdout=write,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr


def test_the_findings_command_offers_exactly_the_formats_and_severities_archviz_has():
    from archviz.cli import cli
    from archviz.model import vocab

    options = {p.name: p for p in cli.commands["findings"].params}
    assert list(options["fmt"].type.choices) == list(ev.FORMATS)
    assert list(options["min_severity"].type.choices) == list(vocab.SEVERITIES)
