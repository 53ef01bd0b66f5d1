"""Benchmark: how easy the diagrams' edges are to follow (a script, not a test).

    .venv/bin/python bench/layout.py [--accounts 100] [--endpoints 1000] [--snapshot FILE]

Renders the demo (``archviz demo``, against the embedded sandbox) and the synthetic estate of
``bench/scale.py`` (100 accounts, 1,000 endpoints by default) as SVG, and measures every
diagram's edges as Graphviz drew them (the ``<path>`` of each ``<g class="edge">``, Bézier
segments sampled into polylines, in the SVG's points):

- **crossings**: pairs of edges whose lines cross (where two edges meet at a node they share,
  within 6 pt of an end, is not a crossing);
- **detour**: an edge's length over the straight distance between its ends. 1 is a straight
  line; an edge that circles the picture to reach its end has a large one. Given as the mean
  and the worst of the diagram's edges, and the share of edges longer than twice their distance;
- **length**: the edges' total length over the picture's diagonal.

Prints one line per diagram kind (sums and worsts over its diagrams) and, with ``--each``, one
per diagram. Deterministic: the same code gives the same numbers. ``bench/README.md`` has the
numbers before and after a layout change.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import REGIONS, Estate  # noqa: E402

from archviz import model  # noqa: E402
from archviz import snapshot as snap  # noqa: E402
from archviz.render import render  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
_NUM = re.compile(r"-?\d+(?:\.\d+)?")
END = 6.0  # pt: two edges meeting within this of an end share a node there, they do not cross


def polyline(d: str) -> list[tuple[float, float]]:
    """A Graphviz edge path (``M x,y C x,y x,y x,y ...``) as points along it, 8 per segment."""
    nums = [float(v) for v in _NUM.findall(d)]
    pts = list(zip(nums[::2], nums[1::2]))
    if len(pts) < 4:
        return pts
    out = [pts[0]]
    for k in range(0, len(pts) - 3, 3):
        p0, p1, p2, p3 = pts[k:k + 4]
        for i in range(1, 9):
            t = i / 8
            a, b, c, e = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
            out.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return out


def _length(pts) -> float:
    return sum(math.dist(a, b) for a, b in zip(pts, pts[1:]))


def _cross(a, b, c, d) -> bool:
    def orient(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    return orient(a, b, c) * orient(a, b, d) < 0 and orient(c, d, a) * orient(c, d, b) < 0


def _crosses(p: list, q: list) -> bool:
    ends = [p[0], p[-1], q[0], q[-1]]
    for a, b in zip(p, p[1:]):
        for c, d in zip(q, q[1:]):
            if _cross(a, b, c, d) and min(math.dist(x, y) for x in (a, b) for y in ends) > END:
                return True
    return False


def measure(svg: Path) -> dict:
    root = ET.parse(svg).getroot()
    w, h = (float(root.get(k).rstrip("pt")) for k in ("width", "height"))
    edges = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            path = g.find(f"{SVG}path")
            if path is not None and path.get("d"):
                edges.append(polyline(path.get("d")))
    detours = []
    for pts in edges:
        straight = math.dist(pts[0], pts[-1])
        if straight > 20:  # loops and edges between neighbours say nothing about detours
            detours.append(_length(pts) / straight)
    boxes = [(min(x for x, _ in p), min(y for _, y in p), max(x for x, _ in p), max(y for _, y in p)) for p in edges]
    crossings = 0
    for i in range(len(edges)):
        for j in range(i + 1, len(edges)):
            a, b = boxes[i], boxes[j]
            if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3] and _crosses(edges[i], edges[j]):
                crossings += 1
    return {"edges": len(edges), "crossings": crossings, "detours": detours,
            "length": sum(_length(p) for p in edges) / math.hypot(w, h)}


def report(name: str, folder: Path, each: bool) -> None:
    kinds: dict[str, list] = defaultdict(list)
    for svg in sorted((folder / "diagrams").glob("*.svg")):
        m = measure(svg)
        kinds[re.sub(r"-.*", "", svg.stem)].append(m)
        if each:
            print(f"  {svg.stem:<48} {_line([m])}")
    for kind, ms in kinds.items():
        print(f"{name:<14} {kind:<10} {len(ms):>4} diagrams  {_line(ms)}")


def _line(ms: list[dict]) -> str:
    detours = [d for m in ms for d in m["detours"]]
    mean = sum(detours) / len(detours) if detours else 1.0
    long = sum(1 for d in detours if d > 2) / len(detours) if detours else 0.0
    return (f"edges {sum(m['edges'] for m in ms):>5}  crossings {sum(m['crossings'] for m in ms):>5}  "
            f"detour mean {mean:4.2f} worst {max(detours, default=1.0):5.2f}  over 2x {long:5.1%}  "
            f"length/diagonal {sum(m['length'] for m in ms) / len(ms):5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--snapshot", type=Path, help="measure this snapshot instead of the synthetic estate")
    parser.add_argument("--each", action="store_true", help="one line per diagram too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "archviz", "demo", "--out", str(tmp / "demo")], check=True,
                       capture_output=True)
        report("demo", tmp / "demo", args.each)
        if args.snapshot:
            doc = json.loads(args.snapshot.read_text())
        else:
            doc = snap.validate(model.apply(Estate(args.endpoints, args.accounts, REGIONS).build()))
        render(doc, tmp / "estate")
        report(f"{args.accounts} accounts" if not args.snapshot else args.snapshot.name, tmp / "estate", args.each)


if __name__ == "__main__":
    main()
