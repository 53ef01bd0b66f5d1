"""The analysis stays linear in the size of the estate: counted, not timed.

A read of a record's field is the unit of work. A quadratic step (for each connection, look
through every connection) reads fields n² times, so doubling the estate would quadruple the
reads instead of doubling them; a count says so on any machine, where a timing would not."""

from __future__ import annotations

from collections import Counter

from archviz import model
from archviz import snapshot as snap
from archviz.model import connections as conns
from archviz.model.connections import HEURISTIC, link_marketplace
from archviz.model.estate import Estate

R = "us-east-1"
MANAGEMENT = "100000000000"
FULL = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


class Counted(dict):
    """A record that counts, class-wide, how often its fields are read."""

    reads = 0

    def __getitem__(self, key):
        Counted.reads += 1
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        Counted.reads += 1
        return dict.get(self, key, default)


def consumer(i: int) -> str:
    return f"{500000000000 + i:012d}"


def provider(j: int) -> str:
    return f"{600000000000 + j:012d}"


def listing(k: int) -> str:
    return f"com.amazonaws.vpce.{R}.vpce-svc-m{k:016x}"


def build(units: int) -> dict:
    """An organization of ``units`` consumer accounts, each with a gateway endpoint to S3, an
    endpoint to one of the services a provider account publishes (one per ten consumers), a
    Marketplace endpoint (two, to two listings, in every fourth account) with one agreement,
    and an outside account connected to the same service."""
    records: dict[str, list] = {k: [] for k in ("endpoints", "service_details", "endpoint_services",
                                                "endpoint_connections", "load_balancers", "subnets",
                                                "security_groups", "marketplace_agreements")}
    providers = [provider(j) for j in range((units + 9) // 10)]
    for j, owner in enumerate(providers):
        add_service(records, j, owner)
    for i in range(units):
        add_consumer(records, i)
    accounts = [MANAGEMENT, *providers, *(consumer(i) for i in range(units))]
    return snap.validate(snap.build(
        {"accounts": accounts, "regions": [R]}, {"id": "o-1", "management_account_id": MANAGEMENT, "account_ids": accounts},
        [{"account_id": a, "name": None, "in_organization": True, "crawled": True} for a in accounts], [], records))


def service_id(j: int) -> str:
    return f"vpce-svc-{j:017x}"


def add_service(records: dict, j: int, owner: str) -> None:
    lb = f"arn:aws:elasticloadbalancing:{R}:{owner}:loadbalancer/net/s{j}/1"
    records["endpoint_services"].append({
        "service_id": service_id(j), "service_name": f"com.amazonaws.vpce.{R}.{service_id(j)}", "account_id": owner,
        "region": R, "type": "Interface", "state": "Available", "acceptance_required": True, "private_dns_name": None,
        "load_balancer_arns": [lb], "supported_regions": [], "availability_zones": [f"{R}a", f"{R}b"], "name": f"s{j}",
        "allowed_principals": [{"principal": f"arn:aws:organizations::{MANAGEMENT}:organization/o-1",
                                "principal_type": None}],
        "tags": {}})
    records["load_balancers"].append({
        "arn": lb, "name": f"s{j}", "type": "network", "scheme": "internal", "account_id": owner, "region": R,
        "vpc_id": None, "availability_zones": [], "listeners": [],
        "target_groups": [{"arn": f"{lb}/tg", "name": f"s{j}",
                           "targets": [{"id": "10.0.0.1", "port": 443, "health": "healthy"}]}]})


def endpoint(eid: str, account: str, kind: str, service: str, policy=None) -> dict:
    return {"endpoint_id": eid, "account_id": account, "region": R, "vpc_id": f"vpc-{account}", "type": kind,
            "service_name": service, "service_region": R, "state": "available",
            "subnet_ids": [] if kind == "Gateway" else [f"subnet-{account}a", f"subnet-{account}b"],
            "route_table_ids": [f"rtb-{account}"] if kind == "Gateway" else [],
            "security_group_ids": [] if kind == "Gateway" else [f"sg-{account}"], "private_dns_enabled": False,
            "policy": policy, "name": None, "tags": {}}


def detail(account: str, service: str, owner: str, kind: str = "Interface", sid: str | None = None) -> dict:
    return {"account_id": account, "region": R, "service_name": service, "visible": True, "service_id": sid,
            "owner": owner, "service_type": kind, "acceptance_required": True, "service_region": R,
            "availability_zones": [f"{R}a", f"{R}b"], "vpc_endpoint_policy_supported": True}


def add_consumer(records: dict, i: int) -> None:
    acct, j = consumer(i), i // 10
    s3, svc = f"com.amazonaws.{R}.s3", f"com.amazonaws.vpce.{R}.{service_id(j)}"
    listings = [listing(i % 7)] + ([listing(i % 7 + 7)] if i % 4 == 0 else [])
    records["endpoints"] += [endpoint(f"vpce-g{i:016x}", acct, "Gateway", s3, FULL),
                             endpoint(f"vpce-i{i:016x}", acct, "Interface", svc)]
    records["endpoints"] += [endpoint(f"vpce-m{k}{i:015x}", acct, "Interface", name) for k, name in enumerate(listings)]
    records["service_details"] += [detail(acct, s3, "amazon", "Gateway"), detail(acct, svc, provider(j), sid=service_id(j))]
    records["service_details"] += [detail(acct, name, "aws-marketplace") for name in listings]
    records["endpoint_connections"] += [
        {"service_id": service_id(j), "endpoint_id": eid, "endpoint_owner": owner, "endpoint_region": R,
         "state": "available", "created_at": None, "account_id": provider(j), "region": R}
        for eid, owner in ((f"vpce-i{i:016x}", acct), (f"vpce-x{i:016x}", f"{900000000000 + i:012d}"))]
    records["marketplace_agreements"].append({"account_id": acct, "agreement_id": f"agmt-{i}", "product_id": f"prod-{i % 7}",
                                              "product_type": "SaaSProduct", "status": "ACTIVE"})
    records["subnets"] += [{"subnet_id": f"subnet-{acct}{z}", "vpc_id": f"vpc-{acct}", "account_id": acct, "region": R,
                            "availability_zone": f"{R}{z}", "public": False} for z in "ab"]
    records["security_groups"].append({"group_id": f"sg-{acct}", "account_id": acct, "region": R,
                                       "ingress": [{"protocol": "tcp", "from_port": 443, "to_port": 443,
                                                    "cidrs": ["10.0.0.0/8"]}]})


def test_a_few_thousand_endpoints_are_analyzed_right():
    units = 1000
    d = build(units)
    result = model.analyze(d)
    snap.validate(dict(d, **result))
    assert len(d["endpoints"]) == 3 * units + units // 4
    assert Counter(c["use_case"] for c in result["connections"]) == {
        "aws-service": units, "internal-cross-account": units, "marketplace": units + units // 4, "external-consumer": units}
    linked = [c for c in result["connections"] if c["use_case"] == "marketplace" and c["marketplace"]["link"]]
    assert len(linked) == units - units // 4  # every fourth account uses two listings: no heuristic link
    assert Counter(f["rule_id"] for f in result["findings"]) == {
        "endpoint-policy-full-access": units, "external-consumer-connected": units}


def reads_of_analyze(units: int, monkeypatch) -> int:
    """Field reads of one analysis, on the snapshot's records and on the connections built from them."""
    d = build(units)
    for kind in snap.SORT_KEYS:
        d[kind] = [Counted(r) for r in d[kind]]
    for name in ("_from_endpoint", "_from_provider"):
        real = getattr(conns, name)
        monkeypatch.setattr(conns, name, lambda record, estate, real=real: Counted(real(record, estate)))
    Counted.reads = 0
    model.analyze(d)
    return Counted.reads


def test_doubling_the_estate_doubles_the_work(monkeypatch):
    small, large = reads_of_analyze(200, monkeypatch), reads_of_analyze(400, monkeypatch)
    assert small > 0 and large <= 2.1 * small, (small, large)


def test_marketplace_linking_reads_each_connection_a_few_times():
    """Three kinds of account: one listing and one active agreement (the heuristic links), two
    listings (nothing links, but a mapping would), one listing and two active agreements."""
    agreements, connections = [], []
    for i in range(1500):
        acct, kind = f"{500000000000 + i:012d}", i % 3
        names = [listing(i % 5)] * 2 if kind != 1 else [listing(i % 5), listing(i % 5 + 5)]
        connections += [Counted(use_case="marketplace", consumer_account_id=acct, service_name=n, evidence=[])
                        for n in names]
        agreements += [{"account_id": acct, "agreement_id": f"agmt-{i}-{k}", "product_id": None, "product_type": None,
                        "status": "ACTIVE"} for k in range(2 if kind == 2 else 1)]
    estate = Estate(snap.build({"accounts": [], "regions": [R]}, None, [], [], {"marketplace_agreements": agreements}))
    mapped = connections[2]  # an account with two listings: only the mapping links it
    Counted.reads = 0
    link_marketplace(connections, estate, {mapped["service_name"]: "agmt-1-0"})
    assert Counted.reads <= 10 * len(connections), Counted.reads
    for c in connections:
        i = int(c["consumer_account_id"]) - 500000000000
        expected = {0: (f"agmt-{i}-0", HEURISTIC), 1: (None, None), 2: (None, None)}[i % 3]
        if c["service_name"] == mapped["service_name"]:  # the mapping wins, and only account 1 has the agreement
            expected = ("agmt-1-0", "mapping") if i == 1 else (None, None)
        assert (c["marketplace"]["agreement_id"], c["marketplace"]["link"]) == expected, c
