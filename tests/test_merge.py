"""archviz merge: slices of one organization combined into the snapshot one crawl would write.

Unit tests of the merge rules on small documents, the command line, and end to end: a sandbox
organization crawled whole and in shards (--ou, --accounts-from), the shards merged."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archviz import merge as merging
from archviz import model, snapshot
from archviz.errors import InputError
from tests.conftest import invoke

ORG = "o-abcd123456"
MGMT, CONSUMER, PROVIDER, OUTSIDE = "111111111111", "222222222222", "333333333333", "999999999999"
REGION = "us-east-1"
SERVICE = f"com.amazonaws.vpce.{REGION}.vpce-svc-0123456789abcdef0"


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def cov(account: str, status: str = "ok", region: str = REGION, kind: str = "region") -> dict:
    failed = status == "error"
    return {"account_id": account, "region": region, "kind": kind, "status": status,
            "error_code": "AccessDenied" if failed else ("RegionNotEnabled" if status == "skipped" else None),
            "message": "denied" if failed else None, "failed_operations": ["ec2:DescribeVpcEndpoints"] if failed else []}


def endpoint(account: str, endpoint_id: str, state: str = "available", region: str = REGION) -> dict:
    return {"endpoint_id": endpoint_id, "account_id": account, "region": region, "vpc_id": "vpc-1",
            "type": "Interface", "service_name": SERVICE, "service_region": REGION, "state": state,
            "subnet_ids": [], "route_table_ids": [], "security_group_ids": [], "private_dns_enabled": False,
            "policy": None, "name": endpoint_id, "tags": {}}


def detail(account: str, owner: str = PROVIDER) -> dict:
    return {"account_id": account, "region": REGION, "service_name": SERVICE, "visible": True, "owner": owner,
            "service_type": "Interface", "acceptance_required": True, "availability_zones": [],
            "service_region": REGION, "service_id": "vpce-svc-0123456789abcdef0"}


def service(account: str = PROVIDER) -> dict:
    return {"service_id": "vpce-svc-0123456789abcdef0", "service_name": SERVICE, "account_id": account,
            "region": REGION, "type": "Interface", "state": "Available", "acceptance_required": True,
            "private_dns_name": None, "load_balancer_arns": [], "supported_regions": [{"region": REGION}],
            "allowed_principals": [{"principal": f"arn:aws:iam::{CONSUMER}:root", "principal_type": "Account"}],
            "availability_zones": [], "name": "payments",
            "tags": {}}


def connection(endpoint_id: str, owner: str = CONSUMER, account: str = PROVIDER) -> dict:
    return {"service_id": "vpce-svc-0123456789abcdef0", "endpoint_id": endpoint_id, "endpoint_owner": owner,
            "endpoint_region": REGION, "state": "available", "created_at": None, "account_id": account,
            "region": REGION}


def account(account_id: str, crawled: bool = True, **extra) -> dict:
    return {"account_id": account_id, "name": extra.pop("name", None), "in_organization": True, "crawled": crawled,
            **extra}


def organization(*account_ids: str, ous: list[dict] | None = None, org_id: str = ORG) -> dict:
    org = {"id": org_id, "management_account_id": MGMT, "account_ids": sorted(account_ids or (MGMT, CONSUMER, PROVIDER)),
           "root_id": "r-abcd"}
    org["organizational_units"] = ous if ous is not None else []
    return org


def doc(accounts: list[dict], coverage: list[dict], records: dict | None = None, *, org: dict | None | str = "default",
        when: str = "2025-01-01T00:00:00Z", mode: str = "accounts", caller: str = MGMT, role: str | None = "Role",
        regions=(REGION,)) -> dict:
    scope = {"mode": mode, "caller_account_id": caller, "accounts": sorted(a["account_id"] for a in accounts),
             "regions": list(regions), "role_name": role}
    d = snapshot.build(scope, organization() if org == "default" else org, accounts, coverage, records or {},
                       generated_at=_time(when))
    snapshot.validate(d)
    return snapshot.validate(model.apply(d))


def consumer_slice(**kw) -> dict:
    return doc([account(CONSUMER)], [cov(CONSUMER)],
               {"endpoints": [endpoint(CONSUMER, "vpce-0aaa")], "service_details": [detail(CONSUMER)]}, **kw)


def provider_slice(**kw) -> dict:
    return doc([account(PROVIDER)], [cov(PROVIDER)],
               {"endpoint_services": [service()], "endpoint_connections": [connection("vpce-0aaa")]}, **kw)


def only(connections: list[dict], endpoint_id: str) -> dict:
    found = [c for c in connections if c["endpoint_id"] == endpoint_id]
    assert len(found) == 1, found
    return found[0]


def without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


# -- the rules ---------------------------------------------------------------------------------

def test_a_consumer_and_its_provider_in_different_slices_meet():
    a, b = consumer_slice(), provider_slice()
    assert only(a["connections"], "vpce-0aaa")["seen_from"] == ["consumer"]
    assert only(b["connections"], "vpce-0aaa")["seen_from"] == ["provider"]
    merged = merging.merge([a, b], ["a", "b"]).doc
    conn = only(merged["connections"], "vpce-0aaa")
    assert conn["seen_from"] == ["consumer", "provider"]
    assert conn["resolved_by"] == "crawled endpoint service"
    assert conn["use_case"] == "internal-cross-account" and conn["provider_account_id"] == PROVIDER
    assert snapshot.validate(merged) is merged


def test_same_inputs_in_any_order_give_the_same_bytes_and_hashes_are_sorted():
    a, b = consumer_slice(), provider_slice(when="2025-01-02T00:00:00Z")
    one = merging.merge([a, b]).doc
    two = merging.merge([b, a]).doc
    assert snapshot.dumps(one) == snapshot.dumps(two)
    assert one["scope"]["merged_from"] == sorted([snapshot.sha256(a), snapshot.sha256(b)])


def test_scope_and_generated_at():
    a = consumer_slice(when="2025-01-01T10:00:00Z", role="Role", regions=("us-east-1",))
    b = provider_slice(when="2025-01-01T11:30:00Z", role="Other", regions=("eu-west-1",))
    merged = merging.merge([a, b]).doc
    assert merged["generated_at"] == "2025-01-01T11:30:00Z"
    assert merged["scope"]["mode"] == "merged"
    assert merged["scope"]["accounts"] == [CONSUMER, PROVIDER]
    assert merged["scope"]["regions"] == ["eu-west-1", "us-east-1"]
    assert merged["scope"]["caller_account_id"] == MGMT  # every input agrees
    assert "role_name" not in merged["scope"]  # they do not


def test_identical_inputs_count_once():
    a, b = consumer_slice(), provider_slice()
    result = merging.merge([a, copy.deepcopy(a), b], ["a", "a-again", "b"])
    assert result.inputs == 2 and result.duplicates == ["a-again"]
    assert snapshot.dumps(result.doc) == snapshot.dumps(merging.merge([a, b]).doc)


def test_merging_one_snapshot_changes_only_its_scope():
    whole = doc([account(CONSUMER), account(PROVIDER)], [cov(CONSUMER), cov(PROVIDER)],
                {"endpoints": [endpoint(CONSUMER, "vpce-0aaa")], "service_details": [detail(CONSUMER)],
                 "endpoint_services": [service()], "endpoint_connections": [connection("vpce-0aaa")]}, mode="org")
    merged = merging.merge([whole]).doc
    assert without(merged, "scope") == without(whole, "scope")
    assert merged["scope"]["merged_from"] == [snapshot.sha256(whole)]


def test_merging_a_merge_is_merging_its_parts():
    c = doc([account(MGMT)], [cov(MGMT)], {"endpoints": [endpoint(MGMT, "vpce-0mmm")]},
            when="2025-01-03T00:00:00Z")
    a, b = consumer_slice(), provider_slice(when="2025-01-02T00:00:00Z")
    stepwise = merging.merge([merging.merge([a, b]).doc, c]).doc
    at_once = merging.merge([a, b, c]).doc
    assert without(stepwise, "scope") == without(at_once, "scope")
    assert without(stepwise["scope"], "merged_from") == without(at_once["scope"], "merged_from")


def test_different_organizations_are_refused_in_one_line():
    a = consumer_slice()
    b = provider_slice(org=organization(org_id="o-other12345"))
    with pytest.raises(InputError) as exc:
        merging.merge([a, b], ["slice-a.json", "slice-b.json"])
    message = str(exc.value)
    assert "\n" not in message
    assert "slice-a.json" in message and "slice-b.json" in message and ORG in message and "o-other12345" in message


def test_a_snapshot_without_organization_goes_with_any():
    a = consumer_slice(org=None)
    b = provider_slice()
    merged = merging.merge([a, b]).doc
    assert merged["organization"]["id"] == ORG
    assert merging.merge([a, provider_slice(org=None)]).doc["organization"] is None


def test_an_ok_unit_wins_over_a_failed_one_whatever_their_age():
    seen = consumer_slice(when="2025-01-01T00:00:00Z")
    failed = doc([account(CONSUMER)], [cov(CONSUMER, "error")], when="2025-01-05T00:00:00Z")
    result = merging.merge([failed, seen], ["failed.json", "seen.json"])
    assert [c["status"] for c in result.doc["coverage"]] == ["ok"]
    assert [e["endpoint_id"] for e in result.doc["endpoints"]] == ["vpce-0aaa"]
    assert result.conflicts == [((CONSUMER, "region", REGION), "seen.json")]
    assert merging.describe(result.conflicts[0][0]) == f"{CONSUMER}/{REGION}"


def test_between_two_ok_units_the_newest_is_taken_whole():
    old = doc([account(CONSUMER)], [cov(CONSUMER)],
              {"endpoints": [endpoint(CONSUMER, "vpce-0aaa", "pendingAcceptance"), endpoint(CONSUMER, "vpce-0gone")]},
              when="2025-01-01T00:00:00Z")
    new = doc([account(CONSUMER)], [cov(CONSUMER)],
              {"endpoints": [endpoint(CONSUMER, "vpce-0aaa"), endpoint(CONSUMER, "vpce-0new")]},
              when="2025-01-02T00:00:00Z")
    merged = merging.merge([new, old]).doc
    assert {e["endpoint_id"]: e["state"] for e in merged["endpoints"]} == {"vpce-0aaa": "available",
                                                                          "vpce-0new": "available"}


def test_a_skipped_unit_wins_over_a_failed_one():
    skipped = doc([account(CONSUMER)], [cov(CONSUMER, "skipped")], when="2025-01-01T00:00:00Z")
    failed = doc([account(CONSUMER, crawled=False)], [cov(CONSUMER, "error")], when="2025-01-02T00:00:00Z")
    merged = merging.merge([failed, skipped]).doc
    assert [c["status"] for c in merged["coverage"]] == ["skipped"]
    assert merged["accounts"][0]["crawled"] is True


def test_units_are_not_pieced_together_from_two_inputs():
    """A failed unit may hold what its successful calls found; the ok unit replaces it whole."""
    partial = doc([account(CONSUMER)], [cov(CONSUMER, "error")], {"endpoints": [endpoint(CONSUMER, "vpce-0old")]},
                  when="2025-01-09T00:00:00Z")
    full = consumer_slice(when="2025-01-01T00:00:00Z")
    merged = merging.merge([partial, full]).doc
    assert [e["endpoint_id"] for e in merged["endpoints"]] == ["vpce-0aaa"]


def test_accounts_of_the_organization_in_no_slice_are_named():
    assert merging.merge([consumer_slice(), provider_slice()]).unsliced == [MGMT]
    everyone = doc([account(MGMT)], [cov(MGMT)])
    assert merging.merge([consumer_slice(), provider_slice(), everyone]).unsliced == []
    assert merging.merge([consumer_slice(org=None)]).unsliced == []


def test_marketplace_units_carry_the_agreements():
    agreement = {"account_id": CONSUMER, "agreement_id": "agmt-1", "product_id": "prod-1", "product_type": "SaaSProduct",
                 "status": "ACTIVE"}
    seen = doc([account(CONSUMER)], [cov(CONSUMER, kind="marketplace")], {"marketplace_agreements": [agreement]})
    failed = doc([account(CONSUMER)], [cov(CONSUMER, "error", kind="marketplace")], when="2025-02-01T00:00:00Z")
    merged = merging.merge([seen, failed]).doc
    assert merged["marketplace_agreements"] == [agreement]
    assert [c["status"] for c in merged["coverage"]] == ["ok"]


def test_accounts_are_unioned():
    ous = [{"id": "ou-abcd-11111111", "name": "workloads", "parent_id": "r-abcd"}]
    mentioned = doc([account(CONSUMER, crawled=False, name="app"), account(PROVIDER, in_organization=False)],
                    [cov(PROVIDER)], when="2025-01-05T00:00:00Z", org=None)
    crawled = doc([account(CONSUMER, ou_id="ou-abcd-11111111", ou_path=["workloads"])], [cov(CONSUMER)],
                  org=organization(CONSUMER, PROVIDER, MGMT, ous=ous))
    merged = merging.merge([mentioned, crawled]).doc
    by_id = {a["account_id"]: a for a in merged["accounts"]}
    assert by_id[CONSUMER] == {"account_id": CONSUMER, "name": "app", "in_organization": True, "crawled": True,
                               "ou_id": "ou-abcd-11111111", "ou_path": ["workloads"]}
    assert by_id[PROVIDER]["crawled"] is True
    assert by_id[PROVIDER]["in_organization"] is True  # the other input's organization lists it
    assert merged["organization"]["account_ids"] == [MGMT, CONSUMER, PROVIDER]
    assert merged["organization"]["organizational_units"] == ous
    assert merged["organization"]["root_id"] == "r-abcd"


def test_the_newest_view_of_an_ou_wins():
    old = [{"id": "ou-abcd-11111111", "name": "workloads", "parent_id": "r-abcd"}]
    new = [{"id": "ou-abcd-11111111", "name": "workloads-renamed", "parent_id": "r-abcd"},
           {"id": "ou-abcd-22222222", "name": "platform", "parent_id": "r-abcd"}]
    a = consumer_slice(org=organization(ous=old), when="2025-01-01T00:00:00Z")
    b = provider_slice(org=organization(ous=new), when="2025-01-02T00:00:00Z")
    assert merging.merge([a, b]).doc["organization"]["organizational_units"] == new


def test_analysis_options_apply_to_the_merge():
    outside = doc([account(PROVIDER)], [cov(PROVIDER)],
                  {"endpoint_services": [service()], "endpoint_connections": [connection("vpce-0xxx", owner=OUTSIDE)]})
    a = consumer_slice()
    rules = lambda d: {f["rule_id"] for f in d["findings"]}  # noqa: E731
    assert "external-consumer-connected" in rules(merging.merge([a, outside]).doc)
    trusted = merging.merge([a, outside], trusted_accounts=frozenset({OUTSIDE})).doc
    assert "external-consumer-connected" not in rules(trusted)
    assert trusted["analysis"]["trusted_accounts"] == [OUTSIDE]


# -- the command line --------------------------------------------------------------------------

def _save(d: dict, folder: Path) -> Path:
    return snapshot.save(d, folder)


def test_merge_command(tmp_path):
    a = _save(consumer_slice(), tmp_path / "a")
    b = _save(provider_slice(), tmp_path / "b")
    result = invoke(["merge", str(a), str(tmp_path / "b"), "--out", str(tmp_path / "all")])
    assert result.returncode == 0, result.stderr
    out = tmp_path / "all" / "snapshot.json"
    assert result.stdout.strip() == str(out)
    merged = snapshot.load(out)
    assert merged["scope"]["mode"] == "merged"
    assert only(merged["connections"], "vpce-0aaa")["seen_from"] == ["consumer", "provider"]
    assert "merge: 2 snapshots combined" in result.stderr
    assert (f"merge: 1 accounts of the organization are in none of the snapshots' scope (a missing slice? "
            f"suspended accounts are never crawled): {MGMT}\n") in result.stderr
    assert "analyze: 1 connections (internal-cross-account 1)" in result.stderr
    again = invoke(["merge", str(b), str(a), "--out", str(tmp_path / "again")])
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "snapshot.json").read_bytes() == out.read_bytes()


def test_merge_command_takes_the_analysis_options(tmp_path):
    outside = doc([account(PROVIDER)], [cov(PROVIDER)],
                  {"endpoint_services": [service()], "endpoint_connections": [connection("vpce-0xxx", owner=OUTSIDE)]})
    a = _save(consumer_slice(), tmp_path / "a")
    b = _save(outside, tmp_path / "b")
    config = tmp_path / "archviz.toml"
    config.write_text(f'trusted_accounts = ["{OUTSIDE}"]\n')
    for opts in (["--trusted-accounts", OUTSIDE], ["--config", str(config)]):
        result = invoke(["merge", str(a), str(b), "--out", str(tmp_path / "out"), *opts])
        assert result.returncode == 0, result.stderr
        merged = snapshot.load(tmp_path / "out")
        assert merged["analysis"]["trusted_accounts"] == [OUTSIDE]
        assert "external-consumer-connected" not in {f["rule_id"] for f in merged["findings"]}


def test_merge_command_reports_units_that_differ(tmp_path):
    seen = _save(consumer_slice(), tmp_path / "seen")
    failed = _save(doc([account(CONSUMER)], [cov(CONSUMER, "error")], when="2025-01-05T00:00:00Z"), tmp_path / "failed")
    result = invoke(["merge", str(failed), str(seen), str(seen), "--out", str(tmp_path / "out")])
    assert result.returncode == 0, result.stderr
    assert f"{seen} is identical to another input; counted once" in result.stderr
    assert (f"merge: 1 units differ between the inputs that crawled them; each was taken whole from one "
            f"(ok before skipped before error, then the newest): {CONSUMER}/{REGION} from {seen}\n") in result.stderr


def test_slices_of_two_organizations_are_refused_in_one_line(tmp_path):
    a = _save(consumer_slice(), tmp_path / "a")
    b = _save(provider_slice(org=organization(org_id="o-other12345")), tmp_path / "b")
    for args in ([a, b], [b, a]):  # the message does not depend on the order of the arguments
        result = invoke(["merge", *map(str, args), "--out", str(tmp_path / "out")])
        assert result.returncode == 2
        assert result.stderr == (f"archviz: error: {a} is a snapshot of organization {ORG}, {b} of organization "
                                 f"o-other12345: merge combines slices of one organization\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case, message", [("invalid", "not JSON"), ("missing", "no such file"),
                                           ("foreign", "not an archviz snapshot")])
def test_a_bad_input_is_one_line_and_exit_3(tmp_path, case, message):
    a = _save(consumer_slice(), tmp_path / "a")
    b = tmp_path / "b.json"
    if case == "invalid":
        b.write_text("{nope")
    elif case == "foreign":
        b.write_text('{"name": "other tool"}')
    result = invoke(["merge", str(a), str(b), "--out", str(tmp_path / "out")])
    assert result.returncode == 3
    assert result.stderr.startswith(f"archviz: error: {b}: {message}") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_merge_command_usage(tmp_path):
    result = invoke(["merge", "--out", str(tmp_path)])
    assert result.returncode == 2 and "Missing argument 'SNAPSHOT...'" in result.stderr
    a = _save(consumer_slice(), tmp_path / "a")
    result = invoke(["merge", str(a)])
    assert result.returncode == 2 and "Missing option '--out'" in result.stderr


# -- end to end: shards of a sandbox organization, merged, equal the whole crawl --------------

def test_merged_shards_equal_the_whole_crawl(org, tmp_path):
    """The demo organization with OUs: platform (shared-services, the provider of payments-api),
    workloads (data-analytics) and workloads/prod (app-prod, its consumer), the management and
    security-audit accounts at the root. Crawled whole, and in three shards: --ou platform,
    --ou workloads (any depth), --accounts-from for the root's accounts."""
    from archviz.sandbox import demo

    m = demo.seed(org.url, *org.sb.credentials)
    orgs = org.client("organizations")
    root = orgs.list_roots()["Roots"][0]["Id"]
    new_ou = lambda parent, name: orgs.create_organizational_unit(  # noqa: E731
        ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
    platform = new_ou(root, "platform")
    workloads = new_ou(root, "workloads")
    prod = new_ou(workloads, "prod")
    for name, ou in (("shared-services", platform), ("data-analytics", workloads), ("app-prod", prod)):
        orgs.move_account(AccountId=m.accounts[name], SourceParentId=root, DestinationParentId=ou)

    env = org.sb.env()
    common = ["--role-name", demo.ROLE_NAME, "--regions", ",".join(demo.REGIONS)]

    def discover(name: str, *args: str) -> dict:
        result = invoke(["discover", *args, *common, "--out", str(tmp_path / name)], env=env)
        assert result.returncode == 0, result.stderr
        return snapshot.load(tmp_path / name)

    whole = discover("whole", "--org")
    listing = tmp_path / "root-accounts.txt"
    listing.write_text(f"# the accounts directly under the root\n{m.management},management\n"
                       f"{m.accounts['security-audit']},security-audit\n")
    shards = {"platform": discover("platform", "--ou", platform),
              "workloads": discover("workloads", "--ou", workloads),
              "root": discover("root", "--accounts-from", str(listing))}
    assert shards["workloads"]["scope"]["mode"] == "ou" and shards["workloads"]["scope"]["ou_ids"] == [workloads]
    assert shards["root"]["scope"]["mode"] == "accounts"
    crawled = {name: {a["account_id"] for a in d["accounts"]} for name, d in shards.items()}
    assert crawled == {"platform": {m.accounts["shared-services"]},
                       "workloads": {m.accounts["app-prod"], m.accounts["data-analytics"]},
                       "root": {m.management, m.accounts["security-audit"]}}

    paths = [str(tmp_path / name / "snapshot.json") for name in ("workloads", "root", "platform")]
    result = invoke(["merge", *paths, "--out", str(tmp_path / "merged")])
    assert result.returncode == 0, result.stderr
    merged = snapshot.load(tmp_path / "merged")

    # Everything but when and how it was crawled is what the whole crawl found.
    for key in sorted(set(whole) | set(merged)):
        if key not in ("generated_at", "scope"):
            assert merged.get(key) == whole.get(key), key
    assert merged["scope"]["accounts"] == whole["scope"]["accounts"]
    assert merged["scope"]["regions"] == whole["scope"]["regions"]
    assert merged["scope"]["mode"] == "merged"
    assert merged["scope"]["merged_from"] == sorted(snapshot.sha256(d) for d in shards.values())
    assert merged["generated_at"] == max(d["generated_at"] for d in shards.values())
    app = next(a for a in merged["accounts"] if a["account_id"] == m.accounts["app-prod"])
    assert (app["ou_id"], app["ou_path"]) == (prod, ["workloads", "prod"])

    # app-prod's endpoint to payments-api: the consumer is in one shard, the provider in
    # another; only the merge sees it from both sides, resolved by the provider's service.
    endpoint_id = m.labels["payments:app"]
    assert only(shards["workloads"]["connections"], endpoint_id)["seen_from"] == ["consumer"]
    assert only(shards["platform"]["connections"], endpoint_id)["seen_from"] == ["provider"]
    assert not [c for c in shards["root"]["connections"] if c["endpoint_id"] == endpoint_id]
    joined = only(merged["connections"], endpoint_id)
    assert joined["seen_from"] == ["consumer", "provider"]
    assert joined["resolved_by"] == "crawled endpoint service" and joined["load_balancer_arns"]
    assert joined["use_case"] == "internal-cross-account"


def test_a_date_the_calendar_does_not_have_is_one_line_and_exit_2(tmp_path):
    bad = consumer_slice()
    bad["generated_at"] = "2025-13-01T00:00:00Z"  # the schema's pattern, not a real month
    path = tmp_path / "bad.json"
    path.write_bytes(snapshot.dumps(bad))
    result = invoke(["merge", str(path), str(_save(provider_slice(), tmp_path / "b")), "--out", str(tmp_path / "o")])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"archviz: error: {path}: generated_at '2025-13-01T00:00:00Z' is not a real date")
