"""Rendering with the real ``dot``: pages, diagrams, links, escaping, determinism, budget."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from archviz import model
from archviz import snapshot as snap
from archviz.render import render
from archviz.render.pictures import NODE_BUDGET
from tests.conftest import invoke

LINK = re.compile(r"\]\(([^)\s]+)\)")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def demo_doc(demo_crawl):
    return copy.deepcopy(demo_crawl[1])


@pytest.fixture(scope="module")
def demo_site(demo_doc, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    return out, render(copy.deepcopy(demo_doc), out)


def svg_text(path: Path) -> str:
    """The SVG's text as a reader reads it: its text elements in order, a label folded under an
    icon after punctuation (graph.wrap) read back as one word."""
    root = ET.parse(path).getroot()  # valid XML or it raises
    out = ""
    for t in root.iter(f"{SVG}text"):
        out += ("" if not out or out.endswith(tuple("-:/.,_")) else " ") + (t.text or "")
    return out


def test_every_page_and_diagram_is_produced(demo_doc, demo_site):
    out, site = demo_site
    cases = sorted({c["use_case"] for c in demo_doc["connections"]})
    services = sorted(s["service_id"] for s in demo_doc["endpoint_services"])
    accounts = sorted(a["account_id"] for a in demo_doc["accounts"] if a["crawled"])
    expected = {"index.md", "findings.md", "diagrams/overview.svg"}
    expected |= {f"use-cases/{c}.md" for c in cases} | {f"diagrams/use-case-{c}.svg" for c in cases}
    expected |= {f"services/{s}.md" for s in services} | {f"diagrams/service-{s}.svg" for s in services}
    expected |= {f"accounts/{a}.md" for a in accounts} | {f"diagrams/account-{a}.svg" for a in accounts}
    assert set(site.files) == expected
    assert all((out / f).stat().st_size > 0 for f in expected)


def test_every_link_is_relative_and_resolves(demo_site):
    out, site = demo_site
    seen = 0
    for page in (f for f in site.files if f.endswith(".md")):
        for target in LINK.findall((out / page).read_text()):
            assert not target.startswith(("/", "http:", "https:")), (page, target)
            assert (out / page).parent.joinpath(target).resolve().is_file(), (page, target)
            seen += 1
    assert seen > 40


def test_index_links_to_every_page(demo_site):
    out, site = demo_site
    linked = set(LINK.findall((out / "index.md").read_text()))
    assert {f for f in site.files if f.endswith(".md") and f != "index.md"} <= linked


def test_svgs_are_valid_and_carry_the_labels(demo_doc, demo_site):
    out, _ = demo_site
    overview = svg_text(out / "diagrams/overview.svg")
    for account in ("shared-services", "app-prod", "data-analytics", "AWS services", "AWS Marketplace"):
        assert account in overview
    service = next(s for s in demo_doc["endpoint_services"] if s["name"] == "payments-api")
    text = svg_text(out / f"diagrams/service-{service['service_id']}.svg")
    for expected in ("payments-api", "payments-api-nlb", "listener TCP:443", "10.20.1.10", "healthy", "210987654321"):
        assert expected in text
    legacy = next(s for s in demo_doc["endpoint_services"] if s["name"] == "legacy-reports")
    assert "unused" in svg_text(out / f"diagrams/service-{legacy['service_id']}.svg")
    # Icons are inlined once per kind: the SVG references no file on this machine.
    raw = (out / "diagrams/overview.svg").read_text()
    assert "site-packages" not in raw and 'xlink:href="data:image/png;base64,' in raw


def test_findings_are_visible_on_the_pictures(demo_doc, demo_site):
    out, _ = demo_site
    legacy = next(s for s in demo_doc["endpoint_services"] if s["name"] == "legacy-reports")
    text = svg_text(out / f"diagrams/service-{legacy['service_id']}.svg")
    count = sum(1 for f in demo_doc["findings"] if f["resource_id"] == legacy["service_id"])
    assert count >= 2
    assert f"[!!] {count} findings (high)" in text and "finding: high" in text  # the mark, and the legend


def test_rendering_twice_gives_identical_bytes(demo_doc, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    site_a = render(copy.deepcopy(demo_doc), a, formats=("svg", "png", "drawio"))
    site_b = render(copy.deepcopy(demo_doc), b, formats=("svg", "png", "drawio"))
    assert site_a.files == site_b.files
    for f in site_a.files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def cells(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line))


def assert_tables_intact(md: str, name: str) -> None:
    """Every row of every table has as many cells as its header: no pipe in data split a cell."""
    width = None
    for line in md.splitlines():
        if not line.startswith("|"):
            width = None
        elif width is None:
            width = cells(line)
        else:
            assert cells(line) == width, (name, line)


HOSTILE = ['evil"name', "<script>alert(1)</script>", "x]y[z", "two\nlines", "back\\Nslash\\G", "pipe|cell|`code`",
           "<b>bold</b> & *stars* _under_"]


def test_hostile_names_render_as_text(demo_doc, tmp_path):
    doc = copy.deepcopy(demo_doc)
    for i, e in enumerate(doc["endpoints"]):
        e["name"] = HOSTILE[i % len(HOSTILE)]
        e["tags"]["Name"] = e["name"]
    for i, s in enumerate(doc["endpoint_services"]):
        s["name"] = HOSTILE[(i + 1) % len(HOSTILE)]
    for i, a in enumerate(doc["accounts"]):
        a["name"] = HOSTILE[(i + 2) % len(HOSTILE)]
    model.apply(doc)
    site = render(doc, tmp_path)
    texts = ""
    for f in site.files:
        path = tmp_path / f
        if f.endswith(".svg"):
            root = ET.parse(path).getroot()
            assert not [el for el in root.iter() if el.tag.endswith("script")], f
            assert not [el for el in root.iter() if el.tag in (f"{SVG}b", "b")], f
            texts += svg_text(path)
        else:
            md = path.read_text()
            assert "<script" not in md and "<b>" not in md, f
            assert_tables_intact(md, f)
    for name in ('evil"name', "<script>alert(1)</script>", "x]y[z", "two lines", "back\\Nslash\\G"):
        assert name in texts
    index = (tmp_path / "index.md").read_text()
    names = {HOSTILE[(i + 2) % len(HOSTILE)] for i in range(len(doc["accounts"]))}
    escaped = {"x]y[z": r"x\]y\[z", "two\nlines": "two lines", "back\\Nslash\\G": r"back\\Nslash\\G",
               "pipe|cell|`code`": r"pipe\|cell\|\`code\`", 'evil"name': 'evil"name',
               "<script>alert(1)</script>": "&lt;script&gt;alert(1)&lt;/script&gt;",
               "<b>bold</b> & *stars* _under_": r"&lt;b&gt;bold&lt;/b&gt; &amp; \*stars\* \_under\_"}
    assert len(names) == 5
    for name in names:
        assert escaped[name] in index, (name, escaped[name])


def synthetic(accounts=8, regions=("us-east-1", "eu-west-1"), per_region=25, consumers_of_shared=150, targets=50):
    """A large estate: hundreds of endpoints, one heavily consumed service with many targets."""
    ids = [f"{100000000000 + i:012d}" for i in range(accounts)]
    provider = ids[0]
    svc_name = "com.amazonaws.vpce.us-east-1.vpce-svc-0big"
    lb_arn = f"arn:aws:elasticloadbalancing:us-east-1:{provider}:loadbalancer/net/big/1"
    records = {"endpoints": [], "service_details": [], "subnets": [], "endpoint_connections": []}
    n = 0
    for acct in ids[1:]:
        for region in regions:
            for k in range(per_region):
                n += 1
                name = ["com.amazonaws.{r}.s3", "com.amazonaws.{r}.execute-api", svc_name][k % 3].format(r=region)
                eid = f"vpce-{n:017d}"
                records["endpoints"].append({
                    "endpoint_id": eid, "account_id": acct, "region": region, "vpc_id": f"vpc-{acct}-{k % 4}",
                    "type": "Interface", "service_name": name, "service_region": "us-east-1" if name == svc_name else region,
                    "state": "available", "subnet_ids": [f"subnet-{acct}-{region}-{k % 4}"], "route_table_ids": [],
                    "security_group_ids": [], "private_dns_enabled": True, "policy": None, "name": f"ep-{n}", "tags": {}})
                if name == svc_name:
                    records["endpoint_connections"].append({
                        "service_id": "vpce-svc-0big", "endpoint_id": eid, "endpoint_owner": acct, "endpoint_region": region,
                        "state": "available", "created_at": None, "account_id": provider, "region": "us-east-1"})
            for name in ("com.amazonaws.{r}.s3".format(r=region), "com.amazonaws.{r}.execute-api".format(r=region)):
                records["service_details"].append({"account_id": acct, "region": region, "service_name": name,
                                                   "visible": True, "service_id": None, "owner": "amazon",
                                                   "service_type": "Interface", "acceptance_required": False,
                                                   "availability_zones": [], "service_region": region})
    for j in range(consumers_of_shared):
        records["endpoint_connections"].append({
            "service_id": "vpce-svc-0big", "endpoint_id": f"vpce-ext{j:013d}", "endpoint_owner": f"{900000000000 + j:012d}",
            "endpoint_region": "us-east-1", "state": "available", "created_at": None, "account_id": provider, "region": "us-east-1"})
    records["endpoint_services"] = [{
        "service_id": "vpce-svc-0big", "service_name": svc_name, "account_id": provider, "region": "us-east-1",
        "type": "Interface", "state": "available", "acceptance_required": True, "private_dns_name": None,
        "load_balancer_arns": [lb_arn], "supported_regions": [{"region": r, "state": "available"} for r in regions],
        "allowed_principals": [{"principal": "*", "principal_type": "All"}], "availability_zones": [], "name": "big", "tags": {}}]
    records["load_balancers"] = [{
        "arn": lb_arn, "name": "big-nlb", "type": "network", "scheme": "internal", "account_id": provider,
        "region": "us-east-1", "vpc_id": "vpc-p", "availability_zones": [], "listeners": [],
        "target_groups": [{"arn": "tg-big", "name": "big-tg", "targets": [
            {"id": f"10.0.{t // 250}.{t % 250}", "port": 443, "health": "healthy" if t % 5 else "unhealthy"}
            for t in range(targets)]}]}]
    doc = snap.build({"accounts": ids, "regions": list(regions)}, {"id": "o-big", "management_account_id": provider,
                     "account_ids": ids}, [{"account_id": a, "name": f"acct-{a[-2:]}", "in_organization": True,
                                            "crawled": True} for a in ids], [], records)
    return snap.validate(model.apply(doc))


def test_a_large_estate_stays_under_the_node_budget(tmp_path):
    doc = synthetic()
    assert len(doc["endpoints"]) == 350 and len(doc["connections"]) == 500
    site = render(doc, tmp_path)
    assert site.nodes and max(site.nodes.values()) <= NODE_BUDGET, site.nodes
    cross = (tmp_path / "use-cases/internal-cross-account.md").read_text()
    assert "drawn per" in cross  # the page says what was collapsed
    assert "drawn per" in (tmp_path / "services/vpce-svc-0big.md").read_text()
    service_text = svg_text(tmp_path / "diagrams/service-vpce-svc-0big.svg")
    assert "50 targets" in service_text
    assert " : " not in f" {service_text} " and "40/50 healthy" in service_text  # no lone ':' for an unknown port
    overview = svg_text(tmp_path / "diagrams/overview.svg")
    assert "0 endpoint services" not in overview and "1 endpoint service" in overview


def test_cli_render_formats_and_only(demo_doc, tmp_path):
    source = tmp_path / "snapshot.json"
    source.write_bytes(snap.dumps(demo_doc))
    result = invoke(["render", str(source), "--out", str(tmp_path / "site"), "--format", "svg,png", "--only", "overview"])
    assert result.returncode == 0, result.stderr
    files = sorted(str(p.relative_to(tmp_path / "site")) for p in (tmp_path / "site").rglob("*") if p.is_file())
    assert files == ["archviz-manifest.json", "diagrams/overview.png", "diagrams/overview.svg", "findings.md", "index.md"]
    assert (tmp_path / "site/diagrams/overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](use-cases/" not in (tmp_path / "site/index.md").read_text()  # no link to what was not rendered


@pytest.mark.parametrize("args, code, message", [
    (["--format", "gif"], 2, "choose from svg, png"),
    (["--only", "everything"], 2, "choose from overview, use-cases, services, accounts"),
])
def test_cli_render_bad_options(demo_doc, tmp_path, args, code, message):
    source = tmp_path / "snapshot.json"
    source.write_bytes(snap.dumps(demo_doc))
    result = invoke(["render", str(source), "--out", str(tmp_path / "site"), *args])
    assert result.returncode == code and message in result.stderr


def test_cli_render_rejects_a_foreign_file(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    result = invoke(["render", str(tmp_path / "x.json"), "--out", str(tmp_path / "site")])
    assert (result.returncode, result.stderr.strip()) == (3, f"archviz: error: {tmp_path / 'x.json'}: not an archviz snapshot (no schema_version)")
    assert not (tmp_path / "site").exists()


def test_snapshot_command_discovers_and_renders(sandbox, org, tmp_path):
    ec2 = org.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.execute-api", VpcEndpointType="Interface",
                            SubnetIds=[subnet])
    result = invoke(["snapshot", "--regions", "us-east-1", "--out", str(tmp_path)], env=sandbox.env())
    assert result.returncode == 0, result.stderr
    assert snap.load(tmp_path)["connections"][0]["use_case"] == "aws-service"
    assert (tmp_path / "index.md").is_file() and (tmp_path / "use-cases/aws-service.md").is_file()


def wide():
    """Adversarial: one account, 120 endpoints in 120 VPCs, each to its own third-party provider."""
    me = "100000000001"
    records = {"endpoints": [], "service_details": []}
    for i in range(120):
        name = f"com.amazonaws.vpce.us-east-1.vpce-svc-{i:017d}"
        records["endpoints"].append({
            "endpoint_id": f"vpce-{i:017d}", "account_id": me, "region": "us-east-1", "vpc_id": f"vpc-{i:017d}",
            "type": "Interface", "service_name": name, "service_region": "us-east-1", "state": "available",
            "subnet_ids": [f"subnet-{i:017d}"], "route_table_ids": [], "security_group_ids": [],
            "private_dns_enabled": False, "policy": None, "name": f"partner-{i}", "tags": {}})
        records["service_details"].append({
            "account_id": me, "region": "us-east-1", "service_name": name, "visible": True,
            "service_id": f"vpce-svc-{i:017d}", "owner": f"{300000000000 + i:012d}", "service_type": "Interface",
            "acceptance_required": True, "availability_zones": [], "service_region": "us-east-1"})
    doc = snap.build({"accounts": [me], "regions": ["us-east-1"]}, None,
                     [{"account_id": me, "name": "wide", "in_organization": False, "crawled": True}], [], records)
    return snap.validate(model.apply(doc))


def test_a_wide_estate_also_stays_under_the_node_budget(tmp_path):
    doc = wide()
    assert {c["use_case"] for c in doc["connections"]} == {"third-party"}
    site = render(doc, tmp_path)
    assert max(site.nodes.values()) <= NODE_BUDGET, site.nodes
    page = (tmp_path / "use-cases/third-party.md").read_text()
    assert "120 services of 120 providers are drawn as one node" in page
    assert page.count("| [wide (100000000001)](../accounts/100000000001.md) |") == 120  # every connection is still listed
    assert "Endpoints are drawn per region" in (tmp_path / "accounts/100000000001.md").read_text()


def test_rerendering_removes_stale_output_but_keeps_edited_files(demo_doc, tmp_path):
    import hashlib
    import json

    first = render(copy.deepcopy(demo_doc), tmp_path)
    manifest = json.loads((tmp_path / "archviz-manifest.json").read_text())
    assert sorted(manifest["files"]) == first.files
    assert all(hashlib.sha256((tmp_path / f).read_bytes()).hexdigest() == h for f, h in manifest["files"].items())
    assert manifest["snapshot_sha256"] == hashlib.sha256(snap.dumps(demo_doc)).hexdigest()
    edited = next(f for f in first.files if f.startswith("accounts/"))
    (tmp_path / edited).write_text("my notes")
    (tmp_path / "mine.md").write_text("not archviz's")
    second = render(copy.deepcopy(demo_doc), tmp_path, only=("overview",))
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(second.files + [edited, "mine.md", "archviz-manifest.json"])
    assert second.kept == [edited] and len(second.removed) == len(first.files) - len(second.files) - 1


def test_ids_from_the_snapshot_cannot_choose_where_files_go(demo_doc, tmp_path):
    doc = copy.deepcopy(demo_doc)
    evil = "../../escaped"
    old = doc["endpoint_services"][0]["service_id"]
    doc["endpoint_services"][0]["service_id"] = evil
    for c in doc["endpoint_connections"]:
        if c["service_id"] == old:
            c["service_id"] = evil
    model.apply(doc)
    out = tmp_path / "site"
    site = render(doc, out)
    assert not (tmp_path / "escaped.md").exists() and not list(tmp_path.glob("escaped*"))
    assert all((out / f).resolve().is_relative_to(out.resolve()) for f in site.files)
    page = next(f for f in site.files if f.startswith("services/_.._escaped-"))  # sanitized, so a hash is added
    assert re.fullmatch(r"services/_\.\._escaped-[0-9a-f]{8}\.md", page)
    assert f"diagrams/service-{page[len('services/'):-3]}.svg" in site.files
    index = (out / "index.md").read_text()
    assert f"]({page})" in index


def test_a_doctored_manifest_cannot_delete_files_outside(demo_doc, tmp_path):
    import hashlib
    import json

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    digest = hashlib.sha256(b"keep me").hexdigest()
    out = tmp_path / "site"
    out.mkdir()
    (out / "archviz-manifest.json").write_text(json.dumps({"files": {str(victim): digest, "../victim.txt": digest}}))
    render(copy.deepcopy(demo_doc), out, only=("overview",))
    assert victim.read_text() == "keep me"
