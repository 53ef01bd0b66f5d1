"""archviz diff: pairs of snapshots, one per kind of change, and --fail-on firing exactly when it should."""

from __future__ import annotations

import copy
import json
import random

import jsonschema
import pytest

from archviz import diff, snapshot as snap
from archviz.render import drift
from archviz.cli import cli
from click.testing import CliRunner
from tests.test_model import EU, FULL, ME, MEMBER, OUTSIDE, PARTNER, R, SVC_NAME, connection, detail, endpoint, \
    load_balancer, service, subnet

S3 = "com.amazonaws.us-east-1.s3"
LB = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/a/1"


def unit(account, region=R, status="ok", kind="region"):
    return {"account_id": account, "region": region, "kind": kind, "status": status,
            "error_code": "AccessDenied" if status == "error" else None,
            "message": "denied" if status == "error" else None, "failed_operations": []}


def base() -> dict:
    """Two accounts of one organization, both regions crawled: MEMBER reaches ME's service
    (seen from both sides) and S3 through a gateway endpoint (seen only by MEMBER)."""
    records = {
        "endpoints": [endpoint("vpce-1"), endpoint("vpce-s3", service=S3, kind="Gateway")],
        "service_details": [detail(), detail(service=S3, owner="amazon", kind="Gateway")],
        "endpoint_services": [service(principals=(f"arn:aws:iam::{MEMBER}:root",))],
        "endpoint_connections": [connection("vpce-1", MEMBER)],
        "load_balancers": [load_balancer(["healthy", "healthy"])],
        "subnets": [subnet("subnet-a", "us-east-1a"), subnet("subnet-b", "us-east-1b")],
    }
    d = snap.build({"accounts": [ME, MEMBER], "regions": [R, EU]},
                   {"id": "o-1", "management_account_id": ME, "account_ids": [ME, MEMBER]},
                   [{"account_id": ME, "name": "network", "in_organization": True, "crawled": True},
                    {"account_id": MEMBER, "name": "app", "in_organization": True, "crawled": True}],
                   [unit(a, r) for a in (ME, MEMBER) for r in (R, EU)], records)
    return snap.validate(d)


def changed(edit) -> tuple[dict, dict]:
    old = base()
    new = copy.deepcopy(old)
    edit(new)
    snap.validate(snap.normalize(new))
    return old, new


def kinds(result: dict) -> set[tuple[str, str]]:
    return {(c["kind"], c["change"]) for c in result["changes"]}


def fired(result: dict) -> set[str]:
    """Every --fail-on kind that fires for this result."""
    candidates = ["new-external-consumer", "new-untrusted-principal", "open-to-all", "coverage-worse", "any",
                  "new-findings", "new-findings:critical", "new-findings:high", "new-findings:medium",
                  "new-findings:low", "new-findings:info"]
    return {k for k in candidates if diff.triggered(result, [k])}


def remove(records: list, **match) -> None:
    records[:] = [r for r in records if any(r.get(k) != v for k, v in match.items())]


def fail_unit(d: dict, account: str, region: str = R) -> None:
    """The crawl of one account-region failed: its records are missing, its coverage says so."""
    for kind in ("endpoints", "service_details", "endpoint_services", "endpoint_connections", "load_balancers",
                 "subnets"):
        remove(d[kind], account_id=account, region=region)
    for c in d["coverage"]:
        if (c["account_id"], c["region"]) == (account, region):
            c.update(unit(account, region, "error"))


def service_of(d: dict) -> dict:
    return d["endpoint_services"][0]


# --- one pair per kind of change -----------------------------------------------------------------

def test_a_reordered_but_identical_snapshot_has_no_changes():
    old = base()
    new = copy.deepcopy(old)
    for kind, records in new.items():
        if isinstance(records, list):
            random.Random(kind).shuffle(records)
    new["endpoints"].reverse()
    new["accounts"].reverse()
    result = diff.compare(old, new)
    assert result["changes"] == [] and result["counts"] == []
    assert fired(result) == set()
    assert drift.headline(result) == "no changes"


def test_a_removed_connection_is_removed_when_its_units_were_crawled():
    old, new = changed(lambda d: (remove(d["endpoints"], endpoint_id="vpce-1"),
                                  remove(d["endpoint_connections"], endpoint_id="vpce-1")))
    result = diff.compare(old, new)
    [c] = [c for c in result["changes"] if c["kind"] == "connection"]
    assert (c["change"], c["id"], c["after"]) == ("removed", "vpce-1", None)
    assert c["before"]["use_case"] == "internal-cross-account"
    assert "app (222222222222)" in c["summary"] and SVC_NAME in c["summary"]
    assert fired(result) == {"any"}


def test_a_newly_connected_outside_account_fires_new_external_consumer():
    old, new = changed(lambda d: d["endpoint_connections"].append(connection("vpce-x", OUTSIDE)))
    result = diff.compare(old, new)
    [c] = [c for c in result["changes"] if c["kind"] == "connection"]
    assert (c["change"], c["id"], c["after"]["use_case"]) == ("added", "vpce-x", "external-consumer")
    assert f"{OUTSIDE} (outside the organization)" in c["summary"]
    assert ("finding", "opened") in kinds(result)  # external-consumer-connected, medium
    assert fired(result) == {"new-external-consumer", "any", "new-findings", "new-findings:medium",
                             "new-findings:low", "new-findings:info"}


def test_a_trusted_outside_account_does_not_page():
    old, new = changed(lambda d: d["endpoint_connections"].append(connection("vpce-x", PARTNER)))
    result = diff.compare(old, new, trusted_accounts=[PARTNER])
    assert ("connection", "added") in kinds(result)
    assert "new-external-consumer" not in fired(result)
    assert result["compared"]["trusted_accounts"] == [PARTNER]


def test_a_pending_request_is_not_a_connection_until_it_is_accepted():
    old, pending = changed(lambda d: d["endpoint_connections"].append(connection("vpce-x", OUTSIDE, "pendingAcceptance")))
    result = diff.compare(old, pending)
    assert ("connection", "added") in kinds(result) and "new-external-consumer" not in fired(result)
    accepted = copy.deepcopy(pending)
    accepted["endpoint_connections"][-1]["state"] = "available"
    result = diff.compare(pending, accepted)
    [c] = [c for c in result["changes"] if c["kind"] == "connection"]
    assert (c["change"], c["before"]["state"], c["after"]["state"]) == ("state", "pendingAcceptance", "available")
    assert "pendingAcceptance → available" in c["summary"]
    assert "new-external-consumer" in fired(result)


def test_a_connection_state_change():
    def reject(d):
        d["endpoints"][[e["endpoint_id"] for e in d["endpoints"]].index("vpce-1")]["state"] = "rejected"
        d["endpoint_connections"][0]["state"] = "rejected"
    old, new = changed(reject)
    result = diff.compare(old, new)
    assert ("connection", "state") in kinds(result)
    assert "available → rejected" in next(c["summary"] for c in result["changes"] if c["kind"] == "connection")
    assert "new-findings:low" in fired(result) and "new-findings:medium" not in fired(result)


def test_an_account_that_leaves_the_organization_becomes_an_outside_consumer():
    def leave(d):
        d["organization"]["account_ids"].remove(MEMBER)
        d["scope"]["accounts"].remove(MEMBER)
        d["accounts"] = [a for a in d["accounts"] if a["account_id"] != MEMBER]
        d["coverage"] = [c for c in d["coverage"] if c["account_id"] != MEMBER]
        for kind in ("endpoints", "service_details"):
            remove(d[kind], account_id=MEMBER)
    old, new = changed(leave)
    result = diff.compare(old, new)
    assert ("account", "left") in kinds(result)
    assert result["compared"]["out_of_scope"]["accounts_only_in_old"] == [MEMBER]
    change = next(c for c in result["changes"] if c["kind"] == "connection")
    assert (change["change"], change["after"]["use_case"]) == ("use-case", "external-consumer")
    assert "new-external-consumer" in fired(result)
    # and the S3 endpoint, seen only from MEMBER (now out of scope), is not reported at all
    assert not any(c["id"] == "vpce-s3" for c in result["changes"])


def test_an_account_joins():
    old, new = changed(lambda d: d["organization"]["account_ids"].append(OUTSIDE))
    result = diff.compare(old, new)
    assert [(c["kind"], c["change"], c["id"]) for c in result["changes"]] == [("account", "joined", OUTSIDE)]
    assert fired(result) == {"any"}


def test_coverage_worse_is_not_visible_any_more_never_removed():
    old, new = changed(lambda d: fail_unit(d, MEMBER))
    result = diff.compare(old, new)
    got = kinds(result)
    assert ("coverage", "worse") in got
    assert ("connection", "not-visible") in got
    assert not any(c["change"] in ("removed", "resolved") for c in result["changes"])
    s3 = next(c for c in result["changes"] if c["id"] == "vpce-s3")
    assert s3["change"] == "not-visible"
    # vpce-1 is still seen by its provider: not reported as gone
    assert not any(c["id"] == "vpce-1" and c["change"] in ("removed", "not-visible") for c in result["changes"])
    assert fired(result) == {"coverage-worse", "any"}  # its coverage-gap finding pages as coverage-worse only
    assert {c["after"]["rule_id"] for c in result["changes"] if c["change"] == "opened"} == {"coverage-gap"}
    md = drift.to_markdown(result)
    assert "not visible any more" in md and "| removed |" not in md


def test_coverage_better_is_newly_visible_not_added():
    new, old = changed(lambda d: fail_unit(d, MEMBER))  # the other way round
    result = diff.compare(old, new)
    got = kinds(result)
    assert ("coverage", "better") in got and ("connection", "newly-visible") in got
    assert ("connection", "added") not in got and ("coverage", "worse") not in got
    assert "coverage-worse" not in fired(result)


def test_endpoint_services_added_and_removed():
    extra = service(sid="vpce-svc-2", name="com.amazonaws.vpce.us-east-1.vpce-svc-2", principals=("*",))
    old, new = changed(lambda d: d["endpoint_services"].append(extra))
    result = diff.compare(old, new)
    added = next(c for c in result["changes"] if c["kind"] == "endpoint-service")
    assert (added["change"], added["id"], added["after"]) == ("added", "vpce-svc-2", {"principals": ["*"]})
    assert "open-to-all" in fired(result)
    result = diff.compare(new, old)
    assert ("endpoint-service", "removed") in kinds(result) and "open-to-all" not in fired(result)


def test_principals_acceptance_and_regions():
    def edit(d):
        s = service_of(d)
        s["allowed_principals"] = [{"principal": f"arn:aws:iam::{OUTSIDE}:root", "principal_type": "Account"}]
        s["acceptance_required"] = False
        s["supported_regions"] = [{"region": EU}]
    old, new = changed(edit)
    result = diff.compare(old, new)
    by = {(c["kind"], c["change"]): c for c in result["changes"]}
    assert by[("principal", "added")]["after"] == f"arn:aws:iam::{OUTSIDE}:root"
    assert by[("principal", "removed")]["before"] == f"arn:aws:iam::{MEMBER}:root"
    assert (by[("acceptance", "changed")]["before"], by[("acceptance", "changed")]["after"]) == (True, False)
    assert by[("supported-regions", "changed")]["after"] == [EU]
    assert {"new-untrusted-principal", "new-findings:medium"} <= fired(result)
    assert "open-to-all" not in fired(result) and "new-findings:high" not in fired(result)


def test_each_untrusted_principal_is_paged_about_once_from_its_own_finding():
    """Alerts read the findings: a second outside principal on a service that already allows one
    fires for that principal alone; a trusted one, judged inside by the findings, fires nothing."""
    first, second = f"arn:aws:iam::{OUTSIDE}:root", f"arn:aws:iam::{PARTNER}:root"

    old = base()
    service_of(old)["allowed_principals"].append({"principal": first, "principal_type": "Account"})
    new = copy.deepcopy(old)
    service_of(new)["allowed_principals"].append({"principal": second, "principal_type": "Account"})
    added = [c for c in diff.compare(old, new)["changes"] if c["kind"] == "principal"]
    assert [(c["after"], c["alerts"]) for c in added] == [(second, ["new-untrusted-principal"])]
    trusted = [c for c in diff.compare(old, new, trusted_accounts=[PARTNER])["changes"] if c["kind"] == "principal"]
    assert [(c["after"], c["alerts"]) for c in trusted] == [(second, [])]


def test_open_to_all():
    old, new = changed(lambda d: service_of(d)["allowed_principals"].append({"principal": "*", "principal_type": "All"}))
    result = diff.compare(old, new)
    assert {"open-to-all", "new-findings:high", "new-findings"} <= fired(result)
    assert "new-untrusted-principal" not in fired(result)


def test_a_partial_view_of_a_service_compares_none_of_its_settings():
    def edit(d):
        service_of(d)["allowed_principals"] = []  # its permissions call failed ...
        d["coverage"][[(c["account_id"], c["region"]) for c in d["coverage"]].index((ME, R))].update(unit(ME, R, "error"))
    old, new = changed(edit)
    assert not any(c["kind"] == "principal" for c in diff.compare(old, new)["changes"])


def test_target_health():
    old, new = changed(lambda d: d["load_balancers"][0]["target_groups"][0]["targets"][1].update(health="unhealthy"))
    result = diff.compare(old, new)
    [c] = [c for c in result["changes"] if c["kind"] == "target"]
    assert (c["before"], c["after"], c["id"]) == ("healthy", "unhealthy", "tg/10.0.0.1:443")
    assert fired(result) == {"any"}


def test_findings_opened_and_resolved_keyed_by_rule_and_resource():
    old, new = changed(lambda d: d["endpoints"][0].update(policy=FULL))
    result = diff.compare(old, new)
    [c] = [c for c in result["changes"] if c["kind"] == "finding"]
    assert (c["change"], c["id"]) == ("opened", "endpoint-policy-full-access/vpce-1")
    assert c["after"]["severity"] == "low"
    assert "new-findings:low" in fired(result) and "new-findings:medium" not in fired(result)
    result = diff.compare(new, old)
    assert [(c["kind"], c["change"]) for c in result["changes"]] == [("finding", "resolved")]
    assert fired(result) == {"any"}


def test_a_renamed_resource_keeps_its_finding():
    def edit(d, name):
        d["endpoints"][0].update(policy=FULL, name=name)
    old, new = changed(lambda d: edit(d, "after"))
    edit(old, "before")
    assert diff.compare(old, new)["changes"] == []


def test_different_scopes_are_compared_where_they_overlap():
    def widen(d):
        d["scope"]["regions"].append("ap-south-1")
        d["coverage"].append(unit(ME, "ap-south-1"))
        d["endpoints"].append(endpoint("vpce-ap", account=ME, region="ap-south-1", service=S3, kind="Gateway"))
    old, new = changed(widen)
    result = diff.compare(old, new)
    assert result["changes"] == []
    assert result["compared"]["out_of_scope"]["regions_only_in_new"] == ["ap-south-1"]
    assert result["compared"]["regions"] == [EU, R]
    assert "regions crawled only in the new snapshot (not compared): ap-south-1" in drift.to_text(result)
    assert "**Not compared.**" in drift.to_markdown(result)


def test_every_output_form():
    old, new = changed(lambda d: d["endpoint_connections"].append(connection("vpce-x", OUTSIDE)))
    result = diff.compare(old, new)
    data = json.loads(diff.to_json(result))
    jsonschema.Draft202012Validator(diff.schema()).validate(data)
    assert data["old"]["sha256"] == snap.sha256(old) and data["diff_version"] == 1
    md = drift.to_markdown(result)
    assert md.startswith("# What changed in our PrivateLink estate\n")
    assert md.index("| Change | Count |") < md.index("## Connections")  # counts first, then details
    text = drift.to_text(result)
    assert text.splitlines()[1].startswith("+ connection added: connection vpce-x from 333333333333")


def test_untrusted_text_stays_inert_in_markdown():
    hostile = "<img src=x onerror=alert(1)>|[x](http://e.vil)"
    old, new = changed(lambda d: remove(d["endpoints"], endpoint_id="vpce-s3"))
    for d in (old, new):
        d["accounts"][1]["name"] = hostile
    md = drift.to_markdown(diff.compare(old, new))
    row = next(line for line in md.splitlines() if line.startswith("| removed |"))
    assert "<img" not in md and "](http" not in md and "&lt;img" in row
    assert row.count("|") - row.count("\\|") == 5  # the name's pipe does not split the table row


@pytest.mark.parametrize("value", ["nope", "new-findings:urgent", "open-to-all:high", ","])
def test_bad_fail_on_kinds(value):
    with pytest.raises(diff.InputError):
        diff.parse_fail_on(value)


# --- the command -----------------------------------------------------------------------------------

@pytest.fixture
def pair(tmp_path):
    def edit(d):
        remove(d["endpoints"], endpoint_id="vpce-s3")
        d["endpoint_connections"].append(connection("vpce-x", OUTSIDE))
    old, new = changed(edit)
    snap.write(old, tmp_path / "old.json")
    snap.write(new, tmp_path / "new.json")
    return tmp_path


def test_cli_done_when(pair):
    """The issue's own test: the markdown names a removed connection and a newly connected
    outside account, and --fail-on new-external-consumer exits non-zero for it."""
    runner = CliRunner()
    r = runner.invoke(cli, ["diff", str(pair / "old.json"), str(pair / "new.json"), "--format", "md"])
    assert r.exit_code == 0, r.output
    assert "| removed | connection vpce-s3 from app (222222222222)" in r.stdout
    assert "| added | connection vpce-x from 333333333333 (outside the organization)" in r.stdout
    r = runner.invoke(cli, ["diff", str(pair / "old.json"), str(pair / "new.json"), "--fail-on", "new-external-consumer"])
    assert r.exit_code == 8
    assert r.stderr.strip().splitlines()[-1].startswith("archviz: error: --fail-on new-external-consumer: 1 change(s)")
    r = runner.invoke(cli, ["diff", str(pair / "old.json"), str(pair / "new.json"), "--fail-on", "coverage-worse,open-to-all"])
    assert r.exit_code == 0


def test_cli_writes_out_and_keeps_stdout_clean(pair):
    out = pair / "changes" / "diff.json"
    out.parent.mkdir()  # the folder of an --out FILE must exist (tests/test_hardening_cli.py)
    r = CliRunner().invoke(cli, ["diff", str(pair / "old.json"), str(pair / "new.json"), "--format", "json",
                                 "--out", str(out), "--fail-on", "any"])
    assert r.exit_code == 8 and r.stdout == ""
    jsonschema.Draft202012Validator(diff.schema()).validate(json.loads(out.read_text()))
    assert "written to" in r.stderr


def test_cli_bad_input_is_one_line(pair, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["diff", str(pair / "old.json"), str(tmp_path / "missing.json")])
    assert r.exit_code == 3 and len(r.stderr.strip().splitlines()) == 1
    r = runner.invoke(cli, ["diff", str(pair / "old.json"), str(pair / "new.json"), "--fail-on", "everything"])
    assert r.exit_code == 2 and "unknown kind 'everything'" in r.stderr and "Traceback" not in r.stderr
    r = runner.invoke(cli, ["diff", str(pair / "old.json"), str(pair / "new.json"), "--redact-names"])
    assert r.exit_code == 2 and "--redact-names goes with --redact" in r.stderr


# --- render --since ----------------------------------------------------------------------------------

def test_render_since_adds_the_changes_and_marks_new_connections(pair, tmp_path):
    out = tmp_path / "site"
    r = CliRunner().invoke(cli, ["render", str(pair / "new.json"), "--since", str(pair / "old.json"),
                                 "--out", str(out), "--format", "svg,mermaid", "--only", "overview"])
    assert r.exit_code == 0, r.output
    index = (out / "index.md").read_text()
    since = index.index("## Changes since ")
    assert since < index.index("## What was crawled")
    section = index[since:index.index("## What was crawled")]
    assert "### Connections" in section and "| added | connection vpce-x from 333333333333" in section
    assert "| removed | connection vpce-s3" in section
    svg = (out / "diagrams" / "overview.svg").read_text()
    assert svg.count("(1 new)") == 1 and 'stroke-width="3.5"' in svg
    assert "connections new since the snapshot compared" in svg  # the legend explains the mark
    mmd = (out / "diagrams" / "overview.mmd").read_text()
    assert mmd.count("#40;1 new#41;") == 1  # Mermaid's escapes for the parentheses
    assert "connections new since the snapshot compared" in mmd
    from tests.site_tools import mermaid_parse

    assert mermaid_parse({"overview": mmd})["overview"]["ok"]  # the mark and its legend still parse
    # without --since: no section, no mark
    plain = tmp_path / "plain"
    assert CliRunner().invoke(cli, ["render", str(pair / "new.json"), "--out", str(plain), "--only", "overview"]).exit_code == 0
    assert "Changes since" not in (plain / "index.md").read_text()
    assert "new)" not in (plain / "diagrams" / "overview.svg").read_text()
    assert "new since" not in (plain / "diagrams" / "overview.svg").read_text()


def test_render_since_an_identical_snapshot_says_so(pair, tmp_path):
    out = tmp_path / "site"
    r = CliRunner().invoke(cli, ["render", str(pair / "new.json"), "--since", str(pair / "new.json"),
                                 "--out", str(out), "--only", "overview"])
    assert r.exit_code == 0, r.output
    index = (out / "index.md").read_text()
    assert "Compared with the snapshot of " in index and ": no changes." in index
    assert "| Change | Count |" not in index and "drawn heavier" not in index


def test_a_failed_provider_unit_opens_and_resolves_nothing_elsewhere():
    """The findings of a connection seen from both sides lose the provider's evidence when the
    provider's unit fails: still the same findings (a finding is not its evidence)."""
    def edit(d):
        d["endpoints"][0]["state"] = "pendingAcceptance"
        d["endpoint_connections"][0]["state"] = "pendingAcceptance"
    _, old = changed(edit)
    new = copy.deepcopy(old)
    fail_unit(new, ME)
    result = diff.compare(old, new)
    assert not [c for c in result["changes"] if c["change"] in ("opened", "resolved", "removed", "added")
                and (c["after"] or {}).get("rule_id") != "coverage-gap"]
    assert ("endpoint-service", "not-visible") in kinds(result)
    assert fired(result) == {"coverage-worse", "any"}


def test_crawling_fewer_accounts_without_an_organization_makes_nobody_an_outsider():
    def no_org(d):
        d["organization"] = None
    _, old = changed(no_org)
    old = snap.normalize(old)
    new = copy.deepcopy(old)
    new["scope"]["accounts"].remove(MEMBER)
    new["coverage"] = [c for c in new["coverage"] if c["account_id"] != MEMBER]
    for kind in ("endpoints", "service_details"):
        remove(new[kind], account_id=MEMBER)
    result = diff.compare(old, new)
    assert fired(result) == set() and result["changes"] == []
    assert result["compared"]["out_of_scope"]["accounts_only_in_old"] == [MEMBER]


def test_principals_found_after_a_failed_crawl_are_newly_visible_and_still_page():
    def failed_permissions(d):
        service_of(d)["allowed_principals"] = []
        next(c for c in d["coverage"] if (c["account_id"], c["region"]) == (ME, R)).update(unit(ME, R, "error"))
    _, old = changed(failed_permissions)
    new = base()
    service_of(new)["allowed_principals"] += [{"principal": "*", "principal_type": "All"},
                                              {"principal": f"arn:aws:iam::{OUTSIDE}:root", "principal_type": "Account"}]
    result = diff.compare(old, new)
    got = [(c["kind"], c["change"], c["after"]) for c in result["changes"] if c["kind"] == "principal"]
    assert ("principal", "newly-visible", "*") in got and ("principal", "newly-visible", f"arn:aws:iam::{OUTSIDE}:root") in got
    assert {"open-to-all", "new-untrusted-principal"} <= fired(result)
    assert not any(c["change"] == "removed" for c in result["changes"])


def test_a_region_disabled_is_a_coverage_change_that_explains_what_went_out_of_view():
    def skip(d):
        fail_unit(d, MEMBER)
        next(c for c in d["coverage"] if (c["account_id"], c["region"]) == (MEMBER, R)).update(
            status="skipped", error_code="OptInRequired", message="region not enabled")
    old, new = changed(skip)
    result = diff.compare(old, new)
    assert ("coverage", "changed") in kinds(result) and ("connection", "not-visible") in kinds(result)
    assert "coverage-worse" not in fired(result)


def test_untrusted_text_cannot_add_a_line_to_the_text_or_the_error(tmp_path):
    def hostile(d):
        next(c for c in d["coverage"] if (c["account_id"], c["region"]) == (MEMBER, R)).update(
            status="error", error_code="AccessDenied", message="denied\nFAKE: archviz: ok \u202e")
        d["scope"]["regions"].append("eu-x-1\n+ connection added: FAKE")
    old, new = changed(hostile)
    text = drift.to_text(diff.compare(old, new))
    assert not [line for line in text.splitlines() if line.startswith(("FAKE", "+ connection added: FAKE"))]
    assert "<U+202E>" in text
    snap.write(old, tmp_path / "old.json")
    snap.write(new, tmp_path / "new.json")
    r = CliRunner().invoke(cli, ["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--fail-on", "coverage-worse"])
    assert r.exit_code == 8
    assert [line for line in r.stderr.splitlines() if line.startswith("archviz: error:")] == r.stderr.splitlines()[-1:]
    assert not any(line.startswith("FAKE") for line in r.stderr.splitlines())


def test_a_deleted_endpoint_is_a_removed_connection_once():
    """AWS lists a deleted endpoint for a while (state ``deleted``), then not at all."""
    def delete(d):
        for rec in d["endpoints"] + d["endpoint_connections"]:
            if rec["endpoint_id"] == "vpce-1":
                rec["state"] = "deleted"
    old, deleted = changed(delete)
    [c] = [c for c in diff.compare(old, deleted)["changes"] if c["kind"] == "connection"]
    assert (c["change"], c["before"]["state"], c["after"]["state"]) == ("removed", "available", "deleted")
    gone = copy.deepcopy(deleted)
    remove(gone["endpoints"], endpoint_id="vpce-1")
    remove(gone["endpoint_connections"], endpoint_id="vpce-1")
    assert not [c for c in diff.compare(deleted, gone)["changes"] if c["kind"] == "connection"]


def test_findings_about_an_outside_consumer_are_the_providers_to_report():
    """A pending request from an account nobody crawled: its finding is filed under that account,
    and is reported through the provider's unit that saw it, opened and later resolved."""
    old, pending = changed(lambda d: d["endpoint_connections"].append(connection("vpce-p", OUTSIDE, "pendingAcceptance")))
    result = diff.compare(old, pending)
    opened = [c for c in result["changes"] if c["kind"] == "finding"]
    assert [(c["change"], c["after"]["rule_id"], c["account_id"]) for c in opened] == \
        [("opened", "endpoint-connection-pending", OUTSIDE)]
    assert "new-findings:low" in fired(result)
    accepted = copy.deepcopy(pending)
    accepted["endpoint_connections"][-1]["state"] = "available"
    kinds_now = {(c["kind"], c["change"], (c["before"] or c["after"])["rule_id"])
                 for c in diff.compare(pending, accepted)["changes"] if c["kind"] == "finding"}
    assert ("finding", "resolved", "endpoint-connection-pending") in kinds_now
    assert ("finding", "opened", "external-consumer-connected") in kinds_now


def test_renaming_a_service_with_several_findings_of_one_rule_changes_nothing():
    def two_outsiders(d):
        service_of(d)["allowed_principals"] += [{"principal": f"arn:aws:iam::{OUTSIDE}:root", "principal_type": None},
                                                {"principal": f"arn:aws:iam::{PARTNER}:root", "principal_type": None}]
        d["endpoint_connections"] += [connection("vpce-x", OUTSIDE), connection("vpce-y", PARTNER)]
    _, old = changed(two_outsiders)
    new = copy.deepcopy(old)
    service_of(new)["name"] = "renamed-service"
    assert len([f for f in diff.Side.of(old, frozenset([ME, MEMBER]), frozenset(), {}).findings
                if f["rule_id"] == "endpoint-service-untrusted-principal"]) == 2
    result = diff.compare(old, new)
    assert result["changes"] == [] and fired(result) == set()
    # and one of the two principals removed is exactly one finding resolved
    fewer = copy.deepcopy(new)
    service_of(fewer)["allowed_principals"].pop()
    resolved = [c for c in diff.compare(new, fewer)["changes"] if c["kind"] == "finding"]
    assert [(c["change"], c["before"]["rule_id"]) for c in resolved] == [("resolved", "endpoint-service-untrusted-principal")]
    assert PARTNER in resolved[0]["summary"]


def test_given_settings_replace_the_stored_ones_whole():
    old, new = changed(lambda d: d["endpoint_connections"].append(connection("vpce-x", PARTNER)))
    new["analysis"] = {"trusted_accounts": [PARTNER], "marketplace_links": {}}
    assert "new-external-consumer" not in fired(diff.compare(old, new))  # the stored settings trust PARTNER
    # a config with only marketplace links trusts nobody, as analyze --config would
    assert "new-external-consumer" in fired(diff.compare(old, new, marketplace_links={"x": "agmt-1"}))
    assert "new-external-consumer" in fired(diff.compare(old, new, trusted_accounts=[]))


def test_a_connection_whose_provider_changed():
    third = "com.example.vpce.partner-service"
    def third_party(d, owner):
        d["endpoints"].append(endpoint("vpce-t", service=third))
        d["service_details"].append(dict(detail(service=third, owner=owner), service_id="vpce-svc-t"))
    old, new = changed(lambda d: third_party(d, OUTSIDE))
    third_party(old, PARTNER)
    snap.normalize(old)
    [c] = [c for c in diff.compare(old, new)["changes"] if c["kind"] == "connection"]
    assert c["change"] == "changed" and f"provider {PARTNER} → {OUTSIDE}" in c["summary"]


def test_targets_registered_and_deregistered():
    def swap(d):
        targets = d["load_balancers"][0]["target_groups"][0]["targets"]
        targets.pop()
        targets.append({"id": "10.0.0.9", "port": 443, "health": "initial"})
    old, new = changed(swap)
    got = sorted((c["change"], c["id"]) for c in diff.compare(old, new)["changes"] if c["kind"] == "target")
    assert got == [("added", "tg/10.0.0.9:443"), ("removed", "tg/10.0.0.1:443")]
    fail_unit(new, ME)  # the balancer's unit failed: its targets say nothing
    assert not [c for c in diff.compare(old, new)["changes"] if c["kind"] == "target"]


def test_backwards_arguments_are_noted(tmp_path):
    old, new = changed(lambda d: d.update(generated_at="2030-01-01T00:00:00Z"))
    snap.write(old, tmp_path / "old.json")
    snap.write(new, tmp_path / "new.json")
    r = CliRunner().invoke(cli, ["diff", str(tmp_path / "new.json"), str(tmp_path / "old.json")])
    assert r.exit_code == 0 and "the changes read backwards" in r.stderr
    r = CliRunner().invoke(cli, ["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")])
    assert "backwards" not in r.stderr
