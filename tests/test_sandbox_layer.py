"""The PrivateLink completion layer over moto: one test per behaviour it adds."""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections import Counter

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, SSLError

from archviz.sandbox import demo
from archviz.sandbox.server import Sandbox
from archviz.sandbox.state import STATE

PROVIDER_REGION = "us-east-1"


def make_service(org, account=None, *, acceptance=True, principals=(), supported=None, kind="network",
                 region=PROVIDER_REGION):
    ec2, elb = org.client("ec2", account, region), org.client("elbv2", account, region)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone=region + "a")["Subnet"]["SubnetId"]
    lb = elb.create_load_balancer(Name=f"lb-{kind}", Subnets=[subnet], Type=kind)["LoadBalancers"][0]["LoadBalancerArn"]
    key = "NetworkLoadBalancerArns" if kind == "network" else "GatewayLoadBalancerArns"
    params = {key: [lb], "AcceptanceRequired": acceptance}
    if supported:
        params["SupportedRegions"] = supported
    svc = ec2.create_vpc_endpoint_service_configuration(**params)["ServiceConfiguration"]
    if principals:
        ec2.modify_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"], AddAllowedPrincipals=list(principals))
    return svc


def consumer_vpc(org, account, region=PROVIDER_REGION):
    ec2 = org.client("ec2", account, region)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24", AvailabilityZone=region + "a")["Subnet"]["SubnetId"]
    return ec2, vpc, subnet


def endpoint(ec2, vpc, subnet, name, **extra):
    return ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=name, VpcEndpointType="Interface",
                                   SubnetIds=[subnet], **extra)["VpcEndpoint"]


CONSUMER = "111122223333"
OTHER = "999988887777"


def test_other_accounts_services_are_visible_only_when_allowed(org):
    svc = make_service(org, principals=[f"arn:aws:iam::{CONSUMER}:root"])
    allowed = org.client("ec2", CONSUMER).describe_vpc_endpoint_services(ServiceNames=[svc["ServiceName"]])
    assert [(d["ServiceName"], d["Owner"]) for d in allowed["ServiceDetails"]] == [(svc["ServiceName"], "123456789012")]
    with pytest.raises(ClientError) as err:
        org.client("ec2", OTHER).describe_vpc_endpoint_services(ServiceNames=[svc["ServiceName"]])
    assert err.value.response["Error"]["Code"] == "InvalidServiceName"


def test_star_principal_makes_a_service_visible_to_anyone(org):
    svc = make_service(org, principals=["*"])
    names = org.client("ec2", OTHER).describe_vpc_endpoint_services()["ServiceNames"]
    assert svc["ServiceName"] in names


def test_marketplace_services_are_owned_by_aws_marketplace(org):
    svc = make_service(org, OTHER, principals=["*"])
    STATE.marketplace_services.add(svc["ServiceId"])
    details = org.client("ec2", CONSUMER).describe_vpc_endpoint_services(ServiceNames=[svc["ServiceName"]])
    assert details["ServiceDetails"][0]["Owner"] == "aws-marketplace"


def test_endpoint_to_an_acceptance_required_service_starts_pending(org):
    svc = make_service(org, principals=[f"arn:aws:iam::{CONSUMER}:root"])
    ec2, vpc, subnet = consumer_vpc(org, CONSUMER)
    ep = endpoint(ec2, vpc, subnet, svc["ServiceName"])
    assert ep["State"] == "pendingAcceptance"
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"][0]["State"] == "pendingAcceptance"


def test_endpoint_to_an_auto_accept_service_is_available(org):
    svc = make_service(org, acceptance=False, principals=[f"arn:aws:iam::{CONSUMER}:root"])
    ec2, vpc, subnet = consumer_vpc(org, CONSUMER)
    assert endpoint(ec2, vpc, subnet, svc["ServiceName"])["State"] == "available"


def test_endpoint_to_a_service_not_allowed_is_refused(org):
    svc = make_service(org, principals=[f"arn:aws:iam::{CONSUMER}:root"])
    ec2, vpc, subnet = consumer_vpc(org, OTHER)
    with pytest.raises(ClientError) as err:
        endpoint(ec2, vpc, subnet, svc["ServiceName"])
    assert err.value.response["Error"]["Code"] == "InvalidServiceName"


def test_connections_seen_by_the_provider_with_filters(org):
    svc = make_service(org, principals=["*"])
    ec2a, vpca, suba = consumer_vpc(org, CONSUMER)
    ec2b, vpcb, subb = consumer_vpc(org, OTHER)
    ep_a = endpoint(ec2a, vpca, suba, svc["ServiceName"])["VpcEndpointId"]
    ep_b = endpoint(ec2b, vpcb, subb, svc["ServiceName"])["VpcEndpointId"]
    provider = org.client("ec2")
    conns = provider.describe_vpc_endpoint_connections()["VpcEndpointConnections"]
    assert {(c["VpcEndpointId"], c["VpcEndpointOwner"], c["VpcEndpointState"]) for c in conns} == {
        (ep_a, CONSUMER, "pendingAcceptance"), (ep_b, OTHER, "pendingAcceptance")}
    only_b = provider.describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-owner", "Values": [OTHER]}])["VpcEndpointConnections"]
    assert [c["VpcEndpointId"] for c in only_b] == [ep_b]
    by_service = provider.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": ["vpce-svc-doesnotexist"]}])["VpcEndpointConnections"]
    assert by_service == []
    # Consumers see no connections: they are the provider's view.
    assert ec2a.describe_vpc_endpoint_connections()["VpcEndpointConnections"] == []


def test_accept_and_reject_change_both_sides(org):
    svc = make_service(org, principals=["*"])
    ec2a, vpca, suba = consumer_vpc(org, CONSUMER)
    ep1 = endpoint(ec2a, vpca, suba, svc["ServiceName"])["VpcEndpointId"]
    ep2 = endpoint(ec2a, vpca, suba, svc["ServiceName"])["VpcEndpointId"]
    provider = org.client("ec2")
    assert provider.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[ep1])["Unsuccessful"] == []
    provider.reject_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[ep2])
    states = {e["VpcEndpointId"]: e["State"] for e in ec2a.describe_vpc_endpoints()["VpcEndpoints"]}
    assert states == {ep1: "available", ep2: "rejected"}
    pending = provider.describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-state", "Values": ["rejected"]}])["VpcEndpointConnections"]
    assert [c["VpcEndpointId"] for c in pending] == [ep2]
    bad = provider.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=["vpce-0nothere"])
    assert bad["Unsuccessful"][0]["ResourceId"] == "vpce-0nothere"


def test_cross_region_endpoint_honours_supported_regions(org):
    svc = make_service(org, principals=["*"], supported=["us-east-1", "eu-west-1"])
    ec2, vpc, subnet = consumer_vpc(org, CONSUMER, "eu-west-1")
    seen = ec2.describe_vpc_endpoint_services(ServiceNames=[svc["ServiceName"]], ServiceRegions=["us-east-1"])
    assert seen["ServiceDetails"][0]["ServiceRegion"] == "us-east-1"
    ep = endpoint(ec2, vpc, subnet, svc["ServiceName"], ServiceRegion="us-east-1")
    assert ep["ServiceRegion"] == "us-east-1"
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"][0]["ServiceRegion"] == "us-east-1"
    conn = org.client("ec2").describe_vpc_endpoint_connections()["VpcEndpointConnections"][0]
    assert (conn["VpcEndpointId"], conn["VpcEndpointRegion"]) == (ep["VpcEndpointId"], "eu-west-1")


def test_cross_region_endpoint_refused_when_region_not_supported(org):
    svc = make_service(org, principals=["*"], supported=["us-east-1"])
    ec2, vpc, subnet = consumer_vpc(org, CONSUMER, "eu-west-1")
    with pytest.raises(ClientError) as err:
        endpoint(ec2, vpc, subnet, svc["ServiceName"], ServiceRegion="us-east-1")
    assert err.value.response["Error"]["Code"] == "InvalidParameter"


def test_gateway_load_balancer_service_type_and_no_policy(org):
    svc = make_service(org, principals=["*"], kind="gateway")
    assert svc["ServiceType"] == [{"ServiceType": "GatewayLoadBalancer"}]
    ec2, vpc, subnet = consumer_vpc(org, CONSUMER)
    [detail] = ec2.describe_vpc_endpoint_services(ServiceNames=[svc["ServiceName"]])["ServiceDetails"]
    assert detail["VpcEndpointPolicySupported"] is False
    ep = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=svc["ServiceName"], VpcEndpointType="GatewayLoadBalancer",
                                 SubnetIds=[subnet])["VpcEndpoint"]
    assert "PolicyDocument" not in ep
    assert "PolicyDocument" not in ec2.describe_vpc_endpoints()["VpcEndpoints"][0]


def test_allowed_principals_carry_their_type(org):
    svc = make_service(org, principals=["*", f"arn:aws:iam::{CONSUMER}:root", f"arn:aws:iam::{CONSUMER}:role/x"])
    got = org.client("ec2").describe_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"])["AllowedPrincipals"]
    assert {(p["Principal"], p["PrincipalType"]) for p in got} == {
        ("*", "All"), (f"arn:aws:iam::{CONSUMER}:root", "Account"), (f"arn:aws:iam::{CONSUMER}:role/x", "Role")}


def test_search_agreements_returns_the_buyers_agreements(org):
    STATE.agreements[CONSUMER] = [{"agreementId": f"agmt-{i}", "agreementType": "PurchaseAgreement",
                                   "status": "ACTIVE", "proposalSummary": {"resources": [{"id": "prod-1", "type": "SaaSProduct"}]}}
                                  for i in range(3)]
    client = org.client("marketplace-agreement", CONSUMER)
    pages = client.get_paginator("search_agreements").paginate(
        catalog="AWSMarketplace", filters=[{"name": "PartyType", "values": ["Acceptor"]}],
        PaginationConfig={"PageSize": 2})
    ids = [a["agreementId"] for page in pages for a in page["agreementViewSummaries"]]
    assert ids == ["agmt-0", "agmt-1", "agmt-2"]
    assert org.client("marketplace-agreement", OTHER).search_agreements(catalog="AWSMarketplace")["agreementViewSummaries"] == []


def test_assume_role_into_a_chosen_account_is_denied(org):
    STATE.add_fault("AssumeRole", "AccessDenied", account=OTHER)
    with pytest.raises(ClientError) as err:
        org.client("ec2", OTHER)
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert org.client("ec2", CONSUMER).describe_vpcs()["Vpcs"] is not None  # other accounts unaffected


def test_throttling_fault_recovers_after_n_calls(sandbox):
    fault = STATE.add_fault("DescribeVpcs", "RequestLimitExceeded", status=503, times=2)
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=sandbox.endpoint_url,
                       aws_access_key_id="a", aws_secret_access_key="b",
                       config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            ec2.describe_vpcs()
        assert err.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert ec2.describe_vpcs()["Vpcs"]
    assert fault.fired == 2


def test_demo_seed_gives_the_same_ids_on_a_fresh_server_and_after_a_reset():
    """The demo's docstring promises reproducible ids: a fresh sandbox and the same sandbox after
    a reset seed the same organization."""
    with Sandbox() as sb:
        first = demo.seed(sb.endpoint_url, *sb.credentials)
        sb.reset()
        second = demo.seed(sb.endpoint_url, *sb.credentials)
        sb.reset()
    assert first.labels == second.labels and first.services == second.services
    assert first.accounts == second.accounts


def assumed_credentials(org, account=CONSUMER) -> dict:
    """Session credentials (``ASIA...``) from moto's AssumeRole, as client keyword arguments."""
    creds = org.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{demo.ROLE_NAME}",
                                          RoleSessionName="tests")["Credentials"]
    return dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"])


def session_client(org, service, creds):
    return boto3.client(service, endpoint_url=org.url, region_name="us-east-1", **creds)


def error_of(call) -> tuple[str, int]:
    """The (code, HTTP status) of the ClientError ``call()`` raises."""
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_session_credentials_expire_after_n_requests_with_each_protocols_error(org):
    STATE.expire_after_requests = 3
    creds = assumed_credentials(org)
    assert creds["aws_access_key_id"].startswith("ASIA")
    ec2, elb, orgs, sts = (session_client(org, s, creds) for s in ("ec2", "elbv2", "organizations", "sts"))
    ec2.describe_vpcs()
    elb.describe_load_balancers()
    sts.get_caller_identity()
    assert error_of(ec2.describe_vpcs) == ("RequestExpired", 400)
    assert error_of(elb.describe_load_balancers) == ("ExpiredToken", 400)
    assert error_of(sts.get_caller_identity) == ("ExpiredToken", 400)
    assert error_of(orgs.describe_organization) == ("ExpiredTokenException", 400)
    assert error_of(ec2.describe_vpcs) == ("RequestExpired", 400)  # once expired, always
    assert STATE.expired == Counter(DescribeVpcs=2, DescribeLoadBalancers=1, GetCallerIdentity=1,
                                    DescribeOrganization=1)  # each answered once: botocore does not retry them
    assert session_client(org, "ec2", assumed_credentials(org)).describe_vpcs()["Vpcs"] is not None  # a fresh key


def test_long_term_keys_never_expire(org):
    STATE.expire_after_requests, STATE.expire_after_seconds = 1, 0.0
    ec2 = org.client("ec2")
    for _ in range(3):
        ec2.describe_vpcs()
    assert not STATE.expired


def test_session_credentials_expire_some_seconds_after_their_first_request(org):
    STATE.expire_after_seconds = 3.0  # room for two requests on a loaded machine
    ec2 = session_client(org, "ec2", assumed_credentials(org))
    ec2.describe_vpcs()
    ec2.describe_vpcs()
    time.sleep(3.0)
    assert error_of(ec2.describe_vpcs) == ("RequestExpired", 400)
    assert STATE.expired == Counter(DescribeVpcs=1)


@pytest.fixture(scope="module")
def tls_server():
    """A second sandbox, serving HTTPS with a private CA (it shares moto's and ``STATE``'s state
    with the session's ``server``)."""
    with Sandbox(tls=True) as sb:
        yield sb


NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def test_tls_sandbox_is_reached_with_its_ca_bundle(tls_server, monkeypatch):
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    assert tls_server.endpoint_url.startswith("https://127.0.0.1:")
    kw = dict(endpoint_url=tls_server.endpoint_url, region_name="us-east-1", config=NO_RETRY,
              aws_access_key_id=tls_server.credentials[0], aws_secret_access_key=tls_server.credentials[1])
    assert boto3.client("sts", verify=tls_server.ca_bundle, **kw).get_caller_identity()["Account"] == "123456789012"
    with pytest.raises(SSLError):
        boto3.client("sts", **kw).get_caller_identity()


def test_tls_ca_bundle_is_removed_on_stop():
    sb = Sandbox(tls=True).start()
    bundle = sb.ca_bundle
    assert open(bundle).read().startswith("-----BEGIN CERTIFICATE-----")
    sb.stop()
    assert sb.ca_bundle is None and not os.path.exists(bundle)


def profile_session(tmp_path, monkeypatch, **settings) -> botocore.session.Session:
    """A botocore session on profile ``sandbox`` of a config file in ``tmp_path``, as a user's
    would be: nothing from the environment (no keys, no endpoint), everything from the profile."""
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("[profile sandbox]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    credentials.write_text("")
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return botocore.session.Session(profile="sandbox")


def credential_process(count_file, *args: str) -> str:
    """The profile's ``credential_process`` line for the sandbox's credential process."""
    return shlex.join([sys.executable, "-m", "archviz.sandbox.credential_process", "--count-file", str(count_file),
                       *args])


def runs(count_file) -> list[str]:
    """The access keys the credential process issued, one per run."""
    return count_file.read_text().split() if count_file.exists() else []


def test_credential_process_profile_reaches_the_sandbox(sandbox, tmp_path, monkeypatch):
    count = tmp_path / "runs"
    session = profile_session(tmp_path, monkeypatch, region="us-east-1", endpoint_url=sandbox.endpoint_url,
                              credential_process=credential_process(count))
    sts, ec2 = session.create_client("sts"), session.create_client("ec2")
    assert sts.get_caller_identity()["Account"] == "123456789012"
    ec2.describe_vpcs()
    [key] = runs(count)  # one run: the announced expiry is an hour away
    assert key.startswith("ASIA") and len(key) == 20
    assert STATE.key_requests[key] == 2


def test_credential_process_keys_expire_early_whatever_they_announce(sandbox, tmp_path, monkeypatch):
    STATE.expire_after_requests = 2
    count = tmp_path / "runs"
    session = profile_session(tmp_path, monkeypatch, region="us-east-1", endpoint_url=sandbox.endpoint_url,
                              credential_process=credential_process(count))
    ec2, elb, orgs = (session.create_client(s) for s in ("ec2", "elbv2", "organizations"))
    ec2.describe_vpcs()
    elb.describe_load_balancers()
    assert error_of(ec2.describe_vpcs)[0] == "RequestExpired"
    assert error_of(elb.describe_load_balancers)[0] == "ExpiredToken"
    assert error_of(orgs.describe_organization)[0] == "ExpiredTokenException"
    assert len(runs(count)) == 1  # botocore believes the Expiration, an hour away: it does not ask again


def test_credentials_announced_to_expire_soon_are_fetched_before_every_request(sandbox, tmp_path, monkeypatch):
    """Within botocore's mandatory refresh window (10 minutes) the SDK runs the process again
    for each request, so each request has a new key and early expiry never strikes."""
    STATE.expire_after_requests = 1
    count = tmp_path / "runs"
    session = profile_session(tmp_path, monkeypatch, region="us-east-1", endpoint_url=sandbox.endpoint_url,
                              credential_process=credential_process(count, "--expires-in", "300"))
    ec2 = session.create_client("ec2")
    for _ in range(3):
        ec2.describe_vpcs()
    keys = runs(count)
    assert len(keys) == 1 + 3 and len(set(keys)) == len(keys)  # one when the client is made, then one a request
    assert not STATE.expired


def test_https_profile_with_ca_bundle_and_credential_process(tls_server, tmp_path, monkeypatch):
    """The set-up behind a company's TLS-inspecting proxy: endpoint, CA and credentials all from the profile."""
    count = tmp_path / "runs"
    session = profile_session(tmp_path, monkeypatch, region="us-east-1", endpoint_url=tls_server.endpoint_url,
                              ca_bundle=tls_server.ca_bundle, credential_process=credential_process(count))
    assert session.create_client("sts").get_caller_identity()["Account"] == "123456789012"
    assert len(runs(count)) == 1


def test_an_access_key_names_its_account_without_a_search_of_every_account(org, sandbox, monkeypatch):
    """moto searches every account's IAM backend for each request's access key; the sandbox
    remembers what it found (AWS's cost does not grow with the organization), and what it
    remembered stops counting once the key is gone (a reset)."""
    import moto.iam.models
    from moto.core import DEFAULT_ACCOUNT_ID

    account = "111122223333"
    sts = org.client("sts", account)
    assert sts.get_caller_identity()["Account"] == account
    key = sts._request_signer._credentials.access_key
    lookup = moto.iam.models.get_account_id_from
    assert getattr(lookup, "_archviz_wrapped", False)
    searched = []
    real_items = type(moto.iam.models.iam_backends).items

    def items(self):
        searched.append(1)
        return real_items(self)

    monkeypatch.setattr(type(moto.iam.models.iam_backends), "items", items)
    assert lookup(key) == account and not searched  # remembered: no search
    assert lookup(sandbox.credentials[0]) == DEFAULT_ACCOUNT_ID and not searched  # the sandbox's own key
    sandbox.reset()
    assert lookup(key) == DEFAULT_ACCOUNT_ID and searched  # gone: searched again, as moto does
