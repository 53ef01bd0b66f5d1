"""A scene drawn with mingrammer ``diagrams``: clusters become ``Group``, nodes get their icon
from the one table in :mod:`icons`, every text from AWS goes through :func:`graph.label`."""

from __future__ import annotations

import html

from diagrams import Edge

from archviz.render import icons, legend
from archviz.render.graph import TOOLTIP, Box, Canvas, Group, label, node_id, text, wrap
from archviz.render.scene import Cluster, Picture

UNTRUSTED_ATTRS = ("tooltip",)  # attributes that may carry text derived from the snapshot


def draw(pic: Picture, hints: list[tuple[str, str]] = ()) -> Canvas:
    """The picture as a described (not yet rendered) Graphviz canvas; ``hints`` are invisible
    edges (from :func:`layout.fold`) that fold long columns into rows."""
    canvas = Canvas(pic.title)
    nodes: dict = {}
    with canvas:
        _cluster(pic.root, nodes)
        if pic.legend is not None:
            _legend(legend.rows(pic))
        texts = _shared_labels(pic)
        for i, e in enumerate(pic.edges):
            attrs = dict(e.attrs, **texts[i]) if i in texts else e.attrs
            nodes[e.src] >> Edge(**attrs) >> nodes[e.dst]
        for src, dst in hints:
            nodes[src] >> Edge(style="invis") >> nodes[dst]
    return canvas


def _shared_labels(pic: Picture) -> dict[int, dict]:
    """What each labelled edge adds to its attributes, by its index. Graphviz 2.43 sets the labels of
    edges that join the same two nodes on one spot, one over the other: edges in one direction (one
    per use case and traffic state) share one label, a line each, on the first of them (in their
    colour if they have one, else the legend's ink); edges in the other direction carry theirs as
    an ``xlabel``, which Graphviz places once the layout is done, clear of the labels already
    placed. (Ports to route them apart make Graphviz 2.43 fail on some clustered graphs.)"""
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(pic.edges):
        if e.text:
            groups.setdefault((e.src, e.dst), []).append(i)
    out = {}
    for (src, dst), members in groups.items():
        colors = {pic.edges[i].attrs.get("fontcolor") for i in members}
        first = {"label": label(*(pic.edges[i].text for i in members))}
        if len(colors) > 1:
            first["fontcolor"] = legend.INK
        if src != dst and (dst, src) in groups and (dst, src) < (src, dst):
            first["xlabel"] = first.pop("label")
        out[members[0]] = first
    return out


def _cluster(cluster: Cluster, nodes: dict) -> None:
    for n in cluster.nodes:
        attrs = {k: label(v) if k in UNTRUSTED_ATTRS else v for k, v in n.attrs.items()}
        lines = wrap(n.lines) if icons.ICONS.get(n.kind) else n.lines  # under an icon: as wide as the icon
        if "tooltip" not in attrs and any("…" in str(x) for x in lines) and not any("…" in str(x) for x in n.lines):
            attrs["tooltip"] = label(" · ".join(text(x, TOOLTIP) for x in n.lines if x not in (None, "")), limit=TOOLTIP * 3)
        nodes[n.id] = icons.node(n.kind, label(*lines), n.id, **attrs)
    for c in cluster.clusters:
        with Group(c.title[0] if c.title else "", c.key, bgcolor=c.bgcolor, style=c.style,
                   subtitle=c.title[1] if len(c.title) > 1 else None):
            _cluster(c, nodes)


def _legend(rows: list[legend.Row]) -> None:
    """One small node holding the whole legend (an HTML-like table: its text is archviz's own)."""
    if not rows:
        return
    cells = "".join(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{r.color}">{html.escape(r.sample)}</FONT></TD>'
                    f'<TD ALIGN="LEFT"><FONT COLOR="{r.color}">{html.escape(r.text)}</FONT></TD></TR>' for r in rows)
    table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">'
             '<TR><TD ALIGN="LEFT" COLSPAN="2"><B>Legend</B></TD></TR>' + cells + "</TABLE>>")
    Box(table, nodeid=node_id("legend"), shape="box", style="rounded,filled", fillcolor="#FFFFFF", fontsize="11",
        color="#BDBDBD")
