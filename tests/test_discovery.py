"""The crawler against the sandbox over HTTP: a small two-account organization built per test."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from moto.sts.models import sts_backends

from archviz.cli import cli
from archviz.discovery.aws import AccountSession, AwsSessions
from archviz.discovery.crawl import CrawlRequest, crawl
from archviz.discovery.permissions import ALLOWED
from archviz.errors import ReadOnlyViolation
from archviz.sandbox.state import STATE
from tests.conftest import run_cli

ROLE = "OrganizationAccountAccessRole"


@pytest.fixture
def estate(org):
    """Management account publishing an NLB-backed service; a member consuming it, plus S3."""
    orgs = org.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    member = orgs.create_account(Email="m@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    locked = orgs.create_account(Email="l@example.com", AccountName="locked")["CreateAccountStatus"]["AccountId"]
    ec2, elb = org.client("ec2"), org.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    lb = elb.create_load_balancer(Name="svc-nlb", Subnets=[subnet], Type="network", Scheme="internal")["LoadBalancers"][0]
    tg = elb.create_target_group(Name="svc-tg", Protocol="TCP", Port=443, VpcId=vpc, TargetType="ip")["TargetGroups"][0]
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": "10.0.1.5", "Port": 443}])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=443,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    svc = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[lb["LoadBalancerArn"]],
                                                        AcceptanceRequired=True)["ServiceConfiguration"]
    ec2.modify_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"],
                                                AddAllowedPrincipals=[f"arn:aws:iam::{member}:root"])
    mec2 = org.client("ec2", member)
    mvpc = mec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    msub = mec2.create_subnet(VpcId=mvpc, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    msg = mec2.create_security_group(GroupName="endpoint", Description="endpoint", VpcId=mvpc)["GroupId"]
    interface = mec2.create_vpc_endpoint(VpcId=mvpc, ServiceName=svc["ServiceName"], VpcEndpointType="Interface",
                                         SubnetIds=[msub], SecurityGroupIds=[msg])["VpcEndpoint"]["VpcEndpointId"]
    ec2.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[interface])
    table = mec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [mvpc]}])["RouteTables"][0]["RouteTableId"]
    gateway = mec2.create_vpc_endpoint(VpcId=mvpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway",
                                       RouteTableIds=[table])["VpcEndpoint"]["VpcEndpointId"]
    STATE.add_fault("AssumeRole", "AccessDenied", account=locked)
    STATE.calls.clear()
    return {"member": member, "locked": locked, "service": svc, "lb": lb["LoadBalancerArn"],
            "interface": interface, "gateway": gateway}


def run(regions=("us-east-1",), **kw):
    return crawl(CrawlRequest(org=True, role_name=ROLE, regions=list(regions), concurrency=4, **kw))


def test_two_account_organization(estate):
    result = run()
    status = {(c["account_id"], c["region"], c["kind"]): c["status"] for c in result.coverage}
    assert status[(estate["member"], "us-east-1", "region")] == "ok"
    assert status[("123456789012", "us-east-1", "region")] == "ok"
    eps = {e["endpoint_id"]: e for e in result.records["endpoints"]}
    assert set(eps) == {estate["interface"], estate["gateway"]}
    assert eps[estate["interface"]]["account_id"] == estate["member"]
    assert eps[estate["interface"]]["state"] == "available"
    assert eps[estate["gateway"]]["type"] == "Gateway" and eps[estate["gateway"]]["route_table_ids"]
    [service] = result.records["endpoint_services"]
    assert service["service_id"] == estate["service"]["ServiceId"]
    assert service["allowed_principals"] == [{"principal": f"arn:aws:iam::{estate['member']}:root",
                                              "principal_type": "Account"}]
    [conn] = result.records["endpoint_connections"]
    assert (conn["endpoint_id"], conn["endpoint_owner"], conn["state"]) == (estate["interface"], estate["member"], "available")
    [lb] = result.records["load_balancers"]
    assert lb["arn"] == estate["lb"] and lb["type"] == "network"
    assert lb["target_groups"][0]["targets"] == [
        {"id": "10.0.1.5", "port": 443, "availability_zone": None, "health": "healthy", "reason": None}]
    assert lb["listeners"][0]["port"] == 443
    seen = {d["service_name"]: d["owner"] for d in result.records["service_details"]}
    assert seen == {estate["service"]["ServiceName"]: "123456789012", "com.amazonaws.us-east-1.s3": "amazon"}


def test_unassumable_account_is_recorded_and_the_rest_completes(estate):
    result = run()
    [entry] = [c for c in result.coverage if c["account_id"] == estate["locked"]]
    assert (entry["status"], entry["error_code"]) == ("error", "AccessDenied")
    assert entry["failed_operations"] == ["sts:AssumeRole"]
    accounts = {a["account_id"]: a for a in result.accounts}
    assert accounts[estate["locked"]]["crawled"] is False and accounts[estate["member"]]["crawled"] is True


def test_disabled_region_is_skipped_after_one_round_trip(estate):
    """A listed region the account has not enabled answers AuthFailure (as AWS does); only then
    is the account asked which regions it has enabled, once, and the region is recorded as skipped."""
    result = crawl(CrawlRequest(accounts=[estate["member"]], role_name=ROLE, regions=["us-east-1", "ap-east-1"]))
    status = {c["region"]: c for c in result.coverage if c["kind"] == "region"}
    assert status["ap-east-1"]["status"] == "skipped"
    assert status["ap-east-1"]["error_code"] == "RegionNotEnabled"
    assert status["ap-east-1"]["failed_operations"] == []
    assert status["us-east-1"]["status"] == "ok"
    assert sorted(k[0] for k in STATE.calls if k[1] == "ap-east-1") == [
        "DescribeVpcEndpointServiceConfigurations", "DescribeVpcEndpoints"]
    assert STATE.calls[("DescribeRegions", "us-east-1")] == 1


def test_throttling_recovers_through_retries(estate):
    fault = STATE.add_fault("DescribeVpcEndpoints", "RequestLimitExceeded", status=503, times=2, account=estate["member"])
    result = run()
    assert fault.fired == 2
    assert all(c["status"] == "ok" for c in result.coverage if c["account_id"] == estate["member"])
    assert estate["interface"] in {e["endpoint_id"] for e in result.records["endpoints"]}


def test_a_failed_call_is_recorded_and_the_unit_keeps_what_it_saw(estate):
    STATE.add_fault("DescribeVpcEndpointServiceConfigurations", "UnauthorizedOperation", account="123456789012")
    result = run()
    [entry] = [c for c in result.coverage if c["account_id"] == "123456789012" and c["kind"] == "region"]
    assert entry["status"] == "error" and entry["error_code"] == "UnauthorizedOperation"
    assert entry["failed_operations"] == ["ec2:DescribeVpcEndpointServiceConfigurations"]
    assert result.records.get("endpoint_services", []) == []
    assert {e["endpoint_id"] for e in result.records["endpoints"]} == {estate["interface"], estate["gateway"]}


def test_no_load_balancer_or_connection_calls_without_endpoint_services(org):
    org.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")
    STATE.calls.clear()
    result = crawl(CrawlRequest(regions=["us-east-1"]))
    assert [c["status"] for c in result.coverage] == ["ok", "ok"]
    actions = {action for action, _ in STATE.calls}
    assert "DescribeVpcEndpointServiceConfigurations" in actions
    assert not actions & {"DescribeVpcEndpointConnections", "DescribeLoadBalancers", "DescribeTargetGroups",
                          "DescribeVpcEndpointServices", "DescribeSubnets"}


def test_a_write_is_refused_before_it_is_sent(sandbox):
    client = AwsSessions(region="us-east-1").caller().client("ec2", "us-east-1")
    sent = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(ReadOnlyViolation, match="ec2:CreateVpc"):
        client.create_vpc(CidrBlock="10.0.0.0/16")
    assert sent == []
    assert client.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.0.0.0/16"]}])["Vpcs"] == []
    assert ("CreateVpc", "us-east-1") not in STATE.calls


@pytest.fixture
def sent(monkeypatch):
    """Every (service, operation) that archviz's clients send, recorded by a botocore hook that
    this test adds to each client."""
    seen: set[tuple[str, str]] = set()
    real = AccountSession.client

    def client(self, service, region):
        c = real(self, service, region)
        c.meta.events.register("before-send", lambda event_name, **_: seen.add((service, event_name.split(".")[-1])),
                               unique_id="tests-sent")
        return c

    real_entry = AwsSessions._entry_client

    def entry_client(self):
        c = real_entry(self)
        c.meta.events.register("before-send", lambda event_name, **_: seen.add(("sts", event_name.split(".")[-1])),
                               unique_id="tests-sent")
        return c

    monkeypatch.setattr(AccountSession, "client", client)
    monkeypatch.setattr(AwsSessions, "_entry_client", entry_client)
    return seen


def test_a_crawl_sends_exactly_the_operations_on_the_allowlist(estate, sent):
    run(regions=["us-east-1", "ap-east-1"])  # a region not enabled: DescribeRegions tells it from a failure
    assert sent == ALLOWED  # nothing else, and no listed operation that archviz never calls
    assert {action for action, _ in STATE.calls} == {operation for _, operation in sent}  # the hook saw every request


def test_cli_discover_strict_exits_5_and_still_writes(estate, sandbox, tmp_path):
    result = run_cli(["discover", "--org", "--role-name", ROLE, "--regions", "us-east-1", "--strict",
                      "--out", str(tmp_path)], env=sandbox.env())
    assert result.returncode == 5
    assert result.stderr.strip().splitlines()[-1].startswith("archviz: error: --strict: 1 unit(s) failed")
    assert "Traceback" not in result.stderr
    assert json.loads((tmp_path / "snapshot.json").read_text())["schema_version"] == 1
    assert result.stdout.strip() == str(tmp_path / "snapshot.json")


def test_failed_run_keeps_the_previous_snapshot(sandbox, tmp_path):
    (tmp_path / "snapshot.json").write_text('{"previous": true}')
    STATE.add_fault("GetCallerIdentity", "InvalidClientTokenId", status=403)
    result = CliRunner().invoke(cli, ["discover", "--regions", "us-east-1", "--out", str(tmp_path)])
    assert result.exit_code == 4
    assert result.stderr.strip() == ("archviz: error: cannot identify the caller (sts:GetCallerIdentity): "
                                     "InvalidClientTokenId: GetCallerIdentity: InvalidClientTokenId "
                                     "(injected by the archviz sandbox)")
    assert (tmp_path / "snapshot.json").read_text() == '{"previous": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot.json"]


def test_an_unexpected_error_in_one_unit_is_recorded_not_fatal(estate, monkeypatch):
    from archviz.discovery import crawl as crawl_module

    real = crawl_module.endpoints.transform_vpc_endpoints

    def flaky(raw, account_id, region):
        if account_id == estate["member"]:
            raise KeyError("VpcEndpointId")
        return real(raw, account_id, region)

    monkeypatch.setattr(crawl_module.endpoints, "transform_vpc_endpoints", flaky)
    result = run()
    [broken] = [c for c in result.coverage if c["account_id"] == estate["member"] and c["kind"] == "region"]
    assert (broken["status"], broken["error_code"]) == ("error", "InternalError")
    assert "KeyError" in broken["message"]
    assert {c["kind"]: c["status"] for c in result.coverage if c["account_id"] == "123456789012"} == {
        "region": "ok", "marketplace": "ok", "organization": "ok"}
    assert result.records["endpoint_services"]  # the provider account was still crawled


def test_regions_all_asks_each_account_once(estate):
    crawl(CrawlRequest(accounts=["123456789012", estate["member"]], role_name=ROLE, regions=["all"], concurrency=4))
    # One DescribeRegions per account (the caller's answer is reused for its own account).
    assert sum(n for (action, _), n in STATE.calls.items() if action == "DescribeRegions") == 2


def test_sessions_share_one_loader_and_reuse_clients(estate):
    sessions = AwsSessions(region="us-east-1")
    member = sessions.assume(estate["member"], ROLE)
    core = member._session
    assert core.get_component("data_loader") is sessions.loader  # service models parsed once per crawl
    assert member.client("ec2", "us-east-1") is member.client("ec2", "us-east-1")
    assert member.client("ec2", "us-east-1") is not member.client("ec2", "eu-west-1")
    assert member.client("ec2", "us-east-1").describe_vpcs()["Vpcs"]  # the member's own VPC, seen with its role
    sts_before = len(sessions.caller()._clients)
    sessions.assume("111122223333", ROLE)
    assert len(sessions.caller()._clients) == sts_before  # one STS client for every AssumeRole


def test_cached_clients_still_refuse_writes(sandbox):
    session = AwsSessions(region="us-east-1").caller()
    session.client("ec2", "us-east-1")
    with pytest.raises(ReadOnlyViolation):
        session.client("ec2", "us-east-1").delete_vpc(VpcId="vpc-1")


@pytest.mark.parametrize("env, config", [
    ({"AWS_REGION": "eu-west-1"}, ""),
    ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}, "region = us-east-1"),
    ({"AWS_DEFAULT_REGION": "eu-west-1"}, "region = us-east-1"),
    ({}, "region = eu-west-1"),
])
def test_region_is_resolved_as_the_aws_cli_does(sandbox, monkeypatch, tmp_path, env, config):
    """AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region (botocore alone skips AWS_REGION)."""
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "config").write_text(f"[default]\n{config}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    assert AwsSessions().region == "eu-west-1"


def test_a_crawl_uses_aws_region_alone(sandbox, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = crawl(CrawlRequest())
    assert [(c["kind"], c["region"], c["status"]) for c in sorted(result.coverage, key=lambda c: c["kind"])] == [
        ("marketplace", "us-east-1", "ok"), ("region", "eu-west-1", "ok")]
    assert ("GetCallerIdentity", "eu-west-1") in STATE.calls


def test_no_region_names_both_variables(sandbox, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = CliRunner().invoke(cli, ["discover", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == ("archviz: error: no AWS region configured: set AWS_REGION or AWS_DEFAULT_REGION "
                             "(or the profile's region), or pass --regions\n")
    assert not STATE.calls


def test_external_id_reaches_assume_role(sandbox, tmp_path):
    result = CliRunner().invoke(cli, ["discover", "--accounts", "111122223333", "--role-name", ROLE,
                                      "--external-id", "ext-4242", "--regions", "us-east-1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    # What the double's STS received in the AssumeRole request, not what the client meant to send.
    [assumed] = sts_backends["111122223333"]["aws"].assumed_roles
    assert (assumed.role_arn, assumed.session_name, assumed.external_id) == (
        f"arn:aws:iam::111122223333:role/{ROLE}", "archviz", "ext-4242")
