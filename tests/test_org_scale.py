"""Crawling at organization scale: what each account-region costs, the OU tree, throttling,
and the default width. Speed itself is measured by ``bench/crawl.py``, not asserted here."""

from __future__ import annotations

import pytest

from archviz.discovery import crawl as crawl_module
from archviz.discovery.crawl import CrawlRequest, crawl, default_concurrency
from archviz.sandbox.state import STATE

ROLE = "OrganizationAccountAccessRole"
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture
def tree(org):
    """Root -> workloads -> prod (one member with an endpoint), root -> sandbox (one empty
    member), the management account at the root, and a member directly under the root."""
    orgs = org.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    workloads = orgs.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    prod = orgs.create_organizational_unit(ParentId=workloads, Name="prod")["OrganizationalUnit"]["Id"]
    sandbox_ou = orgs.create_organizational_unit(ParentId=root, Name="sandbox")["OrganizationalUnit"]["Id"]
    ids = {}
    for name, parent in (("app", prod), ("scratch", sandbox_ou), ("loose", None)):
        ids[name] = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
        if parent:
            orgs.move_account(AccountId=ids[name], SourceParentId=root, DestinationParentId=parent)
    ec2 = org.client("ec2", ids["app"])
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.sqs", VpcEndpointType="Interface",
                            SubnetIds=[subnet])
    STATE.calls.clear()
    STATE.by_account.clear()
    return {"root": root, "workloads": workloads, "prod": prod, "sandbox": sandbox_ou, **ids}


def run(**kw):
    return crawl(CrawlRequest(**{"role_name": ROLE, "regions": REGIONS, "org": True, **kw}))


def test_accounts_carry_their_ou_path(tree):
    result = run()
    where = {a["account_id"]: (a["ou_id"], a["ou_path"]) for a in result.accounts}
    assert where[tree["app"]] == (tree["prod"], ["workloads", "prod"])
    assert where[tree["scratch"]] == (tree["sandbox"], ["sandbox"])
    assert where[tree["loose"]] == (tree["root"], [])
    org = result.organization
    assert org["root_id"] == tree["root"]
    assert {(u["name"], u["parent_id"]) for u in org["organizational_units"]} == {
        ("workloads", tree["root"]), ("prod", tree["workloads"]), ("sandbox", tree["root"])}
    [entry] = [c for c in result.coverage if c["kind"] == "organization"]
    assert entry["status"] == "ok"


def test_an_unreadable_ou_tree_is_recorded_and_the_crawl_goes_on(tree):
    STATE.add_fault("ListRoots", "AccessDeniedException", "not allowed", status=400)
    result = run()
    [entry] = [c for c in result.coverage if c["kind"] == "organization"]
    assert (entry["status"], entry["error_code"]) == ("error", "AccessDeniedException")
    assert "organizations:ListRoots" in entry["failed_operations"]
    assert all(c["status"] == "ok" for c in result.coverage if c["kind"] != "organization")
    assert all(a["ou_id"] is None and a["ou_path"] is None for a in result.accounts)
    assert result.organization["organizational_units"] == [] and result.organization["root_id"] is None


def test_ou_crawls_the_accounts_under_it_at_any_depth(tree):
    result = run(org=False, ou_ids=[tree["workloads"]])
    assert result.scope["mode"] == "ou" and result.scope["ou_ids"] == [tree["workloads"]]
    assert [a["account_id"] for a in result.accounts] == [tree["app"]]
    assert {e["account_id"] for e in result.records["endpoints"]} == {tree["app"]}
    # the organization is still known whole, so in/out-of-organization stays right
    assert tree["scratch"] in result.organization["account_ids"]


def test_an_empty_account_region_costs_two_requests(tree):
    """No endpoints and no services: DescribeVpcEndpoints and
    DescribeVpcEndpointServiceConfigurations, nothing else; regions listed with --regions cost
    no DescribeRegions; ListAccounts is paged through once."""
    run()
    for account in (tree["scratch"], tree["loose"]):
        for region in REGIONS:
            assert STATE.by_account[(account, region, "ec2")] == 2, (account, region)
    assert not [k for k in STATE.calls if k[0] == "DescribeRegions"]
    assert sum(n for (action, _), n in STATE.calls.items() if action == "ListAccounts") == 1


def test_throttling_costs_time_not_coverage(tree):
    """A third of the PrivateLink calls and of AssumeRole throttled: every unit still completes,
    with the same records as without throttling."""
    calm = run()
    STATE.throttle = 0.3
    stormy = run()
    assert sum(STATE.throttled.values()) > 5
    assert STATE.throttled["AssumeRole"] > 0 or STATE.throttled["DescribeVpcEndpoints"] > 0
    assert all(c["status"] == "ok" for c in stormy.coverage)
    assert stormy.records == calm.records


def test_units_of_one_account_region_stay_within_their_width(tree, org, monkeypatch):
    """At most UNIT_WIDTH requests of one account-region (to one service) are in flight at once,
    even in a unit with many independent calls (five published services, each with its own NLB)."""
    import threading

    from archviz.discovery import aws

    org_client = org.client
    in_flight, peak, lock = {}, {}, threading.Lock()
    real = aws.AccountSession.client

    def client(self, service, region):
        c = real(self, service, region)
        key = (self.account_id, region, service)  # AWS's rate limits: per account, region and service

        def start(**_):
            with lock:
                in_flight[key] = in_flight.get(key, 0) + 1
                peak[key] = max(peak.get(key, 0), in_flight[key])

        def end(**_):
            with lock:
                in_flight[key] -= 1

        c.meta.events.register("before-send", start, unique_id="tests-width-start")
        c.meta.events.register("needs-retry", end, unique_id="tests-width-end")
        return c

    monkeypatch.setattr(aws.AccountSession, "client", client)
    _publish(org_client, services=5)
    run()
    assert peak and max(peak.values()) <= aws.UNIT_WIDTH
    assert max(peak.values()) >= 3  # independent calls of a unit did run at once


def _publish(org_client, services: int) -> None:
    """The management account publishes ``services`` endpoint services, each behind its own NLB
    with a listener and a target group: a unit with many independent calls."""
    ec2, elb = org_client("ec2"), org_client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    for i in range(services):
        lb = elb.create_load_balancer(Name=f"nlb-{i}", Subnets=[subnet], Type="network", Scheme="internal")
        arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(Name=f"tg-{i}", Protocol="TCP", Port=443, VpcId=vpc,
                                     TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elb.create_listener(LoadBalancerArn=arn, Protocol="TCP", Port=443,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[arn], AcceptanceRequired=False)


def test_default_width_follows_the_work():
    assert default_concurrency(1) == 1
    assert default_concurrency(12) == 12
    assert default_concurrency(303) == crawl_module.MAX_CONCURRENCY == 64


def test_a_throttled_call_waits_at_most_max_backoff(tree, monkeypatch):
    """botocore would wait up to 20 s before a sixth attempt; archviz's clients wait at most
    MAX_BACKOFF, and still retry until the call succeeds."""
    import types

    import botocore.endpoint

    from archviz.discovery import aws

    waits = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=waits.append, time=__import__("time").time))
    STATE.add_fault("DescribeVpcEndpoints", "RequestLimitExceeded", status=503, times=6, account=tree["app"])
    result = run(org=False, accounts=[tree["app"]], regions=["us-east-1"])
    assert [c["status"] for c in result.coverage if c["kind"] == "region"] == ["ok"]
    assert len(waits) >= 6 and max(waits) <= aws.MAX_BACKOFF


def test_a_denied_ou_tree_does_not_fail_strict(tree, sandbox, tmp_path):
    from tests.conftest import invoke

    STATE.add_fault("ListRoots", "AccessDeniedException", "not allowed", status=400)
    result = invoke(["discover", "--org", "--role-name", ROLE, "--regions", "us-east-1", "--strict",
                     "--out", str(tmp_path)], env=sandbox.env())
    assert result.returncode == 0, result.stderr
    assert "not covered: 1 failed" in result.stderr and "AccessDeniedException" in result.stderr


def test_the_callers_own_crawl_does_not_walk_the_tree(tree):
    result = run(org=False, regions=["us-east-1"])
    assert [a["account_id"] for a in result.accounts] == [result.scope["caller_account_id"]]
    assert not [k for k in STATE.calls if k[0] in ("ListRoots", "ListOrganizationalUnitsForParent")]
    assert not [c for c in result.coverage if c["kind"] == "organization"]


def test_a_cycle_in_the_ou_tree_is_walked_once():
    """A parent named again below itself (a broken or hostile answer) does not loop forever."""
    from archviz.discovery import organizations

    class Client:
        calls = 0

        def get_paginator(self, operation):
            client = self

            class Pages:
                def paginate(self, ParentId=None):
                    client.calls += 1
                    if operation == "list_roots":
                        return [{"Roots": [{"Id": "r-1"}]}]
                    if operation == "list_organizational_units_for_parent":
                        child = {"r-1": "ou-a", "ou-a": "ou-b", "ou-b": "ou-a"}[ParentId]
                        return [{"OrganizationalUnits": [{"Id": child, "Name": child}]}]
                    return [{"Accounts": []}]
            return Pages()

    client = Client()
    tree = organizations.get_tree(client)
    # ou-b names ou-a as its child again: ou-a keeps its first parent and is not walked twice
    assert [(parent, ou["Id"]) for parent, ou in tree["OrganizationalUnits"]] == [("r-1", "ou-a"), ("ou-a", "ou-b")]
    assert client.calls == 1 + 2 * 3  # the root, ou-a and ou-b: each asked once


def test_the_accounts_clients_share_one_connection_pool_per_host_closed_when_the_crawl_ends(tree, monkeypatch):
    """Connections carry no credentials: every account's client of one endpoint (with the same
    settings) uses the same HTTP session, and the crawl closes them once at its end."""
    from archviz.discovery import aws

    clients, closed = [], []
    real_client, real_close = aws.AccountSession.client, aws.Pools.close

    def client(self, service, region):
        c = real_client(self, service, region)
        clients.append((self.account_id, c))
        return c

    def close(self):
        closed.append(len(self))
        real_close(self)

    monkeypatch.setattr(aws.AccountSession, "client", client)
    monkeypatch.setattr(aws.Pools, "close", close)
    result = run()
    assert all(c["status"] == "ok" for c in result.coverage)
    accounts = {account for account, _ in clients if account}
    assert len(accounts) == 4
    made = {id(c): c for _, c in clients}.values()
    sessions = {id(c._endpoint.http_session) for c in made}
    keys = {(c._endpoint.host, c.meta.config.max_pool_connections) for c in made}
    assert len(sessions) == len(keys) < len(made)  # one per endpoint and width, whatever the accounts
    assert closed and closed[-1] == len(sessions) + 1  # and the AssumeRole client's (its own width)


def test_archviz_sessions_keep_every_builtin_handler_of_the_services_they_call():
    """archviz's sessions register botocore's built-in handlers less those of other services: for
    every event of every operation archviz's services have, the handlers are botocore's own."""
    import botocore.handlers
    import botocore.session

    from archviz.discovery import aws
    from archviz.discovery.permissions import PERMISSIONS

    full = botocore.session.Session().get_component("event_emitter")._emitter
    ours = aws.AwsSessions(region="us-east-1")._core()[0].get_component("event_emitter")._emitter
    events = {spec[0].split(".")[0] for spec in botocore.handlers.BUILTIN_HANDLERS}
    services = {p.service for p in PERMISSIONS}
    loader = botocore.session.Session().get_component("data_loader")
    names = set(events)
    for service in services:
        model = loader.load_service_model(service, "service-2")
        service_id = model["metadata"]["serviceId"].replace(" ", "-").lower()
        assert service_id in aws.SERVICE_IDS
        for event in events:
            names.add(f"{event}.{service_id}")
            names.update(f"{event}.{service_id}.{op}" for op in model["operations"])
    assert len(aws.SERVICE_IDS) == len(services)
    for name in sorted(names):
        assert ours._handlers.prefix_search(name) == full._handlers.prefix_search(name), name
    assert sum(1 for _ in ours._handlers._root["children"]) < sum(1 for _ in full._handlers._root["children"])


def test_member_accounts_share_one_botocore_session_and_sign_with_their_own_role(tree, monkeypatch):
    """A botocore session per account was a thousand objects and 7 ms of CPU each: the members'
    clients come from one session, each signing with its own account's assumed-role credentials."""
    import botocore.session
    from botocore.credentials import RefreshableCredentials

    from archviz.discovery import aws

    made, signers = [], {}
    real_init, real_client = botocore.session.Session.__init__, aws.AccountSession.client

    def init(self, *args, **kwargs):
        made.append(self)
        real_init(self, *args, **kwargs)

    def client(self, service, region):
        c = real_client(self, service, region)
        signers.setdefault(self.account_id, set()).add(id(c._request_signer._credentials))
        if self.credentials is not None:
            assert c._request_signer._credentials is self.credentials
            assert isinstance(self.credentials, RefreshableCredentials)
        return c

    monkeypatch.setattr(botocore.session.Session, "__init__", init)
    monkeypatch.setattr(aws.AccountSession, "client", client)
    result = run()
    assert all(c["status"] == "ok" for c in result.coverage)
    assert len(made) == 2  # the caller's session and the members' one
    signers.pop("", None)  # the caller's first call, before its account id is known (its own credentials)
    assert len(signers) == 4  # the management account and its three members
    # every account signs with one set of credentials of its own, none shared with another account
    assert all(len(ids) == 1 for ids in signers.values())
    assert len({next(iter(ids)) for ids in signers.values()}) == len(signers)


def test_the_collector_runs_less_often_during_a_crawl_and_as_before_after_it(tree, monkeypatch):
    import gc

    seen = []
    real = crawl_module._fan_out

    def fan_out(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr(crawl_module, "_fan_out", fan_out)
    before = gc.get_threshold()
    run()
    assert seen and seen[0][0] == max(crawl_module.GC_THRESHOLD, before[0]) and seen[0][1:] == before[1:]
    assert gc.get_threshold() == before


def test_the_analysis_and_the_writing_stay_under_the_crawl_s_collector_setting(sandbox, tmp_path, monkeypatch):
    """A recorded crawl's answers stay alive until the snapshot is written: the analysis runs with
    the collector as seldom as during the crawl, and the setting is restored after."""
    import gc

    from archviz import model
    from archviz.pipeline import discover_snapshot

    seen, real = [], model.apply

    def apply(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "apply", apply)
    before = gc.get_threshold()
    discover_snapshot(tmp_path / "out", CrawlRequest(), {}, raw_dir=tmp_path / "raw")
    assert seen == [(max(crawl_module.GC_THRESHOLD, before[0]), *before[1:])]
    assert gc.get_threshold() == before and (tmp_path / "raw" / "crawl.json").is_file()


def test_the_command_s_process_collects_seldom_and_skips_the_last_collection_at_exit():
    """``archviz``'s process: the collector's young threshold raised for the whole command, and
    the objects alive at exit frozen (not walked by the interpreter's last collection)."""
    import subprocess
    import sys

    code = ("import atexit, gc\n"
            "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
            "from archviz.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print('threshold:', gc.get_threshold()[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    from archviz.cli import PROCESS_GC_THRESHOLD

    assert f"threshold: {PROCESS_GC_THRESHOLD}" in out and "frozen at exit: True" in out, out


def test_a_lane_hands_back_what_it_has_no_room_for_and_frees_a_cancelled_slot():
    """A unit's share of the crawl's threads: past its width a call is handed back unstarted
    (together() runs it in the waiting thread); a call cancelled before it started frees its slot."""
    import concurrent.futures as cf
    import threading

    from archviz.discovery.aws import Lane, together

    gate = threading.Event()
    with cf.ThreadPoolExecutor(max_workers=1) as pool:
        blocker = pool.submit(gate.wait)  # the only worker is busy: what the lane submits stays queued
        lane = Lane(pool, width=1)
        queued = lane.submit(lambda: "queued")
        refused = lane.submit(lambda: "refused")
        assert not refused.running() and refused.cancel()  # handed back: never started
        assert queued.cancel()  # not started yet: cancelled, and its slot freed
        again = lane.submit(lambda: "again")
        assert again.cancel()
        gate.set()
        blocker.result()
        # four calls on a lane one wide: all run, in order (those it has no room for, in the waiting thread)
        assert together(*(lambda i=i: i for i in range(4)), pool=Lane(pool, width=1)) == [0, 1, 2, 3]


def test_a_unit_ends_only_once_the_calls_its_lane_started_have_ended():
    """As a unit's own pool's shutdown did: a unit that stops midway (an error in one step)
    does not end while another of its steps is still running on the crawl's threads."""
    import concurrent.futures as cf
    import threading

    from archviz.discovery.aws import Lane

    go, ended = threading.Event(), []
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        lane = Lane(pool, width=2)
        lane.submit(lambda: (go.wait(10), ended.append(True)))
        waiter = threading.Thread(target=lane.wait)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and not ended
        go.set()
        waiter.join(10)
        assert not waiter.is_alive() and ended == [True]
