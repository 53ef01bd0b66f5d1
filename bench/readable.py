"""What "readable at scale" means, checked on the real Graphviz output of a render: shared by
``tests/test_render_scale.py`` (estates of 10, 100 and 300 accounts) and ``bench/render.py``
(1,000 accounts by default, too slow for the test suite), so both hold a render to the same
assertions."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path

from archviz.render.layout import MAX_ASPECT, MAX_SIDE_PX, size_px
from archviz.render.pictures import NODE_BUDGET
from archviz.render.view import View

XLINK = "{http://www.w3.org/1999/xlink}href"
SVG = "{http://www.w3.org/2000/svg}"


def svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()  # valid XML or it raises
    return " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


def assert_readable(out: Path, site) -> dict[str, tuple[float, float]]:
    """Every SVG within the limits (pt converted to px at 96 dpi), every diagram within budget."""
    sizes = {f: size_px((out / f).read_bytes()) for f in site.files if f.endswith(".svg")}
    assert sizes
    for f, (w, h) in sizes.items():
        assert max(w / h, h / w) <= MAX_ASPECT, (f, round(w), round(h))
        assert max(w, h) <= MAX_SIDE_PX, (f, round(w), round(h))
    assert max(site.nodes.values()) <= NODE_BUDGET, max(site.nodes.items(), key=lambda kv: kv[1])
    return sizes


def assert_every_account_is_reached(out: Path, doc: dict) -> None:
    """From the overview, following the links of the diagrams of OUs and groups of accounts leads,
    diagram by diagram, to every crawled account's diagram."""
    seen, todo = set(), ["overview.svg"]
    while todo:
        f = todo.pop()
        if f not in seen:
            seen.add(f)
            root = ET.parse(out / "diagrams" / f).getroot()
            todo += [t for a in root.iter(f"{SVG}a") if (t := a.get(XLINK)) and not t.startswith("account-")]
            seen |= {t for a in root.iter(f"{SVG}a") if (t := a.get(XLINK)) and t.startswith("account-")}
    names = View(copy.deepcopy(doc)).names
    accounts = {names.diagram("account", a["account_id"]) + ".svg" for a in doc["accounts"] if a.get("crawled", True)}
    assert accounts <= seen, sorted(accounts - seen)[:5]


def assert_readable_at_scale(out: Path, site, doc: dict) -> None:
    """A whole render of a synthetic organization (``bench/scale.py``'s) is readable: every
    diagram within the limits, every kind of diagram there, one cluster per OU path on the
    overview; from 100 accounts on, groups of accounts link to their OU's diagram, which was
    written, and every account's diagram is reached from the overview."""
    sizes = assert_readable(out, site)
    kinds = {f.split("/")[1].split("-")[0].removesuffix(".svg") for f in sizes}
    assert {"overview", "use", "service", "account"} <= kinds
    overview_text = svg_text(out / "diagrams/overview.svg")
    assert "OU workloads/" in overview_text  # one cluster per OU path
    if len(doc["accounts"]) >= 100:  # grouped: each group node links to its OU's diagram, which was written
        assert "ou" in kinds and "accounts in OU" in overview_text
        root = ET.parse(out / "diagrams/overview.svg").getroot()
        targets = {a.get(XLINK) for a in root.iter(f"{SVG}a") if a.get(XLINK)}
        ou_targets = {t for t in targets if t.startswith(("ou-", "group-"))}
        assert ou_targets and all((out / "diagrams" / t).is_file() for t in ou_targets)
        assert "diagram of their OU" in (out / "index.md").read_text()
        assert_every_account_is_reached(out, doc)
