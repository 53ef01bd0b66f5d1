"""The overview, and the diagrams of OUs and of groups of accounts its nodes lead to: the
organization's accounts at the most detailed level that fits (:data:`OVERVIEW_LEVELS`), and
the other ends of their connections."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from archviz.model import vocab
from archviz.render.scene import Cluster, Node, Picture, node_id
from archviz.render.view import SEVERITY_COLOR, USE_CASE_COLOR, USE_CASE_TITLES, View
from archviz.render.pictures.common import (FAN_BUDGET, INSIDE, OURS, OUTSIDE, PLAIN, connect_counted, far_end, fit,
                                            plural)

OUTSIDE_BEFORE_AGGREGATION = 12
ANCHORS_BEFORE_ACCOUNT_LEVEL = 40
PARTS = 6  # a diagram's accounts split into at most this many parts (each within the budgets, see `Scope`)
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
        attrs.update(fontcolor=SEVERITY_COLOR[worst], severity=worst)
    return cluster.node("region" if region else "account", lines, node_id("acct", account_id, region), **attrs)


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
        attrs.update(fontcolor=SEVERITY_COLOR[worst], severity=worst)
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
            if ("acct", account_id) not in boxes:  # one cluster per account, however many regions it holds
                boxes[("acct", account_id)] = _account_box(view, box, account_id)
            outer = boxes[("acct", account_id)]
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
    edges, new = Counter(), Counter()
    for c in plan.connections:
        key = (*plan.ends(c, step), c["use_case"], c["state"])
        edges[key] += 1
        new[key] += c["endpoint_id"] in view.new_connections
    nodes: dict = {}
    if not _overview_accounts(view, pic, plan, step, nodes):
        return None
    _overview_notes(view, pic, plan, step)
    _overview_outside(view, pic, plan, {end for key in edges for end in key[:2]}, nodes)
    connect_counted(pic, nodes, edges, lambda n: plural(n, "endpoint"), new)
    pic.legend = [c for c in USE_CASE_COLOR if any(x["use_case"] == c for x in plan.connections)]
    return pic
