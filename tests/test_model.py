"""The connectivity model: every use case, and every rule once firing and once silent."""

from __future__ import annotations

import pytest

from archviz import snapshot as snap
from archviz.model import CATALOG, analyze
from archviz.model.estate import Estate

ME, MEMBER, OUTSIDE, PARTNER = "111111111111", "222222222222", "333333333333", "444444444444"
R, EU = "us-east-1", "eu-west-1"
SVC_NAME = "com.amazonaws.vpce.us-east-1.vpce-svc-0000000000000001"
FULL = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


def endpoint(eid, account=MEMBER, service=SVC_NAME, kind="Interface", state="available", subnets=("subnet-a", "subnet-b"),
             region=R, service_region=None, policy=None, groups=(), **extra):
    return {"endpoint_id": eid, "account_id": account, "region": region, "vpc_id": "vpc-1", "type": kind,
            "service_name": service, "service_region": service_region or region, "state": state,
            "subnet_ids": list(subnets) if kind == "Interface" else [], "route_table_ids": [],
            "security_group_ids": list(groups), "private_dns_enabled": False, "policy": policy,
            "name": None, "tags": {}, **extra}


def detail(service=SVC_NAME, owner=ME, account=MEMBER, region=R, service_region=None, kind="Interface",
           zones=("us-east-1a", "us-east-1b"), policy_supported=True, visible=True):
    return {"account_id": account, "region": region, "service_name": service, "visible": visible,
            "service_id": "vpce-svc-0000000000000001", "owner": owner, "service_type": kind,
            "acceptance_required": True, "availability_zones": list(zones), "service_region": service_region or region,
            "vpc_endpoint_policy_supported": policy_supported}


def service(sid="vpce-svc-0000000000000001", name=SVC_NAME, account=ME, region=R, principals=(), acceptance=True,
            lbs=("arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/a/1",), kind="Interface"):
    return {"service_id": sid, "service_name": name, "account_id": account, "region": region, "type": kind,
            "state": "available", "acceptance_required": acceptance, "private_dns_name": None,
            "load_balancer_arns": list(lbs), "supported_regions": [],
            "allowed_principals": [{"principal": p, "principal_type": None} for p in principals],
            "availability_zones": ["us-east-1a", "us-east-1b"], "name": "svc", "tags": {}}


def connection(eid, owner, state="available", sid="vpce-svc-0000000000000001", endpoint_region=R):
    return {"service_id": sid, "endpoint_id": eid, "endpoint_owner": owner, "endpoint_region": endpoint_region,
            "state": state, "created_at": None, "account_id": ME, "region": R}


def subnet(sid, az, public=False):
    return {"subnet_id": sid, "vpc_id": "vpc-1", "account_id": MEMBER, "region": R, "availability_zone": az,
            "public": public}


def load_balancer(health, arn="arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/a/1"):
    return {"arn": arn, "name": "a", "type": "network", "scheme": "internal", "account_id": ME, "region": R,
            "vpc_id": "vpc-9", "availability_zones": [], "listeners": [],
            "target_groups": [{"arn": "tg", "name": "tg", "targets": [{"id": f"10.0.0.{i}", "port": 443, "health": h}
                                                        for i, h in enumerate(health)]}]}


def doc(coverage=(), **records):
    records.setdefault("subnets", [subnet("subnet-a", "us-east-1a"), subnet("subnet-b", "us-east-1b")])
    d = snap.build({"accounts": [ME, MEMBER], "regions": [R, EU]},
                   {"id": "o-1", "management_account_id": ME, "account_ids": [ME, MEMBER]},
                   [{"account_id": a, "name": None, "in_organization": True, "crawled": True} for a in (ME, MEMBER)],
                   list(coverage), records)
    return snap.validate(d)


def connections_of(d, **kw):
    result = analyze(d, **kw)
    snap.validate(dict(d, **result))
    return {c["endpoint_id"]: c for c in result["connections"]}


def findings_of(d, rule_id, **kw):
    return [f for f in analyze(d, **kw)["findings"] if f["rule_id"] == rule_id]


# --- use cases ---------------------------------------------------------------------------------

def test_aws_service():
    s3 = "com.amazonaws.us-east-1.s3"
    c = connections_of(doc(endpoints=[endpoint("vpce-1", service=s3, kind="Gateway")],
                           service_details=[detail(s3, "amazon", kind="Gateway")]))["vpce-1"]
    assert (c["use_case"], c["provider_owner"], c["provider_account_id"]) == ("aws-service", "amazon", None)


def test_internal_cross_account_merges_both_sides_into_one_connection():
    d = doc(endpoints=[endpoint("vpce-1")], service_details=[detail()], endpoint_services=[service()],
            endpoint_connections=[connection("vpce-1", MEMBER)])
    cs = connections_of(d)
    assert list(cs) == ["vpce-1"]
    c = cs["vpce-1"]
    assert (c["use_case"], c["provider_account_id"], c["service_id"]) == ("internal-cross-account", ME, "vpce-svc-0000000000000001")
    assert c["seen_from"] == ["consumer", "provider"] and c["resolved_by"] == "crawled endpoint service"
    assert c["load_balancer_arns"] == service()["load_balancer_arns"]
    assert "endpoint_connections/vpce-svc-0000000000000001/vpce-1" in c["evidence"]


def test_internal_same_account():
    c = connections_of(doc(endpoints=[endpoint("vpce-1", account=ME)], endpoint_services=[service()]))["vpce-1"]
    assert c["use_case"] == "internal-same-account"


def test_provider_in_the_organization_but_not_crawled_is_internal():
    org_only = "555555555555"
    d = doc(endpoints=[endpoint("vpce-1")], service_details=[detail(owner=org_only)])
    d["organization"]["account_ids"].append(org_only)
    assert connections_of(d)["vpce-1"]["use_case"] == "internal-cross-account"


def test_third_party():
    c = connections_of(doc(endpoints=[endpoint("vpce-1")], service_details=[detail(owner=OUTSIDE)]))["vpce-1"]
    assert (c["use_case"], c["provider_account_id"], c["resolved_by"]) == ("third-party", OUTSIDE, "consumer's service details")


def test_marketplace_links_the_only_agreement_by_heuristic():
    agreement = {"account_id": MEMBER, "agreement_id": "agmt-1", "product_id": "prod-1", "product_type": "SaaSProduct", "status": "ACTIVE"}
    d = doc(endpoints=[endpoint("vpce-1")], service_details=[detail(owner="aws-marketplace")], marketplace_agreements=[agreement])
    c = connections_of(d)["vpce-1"]
    assert (c["use_case"], c["provider_account_id"]) == ("marketplace", None)
    assert c["marketplace"]["agreement_id"] == "agmt-1" and c["marketplace"]["link"].startswith("heuristic")


def test_marketplace_mapping_wins_and_ambiguity_links_nothing():
    agreements = [{"account_id": MEMBER, "agreement_id": f"agmt-{i}", "product_id": f"prod-{i}", "product_type": "SaaSProduct",
                   "status": "ACTIVE"} for i in (1, 2)]
    d = doc(endpoints=[endpoint("vpce-1")], service_details=[detail(owner="aws-marketplace")], marketplace_agreements=agreements)
    assert connections_of(d)["vpce-1"]["marketplace"] == {"agreement_id": None, "product_id": None, "link": None}
    mapped = connections_of(d, marketplace_links={SVC_NAME: "agmt-2"})["vpce-1"]["marketplace"]
    assert mapped == {"agreement_id": "agmt-2", "product_id": "prod-2", "link": "mapping"}


def test_external_consumer_seen_from_the_provider_only():
    c = connections_of(doc(endpoint_services=[service()], endpoint_connections=[connection("vpce-9", OUTSIDE)]))["vpce-9"]
    assert (c["use_case"], c["consumer_account_id"], c["seen_from"]) == ("external-consumer", OUTSIDE, ["provider"])
    assert c["endpoint_type"] == "Interface" and c["consumer_vpc_id"] is None


def test_unseen_member_consumer_is_internal_not_external():
    c = connections_of(doc(endpoint_services=[service()], endpoint_connections=[connection("vpce-9", MEMBER)]))["vpce-9"]
    assert c["use_case"] == "internal-cross-account"


def test_unresolved_when_nobody_could_see_the_owner():
    c = connections_of(doc(endpoints=[endpoint("vpce-1")], service_details=[detail(visible=False, owner=None)]))["vpce-1"]
    assert (c["use_case"], c["provider_owner"]) == ("unresolved", None)


def test_cross_region_resolves_against_the_services_region():
    eu_twin = service(sid="vpce-svc-0000000000000002", region=EU)
    d = doc(endpoints=[endpoint("vpce-1", region=EU, service_region=R)], endpoint_services=[service(), eu_twin],
            endpoint_connections=[connection("vpce-1", MEMBER, endpoint_region=EU)])
    c = connections_of(d)["vpce-1"]
    assert (c["service_id"], c["cross_region"], c["consumer_region"], c["provider_region"]) == (
        "vpce-svc-0000000000000001", True, EU, R)


def test_resource_endpoints_are_connections_too():
    arn = f"arn:aws:vpc-lattice:us-east-1:{OUTSIDE}:resourceconfiguration/rcfg-1"
    e = endpoint("vpce-1", kind="Resource", service=None, resource_configuration_arn=arn)
    c = connections_of(doc(endpoints=[e]))["vpce-1"]
    assert (c["use_case"], c["service_name"], c["resolved_by"]) == ("third-party", arn, "target ARN")


# --- rules: each fires once, and stays silent once ---------------------------------------------

RULE_CASES = {
    "endpoint-service-open-to-all": (
        doc(endpoint_services=[service(principals=["*"])]),
        doc(endpoint_services=[service(principals=[f"arn:aws:iam::{MEMBER}:root"])])),
    "endpoint-service-untrusted-principal": (
        doc(endpoint_services=[service(principals=[f"arn:aws:iam::{OUTSIDE}:root"])]),
        doc(endpoint_services=[service(principals=[f"arn:aws:iam::{MEMBER}:root", f"arn:aws:iam::{PARTNER}:role/x", "*"])])),
    "endpoint-service-auto-accept": (
        doc(endpoint_services=[service(acceptance=False)]),
        doc(endpoint_services=[service(acceptance=True)])),
    "endpoint-service-no-healthy-targets": (
        doc(endpoint_services=[service()], load_balancers=[load_balancer(["unhealthy", "draining"])]),
        doc(endpoint_services=[service()], load_balancers=[load_balancer(["unhealthy", "healthy"])])),
    "external-consumer-connected": (
        doc(endpoint_services=[service()], endpoint_connections=[connection("vpce-9", OUTSIDE)]),
        doc(endpoint_services=[service()], endpoint_connections=[connection("vpce-9", OUTSIDE, "rejected"),
                                                                 connection("vpce-8", PARTNER)])),
    "endpoint-in-public-subnet": (
        doc(endpoints=[endpoint("vpce-1")], subnets=[subnet("subnet-a", "us-east-1a"), subnet("subnet-b", "us-east-1b", public=True)]),
        doc(endpoints=[endpoint("vpce-1")])),
    "endpoint-single-az": (
        doc(endpoints=[endpoint("vpce-1", subnets=["subnet-a", "subnet-c"])],
            subnets=[subnet("subnet-a", "us-east-1a"), subnet("subnet-c", "us-east-1a")]),
        doc(endpoints=[endpoint("vpce-1"), endpoint("vpce-2", kind="Gateway")])),
    "endpoint-cross-region": (
        doc(endpoints=[endpoint("vpce-1", region=EU, service_region=R)]),
        doc(endpoints=[endpoint("vpce-1")])),
    "endpoint-connection-pending": (
        doc(endpoints=[endpoint("vpce-1", state="pendingAcceptance")]),
        doc(endpoints=[endpoint("vpce-1")], endpoint_services=[service()], endpoint_connections=[connection("vpce-1", MEMBER)])),
    "endpoint-connection-rejected": (
        doc(endpoint_services=[service()], endpoint_connections=[connection("vpce-9", OUTSIDE, "rejected")]),
        doc(endpoints=[endpoint("vpce-1", state="pendingAcceptance")])),
    "endpoint-policy-full-access": (
        doc(endpoints=[endpoint("vpce-1", policy=FULL)], service_details=[detail()]),
        doc(endpoints=[endpoint("vpce-1", policy={"Statement": [dict(FULL["Statement"][0], Action="s3:GetObject")]}),
                       endpoint("vpce-2", policy=FULL, service="com.example.nopolicy"),
                       endpoint("vpce-3", policy=None)],
            service_details=[detail(), detail("com.example.nopolicy", policy_supported=False)])),
    "endpoint-sg-open-ingress": (
        doc(endpoints=[endpoint("vpce-1", groups=["sg-1"])], security_groups=[
            {"group_id": "sg-1", "account_id": MEMBER, "region": R, "ingress": [{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidrs": ["::/0"]}]}]),
        doc(endpoints=[endpoint("vpce-1", groups=["sg-1"])], security_groups=[
            {"group_id": "sg-1", "account_id": MEMBER, "region": R, "ingress": [{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidrs": ["10.0.0.0/8"]}]}])),
    "endpoint-az-mismatch": (
        doc(endpoints=[endpoint("vpce-1")], service_details=[detail(zones=["us-east-1a"])]),
        doc(endpoints=[endpoint("vpce-1")], service_details=[detail(zones=["us-east-1a", "us-east-1b", "us-east-1c"])])),
    "coverage-gap": (
        doc(coverage=[{"account_id": MEMBER, "region": R, "kind": "region", "status": "error", "error_code": "AccessDenied",
                       "message": "x", "failed_operations": ["ec2:DescribeVpcEndpoints"]}]),
        doc(coverage=[{"account_id": MEMBER, "region": "ap-east-1", "kind": "region", "status": "skipped",
                       "error_code": "RegionNotEnabled", "message": "x", "failed_operations": []}])),
}


def test_every_rule_has_a_case_and_complete_metadata():
    assert set(RULE_CASES) == set(CATALOG)
    for r in CATALOG.values():
        assert r.title and len(r.rationale) > 80 and r.remediation, r.id


@pytest.mark.parametrize("rule_id", sorted(RULE_CASES))
def test_rule_fires(rule_id):
    fires, _ = RULE_CASES[rule_id]
    found = findings_of(fires, rule_id)
    assert len(found) == 1, found
    f = found[0]
    assert f["severity"] == CATALOG[rule_id].severity and f["message"] and f["evidence"]


@pytest.mark.parametrize("rule_id", sorted(RULE_CASES))
def test_rule_stays_silent(rule_id):
    _, silent = RULE_CASES[rule_id]
    assert findings_of(silent, rule_id, trusted_accounts={PARTNER}) == []


def test_trusted_accounts_widen_inside():
    d = doc(endpoint_services=[service(principals=[f"arn:aws:iam::{OUTSIDE}:root"])],
            endpoint_connections=[connection("vpce-9", OUTSIDE)])
    assert {f["rule_id"] for f in analyze(d)["findings"]} >= {"endpoint-service-untrusted-principal", "external-consumer-connected"}
    trusted = {f["rule_id"] for f in analyze(d, trusted_accounts={OUTSIDE})["findings"]}
    assert not trusted & {"endpoint-service-untrusted-principal", "external-consumer-connected"}


def test_no_findings_from_what_the_crawl_did_not_see():
    # The service's load balancer was not crawled: no claim about its targets.
    assert findings_of(doc(endpoint_services=[service()]), "endpoint-service-no-healthy-targets") == []
    # Subnets unknown: no public-subnet claim, and two subnets are not called single-AZ.
    blind = doc(endpoints=[endpoint("vpce-1", subnets=["subnet-x", "subnet-y"])], subnets=[])
    assert findings_of(blind, "endpoint-in-public-subnet") == findings_of(blind, "endpoint-single-az") == []


def test_cross_region_states_the_fact_and_its_source():
    [f] = findings_of(RULE_CASES["endpoint-cross-region"][0], "endpoint-cross-region")
    assert EU in f["message"] and R in f["message"] and "since November 2024" in f["message"]
    rationale = CATALOG["endpoint-cross-region"].rationale
    assert "26 November 2024" in rationale and "PrivateLink guide" in rationale and "supported regions" in rationale
    assert "study notes" not in f["message"] + rationale and "impossible" not in f["message"] + rationale


def test_analysis_is_deterministic():
    d = RULE_CASES["external-consumer-connected"][0]
    assert snap.dumps(analyze(d)) == snap.dumps(analyze(d))


# --- guards for branches the rule cases above do not reach ---------------------------------------

def test_the_endpoints_type_picks_the_service_detail():
    # S3 answers as a gateway and as an interface service under one name: each endpoint must be
    # judged against the detail of its own type, whichever comes first in the snapshot.
    s3 = "com.amazonaws.us-east-1.s3"
    gateway, interface = detail(s3, "amazon", kind="Gateway", zones=()), detail(s3, "amazon", kind="Interface")
    d = doc(endpoints=[endpoint("vpce-g", service=s3, kind="Gateway"), endpoint("vpce-i", service=s3)],
            service_details=[gateway, interface])
    estate = Estate(d)
    assert estate.detail_for(estate.endpoints["vpce-g"])["service_type"] == "Gateway"
    assert estate.detail_for(estate.endpoints["vpce-i"])["service_type"] == "Interface"


def test_a_full_access_statement_with_a_condition_is_not_full_access():
    scoped = {"Statement": [dict(FULL["Statement"][0], Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}})]}
    d = doc(endpoints=[endpoint("vpce-1", policy=scoped)], service_details=[detail()])
    assert findings_of(d, "endpoint-policy-full-access") == []


@pytest.mark.parametrize("statement", ["bogus", 5, None, ["*"], [5, "x", FULL["Statement"][0]]])
def test_a_policy_of_any_shape_is_judged_without_crashing(statement):
    """Endpoint policies are whatever JSON the endpoint carried (schema-valid, any shape)."""
    d = doc(endpoints=[endpoint("vpce-1", policy={"Statement": statement})], service_details=[detail()])
    found = findings_of(d, "endpoint-policy-full-access")
    assert len(found) == (1 if isinstance(statement, list) and FULL["Statement"][0] in statement else 0)


def test_an_endpoint_without_a_service_name_is_analyzed():
    """Schema-valid: a Resource endpoint has no service name; evidence keeps an empty part."""
    bare = endpoint("vpce-1")
    bare["service_name"] = None
    d = doc(endpoints=[bare], service_details=[dict(detail(), service_name="")])
    [c] = analyze(d)["connections"]
    assert c["endpoint_id"] == "vpce-1" and c["evidence"][0] == "endpoints/vpce-1"


def test_one_subnet_in_an_unknown_zone_is_single_az():
    [f] = findings_of(doc(endpoints=[endpoint("vpce-1", subnets=["subnet-x"])], subnets=[]), "endpoint-single-az")
    assert f["message"].endswith("in one subnet only")
