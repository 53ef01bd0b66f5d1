"""End to end: the demo organization in the sandbox, crawled by the real CLI over HTTP."""

from __future__ import annotations

from archviz import snapshot as snap
from archviz.sandbox import demo
from tests.conftest import run_cli


def by(records, key):
    return {r[key]: r for r in records}


def test_snapshot_validates_against_the_schema(demo_crawl):
    _, doc, _, _ = demo_crawl
    assert snap.validate(doc) is doc


def test_every_member_account_and_region_is_in_coverage(demo_crawl):
    manifest, doc, result, _ = demo_crawl
    assert sorted(a["account_id"] for a in doc["accounts"]) == manifest.crawled_accounts()
    regional = {(c["account_id"], c["region"]): c for c in doc["coverage"] if c["kind"] == "region"}
    assert set(regional) == {(a, r) for a in manifest.crawled_accounts() for r in demo.REGIONS}
    for (account, _), entry in regional.items():
        if account == manifest.unassumable:
            assert entry["status"] == "error"
            assert entry["error_code"] == "AccessDenied"
            assert "sts:AssumeRole" in entry["message"]
        else:
            assert entry["status"] == "ok", entry
    # The skipped account is named on stderr, in one line, and the run still succeeds.
    assert f"{manifest.unassumable}/us-east-1 AccessDenied" in result.stderr
    names = {a["account_id"]: a["name"] for a in doc["accounts"]}
    assert names[manifest.accounts["app-prod"]] == "app-prod"
    assert all(a["in_organization"] for a in doc["accounts"])


def test_every_seeded_endpoint_is_found(demo_crawl):
    manifest, doc, _, _ = demo_crawl
    found = {}
    for e in doc["endpoints"]:
        found.setdefault(e["account_id"], []).append(e["endpoint_id"])
    assert {a: sorted(ids) for a, ids in found.items()} == {a: sorted(ids) for a, ids in manifest.endpoints.items()}
    eps = by(doc["endpoints"], "endpoint_id")
    s3 = eps[manifest.labels["aws:s3"]]
    assert s3["type"] == "Gateway" and s3["route_table_ids"] and s3["policy"]["Statement"][0]["Action"]
    assert eps[manifest.labels["payments:app"]]["name"] == "app-prod-payments"


def test_services_connections_and_load_balancers(demo_crawl):
    manifest, doc, _, _ = demo_crawl
    ours = {label: sid for label, sid in manifest.services.items()
            if manifest.service_accounts[label] in manifest.crawled_accounts()}
    assert sorted(s["service_id"] for s in doc["endpoint_services"]) == sorted(ours.values())
    # Provider-side connections, including the outside consumer and the cross-region consumer.
    conns = {c["endpoint_id"]: c for c in doc["endpoint_connections"]}
    expected = {ep: state for ep, (label, state) in manifest.connections.items() if label in ours}
    assert {ep: c["state"] for ep, c in conns.items()} == expected
    partner = [c for c in conns.values() if c["endpoint_owner"] == demo.PARTNER]
    assert sorted(c["state"] for c in partner) == ["available", "rejected"]
    cross = conns[manifest.labels["payments:app-eu"]]
    assert cross["endpoint_region"] == "eu-west-1" and cross["region"] == "us-east-1"
    assert conns[manifest.labels["payments:data"]]["state"] == "pendingAcceptance"
    lbs = sorted(lb["arn"] for lb in doc["load_balancers"])
    assert lbs == sorted(arn for acct in manifest.crawled_accounts() for arn in manifest.load_balancers.get(acct, []))
    health = {lb["name"]: [t["health"] for tg in lb["target_groups"] for t in tg["targets"]] for lb in doc["load_balancers"]}
    assert health["payments-api-nlb"] == ["healthy", "healthy"]
    assert health["legacy-reports-nlb"] == ["unused"]


def test_consumer_side_view(demo_crawl):
    manifest, doc, _, _ = demo_crawl
    eps = by(doc["endpoints"], "endpoint_id")
    assert eps[manifest.labels["payments:data"]]["state"] == "pendingAcceptance"
    cross = eps[manifest.labels["payments:app-eu"]]
    assert (cross["region"], cross["service_region"]) == ("eu-west-1", "us-east-1")
    owners = {(d["account_id"], d["region"], d["service_name"]): d["owner"] for d in doc["service_details"]}
    app = manifest.accounts["app-prod"]
    assert owners[(app, "us-east-1", manifest.service_names["market"])] == "aws-marketplace"
    assert owners[(app, "us-east-1", manifest.service_names["acme"])] == demo.ACME
    assert owners[(app, "us-east-1", manifest.service_names["payments"])] == manifest.accounts["shared-services"]
    assert owners[(app, "eu-west-1", manifest.service_names["payments"])] == manifest.accounts["shared-services"]
    assert owners[(app, "us-east-1", "com.amazonaws.us-east-1.execute-api")] == "amazon"
    public = {s["subnet_id"]: s["public"] for s in doc["subnets"]}
    api = eps[manifest.labels["aws:execute-api"]]
    assert sorted(public[s] for s in api["subnet_ids"]) == [False, True]
    agreements = doc["marketplace_agreements"]
    assert [(a["account_id"], a["agreement_id"]) for a in agreements] == [(app, manifest.agreements[app][0])]


def test_demo_command_writes_a_snapshot(demo_crawl, tmp_path):
    manifest, crawled, _, _ = demo_crawl
    result = run_cli(["demo", "--out", str(tmp_path / "demo")])
    assert result.returncode == 0, result.stderr
    doc = snap.load(tmp_path / "demo" / "snapshot.json")
    # The same estate as the fixture's, crawled the same way (ids may differ: moto's process-wide
    # caches consume its random numbers differently in a process that already ran tests).
    assert doc["accounts"] == crawled["accounts"]
    shape = lambda d: sorted((e["account_id"], e["region"], e["name"], e["type"], e["state"]) for e in d["endpoints"])  # noqa: E731
    assert shape(doc) == shape(crawled)
    assert [c["status"] for c in doc["coverage"]] == [c["status"] for c in crawled["coverage"]]
    assert "results in" in result.stderr
