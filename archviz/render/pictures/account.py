"""One diagram per crawled account: its VPCs, subnets and endpoints per region, and what they
reach (:data:`ACCOUNT_LEVELS` aggregation levels)."""

from __future__ import annotations

from collections import Counter

from archviz.render import icons
from archviz.render.scene import Cluster, Picture, node_id
from archviz.render.view import SEVERITY_COLOR, SUBNET_COLOR, USE_CASE_COLOR, USE_CASE_TITLES, View
from archviz.render.pictures.common import (INSIDE, PLAIN, by, connect_counted, fit, marked, plural, service_key,
                                            service_kind)

ACCOUNT_LEVELS = 5  # 0: subnets; 1: endpoints; 2: per VPC; 3: services reached per use case; 4: per region
ACCOUNT_NOTES = {1: "Subnets are not drawn.", 2: "Endpoints are drawn per VPC.",
                 3: "Endpoints are drawn per VPC, and the services they reach per use case.",
                 4: "Endpoints are drawn per region, and the services they reach per use case."}


def account(view: View, account_id: str) -> Picture:
    return fit(_account, ACCOUNT_LEVELS, view, account_id)


def _endpoint_group(e: dict, level: int) -> tuple:
    """Which node stands for an endpoint at this level."""
    if level >= 4:
        return ("region", e["region"])
    if level >= 2:
        return ("vpc", e["region"], e["vpc_id"] or "")
    return ("endpoint", e["endpoint_id"])


def _vpc_endpoints(view: View, pic: Picture, box: Cluster, items: list[dict], level: int, nodes: dict) -> None:
    """A VPC's endpoints, each joined to its subnets at level 0."""
    subnet_nodes = {}
    for sid in sorted({s for e in items for s in e["subnet_ids"]}) if level == 0 else []:
        sub = view.subnets.get(sid) or {}
        public = bool(sub.get("public"))
        subnet_nodes[sid] = box.node(
            "subnet:public" if public else "subnet:private",
            [sub.get("name") or sid, sub.get("availability_zone") or "zone unknown", "public" if public else "private"],
            node_id(sid), fontcolor=SEVERITY_COLOR["medium"] if public else "#2D3436")
    for e in items:
        lines, attrs = marked(view, e["endpoint_id"], [e.get("name") or e["endpoint_id"], e["type"], e["state"]])
        node = nodes[("endpoint", e["endpoint_id"])] = box.node(icons.endpoint_kind(e["type"]), lines,
                                                                node_id(e["endpoint_id"]), **attrs)
        for sid in e["subnet_ids"]:
            if sid in subnet_nodes:
                pic.connect(subnet_nodes[sid], node, mark="subnet", arrowhead="none", color=SUBNET_COLOR)


def _account_region(view: View, pic: Picture, box: Cluster, account_id: str, region: str, eps: list[dict],
                    level: int, nodes: dict) -> None:
    if level >= 4 and eps:
        nodes[("region", region)] = box.node(
            "endpoints:aggregate", [plural(len(eps), "endpoint"), plural(len({e["vpc_id"] for e in eps}), "VPC")],
            node_id("agg", account_id, region))
    for vpc_id, items in sorted(by(eps, lambda e: e["vpc_id"] or "").items()) if level < 4 else []:
        vpc = view.vpcs.get((account_id, vpc_id), {})
        inner = box.cluster(f"vpc-{account_id}-{vpc_id}", vpc.get("name") or vpc_id,
                            f"{vpc_id} {vpc.get('cidr_block') or ''}", bgcolor="#F7F9FA")
        if level >= 2:
            nodes[("vpc", region, vpc_id)] = inner.node("endpoints:aggregate", [plural(len(items), "endpoint")],
                                                        node_id("agg", account_id, vpc_id))
        else:
            _vpc_endpoints(view, pic, inner, items, level, nodes)
    for svc in view.services_of.get(account_id, []):
        if svc["region"] == region:
            lines, attrs = marked(view, svc["service_id"], [svc["name"] or svc["service_id"], "endpoint service we provide"])
            box.node("endpoint-service", lines, node_id(svc["service_id"]), **attrs,
                     **view.link("service", svc["service_id"]))


def _account_reach(view: View, pic: Picture, account_id: str, level: int) -> tuple[dict, Counter]:
    """The services the account's endpoints reach (per use case from level 3), and the edges."""
    mine = view.by_consumer.get(account_id, [])
    if not mine:
        return {}, Counter()  # no cluster for what nothing reaches (Mermaid draws an empty one as a box)
    box = pic.root.cluster(f"reach-{account_id}", "Services these endpoints reach", bgcolor=PLAIN, style="dashed")
    per_case = Counter(c["use_case"] for c in {service_key(c) + (c["use_case"],): c for c in mine}.values())
    far, edges = {}, Counter()
    for e in view.endpoints_of.get(account_id, []):
        c = view.connection_of.get(e["endpoint_id"])
        if c is None:
            continue
        key = ("case", c["use_case"]) if level >= 3 else service_key(c)
        if key not in far and level >= 3:
            far[key] = box.node("endpoint-service", [USE_CASE_TITLES[c["use_case"]], plural(per_case[c["use_case"]], "service")],
                                node_id("far", account_id, *key))
        elif key not in far:
            far[key] = box.node(service_kind(c), [view.service_label(c), view.provider_label(c), c["provider_region"]],
                                node_id("far", account_id, *key))
        edges[(_endpoint_group(e, level), key, c["use_case"], c["state"])] += 1
    return far, edges


def _account(view: View, account_id: str, level: int) -> Picture:
    pic = Picture(view.names.diagram("account", account_id), f"Account {view.account_name(account_id)}")
    by_region = by(view.endpoints_of.get(account_id, []), lambda e: e["region"])
    nodes: dict = {}
    box = pic.root.cluster(f"acct-{account_id}", view.account_name(account_id), bgcolor=INSIDE)
    for region in view.region_activity(account_id):
        inner = box.cluster(f"acct-{account_id}-{region}", region, bgcolor=PLAIN)
        _account_region(view, pic, inner, account_id, region, by_region.get(region, []), level, nodes)
    if level >= 1:
        pic.collapsed.append(ACCOUNT_NOTES[level])
    if not box.count():  # nothing crawled here holds an endpoint or a service: say so, not an empty box
        box.node("note", ["no endpoints or endpoint services", "in the regions crawled"], node_id("empty", account_id))
    far, edges = _account_reach(view, pic, account_id, level)
    nodes.update(far)
    connect_counted(pic, nodes, edges)
    pic.legend = sorted({c["use_case"] for c in view.by_consumer.get(account_id, [])}, key=list(USE_CASE_COLOR).index)
    return pic
