"""Readable at scale, measured on the real Graphviz output: every diagram of estates of 10, 100
and 300 accounts (``bench/scale.py``'s synthetic organization, OU tree included) within 4:1
either way and 10,000 px on its longest side at 96 dpi, and within the node budget; the overview
groups accounts by OU and draws accounts whose connections follow the same pattern as one node,
linked to the diagram of their OU. The same assertions (``bench/readable.py``) hold 1,000
accounts in ``bench/render.py``, whose render is too slow for the suite."""

from __future__ import annotations

import copy
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from archviz import model
from archviz import snapshot as snap
from archviz.render import render
from archviz.render.mermaid import mermaid
from archviz.render.pictures import overview
from archviz.render.view import View
from tests.test_render import HOSTILE, svg_text, synthetic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from readable import SVG, assert_every_account_is_reached, assert_readable, assert_readable_at_scale  # noqa: E402
from scale import REGIONS, Estate  # noqa: E402

ENDPOINTS = {10: 200, 100: 1000, 300: 1000}  # accounts -> endpoints (1,000 accounts: bench/render.py)


def estate(accounts: int, endpoints: int, regions: int = 3) -> dict:
    return snap.validate(model.apply(Estate(endpoints, accounts, REGIONS[:regions]).build()))


def with_tree(doc: dict, paths: dict) -> dict:
    """A synthetic snapshot given an OU tree: ``paths`` maps each account to the names of its OUs
    from the root down; each distinct path is one OU (ids ``ou-0001``...)."""
    ids = {(): "r-root"}
    for path in paths.values():
        for depth in range(1, len(path) + 1):
            ids.setdefault(tuple(path[:depth]), f"ou-{len(ids):04d}")
    doc["organization"].update(root_id="r-root", organizational_units=[
        {"id": i, "name": p[-1], "parent_id": ids[p[:-1]]} for p, i in ids.items() if p])
    for a in doc["accounts"]:
        path = tuple(paths[a["account_id"]])
        a["ou_id"], a["ou_path"] = ids[path], list(path)
    return snap.validate(doc)


def providers_and_teams() -> dict:
    """Two providers in OU ``shared``, 119 consumers each in its own OU below ``workloads``."""
    doc = synthetic(accounts=121, regions=("us-east-1",), per_region=3, consumers_of_shared=0, targets=2)
    return with_tree(doc, {a["account_id"]: ["shared"] if i < 2 else ["workloads", f"team-{i:03d}"]
                           for i, a in enumerate(doc["accounts"])})


def star() -> dict:
    """A star of 85 OUs around one provider, each OU one consumer account, and consumers outside
    the organization."""
    doc = synthetic(accounts=87, regions=("us-east-1",), per_region=3, consumers_of_shared=30, targets=2)
    return with_tree(doc, {a["account_id"]: ["shared"] if i < 2 else [f"star-{i:03d}"]
                           for i, a in enumerate(doc["accounts"])})


def chain() -> dict:
    """A chain of OUs 8 deep, 12 consumer accounts at every depth, the provider at the root."""
    doc = synthetic(accounts=97, regions=("us-east-1",), per_region=3, consumers_of_shared=0, targets=2)
    return with_tree(doc, {a["account_id"]: [f"level-{d}" for d in range((i + 11) // 12)]
                           for i, a in enumerate(doc["accounts"])})


@pytest.mark.parametrize("make", [providers_and_teams, star, chain])
def test_every_diagram_of_many_ous_is_readable_and_leads_to_every_account(make, tmp_path):
    doc = make()
    site = render(copy.deepcopy(doc), tmp_path, only=("overview", "accounts"))
    assert_readable(tmp_path, site)
    assert_every_account_is_reached(tmp_path, doc)
    diagrams = [f for f in site.files if f.startswith(("diagrams/ou-", "diagrams/group-"))]
    index = (tmp_path / "index.md").read_text()  # every OU and group diagram is listed, with its notes
    assert diagrams and all(f"({f})" in index for f in diagrams)
    if make is providers_and_teams:  # the providers' OU counts their 119 consumers' OUs as one node
        shared = next(f for f in diagrams if "PrivateLink in OU shared" in svg_text(tmp_path / f))
        assert site.nodes[shared[9:-4]] <= 6 and "119 accounts under OU workloads" in svg_text(tmp_path / shared)
        assert "119 accounts are drawn in 5 parts" in index
    if make is star:
        assert "87 accounts are drawn in 4 parts" in index
    if make is chain:  # one diagram per OU of the chain, and one of the 12 accounts directly in each
        assert len([f for f in diagrams if f.startswith("diagrams/ou-")]) == 8


def test_a_picture_no_layout_fits_is_drawn_at_its_next_coarser_level(tmp_path, monkeypatch):
    """If no fold keeps a drawing within the limits, the picture is aggregated further and laid
    out again; with no coarser level left, the render fails naming the diagram."""
    from archviz.render import layout
    from archviz.errors import ArchvizError

    real = layout.fitted
    monkeypatch.setattr(layout, "fitted", lambda pic, *a, **k: real(pic, *a, **k) if pic.nodes < 10 else None)
    site = render(templated(), tmp_path / "coarser", only=("overview",))
    assert max(site.nodes.values()) < 10 and "accounts in OU workloads/prod" in svg_text(tmp_path / "coarser/diagrams/overview.svg")
    monkeypatch.setattr(layout, "fitted", lambda *a, **k: None)
    with pytest.raises(ArchvizError, match="diagram overview does not fit"):
        render(templated(), tmp_path / "never", only=("overview",))


def test_ous_are_told_apart_by_id_whatever_their_names(tmp_path):
    """An OU named "a/b" at the root and an OU "b" under "a", or one named "(unnamed OU)" and one
    with no name: four OUs, four clusters, four diagrams. Names are labels only."""
    doc = synthetic(accounts=41, regions=("us-east-1",), per_region=3, consumers_of_shared=0, targets=2)
    kinds = [["a/b"], ["a", "b"], ["(unnamed OU)"], [None]]
    doc = with_tree(doc, {a["account_id"]: ["core"] if i == 0 else kinds[i % 4] for i, a in enumerate(doc["accounts"])})
    view = View(copy.deepcopy(doc))
    assert len({view.ou_of(a) for a in view.accounts}) == 5
    pic = overview(view)
    assert len([c for c in pic.root.clusters if c.key.startswith("ou-")]) == 5
    assert len(set(pic.links)) == 4 and len({s.name(view) for s in pic.links}) == 4
    site = render(doc, tmp_path, formats=("svg", "mermaid"), only=("overview", "accounts"))
    ous = sorted(f for f in site.files if f.startswith("diagrams/ou-") and f.endswith(".svg"))
    assert len(ous) == 4
    titles = sorted(next(ET.parse(tmp_path / f).getroot().iter(f"{SVG}text")).text for f in ous)  # the graph's label
    assert titles == sorted(f"PrivateLink in OU {t}" for t in ('"a/b"', "a/b", "(unnamed OU)", "(unnamed OU)")), titles
    assert_every_account_is_reached(tmp_path, doc)
    # An older snapshot, with OU names but no tree, tells them apart by their paths of names.
    for a in doc["accounts"]:
        a["ou_id"] = None
    doc["organization"].pop("root_id"), doc["organization"].pop("organizational_units")
    assert len({View(doc).ou_of(a) for a in View(doc).accounts}) == 5


@pytest.mark.parametrize("accounts", sorted(ENDPOINTS))
def test_every_diagram_is_readable_at_scale(accounts, tmp_path):
    doc = estate(accounts, ENDPOINTS[accounts])
    site = render(doc, tmp_path)
    assert_readable_at_scale(tmp_path, site, doc)


def test_an_account_with_272_endpoints_in_four_vpcs_is_readable(tmp_path):
    """The issue's case: it used to be drawn 23 times taller than wide."""
    doc = estate(1, 272, regions=2)
    assert len(doc["endpoints"]) == 272 and len({e["vpc_id"] for e in doc["endpoints"]}) == 4
    site = render(doc, tmp_path, only=("accounts",))
    assert_readable(tmp_path, site)


def templated(accounts: int = 40) -> dict:
    """Every consumer account has the same endpoints (a landing zone's baseline): one OU."""
    doc = synthetic(accounts=accounts, per_region=3, consumers_of_shared=5, targets=4)
    for i, a in enumerate(doc["accounts"]):
        a["ou_path"], a["ou_id"] = (["core"], "ou-core") if i == 0 else (["workloads", "prod"], "ou-prod")
    return snap.validate(doc)


def test_accounts_with_the_same_connections_become_one_node_linked_to_their_ou(tmp_path):
    site = render(templated(), tmp_path, only=("overview",))
    assert_readable(tmp_path, site)
    text = svg_text(tmp_path / "diagrams/overview.svg")
    assert "39 accounts in OU workloads/prod" in text and "6 endpoints each" in text
    assert "acct-00 (100000000000)" in text  # the provider stays an account of its own
    ou_diagrams = [f for f in site.files if f.startswith("diagrams/ou-")]
    assert len(ou_diagrams) == 1 and re.search(r'xlink:href="ou-[^"]+\.svg"', (tmp_path / "diagrams/overview.svg").read_text())
    assert "accounts with the same connections" in (tmp_path / "index.md").read_text()


def test_snapshots_without_ous_or_with_some_unknown_still_render(tmp_path):
    doc = estate(100, 1000)
    for i, a in enumerate(doc["accounts"]):
        if i % 2:
            a["ou_path"] = a["ou_id"] = None
    assert_readable(tmp_path / "some", render(copy.deepcopy(doc), tmp_path / "some"))
    assert "OU not known" in svg_text(tmp_path / "some/diagrams/overview.svg")
    for a in doc["accounts"]:
        a.pop("ou_path"), a.pop("ou_id")
    doc["organization"].pop("organizational_units"), doc["organization"].pop("root_id")
    assert_readable(tmp_path / "none", render(snap.validate(doc), tmp_path / "none", only=("overview",)))


def test_at_scale_output_is_deterministic_and_mermaid_draws_the_same_scene(tmp_path):
    doc = estate(100, 1000)
    first = render(copy.deepcopy(doc), tmp_path / "a", formats=("svg", "mermaid"), only=("overview",))
    second = render(copy.deepcopy(doc), tmp_path / "b", formats=("svg", "mermaid"), only=("overview",))
    assert first.files == second.files and any(f.startswith("diagrams/ou-") for f in first.files)
    for f in first.files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    view = View(copy.deepcopy(doc))
    pic = overview(view)
    for p in [pic] + [overview(view, scope) for scope in pic.links]:
        text = mermaid(p)
        nodes = set(re.findall(r"^\s+(n_\w+)[\[(/{]", text, re.M))
        assert nodes == {n.id for c in _clusters(p.root) for n in c.nodes}, p.name
        edges = re.findall(r"^\s+(n_\w+) (?:-->|==>|-\.->)(?:\|\"[^\"]*\"\|)? (n_\w+)$", text, re.M)
        assert edges == [(e.src, e.dst) for e in p.edges], p.name


def _clusters(cluster):
    yield cluster
    for child in cluster.clusters:
        yield from _clusters(child)


def test_hostile_ou_names_are_text(tmp_path):
    doc = templated()
    for i, a in enumerate(doc["accounts"]):
        a["ou_path"] = ["workloads", HOSTILE[i % 2]]  # two OUs, both hostile
    site = render(snap.validate(doc), tmp_path, formats=("svg", "mermaid"), only=("overview",))
    texts = ""
    for f in (f for f in site.files if f.endswith(".svg")):
        root = ET.parse(tmp_path / f).getroot()
        assert not [el for el in root.iter() if el.tag.endswith("script")], f
        texts += svg_text(tmp_path / f)
    assert 'OU workloads/evil"name' in texts and "<script>alert(1)</script>" in texts
    for f in (f for f in site.files if f.endswith(".mmd")):
        assert "<script" not in (tmp_path / f).read_text()
