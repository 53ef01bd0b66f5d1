"""The diagrams: overview, one per use case, one per endpoint service, one per account.

Every function returns a :class:`Picture` (a described canvas and notes about what was
collapsed); nothing is rendered here. No diagram exceeds :data:`NODE_BUDGET` nodes: the
builders take an aggregation level (endpoints per VPC, per account, per region; services per
provider; consumers per region; targets per target group) and :func:`fit` keeps the most
detailed level that fits. Counted nodes link to the detailed diagram."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from diagrams import Edge

from archviz.render import icons
from archviz.render.graph import Box, Canvas, Group, label, node_id
from archviz.render.view import SEVERITY_COLOR, SEVERITY_MARK, USE_CASE_STYLE, USE_CASE_TITLES, View

NODE_BUDGET = 80
TARGETS_BEFORE_AGGREGATION = 8
INSIDE, OUTSIDE = "#F2F8FD", "#FDF3F3"
NOT_FLOWING = ("pendingAcceptance", "pending", "rejected", "failed")


@dataclass
class Picture:
    name: str  # file stem, e.g. "use-case-aws-service"
    canvas: Canvas
    collapsed: list[str] = field(default_factory=list)  # notes for the page under the diagram


def stem(kind: str, ident: str) -> str:
    """A file name stem from snapshot data: ids are untrusted, so only [A-Za-z0-9._-] survive
    (a service id of ``../../x`` must not choose where a file is written)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(ident)).lstrip(".") or "_"
    return f"{kind}-{safe}" if kind else safe


def diagram_file(name: str) -> str:
    return f"{name}.svg"


def fit(build, levels: int, *args) -> Picture:
    """The most detailed level of ``build`` whose picture stays within the node budget."""
    for level in range(levels):
        pic = build(*args, level=level)
        if pic.canvas.nodes <= NODE_BUDGET:
            return pic
    return pic  # the most aggregated level is bounded by the number of regions and providers


def _marked(view: View, resource_id: str, lines: list) -> tuple[str, dict]:
    """Label and attributes for a node, with its findings (if any) shown on it."""
    mark = view.marks.get(resource_id)
    if mark is None:
        return label(*lines), {}
    return label(*lines, mark.text), {"fontcolor": mark.color, "color": mark.color, "penwidth": "2.5"}


def _edge_attrs(case: str, state: str | None = None, text: str | None = None) -> dict:
    color, style = USE_CASE_STYLE[case]
    attrs = {"color": color, "style": style, "fontcolor": color}
    if state in ("rejected", "failed"):
        attrs.update(style="dotted", color=SEVERITY_COLOR["high"], fontcolor=SEVERITY_COLOR["high"])
    elif state in NOT_FLOWING:
        attrs.update(style="dashed")
    if text:
        attrs["label"] = label(text)
    return attrs


def _connect(a, b, **attrs) -> None:
    a >> Edge(**attrs) >> b


def _legend(cases: list[str], severities: bool = True) -> None:
    """One node holding the whole legend (an HTML-like table: its text is archviz's own)."""
    rows = [f'<TR><TD ALIGN="LEFT"><FONT COLOR="{USE_CASE_STYLE[c][0]}">&#9472;&#9472; {USE_CASE_TITLES[c]}'
            f'{" (dashed)" if USE_CASE_STYLE[c][1] in ("dashed", "dotted") else ""}</FONT></TD></TR>' for c in cases]
    rows.append('<TR><TD ALIGN="LEFT">- - - awaiting acceptance</TD></TR>')
    rows.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{SEVERITY_COLOR["high"]}">&#183;&#183;&#183; rejected or failed</FONT></TD></TR>')
    if severities:
        rows += [f'<TR><TD ALIGN="LEFT"><FONT COLOR="{SEVERITY_COLOR[s]}">[{SEVERITY_MARK[s]}] finding: {s}</FONT></TD></TR>'
                 for s in ("critical", "high", "medium", "low", "info")]
    table = '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2"><TR><TD ALIGN="LEFT"><B>Legend</B></TD></TR>' + "".join(rows) + "</TABLE>>"
    Box(table, nodeid=node_id("legend"), shape="box", style="rounded,dashed", fillcolor="#FFFFFF")


def _external_node(view: View, c: dict, side: str = "provider"):
    """The node for the far end of a connection outside the organization (or AWS itself)."""
    case = c["use_case"]
    if side == "consumer":
        acct = c["consumer_account_id"]
        return icons.node("external-consumer", label(view.account_name(acct), "outside the organization"),
                          node_id("external", acct))
    if case == "aws-service":
        return icons.node("aws-service", label("AWS services"), node_id("aws"))
    if case == "marketplace":
        return icons.node("marketplace", label("AWS Marketplace"), node_id("marketplace"))
    if case == "unresolved":
        return icons.node("unresolved", label("provider not visible"), node_id("unresolved"))
    acct = c["provider_account_id"]
    return icons.node("third-party", label(view.account_name(acct), "third party"), node_id("third", acct))


# --- overview ----------------------------------------------------------------------------------

OUTSIDE_BEFORE_AGGREGATION = 12
ANCHORS_BEFORE_ACCOUNT_LEVEL = 40
ACCOUNTS_BEFORE_AGGREGATION = 50


def overview(view: View) -> Picture:
    """Accounts as clusters (regions nested), one edge per consumer and provider
    (account, region) per use case, labelled with the number of endpoints. Outside parties,
    regions and accounts are aggregated when there are too many to draw one by one."""
    pic = Picture("overview", Canvas("PrivateLink overview"))
    conns = view.connections
    ext_consumers = sorted({c["consumer_account_id"] for c in conns if c["use_case"] == "external-consumer"})
    third_parties = sorted({c["provider_account_id"] for c in conns if c["use_case"] == "third-party"})
    many_consumers = len(ext_consumers) > OUTSIDE_BEFORE_AGGREGATION
    many_third = len(third_parties) > OUTSIDE_BEFORE_AGGREGATION

    inner: dict[str, set[str]] = defaultdict(set)  # account -> regions with something to draw
    for c in conns:
        if c["use_case"] != "external-consumer":
            inner[c["consumer_account_id"]].add(c["consumer_region"])
        if c["use_case"] in ("internal-cross-account", "internal-same-account", "external-consumer"):
            inner[c["provider_account_id"]].add(c["provider_region"])
    for account_id in view.crawled_accounts:
        inner[account_id].update(view.region_activity(account_id))
    busy = Counter()
    for c in conns:
        busy[c["consumer_account_id"]] += 1
        busy[c["provider_account_id"]] += 1
    shown = sorted(inner, key=lambda a: (-busy[a], a))[:ACCOUNTS_BEFORE_AGGREGATION - 1] \
        if len(inner) > ACCOUNTS_BEFORE_AGGREGATION else sorted(inner)
    rest = sorted(set(inner) - set(shown))
    by_region = sum(len(inner[a]) for a in shown) <= ANCHORS_BEFORE_ACCOUNT_LEVEL

    def anchor(account_id: str, region: str) -> tuple:
        if account_id in rest:
            return ("rest",)
        return ("acct", account_id, region if by_region else "")

    def consumer_end(c: dict) -> tuple:
        if c["use_case"] == "external-consumer":
            return ("outer", "consumers") if many_consumers else ("outer", f"consumer-{c['consumer_account_id']}")
        return anchor(c["consumer_account_id"], c["consumer_region"])

    def provider_end(c: dict) -> tuple:
        case = c["use_case"]
        if case in ("internal-cross-account", "internal-same-account", "external-consumer"):
            return anchor(c["provider_account_id"], c["provider_region"])
        if case == "third-party":
            return ("outer", "third-parties") if many_third else ("outer", f"third-{c['provider_account_id']}")
        return ("outer", case)

    edges: Counter = Counter()
    states: dict = defaultdict(set)
    for c in conns:
        key = (consumer_end(c), provider_end(c), c["use_case"])
        edges[key] += 1
        states[key].add(c["state"])

    def anchor_node(account_id: str, regions: list[str], region_key: str):
        here = lambda rec: rec["account_id"] == account_id and (not region_key or rec["region"] == region_key)  # noqa: E731
        eps = sum(1 for e in view.doc["endpoints"] if here(e))
        svcs = sum(1 for s in view.services if here(s))
        findings = [f for f in view.findings if f["account_id"] == account_id and (not region_key or f["region"] == region_key)]
        lines = [f"{eps} endpoints", f"{svcs} endpoint services"]
        if not region_key:
            lines.insert(0, ", ".join(regions))
        attrs = {}
        if findings:
            worst = min((f["severity"] for f in findings), key=("critical", "high", "medium", "low", "info").index)
            lines.append(f"{len(findings)} findings, worst {worst}")
            attrs = {"fontcolor": SEVERITY_COLOR[worst]}
        return icons.node("vpc", label(*lines), node_id("acct", account_id, region_key), **attrs)

    with pic.canvas:
        nodes = {}
        for account_id in shown:
            note = None if account_id in view.crawled_accounts else "not crawled"
            with Group(view.account_name(account_id), f"acct-{account_id}", subtitle=note,
                       bgcolor=INSIDE if view.inside(account_id) else OUTSIDE):
                if not by_region:
                    nodes[("acct", account_id, "")] = anchor_node(account_id, sorted(inner[account_id]), "")
                    continue
                for region in sorted(inner[account_id]):
                    with Group(region, f"acct-{account_id}-{region}", bgcolor="#FFFFFF"):
                        nodes[("acct", account_id, region)] = anchor_node(account_id, [region], region)
        if rest:
            nodes[("rest",)] = icons.node("account", label(f"{len(rest)} more accounts", "see the account pages"),
                                          node_id("rest"))
            pic.collapsed.append(f"The {len(rest)} least connected accounts are drawn as one node.")
        if not by_region:
            pic.collapsed.append("Regions are listed inside each account's node rather than drawn as clusters.")
        with Group("Outside the organization", "outside", bgcolor=OUTSIDE):
            outer_keys = sorted({end for (a, b, _) in edges for end in (a, b) if end[0] == "outer"})
            for key in outer_keys:
                name = key[1]
                if name == "consumers":
                    nodes[key] = icons.node("external-consumer", label(f"{len(ext_consumers)} accounts",
                                            "consuming our services"), node_id("external", "all"))
                elif name == "third-parties":
                    nodes[key] = icons.node("third-party", label(f"{len(third_parties)} third-party providers"),
                                            node_id("third", "all"))
                else:
                    c = next(c for c in conns if name in (f"consumer-{c['consumer_account_id']}",
                                                          f"third-{c['provider_account_id']}", c["use_case"]))
                    nodes[key] = _external_node(view, c, "consumer" if name.startswith("consumer-") else "provider")
            if many_consumers or many_third:
                pic.collapsed.append("Accounts outside the organization are counted rather than drawn one by one.")
        for (src, dst, case), count in sorted(edges.items(), key=lambda kv: str(kv[0])):
            flowing = states[(src, dst, case)] - set(NOT_FLOWING)
            state = None if flowing else sorted(states[(src, dst, case)])[0]
            _connect(nodes[src], nodes[dst], **_edge_attrs(case, state, f"{count} endpoint{'s' if count > 1 else ''}"))
        _legend([c for c in USE_CASE_STYLE if view.by_case.get(c)])
    return pic


# --- one per use case ---------------------------------------------------------------------------

def _service_key(c: dict) -> tuple:
    return (c["provider_owner"] or "", c["provider_region"] or "", c["service_name"] or c["endpoint_id"])


# (consumer grain, service grain), most detailed first.
USE_CASE_LEVELS = (("endpoint", "service"), ("vpc", "service"), ("account", "service"), ("account", "provider"),
                   ("region", "provider"), ("region", "all"))


def use_case(view: View, case: str) -> Picture:
    return fit(_use_case, len(USE_CASE_LEVELS), view, case)


def _use_case(view: View, case: str, level: int) -> Picture:
    conns = sorted(view.by_case[case], key=lambda c: (c["consumer_account_id"], c["consumer_region"], c["endpoint_id"]))
    title = f"Use case: {USE_CASE_TITLES[case]}"
    pic = Picture(stem("use-case", case), Canvas(title))
    grain, service_grain = USE_CASE_LEVELS[level]
    if case == "external-consumer" and grain in ("vpc", "account"):
        grain = "account" if grain == "vpc" else "region"  # outside consumers: account is the finest grain
    services = sorted({_service_key(c) for c in conns})

    with pic.canvas:
        consumer_nodes: dict = {}
        outside = case == "external-consumer"
        if grain == "region":
            with Group("Outside the organization" if outside else "Consumers", "consumers",
                       bgcolor=OUTSIDE if outside else INSIDE):
                for region in sorted({c["consumer_region"] for c in conns}):
                    here = [c for c in conns if c["consumer_region"] == region]
                    consumer_nodes[region] = icons.node(
                        "external-consumer" if outside else "endpoints:aggregate",
                        label(f"{len({c['consumer_account_id'] for c in here})} accounts", f"{len(here)} endpoints", region),
                        node_id("consumers", region))
        elif outside:
            with Group("Outside the organization", "outside", bgcolor=OUTSIDE):
                for acct in sorted({c["consumer_account_id"] for c in conns}):
                    consumer_nodes[acct] = icons.node("external-consumer", label(view.account_name(acct)),
                                                      node_id("external", acct))
        else:
            per_account = defaultdict(list)
            for c in conns:
                per_account[c["consumer_account_id"]].append(c)
            for acct, items in sorted(per_account.items()):
                with Group(view.account_name(acct), f"acct-{acct}", bgcolor=INSIDE):
                    if grain == "account":
                        consumer_nodes[acct] = icons.node(
                            "endpoints:aggregate", label(f"{len(items)} endpoints"), node_id("agg", acct),
                            URL=diagram_file(stem("account", acct)), tooltip=label(f"see account {acct}"))
                        continue
                    for region in sorted({c["consumer_region"] for c in items}):
                        with Group(region, f"acct-{acct}-{region}", bgcolor="#FFFFFF"):
                            here = [c for c in items if c["consumer_region"] == region]
                            if grain == "vpc":
                                for vpc in sorted({c["consumer_vpc_id"] or "" for c in here}):
                                    n = sum(1 for c in here if (c["consumer_vpc_id"] or "") == vpc)
                                    consumer_nodes[(acct, region, vpc)] = icons.node(
                                        "endpoints:aggregate", label(f"{n} endpoints", vpc),
                                        node_id("agg", acct, region, vpc), URL=diagram_file(stem("account", acct)))
                                continue
                            for c in here:
                                text, attrs = _marked(view, c["endpoint_id"], [view.endpoint_label(c), c["endpoint_type"], c["state"]])
                                consumer_nodes[c["endpoint_id"]] = icons.node(
                                    icons.endpoint_kind(c["endpoint_type"]), text, node_id(c["endpoint_id"]), **attrs)
        if grain != "endpoint" and not (outside and grain == "account"):
            pic.collapsed.append(f"{len(conns)} endpoints are drawn per {grain}; counted nodes link to the "
                                 f"account's diagram or page.")

        service_nodes: dict = {}
        providers = sorted({(c["provider_owner"] or "", c["provider_account_id"] or "") for c in conns})
        inside = case in ("internal-cross-account", "internal-same-account", "external-consumer")
        if service_grain == "all":
            with Group("Providers", "providers", bgcolor=INSIDE if inside else OUTSIDE):
                service_nodes[("all",)] = icons.node(
                    "endpoint-service", label(f"{len(services)} services", f"{len(providers)} providers"), node_id("svcall"))
            pic.collapsed.append(f"{len(services)} services of {len(providers)} providers are drawn as one node "
                                 f"(see the table below).")
        for owner, provider in providers if service_grain != "all" else []:
            title_ = {"amazon": "AWS", "aws-marketplace": "AWS Marketplace"}.get(owner) or view.account_name(provider or None)
            with Group(title_, f"provider-{owner}-{provider}", bgcolor=INSIDE if inside else OUTSIDE):
                mine = sorted({_service_key(c) for c in conns
                               if (c["provider_owner"] or "", c["provider_account_id"] or "") == (owner, provider)})
                if service_grain == "provider":
                    service_nodes[(owner, provider)] = icons.node(
                        "endpoint-service", label(f"{len(mine)} services"), node_id("svcagg", owner, provider))
                    continue
                for key in mine:
                    c = next(c for c in conns if _service_key(c) == key)
                    kind = icons.aws_service_kind(c["service_name"]) if owner == "amazon" else (
                        "marketplace" if owner == "aws-marketplace" else "endpoint-service")
                    if c["use_case"] == "unresolved":
                        kind = "unresolved"
                    text, attrs = _marked(view, c["service_id"] or "", [view.service_label(c), c["provider_region"]])
                    service_nodes[key] = icons.node(kind, text, node_id("svc", *key), **attrs)
        if service_grain == "provider":
            pic.collapsed.append(f"{len(services)} services are drawn per provider.")

        drawn: Counter = Counter()
        edge_states: dict = defaultdict(set)
        for c in conns:
            if grain == "region":
                src = c["consumer_region"]
            elif grain == "account" or outside:
                src = c["consumer_account_id"]
            elif grain == "vpc":
                src = (c["consumer_account_id"], c["consumer_region"], c["consumer_vpc_id"] or "")
            else:
                src = c["endpoint_id"]
            dst = {"all": ("all",), "provider": (c["provider_owner"] or "", c["provider_account_id"] or "")}.get(
                service_grain, _service_key(c))
            drawn[(src, dst)] += 1
            edge_states[(src, dst)].add(c["state"])
        for (src, dst), count in sorted(drawn.items(), key=lambda kv: str(kv[0])):
            flowing = edge_states[(src, dst)] - set(NOT_FLOWING)
            state = None if flowing else sorted(edge_states[(src, dst)])[0]
            _connect(consumer_nodes[src], service_nodes[dst],
                     **_edge_attrs(case, state, f"{count}" if count > 1 else None))
        _legend([case])
    return pic


# --- one per endpoint service we provide ---------------------------------------------------------

SERVICE_LEVELS = 4  # 0: consumers per account; 1: per region; 2: targets counted; 3: target groups counted


def service(view: View, svc: dict) -> Picture:
    return fit(_service, SERVICE_LEVELS, view, svc)


def _targets(view: View, svc: dict, lb_node, lb: dict, level: int, pic: Picture) -> None:
    """Listeners, target groups and targets behind one load balancer, aggregated by level."""
    if level >= 3:
        targets = [t for tg in lb["target_groups"] for t in tg["targets"]]
        healthy = sum(1 for t in targets if t["health"] == "healthy")
        icons.node("target:aggregate", label(f"{len(lb['target_groups'])} target groups",
                                             f"{healthy}/{len(targets)} targets healthy"),
                   node_id("tgs", lb["arn"]), color=SEVERITY_COLOR["high"] if not healthy else "#2E7D32")
        _connect(lb_node, Box(label(f"{len(lb['listeners'])} listeners"), nodeid=node_id("listeners", lb["arn"])))
        pic.collapsed.append("Listeners and target groups are counted per load balancer.")
        return
    tg_nodes = {}
    for tg in lb["target_groups"]:
        healthy = sum(1 for t in tg["targets"] if t["health"] == "healthy")
        tg_nodes[tg["arn"]] = Box(label(tg.get("name") or tg["arn"].rsplit("/", 2)[-2],
                                        f"{tg.get('protocol') or ''}:{tg.get('port') or ''}",
                                        f"{healthy}/{len(tg['targets'])} healthy"),
                                  nodeid=node_id(tg["arn"]), color=SEVERITY_COLOR["high"] if not healthy else "#2E7D32")
        targets = tg["targets"]
        if level >= 2 or len(targets) > TARGETS_BEFORE_AGGREGATION:
            counts = Counter(t["health"] or "unknown" for t in targets)
            agg = icons.node("target:aggregate", label(f"{len(targets)} targets",
                             ", ".join(f"{n} {h}" for h, n in sorted(counts.items()))), node_id("targets", tg["arn"]))
            _connect(tg_nodes[tg["arn"]], agg)
            continue
        for t in targets:
            good = t["health"] == "healthy"
            kind = "target:instance" if (tg.get("target_type") == "instance" or t["id"].startswith("i-")) else "target:ip"
            tnode = icons.node(kind, label(t["id"], f"port {t['port']}", t["health"]),
                               node_id("target", tg["arn"], t["id"], t["port"]),
                               fontcolor="#2E7D32" if good else SEVERITY_COLOR["high"])
            _connect(tg_nodes[tg["arn"]], tnode, color="#2E7D32" if good else SEVERITY_COLOR["high"])
    if lb["listeners"]:
        for li in lb["listeners"]:
            proto = f"{li['protocol']}:{li.get('port')}" if li.get("protocol") else "GENEVE (all traffic)"
            ln = Box(label(f"listener {proto}"), nodeid=node_id(li["arn"]))
            _connect(lb_node, ln)
            for tg_arn in li["target_group_arns"]:
                if tg_arn in tg_nodes:
                    _connect(ln, tg_nodes[tg_arn])
    else:
        for tg_node in tg_nodes.values():
            _connect(lb_node, tg_node)


def _service(view: View, svc: dict, level: int) -> Picture:
    title = f"Endpoint service: {svc['name'] or svc['service_id']}"
    pic = Picture(stem("service", svc["service_id"]), Canvas(title))
    conns = [c for c in view.connections if c["service_id"] == svc["service_id"]
             and c["use_case"] not in ("aws-service", "marketplace", "unresolved")]
    per_account = level == 0

    def key(c: dict) -> tuple:
        base = (view.inside(c["consumer_account_id"]), c["consumer_region"])
        return base + (c["consumer_account_id"],) if per_account else base

    groups: dict = defaultdict(list)
    for c in conns:
        groups[key(c)].append(c)
    with pic.canvas:
        consumer_nodes = {}
        for inside in (True, False):
            keys = sorted(k for k in groups if k[0] == inside)
            if not keys:
                continue
            with Group("Inside the organization" if inside else "Outside the organization",
                       f"side-{inside}", bgcolor=INSIDE if inside else OUTSIDE):
                for region in sorted({k[1] for k in keys}):
                    with Group(region, f"side-{inside}-{region}", bgcolor="#FFFFFF"):
                        for k in (k for k in keys if k[1] == region):
                            items = groups[k]
                            states = Counter(c["state"] for c in items)
                            detail = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
                            who = view.account_name(k[2]) if per_account else \
                                f"{len({c['consumer_account_id'] for c in items})} accounts"
                            consumer_nodes[k] = icons.node(
                                "account" if inside else "external-consumer",
                                label(who, f"{len(items)} endpoint{'s' if len(items) > 1 else ''}: {detail}"),
                                node_id("consumer", svc["service_id"], *k))
        if not per_account:
            pic.collapsed.append(f"{len({c['consumer_account_id'] for c in conns})} consumer accounts are drawn per region.")

        with Group(view.account_name(svc["account_id"]), f"acct-{svc['account_id']}", subtitle=svc["region"], bgcolor=INSIDE):
            text, attrs = _marked(view, svc["service_id"], [
                svc["name"] or svc["service_id"], svc["service_id"],
                "acceptance required" if svc["acceptance_required"] else "auto-accept",
                f"{len(svc['allowed_principals'])} allowed principals"])
            service_node = icons.node("endpoint-service", text, node_id(svc["service_id"]), **attrs)
            for arn in svc["load_balancer_arns"]:
                lb = view.load_balancers.get(arn)
                if lb is None:
                    _connect(service_node, Box(label("load balancer not crawled", arn.rsplit("/", 2)[-2]), nodeid=node_id(arn)))
                    continue
                kind = "load-balancer:network" if lb["type"] == "network" else "load-balancer:gateway"
                lb_node = icons.node(kind, label(lb["name"], f"{lb['type']} load balancer", lb["scheme"]), node_id(arn))
                _connect(service_node, lb_node)
                _targets(view, svc, lb_node, lb, level, pic)
        edges = Counter()
        for c in conns:
            edges[(key(c), c["use_case"], c["state"] if c["state"] in NOT_FLOWING else None)] += 1
        for (k, case, state), n in sorted(edges.items(), key=lambda kv: str(kv[0])):
            _connect(consumer_nodes[k], service_node, **_edge_attrs(case, state, f"{n}" if n > 1 else None))
        _legend(sorted({c["use_case"] for c in conns}, key=list(USE_CASE_STYLE).index))
    return pic


# --- one per account -----------------------------------------------------------------------------

ACCOUNT_LEVELS = 5  # 0: subnets; 1: endpoints; 2: per VPC; 3: services reached per use case; 4: per region


def account(view: View, account_id: str) -> Picture:
    return fit(_account, ACCOUNT_LEVELS, view, account_id)


def _account(view: View, account_id: str, level: int) -> Picture:
    title = f"Account {view.account_name(account_id)}"
    pic = Picture(stem("account", account_id), Canvas(title))
    eps = [e for e in view.doc["endpoints"] if e["account_id"] == account_id]
    conns = {c["endpoint_id"]: c for c in view.connections}
    vpcs = {v["vpc_id"]: v for v in view.doc["vpcs"] if v["account_id"] == account_id}
    subnets = {s["subnet_id"]: s for s in view.doc["subnets"] if s["account_id"] == account_id}

    def group_of(e: dict) -> tuple:
        """Which node stands for an endpoint at this level."""
        if level >= 4:
            return ("region", e["region"])
        if level >= 2:
            return ("vpc", e["region"], e["vpc_id"] or "")
        return ("endpoint", e["endpoint_id"])

    def far_key(c: dict) -> tuple:
        return ("case", c["use_case"]) if level >= 3 else _service_key(c)

    with pic.canvas:
        nodes, far_nodes = {}, {}
        with Group(view.account_name(account_id), f"acct-{account_id}", bgcolor=INSIDE):
            for region in view.region_activity(account_id):
                with Group(region, f"acct-{account_id}-{region}", bgcolor="#FFFFFF"):
                    here = [e for e in eps if e["region"] == region]
                    if level >= 4 and here:
                        nodes[("region", region)] = icons.node(
                            "endpoints:aggregate", label(f"{len(here)} endpoints",
                                                         f"{len({e['vpc_id'] for e in here})} VPCs"),
                            node_id("agg", account_id, region))
                    for vpc_id in sorted({e["vpc_id"] or "" for e in here}) if level < 4 else []:
                        items = [e for e in here if (e["vpc_id"] or "") == vpc_id]
                        vpc = vpcs.get(vpc_id, {})
                        with Group(vpc.get("name") or vpc_id, f"vpc-{account_id}-{vpc_id}",
                                   subtitle=f"{vpc_id} {vpc.get('cidr_block') or ''}", bgcolor="#F7F9FA"):
                            if level >= 2:
                                nodes[("vpc", region, vpc_id)] = icons.node(
                                    "endpoints:aggregate", label(f"{len(items)} endpoints"), node_id("agg", account_id, vpc_id))
                                continue
                            subnet_nodes = {}
                            for sid in sorted({s for e in items for s in e["subnet_ids"]}) if level == 0 else []:
                                sub = subnets.get(sid)
                                public = bool(sub and sub["public"])
                                subnet_nodes[sid] = icons.node(
                                    "subnet:public" if public else "subnet:private",
                                    label((sub or {}).get("name") or sid, (sub or {}).get("availability_zone") or "zone unknown",
                                          "public" if public else "private"),
                                    node_id(sid), fontcolor=SEVERITY_COLOR["medium"] if public else "#2D3436")
                            for e in items:
                                text, attrs = _marked(view, e["endpoint_id"], [e.get("name") or e["endpoint_id"], e["type"], e["state"]])
                                node = icons.node(icons.endpoint_kind(e["type"]), text, node_id(e["endpoint_id"]), **attrs)
                                nodes[("endpoint", e["endpoint_id"])] = node
                                for sid in e["subnet_ids"]:
                                    if sid in subnet_nodes:
                                        _connect(subnet_nodes[sid], node, style="dotted", arrowhead="none", color="#90A4AE")
                    for svc in [s for s in view.services if s["account_id"] == account_id and s["region"] == region]:
                        text, attrs = _marked(view, svc["service_id"], [svc["name"] or svc["service_id"], "endpoint service we provide"])
                        icons.node("endpoint-service", text, node_id(svc["service_id"]), **attrs,
                                   URL=diagram_file(stem("service", svc["service_id"])))
        if level >= 1:
            pic.collapsed.append({1: "Subnets are not drawn.", 2: "Endpoints are drawn per VPC.",
                                  3: "Endpoints are drawn per VPC, and the services they reach per use case.",
                                  4: "Endpoints are drawn per region, and the services they reach per use case."}[level])
        edges = Counter()
        with Group("Services these endpoints reach", f"reach-{account_id}", bgcolor="#FFFFFF", style="dashed"):
            for e in eps:
                c = conns.get(e["endpoint_id"])
                if c is None:
                    continue
                fk = far_key(c)
                if fk not in far_nodes:
                    if level >= 3:
                        n = len({_service_key(x) for x in conns.values()
                                 if x["consumer_account_id"] == account_id and x["use_case"] == c["use_case"]})
                        far_nodes[fk] = icons.node("endpoint-service", label(USE_CASE_TITLES[c["use_case"]], f"{n} services"),
                                                   node_id("far", account_id, *fk))
                    else:
                        kind = {"aws-service": icons.aws_service_kind(c["service_name"]), "marketplace": "marketplace",
                                "unresolved": "unresolved"}.get(c["use_case"], "endpoint-service")
                        far_nodes[fk] = icons.node(kind, label(view.service_label(c), view.provider_label(c), c["provider_region"]),
                                                   node_id("far", account_id, *fk))
                edges[(group_of(e), fk, c["use_case"], c["state"] if c["state"] in NOT_FLOWING else None)] += 1
        for (src, fk, case, state), n in sorted(edges.items(), key=lambda kv: str(kv[0])):
            _connect(nodes[src], far_nodes[fk], **_edge_attrs(case, state, f"{n}" if n > 1 else None))
        _legend(sorted({c["use_case"] for c in conns.values() if c["consumer_account_id"] == account_id},
                       key=list(USE_CASE_STYLE).index))
    return pic
