"""One visual variable per meaning, in the SVG and in Mermaid alike: an edge's colour is its use
case, its line pattern the traffic state of the connections it stands for, its weight what
``render --since`` marks as new; every aggregated edge that does not flow says so in its label;
each legend lists exactly the marks its diagram uses."""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest

from archviz import model
from archviz.model import vocab
from archviz.render import legend, pictures
from archviz.render.mermaid import mermaid
from archviz.render.pictures.account import ACCOUNT_LEVELS
from archviz.render.view import LOOP, STATE_WORDS, TRAFFIC, USE_CASE_COLOR, View, traffic
from tests.site_tools import mermaid_parse


@pytest.fixture(scope="module")
def demo_doc(demo_crawl):
    return copy.deepcopy(demo_crawl[1])


def every_picture(view: View):
    yield pictures.overview(view)
    for case in view.use_cases:
        yield pictures.use_case(view, case)
    for svc in view.services:
        yield pictures.service(view, svc)
    for account_id in view.crawled_accounts:
        for level in range(ACCOUNT_LEVELS):
            yield pictures._account(view, account_id, level=level)


def test_traffic_states_are_the_endpoint_states_as_a_reader_needs_them():
    assert traffic("available") == "flowing"
    assert traffic(vocab.PENDING_ACCEPTANCE) == traffic("pending") == "awaiting"
    assert {traffic(s) for s in ("rejected", "failed", "deleting", "deleted", "expired")} == {"stopped"}
    assert {traffic(s) for s in vocab.NOT_FLOWING} == {"awaiting", "stopped"}


def test_an_edge_s_pattern_is_its_traffic_state_its_colour_its_use_case_whatever_the_use_case(demo_doc):
    view = View(demo_doc)
    seen = Counter()
    for pic in every_picture(view):
        for e in pic.edges:
            if e.traffic is None:
                assert e.attrs.get("style", "solid") == "solid", (pic.name, e)  # structure and subnet lines
                continue
            seen[e.traffic] += 1
            assert e.attrs["style"] == TRAFFIC[e.traffic][0], (pic.name, e)
            assert e.attrs["color"] in USE_CASE_COLOR.values() and "penwidth" not in e.attrs, (pic.name, e)
            if e.traffic != "flowing":  # the label says which states
                words = {STATE_WORDS.get(s, s) for s in vocab.NOT_FLOWING}
                assert e.text and any(w in e.text for w in words), (pic.name, e)
    assert seen["flowing"] and seen["awaiting"] and seen["stopped"]  # the demo holds all three
    # Third-party and Marketplace connections that flow are solid, like any other that flows.
    for case in ("third-party", "marketplace"):
        pic = pictures.use_case(view, case)
        flowing = [e for e in pic.edges if e.traffic == "flowing"]
        assert flowing and all(e.attrs["style"] == "solid" for e in flowing)


def test_the_overview_accounts_for_every_connection_in_its_own_traffic_state(demo_doc):
    """No aggregated edge hides a rejected or pending connection among working ones: summed per
    traffic state, the overview's edge labels count exactly the connections in that state."""
    view = View(demo_doc)
    pic = pictures.overview(view)
    drawn = Counter()
    lines = {n.id: n.lines for n in pic.root.all_nodes()}
    for e in pic.edges:
        if e.src == e.dst:  # a loop's count is on its node (Graphviz sets a loop's label outside the cluster)
            assert e.text is None
            text = next(line[len(LOOP) + 1:] for line in lines[e.src] if line.startswith(LOOP + " ")
                        and (e.traffic == "flowing") != (":" in line))
        else:
            text = e.text
        drawn[e.traffic] += int(re.match(r"(\d+) endpoints?", text).group(1))
        if e.traffic != "flowing":
            assert re.search(r"endpoints?: \d+ \w", text), text  # "1 endpoint: 1 rejected"
    assert drawn == Counter(traffic(c["state"]) for c in view.connections)
    # The demo's consumer with one rejected and one available endpoint to shared-services: two edges.
    pairs = Counter((e.src, e.dst) for e in pic.edges)
    split = [e for e in pic.edges if pairs[(e.src, e.dst)] > 1]
    assert {e.traffic for e in split} >= {"flowing", "stopped"}


def test_a_legend_lists_exactly_the_marks_its_diagram_uses(demo_doc):
    view = View(demo_doc)
    for pic in every_picture(view):
        texts = [r.text for r in legend.rows(pic)]
        assert len(texts) == len(set(texts)), pic.name
        for state, (_, text) in TRAFFIC.items():
            assert (text in texts) == any(e.traffic == state for e in pic.edges), (pic.name, state)
        assert any(legend.SUBNET_TEXT in t for t in texts) == any(e.mark == "subnet" for e in pic.edges), pic.name
        assert (legend.LOOP_TEXT in texts) == any(e.src == e.dst for e in pic.edges), pic.name
        severities = {n.severity for n in pic.root.all_nodes()} - {None}
        assert {t.split(": ")[1].split(" ")[0] for t in texts if t.startswith("finding: ")} == severities, pic.name
        assert [t for t in texts if t in {legend.USE_CASE_TITLES[c] for c in USE_CASE_COLOR}] == \
            [legend.USE_CASE_TITLES[c] for c in pic.legend or []], pic.name
    account = next(a for a in view.crawled_accounts if view.endpoints_of.get(a))
    with_subnets = pictures._account(view, account, level=0)
    assert any(legend.SUBNET_TEXT in r.text for r in legend.rows(with_subnets))


def test_new_connections_are_heavier_and_nothing_else_is(demo_doc):
    view = View(demo_doc)
    view.new_connections = frozenset({view.connections[0]["endpoint_id"]})
    pic = pictures.overview(view)
    heavy = [e for e in pic.edges if "penwidth" in e.attrs]
    assert len(heavy) == 1 and heavy[0].new and "(1 new)" in heavy[0].text
    assert any("new since" in r.text for r in legend.rows(pic))


def test_mermaid_draws_the_same_marks_declares_each_subgraph_once_and_no_empty_one(demo_doc):
    view = View(demo_doc)
    texts = {}
    for pic in every_picture(view):
        text = mermaid(pic)
        texts.setdefault(pic.name, text)
        subgraphs = re.findall(r"^\s*subgraph (\S+?)\[", text, re.M)
        assert len(subgraphs) == len(set(subgraphs)), pic.name
        lines = text.splitlines()
        for i, line in enumerate(lines):  # every subgraph holds something
            if line.strip().startswith("subgraph "):
                assert lines[i + 1].strip() != "end", (pic.name, line)
        links = [line.strip() for line in lines if line.strip().startswith("linkStyle ")]
        assert len(links) == len(pic.edges)
        for e, link in zip(pic.edges, links):
            pattern = e.attrs.get("style", "solid")
            assert ("stroke-dasharray" in link) == (pattern != "solid"), (pic.name, link)
            assert f"stroke:{e.attrs.get('color', '#424242')}" in link
    # The overview's accounts (or their regions) are captioned as such, never as a VPC.
    assert not any(n.kind == "vpc" for n in pictures.overview(view).root.all_nodes())
    assert "<i>VPC</i>" not in texts["overview"] and "<i>Region</i>" in texts["overview"]
    assert all(r["ok"] for r in mermaid_parse(texts).values())


def test_a_rejected_connection_is_dotted_in_its_use_case_s_colour_not_the_severity_s(demo_doc):
    doc = copy.deepcopy(demo_doc)
    original = next(e for e in doc["endpoints"] if e["name"] == "app-prod-payments")
    doc["endpoints"].append(dict(original, endpoint_id="vpce-0twin0000000000", state="rejected", name="twin"))
    view = View(model.apply(doc))
    pic = pictures._account(view, original["account_id"], level=2)
    stopped = [e for e in pic.edges if e.traffic == "stopped"]
    assert stopped and all(e.attrs["style"] == "dotted" and e.attrs["color"] == USE_CASE_COLOR["internal-cross-account"]
                           for e in stopped)
    assert any(e.text == "1 rejected" for e in stopped)
