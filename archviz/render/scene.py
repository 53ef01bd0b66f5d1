"""A diagram as plain data: clusters, nodes, edges, a legend and notes.

The picture builders (:mod:`archviz.render.pictures`) describe a scene; :func:`graph.draw`
turns it into Graphviz. Because a scene is only data, the node budget is checked before
anything is drawn, and another output (Mermaid, say) can draw the same scene."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable


def node_id(*parts: Any) -> str:
    """A stable DOT identifier for a resource (ids and ARNs contain ':' and '/')."""
    raw = "|".join(str(p) for p in parts)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", raw)[-40:].strip("_")
    return f"n_{slug}_{hashlib.sha1(raw.encode()).hexdigest()[:8]}"


@dataclass
class Node:
    id: str  # a stable DOT id (graph.node_id)
    kind: str  # a key of icons.ICONS
    lines: tuple  # the label: untrusted text, one item per line
    attrs: dict = field(default_factory=dict)  # Graphviz attributes archviz chose (colours, links)
    severity: str | None = None  # the worst finding marked on it (its colour), for the legend


@dataclass
class Cluster:
    key: str  # names the cluster in DOT; never the (untrusted) title
    title: tuple = ()
    bgcolor: str | None = None
    style: str | None = None
    nodes: list[Node] = field(default_factory=list)
    clusters: list["Cluster"] = field(default_factory=list)

    def node(self, kind: str, lines, nid: str, severity: str | None = None, **attrs) -> Node:
        node = Node(nid, kind, tuple(lines), attrs, severity)
        self.nodes.append(node)
        return node

    def cluster(self, key: str, *title, bgcolor: str | None = None, style: str | None = None) -> "Cluster":
        child = Cluster(key, tuple(title), bgcolor, style)
        self.clusters.append(child)
        return child

    def count(self) -> int:
        return len(self.nodes) + sum(c.count() for c in self.clusters)

    def all_nodes(self):
        yield from self.nodes
        for child in self.clusters:
            yield from child.all_nodes()


@dataclass
class Edge:
    src: str
    dst: str
    attrs: dict
    text: str | None = None  # the label (archviz's own text: counts)
    traffic: str | None = None  # a connection edge: its traffic state (view.TRAFFIC); None: structure
    new: bool = False  # it holds connections new since the snapshot compared (render --since)
    mark: str | None = None  # another mark the legend explains: "subnet" (an endpoint in its subnet)


@dataclass
class Picture:
    name: str  # file stem, e.g. "use-case-aws-service"
    title: str
    root: Cluster = field(default_factory=lambda: Cluster("root"))
    edges: list[Edge] = field(default_factory=list)
    legend: list[str] | None = None  # the use cases the legend explains (None: no legend)
    collapsed: list[str] = field(default_factory=list)  # notes for the page under the diagram
    links: list = field(default_factory=list)  # the diagrams its nodes lead to (overview-like: pictures.Scope)
    # The same picture aggregated one level further, for a drawing too large (pictures.fit).
    coarser: Callable[[], "Picture | None"] = field(default=lambda: None, repr=False, compare=False)

    @property
    def nodes(self) -> int:
        return self.root.count() + (1 if self.legend is not None else 0)

    @property
    def new_marked(self) -> bool:
        """Some edge is marked as new (render --since): the legend says how."""
        return any(e.new for e in self.edges)

    def connect(self, src: Node, dst: Node, text: str | None = None, *, traffic: str | None = None,
                new: bool = False, mark: str | None = None, **attrs) -> None:
        self.edges.append(Edge(src.id, dst.id, attrs, text, traffic, new, mark))
