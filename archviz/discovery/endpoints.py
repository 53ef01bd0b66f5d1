"""Consumer side: VPC endpoints and the services they point to, as the consumer sees them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from archviz.discovery.aws import AccountSession, describe_in_batches, paginate
from archviz.discovery.common import iso, normalize_state, parse_policy, tags_dict
from archviz.discovery.unit import Unit

SERVICE_NAME_BATCH = 50


def collect(unit: Unit, session: AccountSession, region: str) -> None:
    """The account's endpoints, then the services they reach as this account sees them."""
    ec2 = session.client("ec2", region)
    raw = unit.attempt("ec2:DescribeVpcEndpoints", get_vpc_endpoints, ec2, default=[])
    eps = transform_vpc_endpoints(raw, session.account_id, region)
    unit.records["endpoints"] = eps
    wanted = service_names_by_region(eps)
    if wanted:
        found = unit.attempt("ec2:DescribeVpcEndpointServices", get_service_details, ec2, region, wanted,
                             default=([], []))
        unit.records["service_details"] = transform_service_details(*found, session.account_id, region)


def get_vpc_endpoints(ec2: Any) -> list[dict]:
    return paginate(ec2, "describe_vpc_endpoints", "VpcEndpoints")


def transform_vpc_endpoints(raw: list[dict], account_id: str, region: str) -> list[dict]:
    records = []
    for ep in raw:
        tags = tags_dict(ep.get("Tags"))
        policy, policy_text = parse_policy(ep.get("PolicyDocument"))
        records.append({
            "endpoint_id": ep["VpcEndpointId"],
            "account_id": account_id,
            "region": region,
            "vpc_id": ep.get("VpcId"),
            "type": ep.get("VpcEndpointType"),
            "service_name": ep.get("ServiceName"),
            # Cross-region PrivateLink: AWS names the service's region; otherwise it is ours.
            "service_region": ep.get("ServiceRegion") or region,
            "state": normalize_state(ep.get("State")),
            "subnet_ids": sorted(ep.get("SubnetIds") or []),
            "network_interface_ids": sorted(ep.get("NetworkInterfaceIds") or []),
            "route_table_ids": sorted(ep.get("RouteTableIds") or []),
            "security_group_ids": sorted(g["GroupId"] for g in ep.get("Groups") or []),
            "private_dns_enabled": ep.get("PrivateDnsEnabled"),
            "requester_managed": ep.get("RequesterManaged"),
            "policy": policy,
            "policy_text": policy_text,
            "dns_names": sorted({d["DnsName"] for d in ep.get("DnsEntries") or [] if d.get("DnsName")}),
            "resource_configuration_arn": ep.get("ResourceConfigurationArn"),
            "service_network_arn": ep.get("ServiceNetworkArn"),
            "owner_id": ep.get("OwnerId"),
            "created_at": iso(ep.get("CreationTimestamp")),
            "name": tags.get("Name"),
            "tags": tags,
        })
    return records


def service_names_by_region(endpoints: list[dict]) -> dict[str, set[str]]:
    """The service names in use, grouped by the region the service lives in."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for ep in endpoints:
        if ep["service_name"] and ep["type"] not in ("Resource", "ServiceNetwork"):
            wanted[ep["service_region"]].add(ep["service_name"])
    return wanted


def get_service_details(ec2: Any, region: str, wanted: dict[str, set[str]]) -> tuple[list[dict], list[tuple[str, str]]]:
    """``ServiceDetails`` for the names in use, each tagged with the region asked about
    (``_AskedRegion``), and the (region, name) pairs this account is not allowed to see."""
    details: list[dict] = []
    hidden: list[tuple[str, str]] = []
    for service_region, names in sorted(wanted.items()):
        extra = {} if service_region == region else {"ServiceRegions": [service_region]}
        found, missing = describe_in_batches(
            lambda batch: paginate(ec2, "describe_vpc_endpoint_services", "ServiceDetails",
                                   ServiceNames=batch, **extra),
            names, SERVICE_NAME_BATCH, "InvalidServiceName")
        details.extend(dict(d, _AskedRegion=service_region) for d in found)
        hidden.extend((service_region, name) for name in missing)
    return details, hidden


def transform_service_details(raw: list[dict], hidden: list[tuple[str, str]], account_id: str, region: str) -> list[dict]:
    records = []
    for d in raw:
        records.append({
            "account_id": account_id,
            "region": region,
            "service_name": d["ServiceName"],
            "visible": True,
            "service_id": d.get("ServiceId"),
            "owner": d.get("Owner"),
            "service_type": ",".join(sorted(t["ServiceType"] for t in d.get("ServiceType") or [])) or None,
            "acceptance_required": d.get("AcceptanceRequired"),
            "availability_zones": sorted(d.get("AvailabilityZones") or []),
            "service_region": d.get("ServiceRegion") or d.get("_AskedRegion") or region,
            "private_dns_name": d.get("PrivateDnsName"),
            "vpc_endpoint_policy_supported": d.get("VpcEndpointPolicySupported"),
            "manages_vpc_endpoints": d.get("ManagesVpcEndpoints"),
            "payer_responsibility": d.get("PayerResponsibility"),
        })
    for service_region, name in hidden:
        records.append({
            "account_id": account_id, "region": region, "service_name": name, "visible": False,
            "service_id": None, "owner": None, "service_type": None, "acceptance_required": None,
            "availability_zones": [], "service_region": service_region, "private_dns_name": None,
            "vpc_endpoint_policy_supported": None, "manages_vpc_endpoints": None,
            "payer_responsibility": None,
        })
    return records
