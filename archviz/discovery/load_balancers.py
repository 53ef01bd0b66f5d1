"""The NLBs and GWLBs behind endpoint services, looked up by ARN (never by listing them all)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from archviz.discovery.aws import AccountSession, describe_in_batches, paginate, together
from archviz.discovery.unit import Unit

ARNS_PER_CALL = 20  # the DescribeLoadBalancers limit


def collect(unit: Unit, session: AccountSession, region: str) -> None:
    """The load balancers behind the services ``services.collect`` recorded (none: no call)."""
    arns = sorted({arn for s in unit.records.get("endpoint_services", []) for arn in s["load_balancer_arns"]})
    if not arns:
        return
    raw = unit.attempt("elasticloadbalancing:DescribeLoadBalancers", get_load_balancers,
                       session.client("elbv2", region), arns, unit.together)
    if raw is not None:
        unit.records["load_balancers"] = transform_load_balancers(raw, session.account_id, region)


def get_load_balancers(elbv2: Any, arns: list[str], fan_out=together) -> dict[str, Any]:
    """Load balancers with their listeners, target groups and target health, keyed by ARN.
    An ARN that no longer exists is left out rather than failing the whole batch. The lookups
    of different load balancers and target groups are independent: run through ``fan_out``."""
    lbs, _ = describe_in_batches(
        lambda batch: paginate(elbv2, "describe_load_balancers", "LoadBalancers", LoadBalancerArns=batch),
        arns, ARNS_PER_CALL, "LoadBalancerNotFound")
    lb_arns = [lb["LoadBalancerArn"] for lb in lbs]
    looked_up = fan_out(*(lambda arn=arn: fan_out(
        lambda: paginate(elbv2, "describe_listeners", "Listeners", LoadBalancerArn=arn),
        lambda: _target_groups(elbv2, arn)) for arn in lb_arns))
    listeners = {arn: found[0] for arn, found in zip(lb_arns, looked_up)}
    groups = {arn: found[1] for arn, found in zip(lb_arns, looked_up)}
    tg_arns = sorted({tg["TargetGroupArn"] for tgs in groups.values() for tg in tgs})
    health = dict(zip(tg_arns, fan_out(*(
        lambda tg_arn=tg_arn: elbv2.describe_target_health(TargetGroupArn=tg_arn).get("TargetHealthDescriptions", [])
        for tg_arn in tg_arns))))
    return {"LoadBalancers": lbs, "Listeners": listeners, "TargetGroups": groups, "TargetHealth": health}


def _target_groups(elbv2: Any, lb_arn: str) -> list[dict]:
    # TargetGroupNotFound is a documented answer of DescribeTargetGroups; for a load balancer
    # with no target group attached it means "none" (whether AWS or a double says it).
    try:
        return paginate(elbv2, "describe_target_groups", "TargetGroups", LoadBalancerArn=lb_arn)
    except ClientError as exc:
        if exc.response["Error"].get("Code") != "TargetGroupNotFound":
            raise
        return []


def transform_load_balancers(raw: dict[str, Any], account_id: str, region: str) -> list[dict]:
    records = []
    for lb in raw["LoadBalancers"]:
        arn = lb["LoadBalancerArn"]
        target_groups = []
        for tg in raw["TargetGroups"].get(arn, []):
            targets = [{
                "id": t["Target"]["Id"],
                "port": t["Target"].get("Port"),
                "availability_zone": t["Target"].get("AvailabilityZone"),
                "health": (t.get("TargetHealth") or {}).get("State"),
                "reason": (t.get("TargetHealth") or {}).get("Reason"),
            } for t in raw["TargetHealth"].get(tg["TargetGroupArn"], [])]
            target_groups.append({
                "arn": tg["TargetGroupArn"], "name": tg.get("TargetGroupName"),
                "protocol": tg.get("Protocol"), "port": tg.get("Port"), "target_type": tg.get("TargetType"),
                "targets": sorted(targets, key=lambda t: (t["id"], t["port"] or 0)),
            })
        listeners = [{
            "arn": li["ListenerArn"], "protocol": li.get("Protocol"), "port": li.get("Port"),
            "target_group_arns": sorted({
                a["TargetGroupArn"] for a in li.get("DefaultActions") or [] if a.get("TargetGroupArn")
            }),
        } for li in raw["Listeners"].get(arn, [])]
        records.append({
            "arn": arn,
            "name": lb.get("LoadBalancerName"),
            # The ARN path says app/net/gwy, but Type is the documented field.
            "type": lb.get("Type"),
            "scheme": lb.get("Scheme"),
            "state": (lb.get("State") or {}).get("Code"),
            "account_id": account_id,
            "region": region,
            "vpc_id": lb.get("VpcId"),
            "availability_zones": sorted(z["ZoneName"] for z in lb.get("AvailabilityZones") or []),
            "listeners": sorted(listeners, key=lambda li: (li["port"] or 0, li["arn"])),
            "target_groups": sorted(target_groups, key=lambda tg: tg["arn"]),
        })
    return records
