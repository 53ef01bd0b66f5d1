"""Provider side: endpoint services this account publishes, who may connect, who is connected."""

from __future__ import annotations

from typing import Any

from archviz.discovery.aws import AccountSession, paginate, together
from archviz.discovery.common import iso, normalize_state, tags_dict
from archviz.discovery.unit import Unit


def collect(unit: Unit, session: AccountSession, region: str) -> None:
    """The endpoint services the account publishes, who may connect and who is connected. Most
    accounts publish none: they then cost one call."""
    ec2 = session.client("ec2", region)
    acct = session.account_id
    configs = unit.attempt("ec2:DescribeVpcEndpointServiceConfigurations", get_service_configurations, ec2,
                           default=[])
    if not configs:
        return
    perms, conns = unit.together(
        lambda: unit.attempt("ec2:DescribeVpcEndpointServicePermissions", get_service_permissions, ec2,
                             [c["ServiceId"] for c in configs], unit.together, default={}),
        lambda: unit.attempt("ec2:DescribeVpcEndpointConnections", get_endpoint_connections, ec2, default=[]))
    unit.records["endpoint_services"] = transform_endpoint_services(configs, perms, acct, region)
    unit.records["endpoint_connections"] = transform_endpoint_connections(conns, acct, region)


def get_service_configurations(ec2: Any) -> list[dict]:
    return paginate(ec2, "describe_vpc_endpoint_service_configurations", "ServiceConfigurations")


def get_service_permissions(ec2: Any, service_ids: list[str], fan_out=together) -> dict[str, list[dict]]:
    """Each service's allowed principals (one call per service, run through ``fan_out``)."""
    ids = sorted(service_ids)
    return dict(zip(ids, fan_out(*(
        lambda sid=sid: paginate(ec2, "describe_vpc_endpoint_service_permissions", "AllowedPrincipals", ServiceId=sid)
        for sid in ids))))


def get_endpoint_connections(ec2: Any) -> list[dict]:
    return paginate(ec2, "describe_vpc_endpoint_connections", "VpcEndpointConnections")


def load_balancer_arns(config: dict) -> list[str]:
    return sorted((config.get("NetworkLoadBalancerArns") or []) + (config.get("GatewayLoadBalancerArns") or []))


def transform_endpoint_services(configs: list[dict], permissions: dict[str, list[dict]],
                                account_id: str, region: str) -> list[dict]:
    records = []
    for c in configs:
        tags = tags_dict(c.get("Tags"))
        principals = permissions.get(c["ServiceId"], [])
        records.append({
            "service_id": c["ServiceId"],
            "service_name": c.get("ServiceName"),
            "account_id": account_id,
            "region": region,
            "type": ",".join(sorted(t["ServiceType"] for t in c.get("ServiceType") or [])) or None,
            "state": normalize_state(c.get("ServiceState")),
            "acceptance_required": c.get("AcceptanceRequired"),
            "private_dns_name": c.get("PrivateDnsName"),
            "load_balancer_arns": load_balancer_arns(c),
            "supported_regions": sorted(
                ({"region": r.get("Region"), "state": normalize_state(r.get("ServiceState"))}
                 for r in c.get("SupportedRegions") or []),
                key=lambda r: r["region"] or "",
            ),
            "remote_access_enabled": c.get("RemoteAccessEnabled"),
            "payer_responsibility": c.get("PayerResponsibility"),
            "allowed_principals": sorted(
                ({"principal": p.get("Principal"), "principal_type": p.get("PrincipalType")} for p in principals),
                key=lambda p: p["principal"] or "",
            ),
            "availability_zones": sorted(set(c.get("AvailabilityZones") or [])),
            "name": tags.get("Name"),
            "tags": tags,
        })
    return records


def transform_endpoint_connections(raw: list[dict], account_id: str, region: str) -> list[dict]:
    return [{
        "service_id": c.get("ServiceId"),
        "endpoint_id": c.get("VpcEndpointId"),
        "endpoint_owner": c.get("VpcEndpointOwner"),
        # A consumer in another region (cross-region PrivateLink) is named; otherwise it is ours.
        "endpoint_region": c.get("VpcEndpointRegion") or region,
        "state": normalize_state(c.get("VpcEndpointState")),
        "created_at": iso(c.get("CreationTimestamp")),
        "account_id": account_id,
        "region": region,
    } for c in raw]
