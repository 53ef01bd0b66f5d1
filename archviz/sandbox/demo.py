"""The demo organization: a believable PrivateLink estate seeded into the sandbox over HTTP.

It shows every PrivateLink use case archviz classifies and every finding the model defines:

- AWS services: S3 and DynamoDB gateway endpoints, an API Gateway (execute-api) interface endpoint;
- internal, cross-account: ``shared-services`` publishes the NLB-backed ``payments-api`` to
  the organization, consumed from ``app-prod`` (and cross-region from eu-west-1) and
  ``data-analytics`` (still pending acceptance);
- internal, same account: ``app-prod`` publishes ``orders-internal`` to its own batch VPC;
- third party: ``Acme Observability`` (an account outside the organization);
- Marketplace: a SaaS listing (owner ``aws-marketplace``) with a purchase agreement;
- an outside account (``Partner Co``) connected to ``payments-api``, and one of its requests rejected;
- ``legacy-reports``: open to ``*``, auto-accepting, with no healthy target;
- ``egress-inspection``: a Gateway Load Balancer of inspection appliances, reached from
  ``app-prod`` through a Gateway Load Balancer endpoint;
- an endpoint in a public subnet, with a security group open to the internet; a
  single-AZ endpoint; an endpoint in a zone its service does not serve;
- ``security-audit``: a member account whose role cannot be assumed.

Seeding is deterministic (moto's random generator is seeded, and the sandbox warms moto up
before anything is seeded), so two demo runs create the same ids, in fresh processes or one
after another in the same process (``tests/test_sandbox_layer.py`` checks it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from archviz.sandbox.state import STATE

ROLE_NAME = "OrganizationAccountAccessRole"
REGIONS = ("us-east-1", "eu-west-1")
HOME = "us-east-1"
RANDOM_SEED = 20241126

# Accounts outside the organization (moto lets us act as any account id).
PARTNER = "210987654321"       # consumes our payments-api: an external consumer
ACME = "444455556666"          # third-party provider (observability SaaS)
SELLER = "777788889999"        # a Marketplace seller's account


@dataclass
class Manifest:
    """What the seed created, for tests and for the demo's own summary."""

    management: str = ""
    accounts: dict[str, str] = field(default_factory=dict)  # name -> id (organization members)
    unassumable: str = ""
    endpoints: dict[str, list[str]] = field(default_factory=dict)  # account id -> endpoint ids
    services: dict[str, str] = field(default_factory=dict)  # label -> service id
    service_names: dict[str, str] = field(default_factory=dict)  # label -> service name
    service_accounts: dict[str, str] = field(default_factory=dict)  # label -> provider account id
    load_balancers: dict[str, list[str]] = field(default_factory=dict)  # account id -> arns
    connections: dict[str, tuple[str, str]] = field(default_factory=dict)  # endpoint id -> (service label, state)
    labels: dict[str, str] = field(default_factory=dict)  # label -> endpoint id
    agreements: dict[str, list[str]] = field(default_factory=dict)  # account id -> agreement ids

    def crawled_accounts(self) -> list[str]:
        return sorted([self.management, *self.accounts.values()])


class _Account:
    """Write clients for one account of the sandbox (seeding is not the read-only crawler)."""

    def __init__(self, endpoint_url: str, creds: dict[str, str], account_id: str):
        self.account_id = account_id
        self._kw = dict(endpoint_url=endpoint_url, **creds)

    def client(self, service: str, region: str = HOME) -> Any:
        return boto3.client(service, region_name=region, **self._kw)


def _tags(resource: str, name: str, **extra: str) -> list[dict]:
    tags = [{"Key": "Name", "Value": name}] + [{"Key": k, "Value": v} for k, v in sorted(extra.items())]
    return [{"ResourceType": resource, "Tags": tags}]


class _Seeder:
    def __init__(self, endpoint_url: str, access_key: str, secret_key: str):
        self.url = endpoint_url
        self.root_creds = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
        self.m = Manifest()
        self._accounts: dict[str, _Account] = {}

    # -- accounts ------------------------------------------------------------------------
    def account(self, account_id: str) -> _Account:
        if account_id not in self._accounts:
            if account_id == self.m.management:
                creds = self.root_creds
            else:
                sts = boto3.client("sts", region_name=HOME, endpoint_url=self.url, **self.root_creds)
                c = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE_NAME}",
                                    RoleSessionName="archviz-demo-seed")["Credentials"]
                creds = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                         "aws_session_token": c["SessionToken"]}
            self._accounts[account_id] = _Account(self.url, creds, account_id)
        return self._accounts[account_id]

    # -- network -------------------------------------------------------------------------
    def vpc(self, acct: _Account, region: str, cidr: str, name: str, subnets: list[tuple[str, str, bool]]):
        """A VPC with (az-suffix, cidr, public) subnets; public ones route 0.0.0.0/0 to an IGW."""
        ec2 = acct.client("ec2", region)
        vpc_id = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=_tags("vpc", name))["Vpc"]["VpcId"]
        ids, public_table = [], None
        for suffix, subnet_cidr, public in subnets:
            sid = ec2.create_subnet(
                VpcId=vpc_id, CidrBlock=subnet_cidr, AvailabilityZone=region + suffix,
                TagSpecifications=_tags("subnet", f"{name}-{'public' if public else 'private'}-{suffix}"),
            )["Subnet"]["SubnetId"]
            ids.append(sid)
            if public:
                if public_table is None:
                    igw = ec2.create_internet_gateway(
                        TagSpecifications=_tags("internet-gateway", f"{name}-igw"))["InternetGateway"]["InternetGatewayId"]
                    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
                    public_table = ec2.create_route_table(
                        VpcId=vpc_id, TagSpecifications=_tags("route-table", f"{name}-public"))["RouteTable"]["RouteTableId"]
                    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
                ec2.associate_route_table(RouteTableId=public_table, SubnetId=sid)
        main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                  {"Name": "association.main", "Values": ["true"]}])
        return vpc_id, ids, main["RouteTables"][0]["RouteTableId"]

    def security_group(self, acct: _Account, region: str, vpc_id: str, name: str, cidr: str) -> str:
        ec2 = acct.client("ec2", region)
        gid = ec2.create_security_group(GroupName=name, Description=f"{name} (HTTPS to endpoints)", VpcId=vpc_id,
                                        TagSpecifications=_tags("security-group", name))["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": cidr}]}])
        return gid

    # -- provider side -------------------------------------------------------------------
    def nlb_service(self, acct: _Account, label: str, name: str, vpc_cidr: str, *, acceptance: bool,
                    principals: list[str], healthy: bool = True, supported_regions: list[str] | None = None,
                    private_dns: str | None = None, region: str = HOME, gateway: bool = False) -> None:
        """An NLB with a TCP/443 listener and targets (or, with ``gateway``, a GWLB with GENEVE
        appliances), published as an endpoint service."""
        vpc_id, subnets, _ = self.vpc(acct, region, vpc_cidr, f"{name}-vpc",
                                      [("a", vpc_cidr.replace("0.0/16", "1.0/24"), False),
                                       ("b", vpc_cidr.replace("0.0/16", "2.0/24"), False)])
        elb = acct.client("elbv2", region)
        suffix = "gwlb" if gateway else "nlb"
        lb = elb.create_load_balancer(Name=f"{name}-{suffix}", Subnets=subnets, Type="gateway" if gateway else "network",
                                      **({} if gateway else {"Scheme": "internal"}),
                                      Tags=[{"Key": "Name", "Value": f"{name}-{suffix}"}])["LoadBalancers"][0]
        if gateway:  # appliances behind a GWLB speak GENEVE on 6081; its listener has no protocol
            tg = elb.create_target_group(Name=f"{name}-tg", Protocol="GENEVE", Port=6081, VpcId=vpc_id,
                                         TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
            prefix = vpc_cidr.split(".0.0/16")[0]
            elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": f"{prefix}.1.20"}, {"Id": f"{prefix}.2.20"}])
            elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"],
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        elif healthy:
            tg = elb.create_target_group(Name=f"{name}-tg", Protocol="TCP", Port=443, VpcId=vpc_id,
                                         TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
            prefix = vpc_cidr.split(".0.0/16")[0]
            elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": f"{prefix}.1.10", "Port": 443},
                                                             {"Id": f"{prefix}.2.10", "Port": 443}])
        else:  # the only target is an instance that has been stopped: AWS reports it "unused"
            ec2 = acct.client("ec2", region)
            image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
            inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.small",
                                     SubnetId=subnets[0],
                                     TagSpecifications=_tags("instance", f"{name}-host"))["Instances"][0]["InstanceId"]
            tg = elb.create_target_group(Name=f"{name}-tg", Protocol="TCP", Port=443, VpcId=vpc_id,
                                         TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
            elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": inst, "Port": 443}])
            ec2.stop_instances(InstanceIds=[inst])
        if not gateway:
            elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=443,
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        ec2 = acct.client("ec2", region)
        params: dict[str, Any] = dict(AcceptanceRequired=acceptance, TagSpecifications=_tags("vpc-endpoint-service", name))
        params["GatewayLoadBalancerArns" if gateway else "NetworkLoadBalancerArns"] = [lb["LoadBalancerArn"]]
        if supported_regions:
            params["SupportedRegions"] = supported_regions
        if private_dns:
            params["PrivateDnsName"] = private_dns
        svc = ec2.create_vpc_endpoint_service_configuration(**params)["ServiceConfiguration"]
        if principals:
            ec2.modify_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"], AddAllowedPrincipals=principals)
        self.m.services[label] = svc["ServiceId"]
        self.m.service_names[label] = svc["ServiceName"]
        self.m.service_accounts[label] = acct.account_id
        self.m.load_balancers.setdefault(acct.account_id, []).append(lb["LoadBalancerArn"])

    def decide(self, provider: _Account, label: str, endpoint_id: str, accept: bool, region: str = HOME) -> None:
        ec2 = provider.client("ec2", region)
        call = ec2.accept_vpc_endpoint_connections if accept else ec2.reject_vpc_endpoint_connections
        call(ServiceId=self.m.services[label], VpcEndpointIds=[endpoint_id])
        self.m.connections[endpoint_id] = (label, "available" if accept else "rejected")

    # -- consumer side -------------------------------------------------------------------
    def endpoint(self, acct: _Account, label: str, region: str, vpc_id: str, service: str, name: str, *,
                 kind: str = "Interface", subnets: list[str] | None = None, groups: list[str] | None = None,
                 route_tables: list[str] | None = None, policy: dict | None = None,
                 service_region: str | None = None, private_dns: bool = False) -> str:
        """``service`` is the label of a seeded endpoint service, or an AWS service name."""
        custom = service in self.m.services
        params: dict[str, Any] = dict(VpcId=vpc_id, VpcEndpointType=kind,
                                      ServiceName=self.m.service_names[service] if custom else service,
                                      TagSpecifications=_tags("vpc-endpoint", name))
        if kind == "Interface":
            params.update(SubnetIds=subnets or [], SecurityGroupIds=groups or [], PrivateDnsEnabled=private_dns)
        elif kind == "GatewayLoadBalancer":
            params.update(SubnetIds=subnets or [])
        else:
            params.update(RouteTableIds=route_tables or [])
        if policy is not None:
            params["PolicyDocument"] = json.dumps(policy)
        if service_region:
            params["ServiceRegion"] = service_region
        ep = acct.client("ec2", region).create_vpc_endpoint(**params)["VpcEndpoint"]
        if acct.account_id in self.m.crawled_accounts():
            self.m.endpoints.setdefault(acct.account_id, []).append(ep["VpcEndpointId"])
        self.m.labels[label] = ep["VpcEndpointId"]
        if custom:
            self.m.connections[ep["VpcEndpointId"]] = (service, ep["State"])
        return ep["VpcEndpointId"]


# Anyone who may tag a resource chooses its Name: three of the demo's are hostile, so every
# output shows them as text (no markup, no change to a diagram's graph).
HOSTILE = {
    "aws:dynamodb-data": "analytics-ddb<img src=x onerror=alert(1)>",
    "orders:batch": 'batch-orders"] --> pwned %% `x` |y|',
    "analytics-vpc": "analytics-vpc<script>alert(2)</script>",
}


def seed(endpoint_url: str, access_key: str, secret_key: str) -> Manifest:
    """Create the demo organization in a freshly reset sandbox."""
    from moto.moto_api._internal import mock_random

    mock_random.seed(RANDOM_SEED)
    s = _Seeder(endpoint_url, access_key, secret_key)
    m = s.m
    root = boto3.client("organizations", region_name=HOME, endpoint_url=endpoint_url, **s.root_creds)
    org = root.create_organization(FeatureSet="ALL")["Organization"]
    m.management = org["MasterAccountId"]
    for name in ("shared-services", "app-prod", "data-analytics", "security-audit"):
        status = root.create_account(Email=f"aws+{name}@northwind.example", AccountName=name)["CreateAccountStatus"]
        m.accounts[name] = status["AccountId"]
    m.unassumable = m.accounts["security-audit"]

    shared = s.account(m.accounts["shared-services"])
    app = s.account(m.accounts["app-prod"])
    data = s.account(m.accounts["data-analytics"])
    partner, acme, seller = s.account(PARTNER), s.account(ACME), s.account(SELLER)
    root_of = lambda account_id: f"arn:aws:iam::{account_id}:root"  # noqa: E731

    # Providers.
    s.nlb_service(shared, "payments", "payments-api", "10.20.0.0/16", acceptance=True,
                             principals=[root_of(app.account_id), root_of(data.account_id), root_of(PARTNER)],
                             supported_regions=["us-east-1", "eu-west-1"], private_dns="payments.northwind.internal")
    s.nlb_service(shared, "legacy", "legacy-reports", "10.21.0.0/16", acceptance=False,
                           principals=["*"], healthy=False)
    s.nlb_service(app, "orders", "orders-internal", "10.30.0.0/16", acceptance=False, principals=[])
    s.nlb_service(shared, "inspection", "egress-inspection", "10.22.0.0/16", acceptance=True,
                  principals=[root_of(app.account_id)], gateway=True)
    s.nlb_service(acme, "acme", "acme-observability-ingest", "10.90.0.0/16", acceptance=True,
                             principals=[root_of(app.account_id)])
    s.nlb_service(seller, "market", "contoso-threat-intel", "10.91.0.0/16", acceptance=False,
                           principals=[root_of(app.account_id)])
    STATE.marketplace_services.add(m.services["market"])

    # app-prod, us-east-1: the main workload VPC (two private subnets, one public).
    vpc, (app_a, app_b, app_pub), main_rt = s.vpc(app, HOME, "10.1.0.0/16", "app-prod-vpc",
                                                  [("a", "10.1.1.0/24", False), ("b", "10.1.2.0/24", False),
                                                   ("c", "10.1.3.0/24", True)])
    private_sg = s.security_group(app, HOME, vpc, "app-prod-endpoints", "10.1.0.0/16")
    open_sg = s.security_group(app, HOME, vpc, "app-prod-api-edge", "0.0.0.0/0")
    s3_policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": "arn:aws:s3:::northwind-app-prod-*/*"}]}
    s.endpoint(app, "aws:s3", HOME, vpc, "com.amazonaws.us-east-1.s3", "app-prod-s3", kind="Gateway",
               route_tables=[main_rt], policy=s3_policy)
    s.endpoint(app, "aws:dynamodb", HOME, vpc, "com.amazonaws.us-east-1.dynamodb", "app-prod-dynamodb",
               kind="Gateway", route_tables=[main_rt])
    s.endpoint(app, "aws:execute-api", HOME, vpc, "com.amazonaws.us-east-1.execute-api", "app-prod-api-gateway",
               subnets=[app_b, app_pub], groups=[open_sg], private_dns=True)
    ep = s.endpoint(app, "payments:app", HOME, vpc, "payments", "app-prod-payments", subnets=[app_a, app_b],
                    groups=[private_sg], private_dns=True)
    s.decide(shared, "payments", ep, accept=True)
    ep = s.endpoint(app, "acme:app", HOME, vpc, "acme", "app-prod-acme-observability",
                    subnets=[app_a, app_pub], groups=[private_sg])  # zone c: Acme serves a and b only
    s.decide(acme, "acme", ep, accept=True)
    s.endpoint(app, "market:app", HOME, vpc, "market", "app-prod-contoso-threat-intel",
               subnets=[app_a, app_b], groups=[private_sg])
    ep = s.endpoint(app, "inspection:app", HOME, vpc, "inspection", "app-prod-egress-inspection",
                    kind="GatewayLoadBalancer", subnets=[app_pub])  # GWLB endpoints sit where traffic enters
    s.decide(shared, "inspection", ep, accept=True)
    # app-prod's own batch VPC consumes its orders-internal service (same account).
    batch, (batch_a, batch_b), _ = s.vpc(app, HOME, "10.2.0.0/16", "app-batch-vpc",
                                         [("a", "10.2.1.0/24", False), ("b", "10.2.2.0/24", False)])
    batch_sg = s.security_group(app, HOME, batch, "app-batch-endpoints", "10.2.0.0/16")
    s.endpoint(app, "orders:batch", HOME, batch, "orders", HOSTILE["orders:batch"], subnets=[batch_a, batch_b],
               groups=[batch_sg])
    STATE.agreements[app.account_id] = [_agreement(app.account_id, SELLER, "agmt-7xq2contosoti01",
                                                   "prod-contosothreatintel", "SaaSProduct")]
    m.agreements[app.account_id] = ["agmt-7xq2contosoti01"]

    # app-prod, eu-west-1: reaches payments-api in us-east-1 (cross-region PrivateLink).
    eu, (eu_a, eu_b), eu_rt = s.vpc(app, "eu-west-1", "10.3.0.0/16", "app-prod-eu-vpc",
                                    [("a", "10.3.1.0/24", False), ("b", "10.3.2.0/24", False)])
    eu_sg = s.security_group(app, "eu-west-1", eu, "app-prod-eu-endpoints", "10.3.0.0/16")
    ep = s.endpoint(app, "payments:app-eu", "eu-west-1", eu, "payments", "app-prod-eu-payments",
                    subnets=[eu_a, eu_b], groups=[eu_sg], service_region="us-east-1")
    s.decide(shared, "payments", ep, accept=True)
    s.endpoint(app, "aws:s3-eu", "eu-west-1", eu, "com.amazonaws.eu-west-1.s3", "app-prod-eu-s3",
               kind="Gateway", route_tables=[eu_rt])

    # data-analytics: a single-AZ request to payments-api, still pending; DynamoDB via gateway.
    dvpc, (data_a,), data_rt = s.vpc(data, HOME, "10.4.0.0/16", HOSTILE["analytics-vpc"], [("a", "10.4.1.0/24", False)])
    data_sg = s.security_group(data, HOME, dvpc, "analytics-endpoints", "10.4.0.0/16")
    s.endpoint(data, "payments:data", HOME, dvpc, "payments", "analytics-payments", subnets=[data_a],
               groups=[data_sg])
    s.endpoint(data, "aws:dynamodb-data", HOME, dvpc, "com.amazonaws.us-east-1.dynamodb", HOSTILE["aws:dynamodb-data"],
               kind="Gateway", route_tables=[data_rt])
    s.endpoint(data, "legacy:data", HOME, dvpc, "legacy", "analytics-legacy-reports", subnets=[data_a],
               groups=[data_sg])

    # Partner Co, outside the organization: one request accepted, a second one rejected.
    pvpc, (pa, pb), _ = s.vpc(partner, HOME, "172.16.0.0/16", "partner-vpc",
                              [("a", "172.16.1.0/24", False), ("b", "172.16.2.0/24", False)])
    ep = s.endpoint(partner, "payments:partner", HOME, pvpc, "payments", "partnerco-northwind-payments",
                    subnets=[pa, pb])
    s.decide(shared, "payments", ep, accept=True)
    ep = s.endpoint(partner, "payments:partner-test", HOME, pvpc, "payments", "partnerco-test-payments",
                    subnets=[pa])
    s.decide(shared, "payments", ep, accept=False)

    # The security-audit account's role cannot be assumed (a broken trust policy, say).
    STATE.add_fault("AssumeRole", "AccessDenied", account=m.unassumable,
                    message=f"User is not authorized to perform: sts:AssumeRole on resource: "
                            f"arn:aws:iam::{m.unassumable}:role/{ROLE_NAME}")
    return m


def _agreement(buyer: str, seller: str, agreement_id: str, product_id: str, product_type: str) -> dict:
    return {
        "agreementId": agreement_id,
        "agreementType": "PurchaseAgreement",
        "status": "ACTIVE",
        "acceptanceTime": 1730000000,  # 2024-10-27
        "startTime": 1730000000,
        "endTime": 1856044800,  # 2028-10-25
        "acceptor": {"accountId": buyer},
        "proposer": {"accountId": seller},
        "proposalSummary": {"offerId": "offer-contosoti2024", "resources": [{"id": product_id, "type": product_type}]},
    }
