"""Benchmark: analyze (and render) time and peak memory on a large synthetic estate (a script, not a test).

    .venv/bin/python bench/scale.py [--endpoints 20000] [--accounts N] [--regions 3] [--render]
                                    [--drift] [--cprofile] [--tracemalloc]

Builds a snapshot shaped like the crawl of a large organization (every account with VPCs,
subnets and security groups in every region; interface and gateway endpoints to AWS services;
internal services published by a few accounts and consumed across accounts and regions, with
the providers' connection records; Marketplace endpoints with purchase agreements; third-party
services; Resource endpoints; consumers outside the organization), validates it, writes it to a
temporary file and frees it. Then, like ``archviz analyze`` and ``archviz render``, it loads the
file, analyzes, and (with ``--render``) renders into a temporary folder, printing each phase's
wall time, the RSS it starts from and its peak RSS. The peak is reset at the start of each phase
(``/proc/self/clear_refs``, Linux), so a phase's peak is its own, the loaded snapshot included
(where that cannot be reset, the process's peak so far is printed and says so). Graphviz runs
as child processes, so ``--render`` also prints the largest child's peak. ``--drift`` also times
``archviz diff`` against a changed copy (one endpoint in 50 gone, one provider connection in 40
rejected, one account-region failed: both snapshots are analysed, as diff does) and
``archviz redact`` (with the re-analysis of the redacted snapshot).

``--cprofile`` and ``--tracemalloc`` print the top entries of each measured phase (and slow it).
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import io
import os
import pstats
import random
import resource
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

from archviz import model
from archviz import snapshot as snap

REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-2"]
AWS_INTERFACE = ["execute-api", "sqs", "kms", "ssm", "ecr.api", "ecr.dkr", "logs", "sts", "secretsmanager", "monitoring"]
AWS_GATEWAY = ["s3", "dynamodb"]
FULL_ACCESS = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
NARROW = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["sqs:SendMessage"], "Resource": "*"}]}
MARKETPLACE_LISTINGS = 40  # per region
THIRD_PARTIES = 8
VPCS_PER_REGION = 2
ZONES = "abc"
# The OU tree of the synthetic organization (paths from the root) and the share of accounts in
# each: a landing zone's usual shape, most accounts in workload OUs.
OUS = [((), 1), (("core", "security"), 2), (("core", "infrastructure"), 2), (("core", "shared-services"), 3),
       (("workloads", "prod", "payments"), 14), (("workloads", "prod", "retail"), 14), (("workloads", "prod", "data"), 10),
       (("workloads", "staging"), 18), (("workloads", "dev"), 24), (("sandbox",), 10), (("suspended",), 2)]


class Estate:
    """The records of a synthetic organization, filled in by the ``add_*`` methods."""

    def __init__(self, endpoints: int, accounts: int, regions: list[str], seed: int = 7):
        self.rng = random.Random(seed)
        self.target = endpoints
        self.regions = regions
        self.accounts = [f"{200000000000 + i:012d}" for i in range(accounts)]
        self.outside = [f"{800000000000 + i:012d}" for i in range(THIRD_PARTIES)]
        self.records: dict[str, list[dict]] = {k: [] for k in snap.SORT_KEYS if k not in ("accounts", "coverage")}
        self.details: dict[tuple, dict] = {}
        self.agreements: dict[str, dict] = {}
        self.listings: dict[str, str] = {}  # agreement id -> the listing's service name
        self.services: list[dict] = []
        self.serial = 0

    def vpc_id(self, acct: str, region: str, v: int) -> str:
        return f"vpc-{acct}{self.regions.index(region)}{v}"

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial:017x}"

    # --- network ------------------------------------------------------------------------------

    def add_networks(self) -> None:
        """Two VPCs per account and region, three subnets each (one zone per subnet), two
        security groups; one VPC in ten has a public subnet, one in twenty an open group."""
        for acct in self.accounts:
            for region in self.regions:
                for v in range(VPCS_PER_REGION):
                    vpc = self.vpc_id(acct, region, v)
                    self.records["vpcs"].append({"vpc_id": vpc, "account_id": acct, "region": region,
                                                 "cidr_block": f"10.{v}.0.0/16", "is_default": False,
                                                 "name": f"{region}-vpc-{v}", "tags": {"Name": f"{region}-vpc-{v}"}})
                    public = self.rng.random() < 0.1
                    for z in ZONES:
                        sid = f"subnet-{vpc[4:]}{z}"
                        self.records["subnets"].append({
                            "subnet_id": sid, "vpc_id": vpc, "account_id": acct, "region": region,
                            "availability_zone": f"{region}{z}", "public": public and z == "c",
                            "route_table_id": f"rtb-{vpc[4:]}", "internet_gateway_id": None, "name": None, "tags": {}})
                    open_group = self.rng.random() < 0.05
                    for g in range(2):
                        cidr = "0.0.0.0/0" if open_group and g else "10.0.0.0/8"
                        self.records["security_groups"].append({
                            "group_id": f"sg-{vpc[4:]}{g}", "group_name": f"endpoints-{g}", "vpc_id": vpc,
                            "account_id": acct, "region": region,
                            "ingress": [{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidrs": [cidr]}]})

    # --- the services this organization publishes ---------------------------------------------

    def add_services(self) -> None:
        """One account in twenty publishes three services in its home region, behind an NLB
        (one in ten behind a GWLB), open to the organization and a few to '*' or a partner."""
        providers = self.accounts[:: 20] or self.accounts[:1]
        for i, acct in enumerate(providers):
            region = self.regions[i % len(self.regions)]
            for k in range(3):
                self.add_service(acct, region, gateway=(i + k) % 10 == 0, name=f"svc-{i}-{k}")

    def add_service(self, acct: str, region: str, gateway: bool, name: str) -> None:
        sid = self.next_id("vpce-svc")
        kind = "gateway" if gateway else "network"
        lb = f"arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/{kind[:3]}/{name}/{sid[-8:]}"
        principals = [f"arn:aws:organizations::{self.accounts[0]}:organization/o-scale"]
        roll = self.rng.random()
        if roll < 0.05:
            principals.append("*")
        elif roll < 0.15:
            principals.append(f"arn:aws:iam::{self.outside[0]}:root")
        healthy = self.rng.random() > 0.05
        self.services.append({
            "service_id": sid, "service_name": f"com.amazonaws.vpce.{region}.{sid}", "account_id": acct, "region": region,
            "type": "GatewayLoadBalancer" if gateway else "Interface", "state": "Available",
            "acceptance_required": self.rng.random() > 0.1, "private_dns_name": None, "load_balancer_arns": [lb],
            "supported_regions": [{"region": r, "state": "Available"} for r in self.regions],
            "allowed_principals": [{"principal": p, "principal_type": None} for p in principals],
            "availability_zones": [f"{region}{z}" for z in ZONES], "name": name, "tags": {"Name": name}})
        self.records["load_balancers"].append({
            "arn": lb, "name": name, "type": kind, "scheme": "internal", "account_id": acct, "region": region,
            "vpc_id": self.vpc_id(acct, region, 0), "availability_zones": [f"{region}{z}" for z in ZONES],
            "listeners": [{"arn": f"{lb}/listener/1", "protocol": None if gateway else "TCP",
                           "port": None if gateway else 443, "target_group_arns": [f"{lb}/tg"]}],
            "target_groups": [{"arn": f"{lb}/tg", "name": f"{name}-tg", "protocol": "TCP", "port": 443,
                               "target_type": "ip", "targets": [
                                   {"id": f"10.9.0.{t}", "port": 443, "health": "healthy" if healthy else "unhealthy"}
                                   for t in range(4)]}]})

    # --- the endpoints -----------------------------------------------------------------------

    def add_endpoints(self) -> None:
        """The endpoint mix: AWS services (interface 45%, gateway 15%), internal services 25%,
        Marketplace 7%, third parties 5%, Resource endpoints 3%; then outside consumers."""
        makers = [(0.45, self.aws_interface), (0.60, self.aws_gateway), (0.85, self.internal),
                  (0.92, self.marketplace), (0.97, self.third_party), (1.0, self.resource)]
        for _ in range(self.target):
            acct, region = self.rng.choice(self.accounts), self.rng.choice(self.regions)
            roll = self.rng.random()
            next(make for limit, make in makers if roll < limit)(acct, region)
        for _ in range(max(1, self.target // 50)):
            self.outside_consumer()
        self.records["service_details"] = list(self.details.values())
        self.records["endpoint_services"] = self.services
        self.records["marketplace_agreements"] = list(self.agreements.values())

    def endpoint(self, acct: str, region: str, kind: str, service: str | None, service_region: str | None = None,
                 state: str = "available", policy: dict | None = None, **extra) -> dict:
        eid = self.next_id("vpce")
        vpc = self.vpc_id(acct, region, self.rng.randrange(VPCS_PER_REGION))
        zones = ZONES if self.rng.random() > 0.1 else self.rng.choice(ZONES)
        interface = kind in ("Interface", "GatewayLoadBalancer", "Resource", "ServiceNetwork")
        e = {"endpoint_id": eid, "account_id": acct, "region": region, "vpc_id": vpc, "type": kind,
             "service_name": service, "service_region": service_region or region, "state": state,
             "subnet_ids": [f"subnet-{vpc[4:]}{z}" for z in zones] if interface else [],
             "route_table_ids": [] if interface else [f"rtb-{vpc[4:]}"],
             "security_group_ids": [f"sg-{vpc[4:]}{self.rng.randrange(2)}"] if kind == "Interface" else [],
             "private_dns_enabled": kind == "Interface", "policy": policy, "name": f"{acct[-4:]}-{eid[-6:]}",
             "tags": {"Name": f"{acct[-4:]}-{eid[-6:]}", "team": f"team-{self.rng.randrange(30)}"}, **extra}
        self.records["endpoints"].append(e)
        return e

    def detail(self, acct: str, region: str, service: str, owner: str | None, kind: str,
               service_region: str | None = None, service_id: str | None = None, policy: bool = True,
               visible: bool = True) -> None:
        key = (acct, region, service_region or region, service, kind)
        self.details.setdefault(key, {
            "account_id": acct, "region": region, "service_name": service, "visible": visible, "service_id": service_id,
            "owner": owner, "service_type": kind, "acceptance_required": owner not in ("amazon",),
            "availability_zones": [f"{region}{z}" for z in ZONES], "service_region": service_region or region,
            "vpc_endpoint_policy_supported": policy})

    def aws_interface(self, acct: str, region: str) -> None:
        name = f"com.amazonaws.{region}.{self.rng.choice(AWS_INTERFACE)}"
        self.endpoint(acct, region, "Interface", name, policy=FULL_ACCESS if self.rng.random() < 0.7 else NARROW)
        self.detail(acct, region, name, "amazon", "Interface")

    def aws_gateway(self, acct: str, region: str) -> None:
        name = f"com.amazonaws.{region}.{self.rng.choice(AWS_GATEWAY)}"
        self.endpoint(acct, region, "Gateway", name, policy=FULL_ACCESS)
        self.detail(acct, region, name, "amazon", "Gateway")

    def internal(self, acct: str, region: str) -> None:
        """An endpoint to one of our services: same region nine times in ten, else cross-region;
        a few pending or rejected; the provider's connection record beside it."""
        s = self.rng.choice(self.services)
        if self.rng.random() < 0.9:
            region = s["region"]
        roll = self.rng.random()
        state = "pendingAcceptance" if roll < 0.03 else "rejected" if roll < 0.05 else "available"
        kind = s["type"]
        e = self.endpoint(acct, region, kind, s["service_name"], s["region"], state,
                          policy=FULL_ACCESS if kind == "Interface" else None)
        self.detail(acct, region, s["service_name"], s["account_id"], kind, s["region"], s["service_id"],
                    policy=kind == "Interface")
        self.records["endpoint_connections"].append({
            "service_id": s["service_id"], "endpoint_id": e["endpoint_id"], "endpoint_owner": acct,
            "endpoint_region": region, "state": state, "created_at": "2025-01-01T00:00:00Z",
            "account_id": s["account_id"], "region": s["region"]})

    def marketplace(self, acct: str, region: str) -> None:
        """An account uses Marketplace in its home region: most use one listing (the heuristic
        links it), one in five uses two (only a mapping can link those)."""
        region = self.regions[int(acct) % len(self.regions)]
        pick = int(acct) % MARKETPLACE_LISTINGS
        if int(acct) % 5 == 0 and self.rng.random() < 0.5:
            pick = (pick + 1) % MARKETPLACE_LISTINGS
        name = f"com.amazonaws.vpce.{region}.vpce-svc-m{pick:016x}"
        self.endpoint(acct, region, "Interface", name, policy=FULL_ACCESS)
        self.detail(acct, region, name, "aws-marketplace", "Interface", service_id=f"vpce-svc-m{pick:016x}")
        agreement = f"agmt-{acct}{pick:03d}"
        self.agreements.setdefault(agreement, {"account_id": acct, "agreement_id": agreement,
                                               "product_id": f"prod-{pick:04d}", "product_type": "SaaSProduct",
                                               "status": "ACTIVE"})
        self.listings.setdefault(agreement, name)

    def third_party(self, acct: str, region: str) -> None:
        """A partner's service; the last partner's is no longer visible to its consumers (unresolved)."""
        owner = self.rng.choice(self.outside)
        name = f"com.amazonaws.vpce.{region}.vpce-svc-t{owner[-4:]}"
        self.endpoint(acct, region, "Interface", name, policy=FULL_ACCESS)
        visible = owner != self.outside[-1]
        self.detail(acct, region, name, owner if visible else None, "Interface", service_id=f"vpce-svc-t{owner[-4:]}",
                    visible=visible)

    def resource(self, acct: str, region: str) -> None:
        owner = self.rng.choice(self.outside + self.accounts[:5])
        arn = f"arn:aws:vpc-lattice:{region}:{owner}:resourceconfiguration/rcfg-{owner[-6:]}"
        self.endpoint(acct, region, "Resource", None, resource_configuration_arn=arn)

    def outside_consumer(self) -> None:
        s = self.rng.choice(self.services)
        self.records["endpoint_connections"].append({
            "service_id": s["service_id"], "endpoint_id": self.next_id("vpce"),
            "endpoint_owner": f"{900000000000 + self.rng.randrange(500):012d}", "endpoint_region": s["region"],
            "state": "available" if self.rng.random() < 0.9 else "rejected", "created_at": None,
            "account_id": s["account_id"], "region": s["region"]})

    # --- the snapshot -------------------------------------------------------------------------

    def coverage(self) -> list[dict]:
        """Every unit ok but one account in a hundred, whose Marketplace lookup was denied."""
        units = [{"account_id": a, "region": r, "kind": "region", "status": "ok", "error_code": None, "message": None,
                  "failed_operations": []} for a in self.accounts for r in self.regions]
        units += [{"account_id": a, "region": "us-east-1", "kind": "marketplace",
                   "status": "error" if i % 100 == 99 else "ok",
                   "error_code": "AccessDeniedException" if i % 100 == 99 else None, "message": None,
                   "failed_operations": ["aws-marketplace:SearchAgreements"] if i % 100 == 99 else []}
                  for i, a in enumerate(self.accounts)]
        return units

    def build(self) -> dict:
        self.add_networks()
        self.add_services()
        self.add_endpoints()
        org, ous = self.organization()
        accounts = [{"account_id": a, "name": f"acct-{i}", "in_organization": True, "crawled": True, **ous[a]}
                    for i, a in enumerate(self.accounts)]
        return snap.build({"accounts": self.accounts, "regions": self.regions, "mode": "org"}, org,
                          accounts, self.coverage(), self.records)

    def organization(self) -> tuple[dict, dict[str, dict]]:
        """The organization with its OU tree, and each account's OU (``ou_id``, ``ou_path``):
        accounts are dealt to the OUs of :data:`OUS` in proportion, in order."""
        ids = {(): "r-scale"}
        for path, _ in OUS:
            for depth in range(1, len(path) + 1):
                ids.setdefault(path[:depth], f"ou-scale-{len(ids):04d}")
        units = [{"id": ids[p], "name": p[-1], "parent_id": ids[p[:-1]]} for p in ids if p]
        weights = [w for _, w in OUS]
        slots = [path for path, w in OUS for _ in range(w)]
        placed = {a: slots[(i * 7919) % len(slots)] for i, a in enumerate(self.accounts)} if sum(weights) else {}
        org = {"id": "o-scale", "management_account_id": self.accounts[0], "account_ids": self.accounts,
               "root_id": ids[()], "organizational_units": units}
        return org, {a: {"ou_id": ids[p], "ou_path": list(p)} for a, p in placed.items()}

    def marketplace_links(self) -> dict[str, str]:
        """A mapping for a few listings, as a config file would hold, so both link kinds occur."""
        return {self.listings[a]: a for a in list(self.agreements)[:5]}


def make_snapshot(args: argparse.Namespace, accounts: int, folder: Path) -> tuple[Path, dict[str, str]]:
    """Build, validate and save the synthetic snapshot; nothing of it stays in memory."""
    start = time.perf_counter()
    estate = Estate(args.endpoints, accounts, REGIONS[: args.regions])
    doc = snap.validate(estate.build())
    path = snap.save(doc, folder)
    counts = {k: len(doc[k]) for k in ("endpoints", "endpoint_connections", "endpoint_services", "subnets")}
    print(f"{accounts} accounts x {args.regions} regions: "
          + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items())
          + f"; {path.stat().st_size / 2**20:.0f} MB of JSON, built in {time.perf_counter() - start:.1f} s; "
          f"{os.cpu_count()} cores")
    return path, estate.marketplace_links()


# --- measuring ------------------------------------------------------------------------------------

def reset_peak() -> bool:
    """Make the peak RSS start from now (Linux 4.0+), so the build is not counted."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def mb(kib: int) -> str:
    return f"{kib / 1024:.0f} MB"


def rss_kib() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@contextmanager
def measured(phase: str, args: argparse.Namespace, children: bool = False):
    """Print a phase's wall time, the RSS it started from and its peak (and the largest child's),
    with cProfile or tracemalloc top entries when asked."""
    profiler = cProfile.Profile() if args.cprofile else None
    if args.tracemalloc:
        tracemalloc.start(10)
    gc.collect()
    before, exact = rss_kib(), reset_peak()
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    yield
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = f"{phase:<8} {wall:7.1f} s   RSS {mb(before)} at start, peak {mb(peak)}{'' if exact else ' (process peak)'}"
    if children:
        line += f", largest Graphviz child {mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)} " \
                f"(up to {os.cpu_count()} at once)"
    print(line, flush=True)
    if profiler:
        print_cprofile(profiler, args.top)
    if args.tracemalloc:
        print_tracemalloc(phase, args.top)


def print_cprofile(profiler: cProfile.Profile, top: int) -> None:
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
        print(out.getvalue())


def print_tracemalloc(phase: str, top: int) -> None:
    """The phase's traced peak, and what it still holds at its end (its result, mostly)."""
    snapshot, (_, peak) = tracemalloc.take_snapshot(), tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  tracemalloc peak {peak / 2**20:.0f} MB; largest live allocations at the end of {phase}:")
    for stat in snapshot.statistics("lineno")[:top]:
        print(f"    {stat}")


def changed_copy(doc: dict) -> dict:
    """The estate a while later: one endpoint in 50 deleted, one provider connection in 40
    rejected, and the crawl of one account-region (the first with endpoints) failed."""
    new = copy.deepcopy(doc)
    new["endpoints"] = [e for i, e in enumerate(new["endpoints"]) if i % 50]
    for i, c in enumerate(new["endpoint_connections"]):
        if i % 40 == 0:
            c["state"] = "rejected"
    account, region = new["endpoints"][0]["account_id"], new["endpoints"][0]["region"]
    for kind in ("endpoints", "service_details", "endpoint_services", "endpoint_connections", "load_balancers",
                 "subnets"):
        new[kind] = [r for r in new[kind] if (r["account_id"], r["region"]) != (account, region)]
    for c in new["coverage"]:
        if (c["account_id"], c["region"]) == (account, region):
            c.update(status="error", error_code="AccessDenied", message="bench")
    return new


def drift(doc: dict, analysis: dict, links: dict[str, str], args: argparse.Namespace) -> None:
    from archviz import diff, redact
    from archviz.render.drift import headline

    new = changed_copy(doc)
    with measured("diff", args):
        result = diff.compare(doc, new, marketplace_links=links)
    print(f"         {headline(result)}")
    with measured("redact", args):
        redacted = redact.redact(dict(doc, **analysis))  # an analysed snapshot: analysed again, redacted
    print(f"         {len(redacted['endpoints'])} endpoints, {len(redacted['accounts'])} accounts redacted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=20000)
    parser.add_argument("--accounts", type=int, help="default: one per 200 endpoints, at least 4")
    parser.add_argument("--regions", type=int, default=3, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--render", action="store_true", help="also render into a temporary folder")
    parser.add_argument("--drift", action="store_true", help="also time diff against a changed copy, and redact")
    parser.add_argument("--cprofile", action="store_true", help="print cProfile's top entries per phase")
    parser.add_argument("--tracemalloc", action="store_true", help="print tracemalloc's top entries per phase")
    parser.add_argument("--top", type=int, default=15, help="how many profile entries to print")
    args = parser.parse_args()
    accounts = args.accounts or max(4, args.endpoints // 200)

    with tempfile.TemporaryDirectory(prefix="archviz-scale-") as tmp:
        path, links = make_snapshot(args, accounts, Path(tmp))
        gc.collect()

        with measured("load", args):
            doc = snap.load(path)
        with measured("analyze", args):
            result = model.analyze(doc, marketplace_links=links)
        print(f"         {len(result['connections'])} connections, {len(result['findings'])} findings")
        if args.drift:
            drift(doc, result, links, args)
        if args.render:
            from archviz.render import render  # only here: diagrams and Graphviz are heavy imports

            doc.update(result)
            del result
            with measured("render", args, children=True):
                site = render(doc, Path(tmp) / "site")
            print(f"         {len(site.files)} files, largest diagram {max(site.nodes.values(), default=0)} nodes")


if __name__ == "__main__":
    main()
