"""One diagram per endpoint service we provide: its consumers, the service, its load balancers
and their targets (:data:`SERVICE_LEVELS` aggregation levels)."""

from __future__ import annotations

from collections import Counter

from archviz.render.scene import Cluster, Node, Picture, node_id
from archviz.render.view import SEVERITY_COLOR, USE_CASE_COLOR, View
from archviz.render.pictures.common import (HEALTHY, INSIDE, OURS, OUTSIDE, PLAIN, TARGETS_BEFORE_AGGREGATION, by,
                                            connect_counted, fit, marked, plural)

SERVICE_LEVELS = 4  # 0: consumers per account; 1: per region; 2: targets counted; 3: target groups counted


def service(view: View, svc: dict) -> Picture:
    return fit(_service, SERVICE_LEVELS, view, svc)


def short_arn(arn: str, default: str = "") -> str:
    """The name part of an ELB ARN (``.../net/NAME/ID``), or the ARN itself if it has none."""
    parts = str(arn).rsplit("/", 2)
    return parts[-2] if len(parts) == 3 else (default or str(arn))


def _target_group_targets(pic: Picture, box: Cluster, tg: dict, tg_node: Node, level: int) -> None:
    targets = tg["targets"]
    if level >= 2 or len(targets) > TARGETS_BEFORE_AGGREGATION:
        counts = Counter(t["health"] or "unknown" for t in targets)
        agg = box.node("target:aggregate", [plural(len(targets), "target"),
                                            ", ".join(f"{n} {h}" for h, n in sorted(counts.items()))],
                       node_id("targets", tg["arn"]))
        pic.connect(tg_node, agg)
        return
    for t in targets:
        good = t["health"] == "healthy"
        kind = "target:instance" if (tg.get("target_type") == "instance" or t["id"].startswith("i-")) else "target:ip"
        color = HEALTHY if good else SEVERITY_COLOR["high"]
        node = box.node(kind, [t["id"], f"port {t['port']}", t["health"]], node_id("target", tg["arn"], t["id"], t["port"]),
                        fontcolor=color)
        pic.connect(tg_node, node, color=color)


def _counted_targets(pic: Picture, box: Cluster, lb: dict, lb_node: Node) -> None:
    targets = [t for tg in lb["target_groups"] for t in tg["targets"]]
    healthy = sum(1 for t in targets if t["health"] == "healthy")
    groups = box.node("target:aggregate", [plural(len(lb["target_groups"]), "target group"),
                                           f"{healthy}/{len(targets)} targets healthy"],
                      node_id("tgs", lb["arn"]), color=SEVERITY_COLOR["high"] if not healthy else HEALTHY)
    listeners = box.node("target:aggregate", [plural(len(lb["listeners"]), "listener")], node_id("listeners", lb["arn"]))
    pic.connect(lb_node, listeners)
    pic.connect(listeners, groups)
    pic.collapsed.append("Listeners and target groups are counted per load balancer.")


def _protocol_port(tg: dict) -> str | None:
    """``TCP:443``, or whichever half is known, or nothing (no lone ``:`` on the picture)."""
    return ":".join(str(v) for v in (tg.get("protocol"), tg.get("port")) if v not in (None, "")) or None


def _targets(pic: Picture, box: Cluster, lb_node: Node, lb: dict, level: int) -> None:
    """Listeners, target groups and targets behind one load balancer, aggregated by level."""
    if level >= 3:
        return _counted_targets(pic, box, lb, lb_node)
    tg_nodes = {}
    for tg in lb["target_groups"]:
        healthy = sum(1 for t in tg["targets"] if t["health"] == "healthy")
        tg_nodes[tg["arn"]] = box.node("target-group", [tg.get("name") or short_arn(tg["arn"]),
                                                        _protocol_port(tg),
                                                        f"{healthy}/{len(tg['targets'])} healthy"],
                                       node_id(tg["arn"]), color=SEVERITY_COLOR["high"] if not healthy else HEALTHY)
        _target_group_targets(pic, box, tg, tg_nodes[tg["arn"]], level)
    for li in lb["listeners"]:
        proto = f"{li['protocol']}:{li.get('port')}" if li.get("protocol") else "GENEVE (all traffic)"
        node = box.node("listener", [f"listener {proto}"], node_id(li["arn"]))
        pic.connect(lb_node, node)
        for tg_arn in li["target_group_arns"]:
            if tg_arn in tg_nodes:
                pic.connect(node, tg_nodes[tg_arn])
    if not lb["listeners"]:
        for tg_node in tg_nodes.values():
            pic.connect(lb_node, tg_node)


def _service_consumers(view: View, pic: Picture, svc: dict, groups: dict, per_account: bool) -> dict:
    nodes = {}
    for inside in (True, False):
        keys = sorted(k for k in groups if k[0] == inside)
        if not keys:
            continue
        side = pic.root.cluster(f"side-{inside}", "Inside the organization" if inside else "Outside the organization",
                                bgcolor=INSIDE if inside else OUTSIDE)
        for region in sorted({k[1] for k in keys}):
            box = side.cluster(f"side-{inside}-{region}", region, bgcolor=PLAIN)
            for k in (k for k in keys if k[1] == region):
                items = groups[k]
                detail = ", ".join(f"{n} {s}" for s, n in sorted(Counter(c["state"] for c in items).items()))
                who = view.account_name(k[2]) if per_account else \
                    plural(len({c["consumer_account_id"] for c in items}), "account")
                nodes[k] = box.node("account" if inside else "external-consumer",
                                    [who, f"{plural(len(items), 'endpoint')}: {detail}"],
                                    node_id("consumer", svc["service_id"], *k))
    return nodes


def _service_provider(view: View, pic: Picture, svc: dict, level: int) -> Node:
    box = pic.root.cluster(f"acct-{svc['account_id']}", view.account_name(svc["account_id"]), svc["region"],
                           bgcolor=INSIDE)
    lines, attrs = marked(view, svc["service_id"], [
        svc["name"] or svc["service_id"], svc["service_id"],
        "acceptance required" if svc["acceptance_required"] else "auto-accept",
        plural(len(svc["allowed_principals"]), "allowed principal")])
    service_node = box.node("endpoint-service", lines, node_id(svc["service_id"]), **attrs)
    for arn in svc["load_balancer_arns"]:
        lb = view.load_balancers.get(arn)
        if lb is None:
            pic.connect(service_node, box.node("load-balancer:unknown", ["load balancer not crawled", short_arn(arn)],
                                               node_id(arn)))
            continue
        kind = "load-balancer:network" if lb["type"] == "network" else "load-balancer:gateway"
        lb_node = box.node(kind, [lb["name"], f"{lb['type']} load balancer", lb["scheme"]], node_id(arn))
        pic.connect(service_node, lb_node)
        _targets(pic, box, lb_node, lb, level)
    return service_node


def _service(view: View, svc: dict, level: int) -> Picture:
    pic = Picture(view.names.diagram("service", svc["service_id"]), f"Endpoint service: {svc['name'] or svc['service_id']}")
    conns = [c for c in view.by_service.get(svc["service_id"], []) if c["use_case"] in OURS]
    per_account = level == 0

    def key(c: dict) -> tuple:
        base = (view.inside(c["consumer_account_id"]), c["consumer_region"])
        return base + (c["consumer_account_id"],) if per_account else base

    groups = by(conns, key)
    nodes = _service_consumers(view, pic, svc, groups, per_account)
    if not per_account:
        pic.collapsed.append(f"{len({c['consumer_account_id'] for c in conns})} consumer accounts are drawn per region.")
    nodes["service"] = _service_provider(view, pic, svc, level)
    connect_counted(pic, nodes, Counter((key(c), "service", c["use_case"], c["state"]) for c in conns))
    pic.legend = sorted({c["use_case"] for c in conns}, key=list(USE_CASE_COLOR).index)
    return pic
