"""What a diagram's legend says: exactly the marks that diagram uses, each meaning once.

One visual variable per meaning (:mod:`archviz.render.view`): colour for the use case, line
pattern for the traffic state, weight for what ``render --since`` marks as new; the subnet
lines of an account diagram, the provider's own arrows (service, load balancer, listeners,
targets) and the severity of the findings marked on nodes are listed when the diagram has
them. The SVG (:mod:`draw`) and Mermaid (:mod:`mermaid`) draw these same rows."""

from __future__ import annotations

from dataclasses import dataclass

from archviz.model import vocab
from archviz.render.scene import Picture
from archviz.render.view import (LOOP, NEW_MARK, SEVERITY_COLOR, SEVERITY_MARK, SUBNET_COLOR, TRAFFIC, USE_CASE_COLOR,
                                 USE_CASE_TITLES)

INK = "#424242"  # the colour of marks that are not a use case's
LOOP_TEXT = "n endpoints, in a node: connections within that node (its loop)"
SUBNET_TEXT = "an endpoint's network interface in this subnet"
STRUCTURE_TEXT = "the provider's side: service, load balancer, listeners, target groups, targets"
# How a row shows its mark in text (the legend is a table of text, in both outputs).
SAMPLE = {"solid": "───", "dashed": "╌╌╌", "dotted": "┈┈┈", "colour": "■", "new": "━━━", "plain": "───"}


@dataclass(frozen=True)
class Row:
    sample: str  # the mark, drawn in text
    text: str  # what it means (archviz's own words)
    color: str


def rows(pic: Picture) -> list[Row]:
    """The legend of ``pic``: its use cases' colours, then the marks its edges and nodes use."""
    out = [Row(SAMPLE["colour"], USE_CASE_TITLES[c], USE_CASE_COLOR[c]) for c in pic.legend or []]
    used = {e.traffic for e in pic.edges}
    out += [Row(SAMPLE[pattern], text, INK) for state, (pattern, text) in TRAFFIC.items() if state in used]
    if pic.new_marked:
        out.append(Row(SAMPLE["new"], NEW_MARK, INK))
    if any(e.src == e.dst and e.traffic for e in pic.edges):
        out.append(Row(LOOP, LOOP_TEXT, INK))
    if any(e.mark == "subnet" for e in pic.edges):
        out.append(Row(SAMPLE["plain"], f"(no arrow) {SUBNET_TEXT}", SUBNET_COLOR))
    if any(e.traffic is None and e.mark is None for e in pic.edges):
        out.append(Row(SAMPLE["plain"], STRUCTURE_TEXT, INK))
    marked = {n.severity for n in pic.root.all_nodes()}
    out += [Row(f"[{SEVERITY_MARK[s]}]", f"finding: {s} (the node's text in this colour)", SEVERITY_COLOR[s])
            for s in vocab.SEVERITIES if s in marked]
    return out
