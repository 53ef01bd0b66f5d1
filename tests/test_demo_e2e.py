"""End to end: the demo organization in the sandbox, crawled by the real CLI over HTTP."""

from __future__ import annotations

from archviz import snapshot as snap
from archviz.sandbox import demo
from tests.conftest import invoke, read_until, run_cli


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
    gwlb = next(lb for lb in doc["load_balancers"] if lb["name"] == "egress-inspection-gwlb")
    assert gwlb["type"] == "gateway" and gwlb["target_groups"][0]["protocol"] == "GENEVE"
    inspection = next(s for s in doc["endpoint_services"] if s["service_id"] == manifest.services["inspection"])
    assert inspection["type"] == "GatewayLoadBalancer" and inspection["load_balancer_arns"] == [gwlb["arn"]]


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
    # ...and rendered: the pages and diagrams sit beside the snapshot.
    assert (tmp_path / "demo" / "index.md").is_file() and (tmp_path / "demo" / "diagrams" / "overview.svg").is_file()
    assert result.stderr.strip().endswith(f"demo: done; open {tmp_path / 'demo' / 'index.md'}")


def test_demo_connections_exactly(demo_crawl):
    manifest, doc, _, _ = demo_crawl
    label_of = {ep: label for label, ep in manifest.labels.items()}
    got = {label_of[c["endpoint_id"]]: (c["use_case"], c["state"], c["seen_from"]) for c in doc["connections"]}
    both, consumer, provider = ["consumer", "provider"], ["consumer"], ["provider"]
    assert got == {
        "aws:s3": ("aws-service", "available", consumer),
        "aws:dynamodb": ("aws-service", "available", consumer),
        "aws:execute-api": ("aws-service", "available", consumer),
        "aws:s3-eu": ("aws-service", "available", consumer),
        "aws:dynamodb-data": ("aws-service", "available", consumer),
        "payments:app": ("internal-cross-account", "available", both),
        "payments:app-eu": ("internal-cross-account", "available", both),
        "payments:data": ("internal-cross-account", "pendingAcceptance", both),
        "legacy:data": ("internal-cross-account", "available", both),
        "orders:batch": ("internal-same-account", "available", both),
        "inspection:app": ("internal-cross-account", "available", both),
        "acme:app": ("third-party", "available", consumer),
        "market:app": ("marketplace", "available", consumer),
        "payments:partner": ("external-consumer", "available", provider),
        "payments:partner-test": ("external-consumer", "rejected", provider),
    }
    [market] = [c for c in doc["connections"] if c["use_case"] == "marketplace"]
    app = manifest.accounts["app-prod"]
    assert market["marketplace"]["agreement_id"] == manifest.agreements[app][0]
    assert market["marketplace"]["link"].startswith("heuristic")
    [cross] = [c for c in doc["connections"] if c["cross_region"]]
    assert cross["endpoint_id"] == manifest.labels["payments:app-eu"] and cross["provider_region"] == "us-east-1"


def test_demo_findings_exactly(demo_crawl):
    manifest, doc, _, _ = demo_crawl
    ep, svc = manifest.labels, manifest.services
    audit = manifest.unassumable
    # Every endpoint keeps the default full-access policy except the restricted S3 one, the
    # partner's (not crawled), and the GWLB endpoint (GWLB endpoints take no policy).
    full_policy = {label for label in ep if label not in ("aws:s3", "payments:partner", "payments:partner-test",
                                                          "inspection:app")}
    expected = {
        ("endpoint-service-open-to-all", svc["legacy"]),
        ("endpoint-service-auto-accept", svc["legacy"]),
        ("endpoint-service-auto-accept", svc["orders"]),
        ("endpoint-service-no-healthy-targets", svc["legacy"]),
        ("endpoint-service-untrusted-principal", svc["payments"]),
        ("external-consumer-connected", svc["payments"]),
        ("endpoint-in-public-subnet", ep["aws:execute-api"]),
        ("endpoint-in-public-subnet", ep["acme:app"]),
        ("endpoint-sg-open-ingress", ep["aws:execute-api"]),
        ("endpoint-az-mismatch", ep["acme:app"]),
        ("endpoint-single-az", ep["payments:data"]),
        ("endpoint-single-az", ep["legacy:data"]),
        ("endpoint-cross-region", ep["payments:app-eu"]),
        ("endpoint-connection-pending", ep["payments:data"]),
        ("endpoint-connection-rejected", ep["payments:partner-test"]),
        ("coverage-gap", f"{audit}/us-east-1"),
        ("coverage-gap", f"{audit}/eu-west-1"),
    } | {("endpoint-policy-full-access", ep[label]) for label in full_policy}
    got = [(f["rule_id"], f["resource_id"]) for f in doc["findings"]]
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert {f["rule_id"] for f in doc["findings"]} == {r["rule_id"] for r in doc["analysis"]["rules"]}


def test_analyze_recomputes_from_a_snapshot_with_trusted_accounts(demo_crawl, tmp_path):
    _, doc, _, _ = demo_crawl
    source = tmp_path / "snapshot.json"
    source.write_bytes(snap.dumps(doc))
    config = tmp_path / "archviz.toml"
    config.write_text(f'trusted_accounts = ["{demo.PARTNER}"]\n')
    result = invoke(["analyze", str(source), "--config", str(config), "--out", str(tmp_path / "trusted.json")])
    assert result.returncode == 0, result.stderr
    trusted = snap.load(tmp_path / "trusted.json")
    assert trusted["analysis"]["trusted_accounts"] == [demo.PARTNER]
    gone = {"endpoint-service-untrusted-principal", "external-consumer-connected"}
    assert {f["rule_id"] for f in doc["findings"]} & gone == gone
    assert not {f["rule_id"] for f in trusted["findings"]} & gone
    assert trusted["connections"] == doc["connections"]
    # In place, without --out: the same result as the crawl's own analysis.
    again = invoke(["analyze", str(source)])
    assert again.returncode == 0 and snap.load(source)["findings"] == doc["findings"]
    bad = tmp_path / "bad.toml"
    bad.write_text("trusted_accounts = [12]\n")
    wrong = invoke(["analyze", str(source), "--config", str(bad)])
    assert (wrong.returncode, wrong.stderr.strip()) == (
        2, f"archviz: error: {bad}: trusted_accounts must be a list of 12-digit account ids as strings")


def test_sandbox_command_serves_the_demo_until_interrupted(demo_crawl, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen([sys.executable, "-m", "archviz", "sandbox"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        exports = dict(line[len("export "):].strip().split("=", 1)
                       for line in read_until(proc, "# then:").splitlines() if line.startswith("export "))
        assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        result = invoke(["discover", "--org", "--role-name", demo.ROLE_NAME, "--regions", "us-east-1",
                        "--out", str(tmp_path)], env=exports)
        assert result.returncode == 0, result.stderr
        manifest = demo_crawl[0]
        ours = {sid for label, sid in manifest.services.items()
                if manifest.service_accounts[label] in manifest.crawled_accounts()}
        crawled = snap.load(tmp_path)["endpoint_services"]
        assert len(crawled) == len(ours)
        assert {s["name"] for s in crawled} == {"payments-api", "legacy-reports", "orders-internal", "egress-inspection"}
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "archviz sandbox: stopped" in err
