"""archviz diff end to end: the demo organization crawled over HTTP, changed the way an estate
changes (a consumer deletes an endpoint; a new partner outside the organization is allowed,
connects and is accepted), crawled again, and the two snapshots compared by the real command."""

from __future__ import annotations

import json

import boto3
import pytest

from archviz.sandbox import demo
from tests.conftest import once_per_run, run_cli

NEWCOMER = "135792468013"  # outside the organization, never seen before


def client(server, service: str, account: str | None = None):
    kw = dict(endpoint_url=server.endpoint_url, region_name=demo.HOME, aws_access_key_id=server.credentials[0],
              aws_secret_access_key=server.credentials[1])
    if account:
        creds = boto3.client("sts", **kw).assume_role(RoleArn=f"arn:aws:iam::{account}:role/{demo.ROLE_NAME}",
                                                      RoleSessionName="tests")["Credentials"]
        kw.update(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds["SessionToken"])
    return boto3.client(service, **kw)


def crawl(server, out) -> None:
    result = run_cli(["discover", "--org", "--role-name", demo.ROLE_NAME, "--regions", ",".join(demo.REGIONS),
                      "--out", str(out)], env=server.env())
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def crawls(request, tmp_path_factory):
    """The demo crawled, changed (an endpoint deleted; a partner allowed, connected and accepted) and
    crawled again; once per test run."""
    def make():
        server = request.getfixturevalue("server")
        server.reset()
        m = demo.seed(server.endpoint_url, *server.credentials)
        root = tmp_path_factory.mktemp("drift")
        crawl(server, root / "old")
        shared, app = m.accounts["shared-services"], m.accounts["app-prod"]
        # app-prod stops using Acme's observability service
        removed = m.labels["acme:app"]
        client(server, "ec2", app).delete_vpc_endpoints(VpcEndpointIds=[removed])
        # shared-services lets a new partner in; the partner connects; the request is accepted
        provider = client(server, "ec2", shared)
        provider.modify_vpc_endpoint_service_permissions(ServiceId=m.services["payments"],
                                                         AddAllowedPrincipals=[f"arn:aws:iam::{NEWCOMER}:root"])
        ec2 = client(server, "ec2", NEWCOMER)
        vpc = ec2.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="192.168.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        added = ec2.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Interface", ServiceName=m.service_names["payments"],
                                        SubnetIds=[subnet])["VpcEndpoint"]["VpcEndpointId"]
        provider.accept_vpc_endpoint_connections(ServiceId=m.services["payments"], VpcEndpointIds=[added])
        crawl(server, root / "new")
        server.reset()
        return root, removed, added

    return once_per_run(tmp_path_factory, "drift-crawls", make)


def test_the_issue_done_when(crawls):
    """``diff --format md`` names the removed connection and the newly connected outside account;
    ``--fail-on new-external-consumer`` exits non-zero for it."""
    root, removed, added = crawls
    old, new = str(root / "old" / "snapshot.json"), str(root / "new" / "snapshot.json")
    result = run_cli(["diff", old, new, "--format", "md"])
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert md.startswith("# What changed in our PrivateLink estate")
    removed_row = next(line for line in md.splitlines() if f"connection {removed} " in line)
    assert removed_row.startswith("| removed |") and "third-party" in removed_row
    added_row = next(line for line in md.splitlines() if f"connection {added} " in line)
    assert added_row.startswith("| added |") and f"{NEWCOMER} (outside the organization)" in added_row
    assert "external-consumer" in added_row
    assert f"now allows arn:aws:iam::{NEWCOMER}:root (outside the organization)" in md

    fail = run_cli(["diff", old, new, "--fail-on", "new-external-consumer"])
    assert fail.returncode == 8, fail.stderr
    assert added in fail.stderr.splitlines()[-1]
    assert run_cli(["diff", old, new, "--fail-on", "new-untrusted-principal"]).returncode == 8
    assert run_cli(["diff", old, new, "--fail-on", "open-to-all,coverage-worse"]).returncode == 0
    # the newcomer declared as a partner: no page
    assert run_cli(["diff", old, new, "--fail-on", "new-external-consumer,new-untrusted-principal",
                    "--trusted-accounts", NEWCOMER]).returncode == 0


def test_a_crawl_compared_with_itself_has_no_changes(crawls):
    root = crawls[0]
    result = run_cli(["diff", str(root / "old"), str(root / "old" / "snapshot.json"), "--format", "json",
                      "--fail-on", "any"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changes"] == []
