"""Pure transforms on fixtures shaped exactly like AWS responses (named after the operation)."""

from __future__ import annotations

from datetime import datetime

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from archviz.discovery import endpoints, load_balancers, marketplace, network, organizations, services
from tests.conftest import FIXTURES, fixture

ACCT, REGION = "111122223333", "us-east-1"


@pytest.mark.parametrize("operation", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_fixtures_are_valid_aws_responses(operation):
    assert fixture(operation)  # validates against botocore's output shape


def test_vpc_endpoints():
    eps = {e["endpoint_id"]: e for e in endpoints.transform_vpc_endpoints(
        fixture("DescribeVpcEndpoints")["VpcEndpoints"], ACCT, REGION)}
    cross = eps["vpce-0a1b2c3d4e5f60001"]
    assert cross["state"] == "pendingAcceptance"  # "PendingAcceptance" in the model's spelling
    assert (cross["region"], cross["service_region"]) == (REGION, "eu-west-1")
    assert cross["subnet_ids"] == ["subnet-0bbb0000000000001", "subnet-0bbb0000000000002"]
    assert cross["security_group_ids"] == ["sg-0ddd0000000000001"]
    assert cross["policy"] == {"Statement": [{"Action": "*", "Effect": "Allow", "Principal": "*", "Resource": "*"}]}
    assert cross["name"] == 'payments | "prod" <b>' and cross["tags"]["team"] == "core"
    assert cross["created_at"] == "2025-03-04T10:11:12Z"
    gateway = eps["vpce-0a1b2c3d4e5f60002"]
    assert gateway["service_region"] == REGION and gateway["route_table_ids"] == ["rtb-0eee0000000000001"]
    assert (gateway["policy"], gateway["policy_text"]) == (None, "not json")
    resource = eps["vpce-0a1b2c3d4e5f60003"]
    assert resource["state"] == "available" and resource["service_name"] is None
    assert resource["resource_configuration_arn"].endswith("rcfg-0123456789abcdef0")
    # Resource and ServiceNetwork endpoints have no service name to look up.
    assert endpoints.service_names_by_region(list(eps.values())) == {
        "eu-west-1": {"com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0"},
        REGION: {"com.amazonaws.us-east-1.s3"}}


def test_service_details_with_a_hidden_service():
    raw = [dict(d, _AskedRegion=REGION) for d in fixture("DescribeVpcEndpointServices")["ServiceDetails"]]
    recs = endpoints.transform_service_details(raw, [("eu-west-1", "com.example.gone")], ACCT, REGION)
    by_name = {r["service_name"]: r for r in recs}
    assert by_name["com.amazonaws.us-east-1.s3"]["owner"] == "amazon"
    assert by_name["com.amazonaws.us-east-1.s3"]["availability_zones"] == ["us-east-1a", "us-east-1b"]
    market = by_name["com.amazonaws.vpce.us-east-1.vpce-svc-0feedc0ffee000001"]
    assert (market["owner"], market["payer_responsibility"]) == ("aws-marketplace", "ServiceOwner")
    gone = by_name["com.example.gone"]
    assert (gone["visible"], gone["owner"], gone["service_region"]) == (False, None, "eu-west-1")


def test_get_service_details_finds_the_name_it_may_not_see():
    """A batch with one invisible name is retried name by name; the others are kept."""
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    s3 = fixture("DescribeVpcEndpointServices")["ServiceDetails"][0]
    with Stubber(ec2) as stub:  # regions in sorted order: eu-west-1 (asked with ServiceRegions) first
        stub.add_response("describe_vpc_endpoint_services", {"ServiceDetails": []},
                          expected_params={"ServiceNames": ["com.example.x"], "ServiceRegions": ["eu-west-1"]})
        stub.add_client_error("describe_vpc_endpoint_services", "InvalidServiceName",
                              expected_params={"ServiceNames": ["com.amazonaws.us-east-1.s3", "com.example.gone"]})
        stub.add_response("describe_vpc_endpoint_services", {"ServiceDetails": [s3]},
                          expected_params={"ServiceNames": ["com.amazonaws.us-east-1.s3"]})
        stub.add_client_error("describe_vpc_endpoint_services", "InvalidServiceName",
                              expected_params={"ServiceNames": ["com.example.gone"]})
        details, hidden = endpoints.get_service_details(
            ec2, REGION, {REGION: {"com.amazonaws.us-east-1.s3", "com.example.gone"}, "eu-west-1": {"com.example.x"}})
        stub.assert_no_pending_responses()
    assert [d["ServiceName"] for d in details] == ["com.amazonaws.us-east-1.s3"]
    assert hidden == [(REGION, "com.example.gone")]


def test_other_errors_are_not_mistaken_for_invisible_services():
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_vpc_endpoint_services", "UnauthorizedOperation")
        with pytest.raises(ClientError):
            endpoints.get_service_details(ec2, REGION, {REGION: {"a"}})


def test_a_load_balancer_gone_mid_crawl_costs_only_itself():
    """A batch failing with LoadBalancerNotFound is asked again ARN by ARN; the others are kept."""
    import boto3

    elbv2 = boto3.client("elbv2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    [lb] = fixture("DescribeLoadBalancers")["LoadBalancers"]
    gone = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/gone/0000000000000000"
    with Stubber(elbv2) as stub:
        stub.add_client_error("describe_load_balancers", "LoadBalancerNotFound",
                              expected_params={"LoadBalancerArns": sorted([lb["LoadBalancerArn"], gone])})
        stub.add_response("describe_load_balancers", {"LoadBalancers": [lb]},
                          expected_params={"LoadBalancerArns": [lb["LoadBalancerArn"]]})
        stub.add_client_error("describe_load_balancers", "LoadBalancerNotFound",
                              expected_params={"LoadBalancerArns": [gone]})
        stub.add_response("describe_listeners", {"Listeners": []},
                          expected_params={"LoadBalancerArn": lb["LoadBalancerArn"]})
        stub.add_response("describe_target_groups", {"TargetGroups": []},
                          expected_params={"LoadBalancerArn": lb["LoadBalancerArn"]})
        raw = load_balancers.get_load_balancers(elbv2, [gone, lb["LoadBalancerArn"]])
        stub.assert_no_pending_responses()
    assert raw["LoadBalancers"] == [lb]


def test_public_subnets_follow_explicit_then_main_route_table():
    subnets = {s["subnet_id"]: s for s in network.transform_subnets(
        fixture("DescribeSubnets")["Subnets"], fixture("DescribeRouteTables")["RouteTables"], ACCT, REGION)}
    # Main table routes 0.0.0.0/0 to a NAT gateway: private.
    assert subnets["subnet-0bbb0000000000001"]["public"] is False
    assert subnets["subnet-0bbb0000000000001"]["route_table_id"] == "rtb-0eee0000000000001"
    # Explicit association with a default route to an internet gateway: public.
    assert subnets["subnet-0bbb0000000000002"]["public"] is True
    assert subnets["subnet-0bbb0000000000002"]["internet_gateway_id"] == "igw-0ggg0000000000001"
    # IPv6 default route to an internet gateway through the main table: public.
    assert subnets["subnet-0bbb0000000000003"]["public"] is True
    assert subnets["subnet-0bbb0000000000001"]["availability_zone"] == "us-east-1a"


def test_security_group_rules():
    [sg] = network.transform_security_groups(fixture("DescribeSecurityGroups")["SecurityGroups"], ACCT, REGION)
    assert sg["ingress"] == [{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidrs": ["0.0.0.0/0", "::/0"],
                              "security_group_ids": ["sg-0ddd0000000000009"], "prefix_list_ids": []}]


def test_endpoint_service_configurations():
    perms = {"vpce-svc-0123456789abcdef1": fixture("DescribeVpcEndpointServicePermissions")["AllowedPrincipals"]}
    [svc] = services.transform_endpoint_services(
        fixture("DescribeVpcEndpointServiceConfigurations")["ServiceConfigurations"], perms, ACCT, REGION)
    assert svc["type"] == "GatewayLoadBalancer" and svc["state"] == "available"
    assert svc["load_balancer_arns"] == ["arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/gwy/inspect/0123456789abcdef"]
    assert svc["supported_regions"] == [{"region": "us-east-1", "state": "available"}, {"region": "us-west-2", "state": "pending"}]
    assert svc["allowed_principals"] == [{"principal": "*", "principal_type": "All"}]
    assert svc["availability_zones"] == ["us-east-1a", "us-east-1b"]
    assert (svc["remote_access_enabled"], svc["name"]) == (True, "inspection")


def test_endpoint_connections():
    conns = services.transform_endpoint_connections(
        fixture("DescribeVpcEndpointConnections")["VpcEndpointConnections"], ACCT, REGION)
    assert [(c["endpoint_id"], c["endpoint_owner"], c["endpoint_region"], c["state"]) for c in conns] == [
        ("vpce-0abc0000000000001", "444455556666", "us-west-2", "pendingAcceptance"),
        ("vpce-0abc0000000000002", ACCT, REGION, "available")]
    assert conns[0]["created_at"] == "2025-05-06T07:08:09Z"


def test_load_balancers_with_targets():
    lb_raw = fixture("DescribeLoadBalancers")["LoadBalancers"]
    arn = lb_raw[0]["LoadBalancerArn"]
    tg = fixture("DescribeTargetGroups")["TargetGroups"]
    raw = {"LoadBalancers": lb_raw, "Listeners": {arn: fixture("DescribeListeners")["Listeners"]},
           "TargetGroups": {arn: tg}, "TargetHealth": {tg[0]["TargetGroupArn"]: fixture("DescribeTargetHealth")["TargetHealthDescriptions"]}}
    [lb] = load_balancers.transform_load_balancers(raw, ACCT, REGION)
    assert (lb["type"], lb["state"], lb["availability_zones"]) == ("gateway", "active", ["us-east-1a", "us-east-1b"])
    assert lb["listeners"][0]["target_group_arns"] == [tg[0]["TargetGroupArn"]]
    targets = lb["target_groups"][0]["targets"]
    assert [(t["id"], t["health"]) for t in targets] == [("i-0aaa0000000000001", "draining"), ("i-0bbb0000000000002", "unhealthy")]


def test_marketplace_agreements():
    [a] = marketplace.transform_agreements(fixture("SearchAgreements")["agreementViewSummaries"], ACCT)
    assert a == {"account_id": ACCT, "agreement_id": "agmt-0123456789", "product_id": "prod-abc123",
                 "product_type": "SaaSProduct", "offer_id": "offer-abc", "status": "ACTIVE",
                 "proposer_account_id": "777788889999", "start_time": "2025-01-01T00:00:00Z",
                 "end_time": "2026-01-01T00:00:00Z"}


def test_accounts_and_regions():
    org = organizations.transform_organization({"Id": "o-abc", "MasterAccountId": ACCT}, fixture("ListAccounts")["Accounts"])
    assert org == {"id": "o-abc", "management_account_id": ACCT, "account_ids": [ACCT, "444455556666"],
                   "root_id": None, "organizational_units": []}
    assert organizations.opted_in(fixture("DescribeRegions")["Regions"]) == ["ap-east-1", "us-east-1"]
    assert isinstance(fixture("ListAccounts")["Accounts"][0]["JoinedTimestamp"], datetime)
