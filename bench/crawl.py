"""Benchmark: archviz's crawl of a large organization against a plain sequential script (a script, not a test).

    .venv/bin/python bench/crawl.py [--accounts 100] [--regions 3] [--latency-ms 200] [--throttle 0.3]
                                    [--estate sparse|dense|landing] [--runs default,sequential,raw,raw-memory,baseline]
                                    [--repeat N] [--py-spy FILE]

Seeds a synthetic organization into the sandbox (moto behind archviz's PrivateLink layer, over
real HTTP): ``--accounts`` members in OUs plus the management account; consumer VPCs with
interface endpoints to AWS services and to endpoint services of three provider accounts
(NLB-backed, consumed across accounts and, through cross-region PrivateLink, across regions); a
Marketplace listing with purchase agreements; a third party outside the organization. Which
members consume is the ``--estate``: ``sparse`` (about one in three, most account-regions
empty), ``dense`` (every member, in two regions of three) or ``landing`` (one in ten, as a
landing zone of mostly empty accounts). Then, in one run, at ``--latency-ms`` per request, it
times:

- ``default``: ``archviz discover --org`` with its default settings, in a process of its own;
- ``sequential``: the same with ``--concurrency 1``;
- ``raw``: the same with ``--raw`` (every answer recorded);
- ``raw-memory``: ``raw`` with the snapshot and the raw folder written in ``/dev/shm`` (memory),
  so that the cost of recording is told apart from the disk's cost of creating files;
- ``baseline``: ``bench/baseline.py``, a plain sequential boto3 script that lists less;
- with ``--throttle F``: the default crawl again, with a share F of the PrivateLink calls
  (EC2, ELB) and of ``AssumeRole`` answered with throttling errors;
- with ``--py-spy FILE``: the default crawl once more under ``py-spy record --gil``, and a
  summary of where its GIL-holding samples went.

The sandbox runs in a child process, so the crawler's CPU (the ``archviz discover`` process:
start-up, crawl, analysis and writing) and the sandbox's (the child) are measured apart. For
each run it prints wall time, requests (in total, and per empty and non-empty account-region),
client CPU (in all and per request), sandbox CPU, the crawler's peak RSS, coverage gaps, what it
found, and the speed-up over the baseline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1"]
ROLE = "OrganizationAccountAccessRole"
OUS = {"shared": 3, "workloads/prod": 0.4, "workloads/dev": 0.3, "sandbox": 1.0}  # count, or share of the rest
# Which members consume (the three providers aside): one in ``every`` by account id, in the home
# region (one in four of those in a second region too); ``dense``: every member, in two regions of three.
ESTATES = {
    "sparse": {"every": 3, "about": "about one member in three consumes, most account-regions are empty"},
    "dense": {"every": 1, "about": "every member consumes in two regions of three: two thirds of the "
                                   "account-regions hold endpoints"},
    "landing": {"every": 10, "about": "one member in ten consumes (a landing zone: most accounts hold nothing)"},
}


# --- the sandbox, in a child process ------------------------------------------------------------

def _seed(url: str, creds: tuple[str, str], accounts: int, regions: list[str], estate: str) -> dict:
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
                      supported_regions=sorted(set(regions) if estate == "dense" else {home, other}), region=home)
        busy.add((account, home))
    s.nlb_service(s.account(demo.ACME), "third", "third-party-ingest", "10.90.0.0/16", acceptance=False, principals=["*"])
    s.nlb_service(s.account(demo.SELLER), "market", "marketplace-listing", "10.91.0.0/16", acceptance=False,
                  principals=["*"])
    STATE.marketplace_services.add(s.m.services["market"])
    rest = members[OUS["shared"]:]
    consumers = [a for a in rest if int(a) % ESTATES[estate]["every"] == 0]
    for n, account in enumerate(consumers):
        acct = s.account(account)
        if estate == "dense":  # two regions of three: home, and one of the others in turn
            where = [home] + ([regions[1 + n % (len(regions) - 1)]] if len(regions) > 1 else [])
        else:
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


def _serve(conn, accounts: int, regions: list[str], estate: str) -> None:
    """The child: a sandbox, seeded, answering the parent's commands on ``conn``.

    The double is made cheap to run, as it is not what is measured: moto loads no default
    machine images into each account-region (archviz never asks for images; a thousand accounts
    in three regions would hold 12 GB of them), and once every account-region is built
    ("freeze"), its objects are left out of the garbage collector's rounds."""
    import gc

    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    from archviz.sandbox.state import STATE
    from archviz.sandbox.server import Sandbox

    with Sandbox() as sb:
        sb.reset()
        seeded = _seed(sb.endpoint_url, sb.credentials, accounts, regions, estate)
        conn.send((sb.env(), seeded))
        while True:
            command, *args = conn.recv()
            if command == "stop":
                return
            if command == "freeze":
                gc.collect()
                gc.freeze()
                conn.send(True)
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


MEMORY = Path("/dev/shm")  # a memory file system (Linux)


def file_cost(folder: Path, n: int = 1000) -> float:
    """CPU seconds (user and system) to create one empty file in ``folder``: a raw folder is a
    file per account, region and operation, and on some disks each new file costs the kernel
    about a millisecond."""
    with tempfile.TemporaryDirectory(prefix="archviz-bench-", dir=folder) as tmp:
        before = os.times()
        for i in range(n):
            Path(tmp, f"{i}.json").touch()
        after = os.times()
    return (after.user - before.user + after.system - before.system) / n


def median_run(runs: list[dict]) -> dict:
    """The run of median client CPU among repeats of one run (its other figures with it), and the
    spread of client CPU and wall time over the repeats."""
    ordered = sorted(runs, key=lambda r: r["cpu"])
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["spread"] = (min(r["cpu"] for r in runs), max(r["cpu"] for r in runs),
                        min(r["wall"] for r in runs), max(r["wall"] for r in runs), len(runs))
    middle["medians"] = (statistics.median(r["cpu"] for r in runs), statistics.median(r["wall"] for r in runs))
    return middle


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
    # archviz runs in its own process (its CPU and peak come from wait4); the baseline in this one
    found.setdefault("cpu", cpu)
    found.setdefault("peak", _peak_mb())
    return {"name": name, "wall": wall, "sandbox_cpu": sandbox_cpu1 - sandbox_cpu0,
            "requests": sum(by_account.values()), "throttled": throttled,
            "per_empty": sum(empty) / max(len(empty), 1), "per_busy": sum(busy) / max(len(busy), 1), **found}


def archviz_run(regions: list[str], concurrency: int | None, raw: bool = False, profile: Path | None = None,
                work: Path | None = None):
    """``archviz discover --org`` in a process of its own, as a user runs it: its CPU (start-up,
    imports, crawl, analysis, writing snapshot.json) and peak memory are that process's alone.
    ``profile``: under ``py-spy record --gil`` (the GIL-holding samples, in py-spy's raw format).
    ``work``: the folder its snapshot (and raw folder) are written in (default: the system's
    temporary folder)."""
    def run() -> dict:
        with tempfile.TemporaryDirectory(prefix="archviz-bench-", dir=work) as tmp:
            cmd = [sys.executable, "-m", "archviz", "discover", "--org", "--role-name", ROLE,
                   "--regions", ",".join(regions), "--out", f"{tmp}/out"]
            if concurrency:
                cmd += ["--concurrency", str(concurrency)]
            if raw:
                cmd += ["--raw", f"{tmp}/raw"]
            if profile is not None:
                py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
                cmd = [py_spy, "record", "--gil", "--rate", "200", "--format", "raw", "--output", str(profile), "--"] + cmd
            with open(f"{tmp}/stderr", "wb") as err:
                proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"archviz discover failed: {Path(tmp, 'stderr').read_text()[-2000:]}")
            doc = json.loads(Path(tmp, "out", "snapshot.json").read_text())
        return {"gaps": sum(1 for c in doc["coverage"] if c["status"] != "ok"),
                "endpoints": {e["endpoint_id"]: e["service_name"] for e in doc["endpoints"]},
                "provider_connections": {(c["service_id"], c["endpoint_id"]) for c in doc["endpoint_connections"]},
                "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024}
    return run


def baseline_run(regions: list[str]):
    import baseline

    def run() -> dict:
        found = baseline.crawl(ROLE, regions)
        return {"gaps": None, "endpoints": found["endpoints"], "provider_connections": found["connections"]}
    return run


# What a GIL-holding sample was doing: the first of these found on its stack (innermost first).
PROFILE_CATEGORIES = [
    ("imports (start-up)", ("_find_and_load",)),
    ("closing connection pools (weakref finalizers)", ("_close_pool_connections", "finalize.__call__")),
    ("botocore session creation", ("Session.__init__ (botocore/session.py", "Session._register_components")),
    ("client creation", ("ClientCreator.create_client", "Session.create_client")),
    ("credentials (AssumeRole, refresh)", ("AssumeRoleCredentialFetcher", "RefreshableCredentials")),
    ("signing", ("SigV4Auth.add_auth", "RequestSigner.sign")),
    ("serializing requests", ("Serializer.serialize_to_request",)),
    ("parsing responses", ("ResponseParser.parse",)),
    ("HTTP (urllib3, http.client, ssl)", ("URLLib3Session.send",)),
    ("botocore request handling (events, retries, endpoint rules)", ("BaseClient._make_api_call",)),
    ("raw recording", ("Recorder.",)),
    ("snapshot, analysis, writing", ("archviz/snapshot.py", "archviz/model/", "archviz/files.py")),
    ("thread pools", ("thread.py", "threading.py")),
]


# py-spy's --gil keeps a sample when a thread holds the GIL, and takes the thread that last held
# it for the holder: while every thread waits on the network, the main thread, waiting for the
# crawl's futures, is sampled in its own frame. Those samples are not CPU.
WAITING = ("crawl (archviz/discovery/crawl.py", "_fan_out (archviz/discovery/crawl.py",
           "_scope (archviz/discovery/crawl.py", "discover (archviz/pipeline.py")
IDLE = "the main thread waiting for the crawl (not CPU: py-spy's last GIL holder)"


def summarize_profile(path: Path, top: int = 10) -> None:
    """Where the GIL-holding samples of a py-spy raw profile went, by category (the first of
    :data:`PROFILE_CATEGORIES` on the sample's stack), and the functions most often running."""
    total, categories, leaves = 0, Counter(), Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")[::-1]  # innermost first
        category = "other" if stack else "no Python frame (the interpreter itself)"
        if frames and frames[0].startswith(WAITING):
            categories[IDLE] += n  # the main thread's wait: not CPU (see WAITING)
            continue
        for name, marks in PROFILE_CATEGORIES:
            if any(m in f for f in frames for m in marks):
                category = name
                break
        categories[category] += n
        leaf = frames[0].split(" (")
        leaves[leaf[0] + (" (" + leaf[1].split(":")[0].rsplit("/", 1)[-1] + ")" if len(leaf) > 1 else "")] += n
    busy = total - categories[IDLE]
    print(f"py-spy record --gil: {total} samples, {busy} of them with a thread running Python; share of those:")
    for name, n in categories.most_common():
        if name != IDLE:
            print(f"  {100 * n / busy:5.1f} %  {name}")
    print(f"  (and {categories[IDLE]} samples of {IDLE})")
    print("  most often running (self), of the samples with a thread running Python:")
    for frame, n in leaves.most_common(top):
        print(f"  {100 * n / busy:5.1f} %  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100, help="member accounts (plus the management account)")
    parser.add_argument("--regions", type=int, default=3, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--throttle", type=float, default=0.0, help="share of calls throttled in an extra run")
    parser.add_argument("--estate", choices=ESTATES, default="sparse",
                        help="; ".join(f"{k}: {v['about']}" for k, v in ESTATES.items()))
    parser.add_argument("--runs", default="default,sequential,baseline",
                        help="comma-separated: default, sequential, raw (the default run with --raw), raw-memory (--raw "
                             "writing in /dev/shm), baseline")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="each run (the baseline aside) N times, interleaved; the table shows the repeat of "
                             "median client CPU and the spread over all of them")
    parser.add_argument("--py-spy", dest="py_spy", type=Path, metavar="FILE",
                        help="one more default run under py-spy record --gil (pip install py-spy): raw samples to "
                             "FILE, and a summary printed")
    args = parser.parse_args()
    regions = REGIONS[: args.regions]
    if "raw-memory" in args.runs.split(",") and not MEMORY.is_dir():
        sys.exit(f"--runs raw-memory writes in {MEMORY}, which this machine does not have")
    latency = args.latency_ms / 1000

    ctx = mp.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    child = ctx.Process(target=_serve, args=(child_conn, args.accounts, regions, args.estate), daemon=True)
    seed_start = time.perf_counter()
    child.start()
    while not conn.poll(1):
        if not child.is_alive():
            sys.exit("the sandbox failed while seeding (its error is above)")
    env, seeded = conn.recv()
    os.environ.update(env)
    for key in ("AWS_PROFILE",):
        os.environ.pop(key, None)
    print(f"creating a file costs {1000 * file_cost(Path(tempfile.gettempdir())):.2f} ms of CPU in "
          f"{tempfile.gettempdir()}" + (f", {1000 * file_cost(MEMORY):.2f} ms in {MEMORY}" if MEMORY.is_dir() else "")
          + " (1,000 empty files, measured in this process)")
    print(f"seeded {seeded['accounts']} accounts x {len(regions)} regions ({len(seeded['busy'])} non-empty "
          f"account-regions, {seeded['endpoints']} endpoints; {args.estate}) "
          f"in {time.perf_counter() - seed_start:.0f} s; "
          f"{args.latency_ms:.0f} ms per request; {os.cpu_count()} cores, Python {platform.python_version()}")

    runs = {"default": lambda: archviz_run(regions, None), "sequential": lambda: archviz_run(regions, 1),
            "raw": lambda: archviz_run(regions, None, raw=True),
            "raw-memory": lambda: archviz_run(regions, None, raw=True, work=MEMORY),
            "baseline": lambda: baseline_run(regions)}
    # moto builds each account-region's backend (default VPC, subnets...) on its first request:
    # one unmeasured crawl first, so no measured run pays for that.
    measure("warm-up", runs["default"](), conn, seeded, 0.0)
    conn.send(("freeze",))
    conn.recv()
    names = args.runs.split(",")
    measured: dict[str, list[dict]] = {name: [] for name in names}
    # Interleaved, so that the machine's drift falls on every run alike; the baseline (which runs in
    # this process) once, after every archviz run: a process started after this one has grown
    # would report this process's peak as its own (Linux counts the peak before exec in the child's).
    for i in range(args.repeat):
        for name in names:
            if name != "baseline":
                measured[name].append(measure(name, runs[name](), conn, seeded, latency))
    throttled = None
    if args.throttle:
        throttled = measure(f"default, {args.throttle:.0%} throttled", runs["default"](), conn, seeded, latency,
                            args.throttle)
    if args.py_spy:
        measure("profiled", archviz_run(regions, None, profile=args.py_spy), conn, seeded, latency)
        summarize_profile(args.py_spy)
    if "baseline" in names:
        measured["baseline"].append(measure("baseline", runs["baseline"](), conn, seeded, latency))
    results = [median_run(measured[name]) for name in names] + ([throttled] if throttled else [])
    conn.send(("stop",))
    child.join(10)

    baseline = next((r for r in results if r["name"] == "baseline"), None)
    base = baseline["wall"] if baseline else None
    fields = ["wall s", "requests", "per empty", "per non-empty", "client CPU s", "client CPU ms/request",
              "sandbox CPU s", "peak MB",
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
              f"{r['per_busy']:.1f} | {r['cpu']:.1f} | {1000 * r['cpu'] / max(r['requests'], 1):.1f} | "
              f"{r['sandbox_cpu']:.1f} | {r['peak']:.0f} | {gaps} | "
              f"{len(r['endpoints'])} | {len(r['provider_connections'])} | {same} | {speed} |")
    if args.repeat > 1:
        print(f"over {args.repeat} interleaved repeats (the baseline once): client CPU s and wall s, lowest to highest")
        for r in (r for r in results if "spread" in r):
            lo, hi, wlo, whi, n = r["spread"]
            print(f"  {r['name']}: client CPU {lo:.1f} to {hi:.1f} s, wall {wlo:.1f} to {whi:.1f} s ({n} runs)")
        default = next((r for r in results if r["name"] == "default"), None)
        for r in results:
            if default and r is not default and "medians" in r and r["name"] != "baseline":
                (cpu, wall), (cpu0, wall0) = r["medians"], default["medians"]
                print(f"  {r['name']} against default (medians of the repeats): client CPU {cpu / cpu0 - 1:+.0%}, "
                      f"wall {wall / wall0 - 1:+.0%}")
    default = next((r for r in results if r["name"] == "default"), None)
    throttled = next((r for r in results if "throttled" in r["name"]), None)
    if default and throttled:
        print(f"throttled / unthrottled wall time: {throttled['wall'] / default['wall']:.1f}x")


if __name__ == "__main__":
    main()
