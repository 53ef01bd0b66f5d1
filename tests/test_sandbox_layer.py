"""The PrivateLink completion layer over moto: one test per behaviour it adds."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

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
    from archviz.sandbox import demo
    from archviz.sandbox.server import Sandbox

    with Sandbox() as sb:
        first = demo.seed(sb.endpoint_url, *sb.credentials)
        sb.reset()
        second = demo.seed(sb.endpoint_url, *sb.credentials)
        sb.reset()
    assert first.labels == second.labels and first.services == second.services
    assert first.accounts == second.accounts
