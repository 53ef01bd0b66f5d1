"""The diagrams: overview (and the diagrams of OUs and groups of accounts its nodes lead to), one
per use case, one per endpoint service, one per account.

Each builder describes a :class:`~archviz.render.scene.Picture` (plain data); nothing is drawn
here. No diagram exceeds :data:`NODE_BUDGET` nodes: builders take an aggregation level
(endpoints per VPC, per account, per region; services per provider; consumers per region;
targets per target group) and :func:`fit` keeps the most detailed level that fits, and knows
the next coarser one in case the drawing is still too large. Counted nodes link to the detailed
diagram."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from archviz.model import vocab
from archviz.render import icons
from archviz.render.graph import node_id
from archviz.render.scene import Cluster, Node, Picture
from archviz.render.view import NEW_PENWIDTH, SEVERITY_COLOR, USE_CASE_STYLE, USE_CASE_TITLES, View

NODE_BUDGET = 80
FAN_BUDGET = 24
EDGE_BUDGET = 120
TARGETS_BEFORE_AGGREGATION = 8
INSIDE, OUTSIDE, PLAIN = "#F2F8FD", "#FDF3F3", "#FFFFFF"
HEALTHY = "#2E7D32"


def fit(build, levels: int, *args, start: int = 0) -> Picture | None:
    """The most detailed level of ``build`` (from ``start``) whose picture stays readable
    (:func:`readable`); a level may build None (not usable). The picture's ``coarser()`` is the
    next readable level after it, or None: what a drawing too large to lay out within the limits
    falls back to (:func:`archviz.render.layout.fitted`). With no readable level from 0, the most
    aggregated picture (bounded by the number of regions and providers), which has no coarser."""
    last = None
    for level in range(start, levels):
        pic = build(*args, level=level)
        if pic is not None and readable(pic):
            pic.coarser = lambda: fit(build, levels, *args, start=level + 1)
            return pic
        last = pic if pic is not None else last
    return last if start == 0 else None


def readable(pic: Picture) -> bool:
    """Within the node and edge budgets, and no node with more than :data:`FAN_BUDGET` edges on one side:
    a layered drawing routes every edge into a node beside the others, so forty edges into one
    node make a column no folding (:mod:`layout`) can shorten enough."""
    if pic.nodes > NODE_BUDGET or len(pic.edges) > EDGE_BUDGET:
        return False
    ins, outs = Counter(), Counter()
    for e in {(e.src, e.dst) for e in pic.edges}:
        outs[e[0]] += 1
        ins[e[1]] += 1
    return max([0, *ins.values(), *outs.values()]) <= FAN_BUDGET


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def marked(view: View, resource_id: str | None, lines: list) -> tuple[list, dict]:
    """Label lines and attributes for a node, with its findings (if any) shown on it."""
    mark = view.marks.get(resource_id or "")
    if mark is None:
        return lines, {}
    return lines + [mark.text], {"fontcolor": mark.color, "color": mark.color, "penwidth": "2.5"}


def edge_attrs(case: str, states: set | None = None) -> dict:
    """An edge in its use case's style; dashed while nothing flows, dotted red when refused."""
    color, style = USE_CASE_STYLE[case]
    attrs = {"color": color, "style": style, "fontcolor": color}
    if states and not (states - set(vocab.NOT_FLOWING)):
        if states & vocab.REJECTED:
            attrs.update(style="dotted", color=SEVERITY_COLOR["high"], fontcolor=SEVERITY_COLOR["high"])
        else:
            attrs.update(style="dashed")
    return attrs


def connect_counted(pic: Picture, nodes: dict, edges: Counter, states: dict, label=str,
                    new: Counter | None = None) -> None:
    """One edge per (source, target, use case), labelled with how many connections it stands for;
    ``new`` counts those that appeared since an older snapshot (``render --since``): their edge
    says how many and is drawn heavier."""
    for key, n in sorted(edges.items(), key=lambda kv: str(kv[0])):
        src, dst, case = key
        attrs, text = edge_attrs(case, states[key]), label(n)
        if new and new[key]:
            attrs["penwidth"] = NEW_PENWIDTH
            text = f"{text} ({new[key]} new)" if text else f"{new[key]} new"
            pic.new_marked = True
        pic.connect(nodes[src], nodes[dst], text, **attrs)


def connect_split(pic: Picture, nodes: dict, edges: Counter) -> None:
    """One edge per (source, target, use case, not-flowing state or None): a rejected or pending
    connection keeps its own dotted or dashed edge beside the working ones."""
    for (src, dst, case, state), n in sorted(edges.items(), key=lambda kv: str(kv[0])):
        pic.connect(nodes[src], nodes[dst], count_label(n), **edge_attrs(case, {state} if state else None))


def split_state(c: dict) -> str | None:
    return c["state"] if c["state"] in vocab.NOT_FLOWING else None


def count_label(n: int) -> str | None:
    return str(n) if n > 1 else None


def far_end(view: View, cluster: Cluster, c: dict, side: str = "provider") -> Node:
    """The node for the far end of a connection outside the organization (or AWS itself)."""
    case = c["use_case"]
    if side == "consumer":
        acct = c["consumer_account_id"]
        return cluster.node("external-consumer", [view.account_name(acct), "outside the organization"],
                            node_id("external", acct))
    fixed = {"aws-service": ("aws-service", "AWS services", "aws"), "marketplace": ("marketplace", "AWS Marketplace",
             "marketplace"), "unresolved": ("unresolved", "provider not visible", "unresolved")}
    if case in fixed:
        kind, text, key = fixed[case]
        return cluster.node(kind, [text], node_id(key))
    acct = c["provider_account_id"]
    return cluster.node("third-party", [view.account_name(acct), "third party"], node_id("third", acct))


def service_key(c: dict) -> tuple:
    return (c["provider_owner"] or "", c["provider_region"] or "", c["service_name"] or c["endpoint_id"])


# --- overview, and the diagrams of OUs and of groups of accounts it leads to ------------------------

OUTSIDE_BEFORE_AGGREGATION = 12
ANCHORS_BEFORE_ACCOUNT_LEVEL = 40
PARTS = 6  # a diagram's accounts split into at most this many parts (each within the budgets, see `Scope`)
OURS = vocab.PROVIDER_IS_OURS
# How an overview-like diagram draws its own accounts, most detailed first: each account with its
# regions nested, each account as one node, then per organizational unit the accounts whose
# connections are the same (same ends, same counts), alike (same ends), all its consumers, all its
# accounts; then one node per OU just below the diagram's own OU (the root, for the overview);
# then a few parts of its accounts, in OU order.
OVERVIEW_LEVELS = ("region", "account", "same", "alike", "consumers", "ou", "child", "parts")
# And the other accounts it connects to: per OU, per OU directly under the root, all as one node.
OUTSIDE_LEVELS = ("ou", "top", "rest")


@dataclass(frozen=True)
class Scope:
    """The accounts an overview-like diagram details: the whole organization (the overview), the
    accounts of one OU at any depth (``members`` None), or some of them (a group or a part).

    Every node counting several of its accounts leads to the diagram of a smaller scope: the OU
    of those accounts if it lies below ``ou``, else a scope of just those accounts; a level at
    which a node would count all of them is skipped. Down OUs and groups, every account is
    reached. The coarsest level (at most :data:`PARTS` parts, the other accounts as one node,
    parties outside the organization counted) stays within the node, edge and fan budgets."""

    ou: tuple = ()  # OU keys from the top (:meth:`View.ou_of`); () is the whole organization
    members: tuple | None = None  # sorted account ids

    def name(self, view: View) -> str:
        if self.members is None:
            return view.names.diagram("ou", self.ou[-1]) if self.ou else "overview"
        return "group-" + hashlib.sha256(json.dumps([self.ou, self.members]).encode()).hexdigest()[:16]


def place(view: View, accounts) -> str:
    """Where some accounts are: ``in OU a/b``, ``under OU a`` (some in OUs below it), ``in the organization``."""
    paths = {view.ou_of(a) for a in accounts}
    if len(paths) == 1:
        return "in " + view.ou_title(next(iter(paths)))
    if None in paths:
        return "in the organization"
    common = min(paths)
    for p in paths:
        while p[:len(common)] != common:
            common = common[:-1]
    return "under " + view.ou_title(common) if common else "in the organization"


class _OverviewPlan:
    """Which accounts a :class:`Scope`'s diagram draws, the node each one is part of at each step
    (a level of :data:`OVERVIEW_LEVELS` for its own accounts, one of :data:`OUTSIDE_LEVELS` for
    the others), and where each connection's ends go."""

    def __init__(self, view: View, scope: Scope):
        self.view, self.scope = view, scope
        self.grouped_ous = view.doc_has_ous
        if scope.members is not None:
            self.is_own = set(scope.members).__contains__
        else:
            depth = len(scope.ou)
            self.is_own = lambda a: (view.ou_of(a) or ())[:depth] == scope.ou
        conns = [c for c in view.connections
                 if (c["use_case"] != "external-consumer" and self.is_own(c["consumer_account_id"]))
                 or (c["use_case"] in OURS and self.is_own(c["provider_account_id"]))]
        self.connections = conns
        self.ext_consumers = sorted({c["consumer_account_id"] for c in conns if c["use_case"] == "external-consumer"})
        self.third_parties = sorted({c["provider_account_id"] for c in conns if c["use_case"] == "third-party"})
        self.inner: dict[str, set[str]] = defaultdict(set)  # account -> regions with something to draw
        self.signature: dict[str, Counter] = defaultdict(Counter)  # consumer -> (far end, use case) -> endpoints
        self.providers = set()
        for c in conns:
            if c["use_case"] != "external-consumer":
                self.inner[c["consumer_account_id"]].add(c["consumer_region"])
                self.signature[c["consumer_account_id"]][(self._far(c), c["use_case"])] += 1
            if c["use_case"] in OURS:
                self.inner[c["provider_account_id"]].add(c["provider_region"])
                self.providers.add(c["provider_account_id"])
        for account_id in view.crawled_accounts:
            if self.is_own(account_id):
                self.inner[account_id].update(view.region_activity(account_id))
                if view.services_of.get(account_id):
                    self.providers.add(account_id)
        self.accounts = sorted(self.inner)
        self.own = [a for a in self.accounts if self.is_own(a)]
        self.by_region = sum(len(r) for r in self.inner.values()) <= ANCHORS_BEFORE_ACCOUNT_LEVEL
        levels = OVERVIEW_LEVELS[0 if self.by_region else 1:]
        outside = OUTSIDE_LEVELS if len(self.own) < len(self.accounts) else OUTSIDE_LEVELS[:1]
        self.steps = [(level, out) for level in levels for out in outside]
        order = sorted(self.own, key=lambda a: (view.ou_order(view.ou_of(a)), a))
        self.parts = max(2, min(PARTS, math.ceil(len(order) / FAN_BUDGET)))  # of at most FAN_BUDGET accounts if it can
        self.part = {a: (i * self.parts // len(order), self.parts) for i, a in enumerate(order)}

    def _far(self, c: dict) -> tuple:
        return ("acct", c["provider_account_id"]) if c["use_case"] in OURS else self._outer(c)

    def _outer(self, c: dict, side: str = "provider", coarse: bool = False) -> tuple:
        """The node of the far end outside the organization: one per account, or counted when
        there are many of them or the level groups accounts."""
        if side == "consumer":
            many = coarse or len(self.ext_consumers) > OUTSIDE_BEFORE_AGGREGATION
            return ("outer", "consumers") if many else ("outer", f"consumer-{c['consumer_account_id']}")
        if c["use_case"] == "third-party":
            many = coarse or len(self.third_parties) > OUTSIDE_BEFORE_AGGREGATION
            return ("outer", "third-parties") if many else ("outer", f"third-{c['provider_account_id']}")
        return ("outer", c["use_case"])

    def group(self, account_id: str, region: str, step: tuple[str, str]) -> tuple:
        """The node an account (in a region) is drawn as: ``(kind, OU path or False, what)``."""
        level, out = step
        path = self.view.ou_of(account_id)
        if not self.is_own(account_id):
            if out == "rest":
                return ("rest", False, "")
            return ("out", path[:1] if out == "top" and path else path, "")
        if level == "region":
            return ("acct", path, account_id, region if self.by_region else "")
        provider = account_id in self.providers
        if level == "account" or (provider and level in ("same", "alike", "consumers")):
            return ("acct", path, account_id, "")
        if level == "same":
            return ("same", path, tuple(sorted(self.signature[account_id].items(), key=str)))
        if level == "alike":
            return ("alike", path, tuple(sorted(self.signature[account_id], key=str)))
        if level == "consumers":
            return ("consumers", path, "")
        if level == "child" and path is not None:
            path = path[:len(self.scope.ou) + 1]
        if level == "parts":
            return ("part", self.scope.ou or False, self.part[account_id])
        return ("ou", path, "")

    def ends(self, c: dict, step: tuple[str, str]) -> tuple[tuple, tuple]:
        case, coarse = c["use_case"], step[0] not in ("region", "account")
        if case == "external-consumer":
            src = self._outer(c, "consumer", coarse)
        else:
            src = self.group(c["consumer_account_id"], c["consumer_region"], step)
        if case in OURS:
            dst = self.group(c["provider_account_id"], c["provider_region"], step)
        else:
            dst = self._outer(c, coarse=coarse)
        return src, dst

    def target(self, key: tuple, members: list[str]) -> Scope | None:
        """The diagram a node counting several accounts leads to (:class:`Scope`); None for a
        node of own accounts that would lead to this diagram itself, or of accounts of no known OU
        outside it."""
        kind, path, ou = key[0], key[1], self.scope.ou
        if kind == "rest":
            return Scope()
        if kind == "out":
            return None if path is None else Scope(path)
        if path and len(path) > len(ou) and path[:len(ou)] == ou:
            return Scope(path)
        return None if len(members) == len(self.own) else Scope(ou, tuple(sorted(members)))


def _anchor_node(view: View, cluster: Cluster, account_id: str, regions: list[str], region: str, **link) -> Node:
    """An account (or one of its regions) as one node: what it holds and its worst finding."""
    endpoints, services = view.counts[(account_id, region, "endpoints")], view.counts[(account_id, region, "services")]
    lines = []  # what the account holds there; "0 endpoint services" on every consumer is noise
    if endpoints or not services:
        lines.append(plural(endpoints, "endpoint"))
    if services:
        lines.append(plural(services, "endpoint service"))
    if not region:
        lines.insert(0, ", ".join(regions))
    attrs = dict(link)
    worst = view.worst_finding(account_id, region)
    if worst:
        lines.append(f"{plural(view.counts[(account_id, region, 'findings')], 'finding')}, worst {worst}")
        attrs["fontcolor"] = SEVERITY_COLOR[worst]
    return cluster.node("vpc", lines, node_id("acct", account_id, region), **attrs)


def _group_node(view: View, plan: _OverviewPlan, cluster: Cluster, key: tuple, members: list[str],
                link: dict) -> Node:
    """Several accounts as one node: how many, where, their endpoints, where they connect."""
    counts = sorted(view.counts[(a, "", "endpoints")] for a in members)
    services = sum(view.counts[(a, "", "services")] for a in members)
    each = (f"{plural(counts[0], 'endpoint')} each" if counts[0] == counts[-1]
            else f"{counts[0]} to {counts[-1]} endpoints each")
    if key[0] == "rest":
        lines = [f"{len(members)} accounts elsewhere in the organization"]
    else:
        other = " other" if key[0] == "out" and plan.scope.members is not None else ""
        lines = [f"{len(members)}{other} accounts {place(view, members)}"]
    if key[0] == "part":
        lines.append(f"part {key[2][0] + 1} of {key[2][1]}")
    lines.append(each)
    if services:
        lines.append(plural(services, "endpoint service"))
    ends = {end for a in members for end, _ in plan.signature[a]}
    if len(ends) == 1:
        (kind, ident), = ends
        lines.append("→ " + (view.account_name(ident) if kind == "acct" else USE_CASE_TITLES.get(ident, "outside")))
    found = [s for a in members if (s := view.worst_finding(a))]
    attrs = dict(link)
    if found:
        worst = vocab.worst(found)
        lines.append(f"{plural(sum(view.counts[(a, '', 'findings')] for a in members), 'finding')}, worst {worst}")
        attrs["fontcolor"] = SEVERITY_COLOR[worst]
    return cluster.node("account", lines, node_id("group", *map(str, key)), **attrs)


def _ou_cluster(view: View, pic: Picture, plan: _OverviewPlan, boxes: dict, path: tuple | None | bool) -> Cluster:
    """The cluster of an OU (the picture itself for False, or when the snapshot knows no OU)."""
    if not plan.grouped_ous or path is False:
        return pic.root
    if ("ou", path) not in boxes:
        boxes[("ou", path)] = pic.root.cluster(f"ou-{json.dumps(path)}", view.ou_title(path), bgcolor=INSIDE)
    return boxes[("ou", path)]


def _overview_accounts(view: View, pic: Picture, plan: _OverviewPlan, step: tuple[str, str], nodes: dict) -> bool:
    """The accounts' nodes at this step; False if a node counting several of the diagram's own
    accounts would lead nowhere (:meth:`_OverviewPlan.target`)."""
    members: dict[tuple, list[str]] = defaultdict(list)
    for account_id in plan.accounts:
        regions = (step[0] == "region" and plan.by_region and sorted(plan.inner[account_id])) or [""]
        for key in dict.fromkeys(plan.group(account_id, region, step) for region in regions):
            members[key].append(account_id)
    boxes: dict = {}
    for key in sorted(members, key=lambda k: (view.ou_order(k[1]), str(k))):  # by OU (False: none, first)
        box = _ou_cluster(view, pic, plan, boxes, key[1])
        accounts = members[key]
        if key[0] != "acct" and len(accounts) > 1:
            target = plan.target(key, accounts)
            if target is None and key[0] != "out":
                return False
            link = {} if target is None else {"URL": f"{target.name(view)}.svg",
                                              "tooltip": "see the diagram of these accounts"}
            nodes[key] = _group_node(view, plan, box, key, accounts, link)
            if target is not None:
                pic.links.append(target)
            continue
        account_id, region = accounts[0], key[3] if key[0] == "acct" else ""
        regions = sorted(plan.inner[account_id])
        if key[0] == "acct" and key[3]:  # a region of an account: nested in the account's cluster
            outer = boxes.setdefault(("acct", account_id), _account_box(view, box, account_id))
            inner = outer.cluster(f"acct-{account_id}-{region}", region, bgcolor=PLAIN)
            nodes[key] = _anchor_node(view, inner, account_id, [region], region, **view.link("account", account_id))
            continue
        outer = _account_box(view, box, account_id)
        nodes[key] = _anchor_node(view, outer, account_id, regions, "", **view.link("account", account_id))
    pic.links = list(dict.fromkeys(pic.links))
    return True


def _overview_notes(view: View, pic: Picture, plan: _OverviewPlan, step: tuple[str, str]) -> None:
    level, out = step
    if level not in ("region", "account"):
        how = {"same": "per organizational unit, accounts with the same connections as one node",
               "alike": "per organizational unit, accounts connecting to the same places as one node",
               "consumers": "per organizational unit: its consumer accounts as one node, providers one by one",
               "ou": "as one node per organizational unit",
               "child": f"as one node per organizational unit directly under {view.ou_title(plan.scope.ou)}"
                        if plan.scope.ou else "as one node per organizational unit directly under the root",
               "parts": f"in {plan.parts} parts, in the order of their OUs"}[level]
        pic.collapsed.append(f"{len(plan.own)} accounts are drawn {how}"
                             + ("; a node counting several accounts links to the diagram of their OU, or of "
                                "those accounts." if pic.links else "."))
    elif not plan.by_region or level == "account":
        pic.collapsed.append("Regions are listed inside each account's node rather than drawn as clusters.")
    if len(plan.own) < len(plan.accounts):
        pic.collapsed.append("The other accounts it connects to are drawn " + {
            "ou": "per organizational unit.", "top": "per organizational unit directly under the root.",
            "rest": "as one node."}[out])


def _account_box(view: View, box: Cluster, account_id: str) -> Cluster:
    note = None if account_id in view.crawled_accounts else "not crawled"
    return box.cluster(f"acct-{account_id}", view.account_name(account_id), note,
                       bgcolor=INSIDE if view.inside(account_id) else OUTSIDE)


def _overview_outside(view: View, pic: Picture, plan: _OverviewPlan, ends: set, nodes: dict) -> None:
    outer = sorted(e for e in ends if e[0] == "outer")
    if not outer:
        return
    box = pic.root.cluster("outside", "Outside the organization", bgcolor=OUTSIDE)
    first = {}
    for c in plan.connections:
        first.setdefault(plan._outer(c, "consumer" if c["use_case"] == "external-consumer" else "provider"), c)
    for key in outer:
        if key[1] == "consumers":
            nodes[key] = box.node("external-consumer", [plural(len(plan.ext_consumers), "account"),
                                                        "consuming our services"], node_id("external", "all"))
        elif key[1] == "third-parties":
            nodes[key] = box.node("third-party", [plural(len(plan.third_parties), "third-party provider")],
                                  node_id("third", "all"))
        else:
            nodes[key] = far_end(view, box, first[key], "consumer" if key[1].startswith("consumer-") else "provider")
    if {("outer", "consumers"), ("outer", "third-parties")} & set(outer):
        pic.collapsed.append("Accounts outside the organization are counted rather than drawn one by one.")


def overview(view: View, scope: Scope = Scope()) -> Picture:
    """Accounts grouped by organizational unit, one edge per consumer and provider per use case,
    labelled with the number of endpoints; at scale, accounts whose connections follow the same
    pattern become one node (:data:`OVERVIEW_LEVELS`), linked to the diagram of a smaller
    :class:`Scope` (``pic.links``). ``scope`` draws the diagram of one OU or group instead."""
    plan = _OverviewPlan(view, scope)
    return fit(_overview, len(plan.steps), view, plan)


def _overview(view: View, plan: _OverviewPlan, level: int) -> Picture | None:
    scope, step = plan.scope, plan.steps[level]
    if scope.members is not None:
        first, *_, last = sorted(scope.members, key=lambda a: (view.ou_order(view.ou_of(a)), a))
        title = (f"PrivateLink of {len(scope.members)} accounts {place(view, scope.members)}, "
                 f"{view.account_name(first)} to {view.account_name(last)}")
    else:
        title = f"PrivateLink in {view.ou_title(scope.ou)}" if scope.ou else "PrivateLink overview"
    pic = Picture(scope.name(view), title)
    edges, states, new = Counter(), defaultdict(set), Counter()
    for c in plan.connections:
        key = (*plan.ends(c, step), c["use_case"])
        edges[key] += 1
        states[key].add(c["state"])
        new[key] += c["endpoint_id"] in view.new_connections
    nodes: dict = {}
    if not _overview_accounts(view, pic, plan, step, nodes):
        return None
    _overview_notes(view, pic, plan, step)
    _overview_outside(view, pic, plan, {end for key in edges for end in key[:2]}, nodes)
    connect_counted(pic, nodes, edges, states, lambda n: plural(n, "endpoint"), new)
    pic.legend = [c for c in USE_CASE_STYLE if any(x["use_case"] == c for x in plan.connections)]
    return pic


# --- one per use case ---------------------------------------------------------------------------

# (consumer grain, service grain), most detailed first.
USE_CASE_LEVELS = (("endpoint", "service"), ("vpc", "service"), ("account", "service"), ("account", "provider"),
                   ("region", "provider"), ("region", "all"))


def use_case(view: View, case: str) -> Picture:
    return fit(_use_case, len(USE_CASE_LEVELS), view, case)


def _consumer_grain(case: str, level: int) -> str:
    grain = USE_CASE_LEVELS[level][0]
    if case == "external-consumer" and grain != "region":
        return "region" if grain == "account" else "account"  # outside consumers: the account is the finest grain
    return grain


def _consumer_key(c: dict, grain: str):
    if grain == "region":
        return c["consumer_region"]
    if grain == "account":
        return c["consumer_account_id"]
    if grain == "vpc":
        return (c["consumer_account_id"], c["consumer_region"], c["consumer_vpc_id"] or "")
    return c["endpoint_id"]


def _use_case_consumer_regions(pic: Picture, conns: list[dict], outside: bool) -> dict:
    box = pic.root.cluster("consumers", "Outside the organization" if outside else "Consumers",
                           bgcolor=OUTSIDE if outside else INSIDE)
    nodes = {}
    for region, here in sorted(_by(conns, lambda c: c["consumer_region"]).items()):
        accounts = len({c["consumer_account_id"] for c in here})
        nodes[region] = box.node("external-consumer" if outside else "endpoints:aggregate",
                                 [plural(accounts, "account"), plural(len(here), "endpoint"), region],
                                 node_id("consumers", region))
    return nodes


def _use_case_consumer_account(view: View, box: Cluster, acct: str, items: list[dict], grain: str) -> dict:
    """One account's consumers: a counted node, or per region its VPCs or endpoints."""
    link = view.link("account", acct)
    if grain == "account":
        return {acct: box.node("endpoints:aggregate", [plural(len(items), "endpoint")], node_id("agg", acct), **link)}
    nodes = {}
    for region, here in sorted(_by(items, lambda c: c["consumer_region"]).items()):
        inner = box.cluster(f"acct-{acct}-{region}", region, bgcolor=PLAIN)
        if grain == "vpc":
            for (a, r, vpc), n in sorted(Counter(_consumer_key(c, "vpc") for c in here).items()):
                nodes[(a, r, vpc)] = inner.node("endpoints:aggregate", [plural(n, "endpoint"), vpc],
                                                node_id("agg", acct, region, vpc), **link)
            continue
        for c in here:
            lines, attrs = marked(view, c["endpoint_id"], [view.endpoint_label(c), c["endpoint_type"], c["state"]])
            nodes[c["endpoint_id"]] = inner.node(icons.endpoint_kind(c["endpoint_type"]), lines,
                                                 node_id(c["endpoint_id"]), **attrs)
    return nodes


def _use_case_consumers(view: View, pic: Picture, case: str, conns: list[dict], grain: str) -> dict:
    outside = case == "external-consumer"
    if grain == "region":
        nodes = _use_case_consumer_regions(pic, conns, outside)
    elif outside:
        box = pic.root.cluster("outside", "Outside the organization", bgcolor=OUTSIDE)
        nodes = {acct: box.node("external-consumer", [view.account_name(acct)], node_id("external", acct))
                 for acct in sorted({c["consumer_account_id"] for c in conns})}
    else:
        nodes = {}
        for acct, items in sorted(_by(conns, lambda c: c["consumer_account_id"]).items()):
            box = pic.root.cluster(f"acct-{acct}", view.account_name(acct), bgcolor=INSIDE)
            nodes.update(_use_case_consumer_account(view, box, acct, items, grain))
    if grain != "endpoint" and not (outside and grain == "account"):
        pic.collapsed.append(f"{len(conns)} endpoints are drawn per {grain}; counted nodes link to the "
                             f"account's diagram or page.")
    return nodes


def _service_kind(c: dict) -> str:
    if c["use_case"] == "unresolved":
        return "unresolved"
    owner = c["provider_owner"]
    if owner == vocab.AMAZON:
        return icons.aws_service_kind(c["service_name"])
    return "marketplace" if owner == vocab.MARKETPLACE else "endpoint-service"


def _provider_title(view: View, owner: str, provider: str) -> str:
    return {vocab.AMAZON: "AWS", vocab.MARKETPLACE: "AWS Marketplace"}.get(owner) or view.account_name(provider or None)


def _use_case_services(view: View, pic: Picture, case: str, conns: list[dict], grain: str) -> dict:
    """The services reached: one node each, per provider, or all in one node."""
    services = {service_key(c): c for c in reversed(conns)}  # the first connection of each service
    by_provider = _by(services, lambda k: (services[k]["provider_owner"] or "", services[k]["provider_account_id"] or ""))
    bgcolor = INSIDE if case in OURS else OUTSIDE
    if grain == "all":
        box = pic.root.cluster("providers", "Providers", bgcolor=bgcolor)
        pic.collapsed.append(f"{len(services)} services of {len(by_provider)} providers are drawn as one node "
                             f"(see the table below).")
        return {("all",): box.node("endpoint-service", [plural(len(services), "service"),
                                                         plural(len(by_provider), "provider")], node_id("svcall"))}
    nodes = {}
    for (owner, provider), keys in sorted(by_provider.items()):
        box = pic.root.cluster(f"provider-{owner}-{provider}", _provider_title(view, owner, provider), bgcolor=bgcolor)
        if grain == "provider":
            nodes[(owner, provider)] = box.node("endpoint-service", [plural(len(keys), "service")],
                                                node_id("svcagg", owner, provider))
            continue
        for key in sorted(keys):
            c = services[key]
            lines, attrs = marked(view, c["service_id"], [view.service_label(c), c["provider_region"]])
            nodes[key] = box.node(_service_kind(c), lines, node_id("svc", *key), **attrs)
    if grain == "provider":
        pic.collapsed.append(f"{len(services)} services are drawn per provider.")
    return nodes


def _use_case(view: View, case: str, level: int) -> Picture:
    conns = sorted(view.by_case[case], key=lambda c: (c["consumer_account_id"], c["consumer_region"], c["endpoint_id"]))
    pic = Picture(view.names.diagram("use-case", case), f"Use case: {USE_CASE_TITLES[case]}")
    grain, service_grain = _consumer_grain(case, level), USE_CASE_LEVELS[level][1]
    nodes = _use_case_consumers(view, pic, case, conns, grain)
    nodes.update(_use_case_services(view, pic, case, conns, service_grain))
    edges, states = Counter(), defaultdict(set)
    for c in conns:
        dst = {"all": ("all",), "provider": (c["provider_owner"] or "", c["provider_account_id"] or "")}.get(
            service_grain, service_key(c))
        key = (_consumer_key(c, grain), dst, case)
        edges[key] += 1
        states[key].add(c["state"])
    connect_counted(pic, nodes, edges, states, count_label)
    pic.legend = [case]
    return pic


# --- one per endpoint service we provide ---------------------------------------------------------

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

    groups = _by(conns, key)
    nodes = _service_consumers(view, pic, svc, groups, per_account)
    if not per_account:
        pic.collapsed.append(f"{len({c['consumer_account_id'] for c in conns})} consumer accounts are drawn per region.")
    nodes["service"] = _service_provider(view, pic, svc, level)
    connect_split(pic, nodes, Counter((key(c), "service", c["use_case"], split_state(c)) for c in conns))
    pic.legend = sorted({c["use_case"] for c in conns}, key=list(USE_CASE_STYLE).index)
    return pic


# --- one per account -----------------------------------------------------------------------------

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
                pic.connect(subnet_nodes[sid], node, style="dotted", arrowhead="none", color="#90A4AE")


def _account_region(view: View, pic: Picture, box: Cluster, account_id: str, region: str, eps: list[dict],
                    level: int, nodes: dict) -> None:
    if level >= 4 and eps:
        nodes[("region", region)] = box.node(
            "endpoints:aggregate", [plural(len(eps), "endpoint"), plural(len({e["vpc_id"] for e in eps}), "VPC")],
            node_id("agg", account_id, region))
    for vpc_id, items in sorted(_by(eps, lambda e: e["vpc_id"] or "").items()) if level < 4 else []:
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
    box = pic.root.cluster(f"reach-{account_id}", "Services these endpoints reach", bgcolor=PLAIN, style="dashed")
    mine = view.by_consumer.get(account_id, [])
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
            far[key] = box.node(_service_kind(c), [view.service_label(c), view.provider_label(c), c["provider_region"]],
                                node_id("far", account_id, *key))
        edges[(_endpoint_group(e, level), key, c["use_case"], split_state(c))] += 1
    return far, edges


def _account(view: View, account_id: str, level: int) -> Picture:
    pic = Picture(view.names.diagram("account", account_id), f"Account {view.account_name(account_id)}")
    by_region = _by(view.endpoints_of.get(account_id, []), lambda e: e["region"])
    nodes: dict = {}
    box = pic.root.cluster(f"acct-{account_id}", view.account_name(account_id), bgcolor=INSIDE)
    for region in view.region_activity(account_id):
        inner = box.cluster(f"acct-{account_id}-{region}", region, bgcolor=PLAIN)
        _account_region(view, pic, inner, account_id, region, by_region.get(region, []), level, nodes)
    if level >= 1:
        pic.collapsed.append(ACCOUNT_NOTES[level])
    far, edges = _account_reach(view, pic, account_id, level)
    nodes.update(far)
    connect_split(pic, nodes, edges)
    pic.legend = sorted({c["use_case"] for c in view.by_consumer.get(account_id, [])}, key=list(USE_CASE_STYLE).index)
    return pic


def _by(items, key) -> dict:
    out: dict = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out
