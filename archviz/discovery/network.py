"""The VPCs, subnets, route tables and security groups that endpoints and load balancers use.

Only what the endpoints touch is fetched (by filter, so an id that vanished mid-crawl is
simply absent rather than an error)."""

from __future__ import annotations

from typing import Any, Iterable

from archviz.discovery.aws import AccountSession, chunks, paginate
from archviz.discovery.common import tags_dict
from archviz.discovery.unit import Unit

FILTER_BATCH = 100
DEFAULT_ROUTES = ("0.0.0.0/0", "::/0")


def collect(unit: Unit, session: AccountSession, region: str) -> None:
    """The VPCs, subnets, route tables and security groups of what the earlier collectors
    recorded, looked up at once (a subnet's route tables are its VPC's, and a subnet is in its
    endpoint's VPC). Nothing to look up costs no call."""
    ec2 = session.client("ec2", region)
    acct = session.account_id
    eps = unit.records.get("endpoints", [])

    def lookup(operation: str, get, ids: set) -> list[dict]:
        return unit.attempt(operation, get, ec2, ids, default=[]) if ids else []

    vpc_ids = {r["vpc_id"] for r in eps + unit.records.get("load_balancers", []) if r["vpc_id"]}
    subnet_ids = {s for e in eps for s in e["subnet_ids"]}
    group_ids = {g for e in eps for g in e["security_group_ids"]}
    vpcs, subnets, tables, groups = unit.together(
        lambda: lookup("ec2:DescribeVpcs", get_vpcs, vpc_ids),
        lambda: lookup("ec2:DescribeSubnets", get_subnets, subnet_ids),
        lambda: lookup("ec2:DescribeRouteTables", get_route_tables,
                       {e["vpc_id"] for e in eps if e["subnet_ids"] and e["vpc_id"]}),
        lambda: lookup("ec2:DescribeSecurityGroups", get_security_groups, group_ids))
    if vpc_ids:
        unit.records["vpcs"] = transform_vpcs(vpcs, acct, region)
    if subnet_ids:
        unit.records["subnets"] = transform_subnets(subnets, tables, acct, region)
    if group_ids:
        unit.records["security_groups"] = transform_security_groups(groups, acct, region)


def _by_filter(ec2: Any, operation: str, key: str, name: str, ids: Iterable[str]) -> list[dict]:
    out: list[dict] = []
    for batch in chunks(ids, FILTER_BATCH):
        out.extend(paginate(ec2, operation, key, Filters=[{"Name": name, "Values": batch}]))
    return out


def get_vpcs(ec2: Any, vpc_ids: Iterable[str]) -> list[dict]:
    return _by_filter(ec2, "describe_vpcs", "Vpcs", "vpc-id", vpc_ids)


def get_subnets(ec2: Any, subnet_ids: Iterable[str]) -> list[dict]:
    return _by_filter(ec2, "describe_subnets", "Subnets", "subnet-id", subnet_ids)


def get_route_tables(ec2: Any, vpc_ids: Iterable[str]) -> list[dict]:
    """All route tables of the VPCs: a subnet without an explicit association uses the main one."""
    return _by_filter(ec2, "describe_route_tables", "RouteTables", "vpc-id", vpc_ids)


def get_security_groups(ec2: Any, group_ids: Iterable[str]) -> list[dict]:
    return _by_filter(ec2, "describe_security_groups", "SecurityGroups", "group-id", group_ids)


def transform_vpcs(raw: list[dict], account_id: str, region: str) -> list[dict]:
    records = []
    for vpc in raw:
        tags = tags_dict(vpc.get("Tags"))
        records.append({
            "vpc_id": vpc["VpcId"], "account_id": account_id, "region": region,
            "cidr_block": vpc.get("CidrBlock"), "is_default": vpc.get("IsDefault"),
            "name": tags.get("Name"), "tags": tags,
        })
    return records


def route_table_for_subnet(subnet: dict, route_tables: list[dict]) -> dict | None:
    """The explicitly associated route table, else the VPC's main route table."""
    main = None
    for table in route_tables:
        if table.get("VpcId") != subnet.get("VpcId"):
            continue
        for assoc in table.get("Associations") or []:
            if assoc.get("SubnetId") == subnet["SubnetId"]:
                return table
            if assoc.get("Main"):
                main = table
    return main


def internet_route(table: dict | None) -> dict | None:
    """The default route to an internet gateway, if the table has one."""
    for route in (table or {}).get("Routes") or []:
        dest = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
        if dest in DEFAULT_ROUTES and str(route.get("GatewayId", "")).startswith("igw-"):
            return route
    return None


def transform_subnets(raw: list[dict], route_tables: list[dict], account_id: str, region: str) -> list[dict]:
    records = []
    for subnet in raw:
        tags = tags_dict(subnet.get("Tags"))
        table = route_table_for_subnet(subnet, route_tables)
        route = internet_route(table)
        records.append({
            "subnet_id": subnet["SubnetId"], "vpc_id": subnet.get("VpcId"),
            "account_id": account_id, "region": region,
            "availability_zone": subnet.get("AvailabilityZone"),
            "availability_zone_id": subnet.get("AvailabilityZoneId"),
            "cidr_block": subnet.get("CidrBlock"),
            "public": route is not None,
            "route_table_id": (table or {}).get("RouteTableId"),
            "internet_gateway_id": (route or {}).get("GatewayId"),
            "name": tags.get("Name"), "tags": tags,
        })
    return records


def _rules(permissions: list[dict]) -> list[dict]:
    rules = []
    for p in permissions or []:
        rules.append({
            "protocol": p.get("IpProtocol"),
            "from_port": p.get("FromPort"),
            "to_port": p.get("ToPort"),
            "cidrs": sorted([r["CidrIp"] for r in p.get("IpRanges") or []]
                            + [r["CidrIpv6"] for r in p.get("Ipv6Ranges") or []]),
            "security_group_ids": sorted(g["GroupId"] for g in p.get("UserIdGroupPairs") or [] if g.get("GroupId")),
            "prefix_list_ids": sorted(pl["PrefixListId"] for pl in p.get("PrefixListIds") or []),
        })
    return sorted(rules, key=lambda r: (str(r["protocol"]), r["from_port"] or -1, r["to_port"] or -1, r["cidrs"]))


def transform_security_groups(raw: list[dict], account_id: str, region: str) -> list[dict]:
    records = []
    for sg in raw:
        tags = tags_dict(sg.get("Tags"))
        records.append({
            "group_id": sg["GroupId"], "group_name": sg.get("GroupName"), "vpc_id": sg.get("VpcId"),
            "account_id": account_id, "region": region,
            "ingress": _rules(sg.get("IpPermissions")),
            "name": tags.get("Name"), "tags": tags,
        })
    return records
