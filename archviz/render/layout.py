"""Readable proportions: no diagram wider or taller than 4:1, none longer than 10,000 px.

Graphviz's ``dot`` puts the nodes of one rank in one column (left to right), so forty consumers
of one service become a strip forty nodes tall. Here a rank that is too long is folded into
several sub-columns, as Graphviz's ``unflatten`` does for leaves, but for every rank: each node
gets a sub-column in turn, and every edge a ``minlen`` that keeps it pointing forwards across the
sub-columns between its ends. Clusters holding many nodes of one rank become grids.

How far to fold depends on the real drawing (labels, clusters, edges routed between nodes), so
:func:`fitted` draws with ``dot``, measures the SVG, and folds more or less until the picture is
within :data:`MAX_ASPECT` and :data:`MAX_SIDE_PX`. The scene (nodes, edges, labels) never
changes here, only the layout hints; if no attempt is within the limits, :func:`fitted` says so
and the render draws the picture's next coarser level instead (``Picture.coarser``). Nothing is
padded or stretched: the canvas is the layout's own size."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Callable

from archviz.errors import ArchvizError
from archviz.render import icons
from archviz.render.scene import Cluster, Node, Picture

MAX_ASPECT = 4.0
MAX_SIDE_PX = 10_000
PX_PER_PT = 96 / 72
ATTEMPTS = 5
GOOD = 0.85  # an attempt this far within the limits ends the search (1.0 is at a limit)
NODESEP, RANKSEP, COLUMN = 0.7, 1.8, 2.6  # inches: graph.GRAPH_ATTR's spacing, a typical node's width
TIGHT = {"nodesep": "0.3", "ranksep": "0.9"}  # for large pictures: the spacing Graphviz itself defaults to, about
_SIZE = re.compile(rb'<svg width="([0-9.]+)pt" height="([0-9.]+)pt"')


def size_px(svg: bytes) -> tuple[float, float] | None:
    """An SVG's width and height in pixels at 96 dpi (Graphviz writes points), if it says."""
    m = _SIZE.search(svg[:2000])
    return (float(m.group(1)) * PX_PER_PT, float(m.group(2)) * PX_PER_PT) if m else None


def badness(size: tuple[float, float]) -> float:
    """How far a size is from the limits: at most 1 when within both."""
    w, h = size
    return max(max(w / h, h / w) / MAX_ASPECT, max(w, h) / MAX_SIDE_PX)


def _nodes(cluster: Cluster):
    yield from cluster.nodes
    for child in cluster.clusters:
        yield from _nodes(child)


def _height(node: Node) -> float:
    """A node's height in inches as :mod:`icons` draws it, plus the space beside it."""
    if icons.ICONS.get(node.kind):
        from archviz.render.graph import wrap  # (drawing needs graph.py; a layout's other sums do not)

        return 1.9 + 0.3 * (len(wrap(node.lines)) - 1) + NODESEP  # wrapped under its icon, as drawn
    lines = len([x for x in node.lines if x not in (None, "")])
    tall = max(0.8, 0.3 * lines + 0.3)
    return tall + NODESEP


def ranks(pic: Picture, extra: list[tuple[str, str]] = ()) -> dict[str, int]:
    """Each node's rank as ``dot`` would give it: the longest path from a node with no incoming
    edge (along the picture's edges and the ``extra`` ones). Edges closing a cycle (found by a
    depth-first walk in scene order) are not followed."""
    order = [n.id for n in _nodes(pic.root)]
    succ = defaultdict(list)
    for src, dst in [(e.src, e.dst) for e in pic.edges] + list(extra):
        if src != dst:
            succ[src].append(dst)
    state, topo = {}, []
    for start in order:  # iterative DFS: post-order gives a reverse topological order
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(succ[start]))]
        while stack:
            node, it = stack[-1]
            nxt = next((d for d in it if state.get(d) != 1), None)  # skip back edges
            if nxt is None:
                state[node] = 2
                topo.append(node)
                stack.pop()
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    rank = dict.fromkeys(order, 0)
    position = {n: i for i, n in enumerate(reversed(topo))}
    for node in reversed(topo):
        for dst in succ[node]:
            if position[dst] > position[node]:
                rank[dst] = max(rank[dst], rank[node] + 1)
    return rank


class _Grid:
    """Invisible edges that arrange parallel blocks of one cluster in rows of several columns.

    ``dot`` ranks each cluster on its own before placing it (without ``newrank``, which
    Graphviz 2.43 crashes on), so an edge between two nodes of a cluster puts them in
    consecutive columns. A block is a node or a child cluster; blocks of one natural rank have
    no edge between them (an edge means a higher rank), so chaining them changes no real edge's
    direction."""

    def __init__(self, pic: Picture, column: float, extra: list[tuple[str, str]] = ()):
        self.rank = ranks(pic, extra)
        self.column = column
        self.edges: list[tuple[str, str]] = []

    def block(self, cluster: Cluster) -> tuple[str, str, float, set]:
        """(a node of its first column, a node of its last column, height, natural ranks), after
        arranging the cluster's own blocks."""
        items = [(n.id, n.id, _height(n), {self.rank[n.id]}) for n in cluster.nodes]
        items += [b for b in (self.block(c) for c in cluster.clusters) if b[0]]
        if not items:
            return "", "", 0.0, set()
        by_rank: dict[int, list] = defaultdict(list)
        for item in items:
            if len(item[3]) == 1:
                by_rank[next(iter(item[3]))].append(item)
        height, ends = 0.0, []  # (rank, a node of the first column, a node of the last column)
        for r in sorted(by_rank):  # each rank's blocks after the previous rank's, all of them
            group = by_rank[r]
            height = max(height, self._rows(group))
            if ends:
                self.edges.append((ends[-1][2], group[0][0]))
            ends.append((r, group[0][0], group[min(len(group), self._columns(group)) - 1][1]))
        spans = [i for i in items if len(i[3]) > 1]
        ends += [(min(i[3]), i[0], i[1]) for i in spans] + [(max(i[3]), i[0], i[1]) for i in spans]
        height = max([height] + [i[2] for i in spans])
        first, last = min(ends, key=lambda e: e[0]), max(ends, key=lambda e: e[0])
        return first[1], last[2], height + 0.6, set().union(*(i[3] for i in items))

    def _columns(self, group: list) -> int:
        return max(1, min(len(group), math.ceil(sum(i[2] for i in group) / self.column)))

    def _rows(self, group: list) -> float:
        """Deal the blocks of one rank into rows of ``c`` columns, chained left to right."""
        c = self._columns(group)
        height = 0.0
        for start in range(0, len(group), c):
            row = group[start:start + c]
            self.edges += [(a[1], b[0]) for a, b in zip(row, row[1:])]
            height += max(i[2] for i in row)
        return height


def pushed(pic: Picture) -> list[tuple[str, str]]:
    """Invisible edges (source, target) that move a node nothing leads to next to where its edges
    go: ``dot`` ranks each cluster on its own, so a node of a cluster with no edge inside it (a
    gateway endpoint, whose route tables are not drawn, beside interface endpoints that follow
    their subnets) stays in the cluster's first column, and its edges cross the whole cluster.
    Such a node, whose edges all leave its cluster, goes to the cluster's last column."""
    rank = ranks(pic)
    incoming = {e.dst for e in pic.edges if e.src != e.dst}
    out: dict[str, list[str]] = defaultdict(list)
    for e in pic.edges:
        if e.src != e.dst:
            out[e.src].append(e.dst)
    hints = []

    def visit(cluster: Cluster) -> None:
        ids = {n.id for n in cluster.nodes}
        last = max((rank[n] for n in ids), default=0)
        for n in cluster.nodes:
            targets = out.get(n.id, [])
            if n.id in incoming or not targets or any(t in ids for t in targets):
                continue
            lead = next((m.id for m in cluster.nodes if rank[m.id] == last - 1 and m.id != n.id), None)
            if last > rank[n.id] and lead:
                hints.append((lead, n.id))
        for child in cluster.clusters:
            visit(child)

    visit(pic.root)
    return hints


def fold(pic: Picture, column: float, move: bool = True) -> list[tuple[str, str]]:
    """Invisible edges (source, target): those that move nodes next to where their edges go
    (:func:`pushed`, unless ``move`` is false), and those that fold every column of the layout
    longer than ``column`` inches into rows of several columns."""
    moved = pushed(pic) if move else []
    grid = _Grid(pic, column, moved)
    grid.block(pic.root)
    return moved + grid.edges


def first_column(pic: Picture) -> float:
    """The column length (inches) expected to give a square picture: with load ``L`` inches of
    nodes over ``R`` ranks, ``C`` columns of about ``COLUMN + RANKSEP`` inches each, solve
    ``column = (L / column + R) * (COLUMN + RANKSEP)``."""
    nodes = list(_nodes(pic.root))
    load = sum(_height(n) for n in nodes) or 1.0
    r = len(set(ranks(pic).values())) or 1
    step = COLUMN + RANKSEP
    return (r * step + math.sqrt((r * step) ** 2 + 4 * load * step)) / 2


# What to try when ``dot`` fails on a layout (Graphviz 2.43 loses some spline routes between
# clusters, or some ranks of clusters joined by cycles): without the moved nodes (:func:`pushed`),
# straighter edges, then no folding. (edges, fold, move)
FALLBACKS = (("spline", True, True), ("spline", True, False), ("polyline", True, False), ("spline", False, False),
             ("polyline", False, False), ("line", False, False))


def _attempt(pic: Picture, column: float, draw: Callable, render: Callable, fmt: str,
             tight: bool) -> tuple[bytes, object]:
    """Draw and render one layout, falling back as :data:`FALLBACKS` says when ``dot`` fails."""
    error = None
    for splines, folded, move in FALLBACKS:
        canvas = draw(pic, fold(pic, column, move) if folded else [])
        canvas.dot.graph_attr.update(TIGHT if tight else {}, splines=splines)
        try:
            return render(canvas, fmt), canvas
        except ArchvizError as exc:
            error = exc
    raise error


def fitted(pic: Picture, draw: Callable, render: Callable, fmt: str = "svg") -> tuple[bytes, object] | None:
    """The picture drawn (``draw(pic, hints)``) and rendered as SVG (``render(canvas, 'svg')``)
    with the fold that keeps it within the limits, and the canvas (for other formats); None if
    no attempt is within them (the picture must then be aggregated further).

    Each attempt is measured; a picture too tall folds into more columns, one too wide into
    fewer; the first comfortably within the limits (:data:`GOOD`) wins, else the least bad
    within them. Same picture, same attempts, same bytes."""
    column, tight = first_column(pic), False
    tried: set[tuple] = set()
    best = None
    for _ in range(ATTEMPTS):
        hints = fold(pic, column)
        if (tuple(hints), tight) in tried:
            break  # folding more or less changes nothing any more
        tried.add((tuple(hints), tight))
        data, canvas = _attempt(pic, column, draw, render, fmt, tight)
        size = size_px(data)
        score = badness(size) if size else 0.0
        if best is None or score < best[0]:
            best = (score, data, canvas)
        if score <= GOOD:
            break
        w, h = size
        if max(w, h) > MAX_SIDE_PX * 0.9 and not tight:
            tight = True  # large: bring ranks and nodes closer rather than fold again
            column *= 0.8
        else:
            column *= 0.6 if h > w else 1.7
    return best[1:] if best[0] <= 1.0 else None
