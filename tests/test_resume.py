"""A recorded crawl killed with SIGKILL at different moments resumes with ``--resume``: the units
it finished are not asked again (the sandbox counts every request), the rest are, and the
snapshot's connections and findings equal an uninterrupted crawl's; the resumed raw folder
replays and packs into evidence that verifies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from moto.core import DEFAULT_ACCOUNT_ID as MANAGEMENT

from archviz.discovery.raw.journal import Journal, progress_of
from archviz.sandbox import demo
from archviz.sandbox.state import STATE
from tests.conftest import invoke, run_cli

ARGS = ["discover", "--org", "--role-name", demo.ROLE_NAME, "--regions", ",".join(demo.REGIONS)]
UNIT_SERVICES = {"region": ("ec2", "elasticloadbalancing"), "marketplace": ("aws-marketplace",)}

# Run the command line in a child that kills itself (SIGKILL, nothing cleaned up) at a chosen
# moment: as the nth file of the progress is renamed into place (its bytes in a temporary,
# written but not yet complete), or as the finished raw folder is put in place. Otherwise it is
# killed from outside (the test's own SIGKILL).
CHILD = """
import os, signal, sys
import archviz.discovery.raw.journal as journal
import archviz.discovery.raw.record as record
moment, n = sys.argv[1], int(sys.argv[2])
seen = [0]
class Os:
    def __init__(self, at):
        self.at = at
    def __getattr__(self, name):
        return getattr(os, name)
    def replace(self, a, b):
        seen[0] += 1
        if moment == self.at and (moment == "folder-write" or seen[0] == n):
            os.kill(os.getpid(), signal.SIGKILL)
        return os.replace(a, b)
journal.os = Os("unit-write")
record.os = Os("folder-write")
from archviz.cli import cli
cli(sys.argv[3:], prog_name="archviz")
"""


def child(moment: str, n: int, args: list[str], env: dict) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | env
    return subprocess.Popen([sys.executable, "-c", CHILD, moment, str(n), *args], env=full,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def units_done(raw: Path) -> dict[tuple, dict]:
    """The units a killed crawl's progress holds, by key (an entry lists its account's units)."""
    return Journal(progress_of(raw)).read()[1] if (progress_of(raw) / "crawl.json").exists() else {}


def entry_served(key: tuple, done: dict[tuple, dict]) -> bool:
    """An account's entry is taken from the progress only when every unit of the account finished."""
    return key in done and all(u in done for u in done[key]["units"])


def kill_when(proc: subprocess.Popen, raw: Path, units: int, timeout: float = 60) -> None:
    """SIGKILL ``proc`` once ``units`` units are in its progress folder."""
    folder = progress_of(raw) / "units"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if folder.is_dir() and len([p for p in folder.iterdir() if p.suffix == ".json"]) >= units:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(timeout=timeout)


def cost_by_unit() -> Counter:
    """Requests per unit of the crawl, from the sandbox's counters (caller account, region, service)."""
    cost: Counter = Counter()
    for (account, region, service), n in STATE.by_account.items():
        for kind, services in UNIT_SERVICES.items():
            if service in services:
                cost[(kind, account, region)] += n
    return cost


@pytest.fixture
def uninterrupted(sandbox, tmp_path):
    """The demo organization, seeded, crawled once without interruption: its snapshot and what
    each unit cost."""
    demo.seed(sandbox.endpoint_url, *sandbox.credentials)
    STATE.calls.clear()
    STATE.by_account.clear()
    result = invoke(ARGS + ["--out", str(tmp_path / "whole"), "--raw", str(tmp_path / "whole-raw")], env=sandbox.env())
    assert result.returncode == 0, result.stderr
    assert not progress_of(tmp_path / "whole-raw").exists()  # a finished crawl leaves no progress behind
    cost = cost_by_unit()
    STATE.calls.clear()
    STATE.by_account.clear()
    return json.loads((tmp_path / "whole" / "snapshot.json").read_text()), cost


def same_estate(a: dict, b: dict) -> None:
    assert a["connections"] == b["connections"] and a["findings"] == b["findings"]
    for kind in ("endpoints", "endpoint_services", "endpoint_connections", "load_balancers"):
        assert a[kind] == b[kind]
    status = lambda doc: sorted((c["account_id"], c["region"], c["kind"], c["status"]) for c in doc["coverage"])  # noqa: E731
    assert status(a) == status(b)


# Where the crawl is killed: (how, n). "outside": by the test once n units are in the progress;
# "unit-write": as the nth file of the progress is renamed (the header, then units: the last one
# half done, its bytes in a temporary never renamed); "folder-write": every unit finished, as the
# raw folder is put in place.
KILLS = [("outside", 2), ("outside", 9), ("unit-write", 7), ("folder-write", 0)]


def test_a_killed_crawl_resumes_to_the_same_estate_asking_only_what_was_unfinished(uninterrupted, sandbox, tmp_path):
    whole, cost = uninterrupted
    for moment, n in KILLS:  # one seeded estate for all: a crawl changes nothing in it
        kill_and_resume(moment, n, whole, cost, sandbox.env(), tmp_path / f"{moment}-{n}")


def kill_and_resume(moment: str, n: int, whole: dict, cost: Counter, env: dict, folder: Path) -> None:
    raw, out = folder / "raw", folder / "out"
    args = ARGS + ["--out", str(out), "--raw", str(raw)]
    STATE.latency = 0.03  # a crawl that lasts long enough to be killed midway
    proc = child(moment, n, args, env)
    if moment == "outside":
        kill_when(proc, raw, n)
    else:
        proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, (moment, n, proc.stderr.read())
    STATE.latency = 0
    STATE.settle()  # what the killed crawl had sent is counted before the counters are cleared
    done = units_done(raw)
    assert done and not (out / "snapshot.json").exists(), (moment, n)
    if moment == "unit-write":
        leftovers = [p.name for p in (progress_of(raw) / "units").iterdir() if p.suffix == ".tmp"]
        assert leftovers and len(done) == n - 2, (moment, n, leftovers, len(done))
    STATE.calls.clear()
    STATE.by_account.clear()

    result = invoke(args + ["--resume"], env=env)
    assert result.returncode == 0, (moment, n, result.stderr)
    served = [k for k in done if k[0] != "entry" or entry_served(k, done)]
    assert f"resuming: {len(served)} finished units taken from" in result.stderr, (moment, n)
    resumed = json.loads((out / "snapshot.json").read_text())
    same_estate(resumed, whole)
    crawled = [c for c in resumed["coverage"] if c["kind"] in UNIT_SERVICES and c["failed_operations"] != ["sts:AssumeRole"]]
    assert crawled and all("seen_at" in c for c in crawled)  # when each was seen: in the first run or the second
    assert not progress_of(raw).exists()

    # Only the unfinished units were asked again, each as often as in an uninterrupted crawl.
    sent = cost_by_unit()
    for unit, n_requests in cost.items():
        assert sent[unit] == (0 if unit in done else n_requests), (moment, n, unit)
    entered_again = {a["account_id"] for a in whole["accounts"] if a["account_id"] != MANAGEMENT
                     and not entry_served(("entry", a["account_id"]), done)}
    assert sum(v for (action, _), v in STATE.calls.items() if action == "AssumeRole") == len(entered_again)
    assert STATE.calls[("GetCallerIdentity", "us-east-1")] == 1
    organization = sum(v for (action, _), v in STATE.calls.items() if action.startswith(("List", "DescribeOrg")))
    assert (organization == 0) == (("scope",) in done and ("tree",) in done), (moment, n)

    # The resumed raw folder replays to the same bytes, and packs into evidence that verifies.
    replay = invoke(["discover", "--replay", str(raw), "--out", str(folder / "replay")])
    assert replay.returncode == 0, replay.stderr
    assert (folder / "replay" / "snapshot.json").read_bytes() == (out / "snapshot.json").read_bytes()
    pack = folder / "pack.zip"
    packed = invoke(["evidence", "--snapshot", str(out / "snapshot.json"), "--raw", str(raw), "--out", str(pack)])
    assert packed.returncode == 0, packed.stderr
    verified = run_cli(["verify", str(pack)])
    assert verified.returncode == 0, verified.stderr


def test_resume_needs_an_interrupted_crawl_the_same_request_and_one_run_at_a_time(sandbox, tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    nothing = invoke(ARGS + ["--out", str(out), "--raw", str(raw), "--resume"], env=sandbox.env())
    assert nothing.returncode == 2 and "--resume: no interrupted crawl to resume for --raw" in nothing.stderr
    no_raw = invoke(ARGS + ["--out", str(out), "--resume"], env=sandbox.env())
    assert no_raw.returncode == 2 and "--resume continues a crawl recorded with --raw DIR" in no_raw.stderr
    STATE.latency = 0.2  # the caller's own account, slowly: long enough to be caught in the act
    proc = child("outside", 0, ["discover", "--out", str(out), "--raw", str(raw)], sandbox.env())
    try:
        deadline = time.monotonic() + 60
        while not (progress_of(raw) / "crawl.json").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        second = invoke(["discover", "--out", str(tmp_path / "other"), "--raw", str(raw)], env=sandbox.env())
        assert second.returncode == 1 and "another archviz run is writing to" in second.stderr, second.stderr
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    STATE.latency = 0
    STATE.settle()
    other = invoke(["discover", "--regions", "eu-west-1", "--out", str(out), "--raw", str(raw), "--resume"],
                   env=sandbox.env())
    assert other.returncode == 2 and "is the progress of another crawl" in other.stderr
    assert "the caller's account in eu-west-1" in other.stderr and not (out / "snapshot.json").exists()


def test_a_unit_file_that_is_not_whole_counts_as_unfinished_and_temporaries_are_ignored(tmp_path):
    journal = Journal(progress_of(tmp_path / "raw"))
    journal.start({"started_at": "2026-12-03T00:00:00Z", "home_region": "us-east-1", "caller": None, "request": {}})
    journal.add(("scope",), None, [])
    journal.add(("entry", "111111111111"), [("region", "111111111111", "us-east-1")], [])
    journal.add(("region", "111111111111", "us-east-1"), None, [])
    units = sorted((journal.path / "units").iterdir())
    units[-1].write_bytes(units[-1].read_bytes()[:20])  # as a crash of the machine could leave it
    (journal.path / "units" / ".000004.json.archviz-x.tmp").write_text("{")
    _, done = journal.read()
    assert set(done) == {("scope",), ("entry", "111111111111")}
    assert done[("entry", "111111111111")]["units"] == [("region", "111111111111", "us-east-1")]
