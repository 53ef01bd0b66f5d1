"""Benchmark: archviz's crawl of a large organization against a plain sequential script (a script, not a test).

    .venv/bin/python bench/crawl.py [--accounts 100] [--regions 3] [--latency-ms 200] [--throttle 0.3]
                                    [--runs default,sequential,baseline]

Seeds a synthetic organization into the sandbox (moto behind archviz's PrivateLink layer, over
real HTTP): ``--accounts`` members in OUs plus the management account; most account-regions
empty; consumer VPCs with interface endpoints to AWS services and to endpoint services of three
provider accounts (NLB-backed, consumed across accounts and, through cross-region PrivateLink,
across regions); a Marketplace listing with purchase agreements; a third party outside the
organization. Then, in one run, at ``--latency-ms`` per request, it times:

- ``default``: ``archviz discover --org`` with its default settings;
- ``sequential``: the same with ``--concurrency 1``;
- ``baseline``: ``bench/baseline.py``, a plain sequential boto3 script that lists less;
- with ``--throttle F``: the default crawl again, with a share F of the PrivateLink calls
  (EC2, ELB) and of ``AssumeRole`` answered with throttling errors.

The sandbox runs in a child process, so the crawler's CPU (this process) and the sandbox's (the
child) are measured apart. For each run it prints wall time, requests (in total, and per empty
and non-empty account-region), client CPU, sandbox CPU, the crawler's peak RSS, coverage gaps,
what it found, and the speed-up over the baseline.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1"]
ROLE = "OrganizationAccountAccessRole"
OUS = {"shared": 3, "workloads/prod": 0.4, "workloads/dev": 0.3, "sandbox": 1.0}  # count, or share of the rest


# --- the sandbox, in a child process ------------------------------------------------------------

def _seed(url: str, creds: tuple[str, str], accounts: int, regions: list[str]) -> dict:
    """The synthetic organization; returns the non-empty (account, region) pairs and the counts."""
    import boto3

    from archviz.sandbox import demo
    from archviz.sandbox.state import STATE

    from moto.moto_api._internal import mock_random

    mock_random.seed(demo.RANDOM_SEED)  # the same ids on every run
    s = demo._Seeder(url, *creds)
    org = boto3.client("organizations", region_name=regions[0], endpoint_url=url,
                       aws_access_key_id=creds[0], aws_secret_access_key=creds[1])
    s.m.management = org.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"]
    root = org.list_roots()["Roots"][0]["Id"]
    ou_ids: dict[str, str] = {}
    for path in OUS:
        parent = root
        for depth, name in enumerate(path.split("/")):
            key = "/".join(path.split("/")[: depth + 1])
            if key not in ou_ids:
                ou_ids[key] = org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
            parent = ou_ids[key]
    members = [org.create_account(Email=f"m{i}@example.com", AccountName=f"member-{i:03d}")["CreateAccountStatus"]["AccountId"]
               for i in range(accounts)]
    s.m.accounts.update({f"member-{i:03d}": account for i, account in enumerate(members)})
    placed, rest = {}, members[OUS["shared"]:]
    for i, account in enumerate(members[: OUS["shared"]]):
        placed[account] = "shared"
    start = 0
    for path, share in list(OUS.items())[1:]:
        n = len(rest) - start if share == 1.0 else int(len(rest) * share)
        for account in rest[start: start + n]:
            placed[account] = path
        start += n
    for account, path in placed.items():
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou_ids[path])

    busy: set[tuple[str, str]] = set()
    home, other = regions[0], regions[1 % len(regions)]
    providers = members[: OUS["shared"]]
    for i, account in enumerate(providers):
        acct = s.account(account)
        s.nlb_service(acct, f"svc{i}", f"service-{i}", f"10.{100 + i}.0.0/16", acceptance=False, principals=["*"],
                      supported_regions=sorted({home, other}), region=home)
        busy.add((account, home))
    s.nlb_service(s.account(demo.ACME), "third", "third-party-ingest", "10.90.0.0/16", acceptance=False, principals=["*"])
    s.nlb_service(s.account(demo.SELLER), "market", "marketplace-listing", "10.91.0.0/16", acceptance=False,
                  principals=["*"])
    STATE.marketplace_services.add(s.m.services["market"])
    consumers = [a for a in members[OUS["shared"]:] if int(a) % 3 == 0]  # about one account in three
    for n, account in enumerate(consumers):
        acct = s.account(account)
        where = [home] + ([other] if n % 4 == 0 and other != home else [])
        for region in where:
            vpc, subnets, _ = s.vpc(acct, region, "10.1.0.0/16", f"app-{region}", [("a", "10.1.1.0/24", False)])
            for service in ("sqs", "kms"):
                s.endpoint(acct, f"{account}-{region}-{service}", region, vpc, f"com.amazonaws.{region}.{service}",
                           service, subnets=subnets)
            label = f"svc{n % len(providers)}"
            s.endpoint(acct, f"{account}-{region}-{label}", region, vpc, label, f"uses-{label}", subnets=subnets,
                       service_region=home if region != home else None)
            if n % 5 == 0 and region == home:
                s.endpoint(acct, f"{account}-{region}-third", region, vpc, "third", "third-party", subnets=subnets)
            if n % 7 == 0 and region == home:
                s.endpoint(acct, f"{account}-{region}-market", region, vpc, "market", "marketplace", subnets=subnets)
                STATE.agreements[account] = [demo._agreement(account, demo.SELLER, f"agmt-{account}", "prod-bench",
                                                             "SaaSProduct")]
            busy.add((account, region))
    return {"busy": busy, "accounts": accounts + 1, "endpoints": sum(len(v) for v in s.m.endpoints.values())}


def _serve(conn, accounts: int, regions: list[str]) -> None:
    """The child: a sandbox, seeded, answering the parent's commands on ``conn``."""
    from archviz.sandbox.state import STATE
    from archviz.sandbox.server import Sandbox

    with Sandbox() as sb:
        sb.reset()
        seeded = _seed(sb.endpoint_url, sb.credentials, accounts, regions)
        conn.send((sb.env(), seeded))
        while True:
            command, *args = conn.recv()
            if command == "stop":
                return
            if command == "set":  # latency, throttle
                STATE.latency, STATE.throttle = args
                STATE.calls.clear()
                STATE.by_account.clear()
                STATE.throttled.clear()
                conn.send(time.process_time())
            elif command == "stats":
                conn.send((time.process_time(), dict(STATE.by_account), sum(STATE.throttled.values())))


# --- measuring -----------------------------------------------------------------------------------

def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := current RSS
    except OSError:
        pass


def _peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, run, conn, seeded: dict, latency: float, throttle: float = 0.0) -> dict:
    conn.send(("set", latency, throttle))
    sandbox_cpu0 = conn.recv()
    _reset_peak()
    cpu0, start = time.process_time(), time.perf_counter()
    found = run()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    conn.send(("stats",))
    sandbox_cpu1, by_account, throttled = conn.recv()
    units = Counter()
    for (account, region, service), n in by_account.items():
        if service in ("ec2", "elasticloadbalancing") and region:
            units[(account, region)] += n
    busy = [n for unit, n in units.items() if unit in seeded["busy"]]
    empty = [n for unit, n in units.items() if unit not in seeded["busy"]]
    return {"name": name, "wall": wall, "cpu": cpu, "sandbox_cpu": sandbox_cpu1 - sandbox_cpu0, "peak": _peak_mb(),
            "requests": sum(by_account.values()), "throttled": throttled,
            "per_empty": sum(empty) / max(len(empty), 1), "per_busy": sum(busy) / max(len(busy), 1), **found}


def archviz_run(regions: list[str], concurrency: int | None):
    from archviz import model, snapshot
    from archviz.discovery.crawl import CrawlRequest, crawl

    def run() -> dict:
        result = crawl(CrawlRequest(org=True, role_name=ROLE, regions=regions, concurrency=concurrency))
        doc = model.apply(snapshot.build(result.scope, result.organization, result.accounts, result.coverage,
                                         result.records))
        return {"gaps": sum(1 for c in doc["coverage"] if c["status"] != "ok"),
                "endpoints": {e["endpoint_id"]: e["service_name"] for e in doc["endpoints"]},
                "provider_connections": {(c["service_id"], c["endpoint_id"]) for c in doc["endpoint_connections"]}}
    return run


def baseline_run(regions: list[str]):
    import baseline

    def run() -> dict:
        found = baseline.crawl(ROLE, regions)
        return {"gaps": None, "endpoints": found["endpoints"], "provider_connections": found["connections"]}
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100, help="member accounts (plus the management account)")
    parser.add_argument("--regions", type=int, default=3, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--throttle", type=float, default=0.0, help="share of calls throttled in an extra run")
    parser.add_argument("--runs", default="default,sequential,baseline")
    parser.add_argument("--profile", action="store_true",
                        help="print where the default run's client CPU goes (needs: pip install yappi)")
    args = parser.parse_args()
    regions = REGIONS[: args.regions]
    latency = args.latency_ms / 1000

    ctx = mp.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    child = ctx.Process(target=_serve, args=(child_conn, args.accounts, regions), daemon=True)
    seed_start = time.perf_counter()
    child.start()
    env, seeded = conn.recv()
    os.environ.update(env)
    for key in ("AWS_PROFILE",):
        os.environ.pop(key, None)
    print(f"seeded {seeded['accounts']} accounts x {len(regions)} regions ({len(seeded['busy'])} non-empty "
          f"account-regions, {seeded['endpoints']} endpoints) in {time.perf_counter() - seed_start:.0f} s; "
          f"{args.latency_ms:.0f} ms per request; {os.cpu_count()} cores, Python {platform.python_version()}")

    runs = {"default": lambda: archviz_run(regions, None), "sequential": lambda: archviz_run(regions, 1),
            "baseline": lambda: baseline_run(regions)}
    # moto builds each account-region's backend (default VPC, subnets...) on its first request:
    # one unmeasured crawl first, so no measured run pays for that.
    measure("warm-up", runs["default"](), conn, seeded, 0.0)
    results = [measure(name, runs[name](), conn, seeded, latency) for name in args.runs.split(",")]
    if args.profile:
        import yappi  # every thread's CPU (cProfile sees only the main thread's)

        yappi.set_clock_type("cpu")
        yappi.start()
        measure("profiled", runs["default"](), conn, seeded, latency)
        yappi.stop()
        yappi.get_func_stats().sort("ttot").print_all(columns={0: ("name", 90), 1: ("ncall", 8), 3: ("ttot", 8)})
    if args.throttle:
        results.append(measure(f"default, {args.throttle:.0%} throttled", runs["default"](), conn, seeded, latency,
                               args.throttle))
    conn.send(("stop",))
    child.join(10)

    baseline = next((r for r in results if r["name"] == "baseline"), None)
    base = baseline["wall"] if baseline else None
    fields = ["wall s", "requests", "per empty", "per non-empty", "client CPU s", "sandbox CPU s", "peak MB",
              "gaps", "endpoints", "provider conns", "same as baseline", "speed-up"]
    print("| run | " + " | ".join(fields) + " |")
    print("|---|" + "---:|" * len(fields))
    for r in results:
        speed = f"{base / r['wall']:.1f}x" if base else "-"
        gaps = "-" if r["gaps"] is None else r["gaps"]
        throttled = f" ({r['throttled']} throttled)" if r["throttled"] else ""
        # the same endpoints (with their services) and the same provider connections, id for id
        same = "-" if not baseline else "yes" if (r["endpoints"], r["provider_connections"]) == (
            baseline["endpoints"], baseline["provider_connections"]) else "NO"
        print(f"| {r['name']} | {r['wall']:.1f} | {r['requests']}{throttled} | {r['per_empty']:.1f} | "
              f"{r['per_busy']:.1f} | {r['cpu']:.1f} | {r['sandbox_cpu']:.1f} | {r['peak']:.0f} | {gaps} | "
              f"{len(r['endpoints'])} | {len(r['provider_connections'])} | {same} | {speed} |")
    default = next((r for r in results if r["name"] == "default"), None)
    throttled = next((r for r in results if "throttled" in r["name"]), None)
    if default and throttled:
        print(f"throttled / unthrottled wall time: {throttled['wall'] / default['wall']:.1f}x")


if __name__ == "__main__":
    main()
