"""What every diagram builder shares: the budgets a picture must keep within, :func:`fit` (the
most detailed aggregation level that does), and small helpers for marks, edges and the far end
of a connection."""

from __future__ import annotations

from collections import Counter, defaultdict

from archviz.model import vocab
from archviz.render import icons
from archviz.render.scene import Cluster, Node, Picture, node_id
from archviz.render.view import LOOP, NEW_PENWIDTH, STATE_WORDS, TRAFFIC, USE_CASE_COLOR, View, traffic

NODE_BUDGET = 80
FAN_BUDGET = 24
EDGE_BUDGET = 120
TARGETS_BEFORE_AGGREGATION = 8
INSIDE, OUTSIDE, PLAIN = "#F2F8FD", "#FDF3F3", "#FFFFFF"
HEALTHY = "#2E7D32"
OURS = vocab.PROVIDER_IS_OURS


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
    return lines + [mark.text], {"fontcolor": mark.color, "color": mark.color, "penwidth": "2.5",
                                 "severity": mark.severity}


def edge_attrs(case: str, state: str, new: bool = False) -> dict:
    """An edge's look: its use case's colour, its traffic state's pattern, heavier if new."""
    color = USE_CASE_COLOR[case]
    attrs = {"color": color, "style": TRAFFIC[state][0], "fontcolor": color}
    if new:
        attrs["penwidth"] = NEW_PENWIDTH
    return attrs


def connect_counted(pic: Picture, nodes: dict, counts: Counter, label=None, new: Counter | None = None) -> None:
    """Connections as edges: ``counts`` maps (source, target, use case, endpoint state) to how many
    connections. One edge per source, target, use case and traffic state (:func:`view.traffic`),
    labelled ``label(n)`` (default :func:`count_label`); an edge whose connections do not flow
    says which states they are in ("2 endpoints: 1 pending acceptance, 1 rejected"). ``new``
    counts, by the same keys, those that appeared since an older snapshot (``render --since``):
    their edge says how many and is drawn heavier."""
    label = label or count_label
    states: dict = defaultdict(Counter)
    fresh: Counter = Counter()
    for (src, dst, case, state), n in counts.items():
        key = (src, dst, case, traffic(state))
        states[key][state] += n
        fresh[key] += (new or {}).get((src, dst, case, state), 0)
    for key in sorted(states, key=str):
        src, dst, case, flow = key
        text = label(sum(states[key].values()))
        if flow != "flowing":
            detail = ", ".join(f"{n} {STATE_WORDS.get(s, s)}" for s, n in sorted(states[key].items()))
            text = f"{text}: {detail}" if text else detail
        if fresh[key]:
            text = f"{text} ({fresh[key]} new)" if text else f"{fresh[key]} new"
        if src == dst and text:
            # Graphviz sets a loop's label beside it, outside the node's cluster: the node says it.
            nodes[src].lines += (f"{LOOP} {text}",)
            text = None
        pic.connect(nodes[src], nodes[dst], text, traffic=flow, new=bool(fresh[key]),
                    **edge_attrs(case, flow, bool(fresh[key])))


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


def by(items, key) -> dict:
    out: dict = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def service_kind(c: dict) -> str:
    if c["use_case"] == "unresolved":
        return "unresolved"
    owner = c["provider_owner"]
    if owner == vocab.AMAZON:
        return icons.aws_service_kind(c["service_name"])
    return "marketplace" if owner == vocab.MARKETPLACE else "endpoint-service"
