"""Rendering: diagrams (mingrammer ``diagrams`` on Graphviz) and markdown pages, offline,
from an analyzed snapshot. Same snapshot, same bytes."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from archviz import model
from archviz.errors import ArchvizError, InputError
from archviz.render import pictures
from archviz.render.graph import render as render_picture
from archviz.render.pages import render_page
from archviz.render.view import USE_CASE_TITLES, View
from archviz.snapshot import dumps, write_atomic

GROUPS = ("overview", "use-cases", "services", "accounts")
MANIFEST = "archviz-manifest.json"
FORMATS = ("svg", "png")
TOP_FINDINGS = 10


@dataclass
class Site:
    """What a render wrote: files (relative to the output folder) and node counts per diagram."""

    files: list[str] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)  # stale files of the previous render, deleted
    kept: list[str] = field(default_factory=list)  # stale files edited since, left in place


def _pages_for(view: View, only: tuple[str, ...]) -> dict[str, str]:
    """Which page each thing has in this render (only the groups asked for)."""
    pages = {}
    if "use-cases" in only:
        pages.update({f"case:{u}": f"use-cases/{pictures.stem('', u)}.md" for u in view.use_cases})
    if "services" in only:
        pages.update({f"service:{s['service_id']}": f"services/{pictures.stem('', s['service_id'])}.md"
                      for s in view.services})
    if "accounts" in only:
        pages.update({f"account:{a}": f"accounts/{pictures.stem('', a)}.md" for a in view.crawled_accounts})
    return pages


def render(doc: dict, out_dir: Path, formats: tuple[str, ...] = ("svg",), only: tuple[str, ...] = GROUPS) -> Site:
    bad = [f for f in formats if f not in FORMATS] + [g for g in only if g not in GROUPS]
    if bad or not formats or not only:
        raise InputError(f"cannot render {', '.join(bad) or 'nothing'}: formats are {', '.join(FORMATS)}; "
                         f"groups are {', '.join(GROUPS)}")
    if "connections" not in doc:  # a snapshot written before the model existed
        model.apply(doc)
    view = View(doc)
    out_dir = Path(out_dir)
    site = Site()

    pics: dict[str, pictures.Picture] = {}
    if "overview" in only:
        pics["overview"] = pictures.overview(view)
    if "use-cases" in only:
        pics.update({f"case:{u}": pictures.use_case(view, u) for u in view.use_cases})
    if "services" in only:
        pics.update({f"service:{s['service_id']}": pictures.service(view, s) for s in view.services})
    if "accounts" in only:
        pics.update({f"account:{a}": pictures.account(view, a) for a in view.crawled_accounts})

    jobs = [(pic, fmt) for pic in pics.values() for fmt in formats]
    with cf.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # dot runs as a subprocess
        for (pic, fmt), data in zip(jobs, pool.map(lambda job: render_picture(job[0].canvas, job[1]), jobs)):
            rel = f"diagrams/{pic.name}.{fmt}"
            _write(out_dir, rel, data, site)
            site.nodes[pic.name] = pic.canvas.nodes

    diagram = {key: f"diagrams/{pic.name}.{formats[0]}" for key, pic in pics.items()}
    notes = {key: pic.collapsed for key, pic in pics.items()}
    pages = _pages_for(view, only)
    for rel, template, context in _page_contexts(view, pages, diagram, notes):
        _write(out_dir, rel, render_page(template, rel, **context).encode("utf-8"), site)
    site.files.sort()
    _replace_manifest(out_dir, doc, site)
    return site


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _replace_manifest(out_dir: Path, doc: dict, site: Site) -> None:
    """Remove what the previous render wrote and this one did not (unless edited since), then
    record every file this render wrote with its SHA-256, and the analyzed snapshot's."""
    path = out_dir / MANIFEST
    try:
        previous = json.loads(path.read_text("utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        previous = {}
    for rel, digest in sorted(previous.items()):
        target = out_dir / rel
        if rel in site.hashes or not isinstance(digest, str) or not target.is_file():
            continue
        if not target.resolve().is_relative_to(out_dir.resolve()):
            continue  # a manifest never makes archviz touch anything outside the output folder
        if _sha256(target.read_bytes()) == digest:
            target.unlink()
            site.removed.append(rel)
        else:
            site.kept.append(rel)
    manifest = {"tool": doc["tool"], "snapshot_sha256": _sha256(dumps(doc)), "files": dict(sorted(site.hashes.items()))}
    write_atomic(path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def _write(out_dir: Path, rel: str, data: bytes, site: Site) -> None:
    path = out_dir / rel
    if not path.resolve().is_relative_to(out_dir.resolve()):  # a second guard behind stem()
        raise ArchvizError(f"refusing to write outside {out_dir}: {rel}")
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ArchvizError(f"cannot write {path}: {exc.strerror or exc}")
    site.files.append(rel)
    site.hashes[rel] = _sha256(data)


def _severity_summary(findings: list[dict]) -> str:
    counts = Counter(f["severity"] for f in findings)
    parts = [f"{counts[s]} {s}" for s in model.SEVERITIES if counts[s]]
    return f"{len(findings)} findings: " + ", ".join(parts) if findings else "No findings"


def _page_contexts(view: View, pages: dict[str, str], diagram: dict[str, str], notes: dict[str, list[str]]):
    doc = view.doc
    account_page = lambda a: pages.get(f"account:{a}")  # noqa: E731
    service_page = lambda sid: pages.get(f"service:{sid}")  # noqa: E731

    # index.md
    accounts = [{"label": view.account_name(a["account_id"]), "account_id": a["account_id"],
                 "in_organization": a["in_organization"], "crawled": a.get("crawled", True),
                 "page": account_page(a["account_id"])} for a in doc["accounts"]]
    gaps = [c for c in doc["coverage"] if c["status"] != "ok"]
    services = [{"label": s["name"] or s["service_id"], "service_id": s["service_id"], "region": s["region"],
                 "account": view.account_name(s["account_id"]), "page": service_page(s["service_id"])}
                for s in view.services]
    yield "index.md", "index.md.j2", {
        "doc": doc, "accounts": accounts, "gaps": gaps, "overview": diagram.get("overview"),
        "overview_notes": notes.get("overview", []),
        "use_cases": [{"title": USE_CASE_TITLES[u], "count": len(view.by_case[u]), "page": pages.get(f"case:{u}")}
                      for u in view.use_cases],
        "top_findings": view.findings[:TOP_FINDINGS], "severity_summary": _severity_summary(view.findings),
        "services": services,
    }

    # findings.md
    groups = []
    for sev in model.SEVERITIES:
        rules = []
        for rule_id in sorted({f["rule_id"] for f in view.findings if f["severity"] == sev}):
            rule = view.rules.get(rule_id, {"rule_id": rule_id, "title": rule_id, "rationale": "", "remediation": ""})
            rules.append(dict(rule, findings=[f for f in view.findings if f["rule_id"] == rule_id]))
        if rules:
            groups.append({"severity": sev, "rules": rules})
    yield "findings.md", "findings.md.j2", {
        "summary": _severity_summary(view.findings), "groups": groups,
        "rules": sorted(view.rules.values(), key=lambda r: (model.SEVERITIES.index(r["severity"]), r["rule_id"])),
    }

    # one page per use case
    for u in view.use_cases:
        if f"case:{u}" not in pages:
            continue
        rows = [{
            "consumer": view.account_name(c["consumer_account_id"]), "consumer_page": account_page(c["consumer_account_id"]),
            "endpoint": view.endpoint_label(c) if c["endpoint_name"] else c["endpoint_id"],
            "provider": view.provider_label(c), "service": view.service_label(c),
            "service_page": service_page(c["service_id"]) if c["service_id"] in view.services_by_id else None,
            "region": c["consumer_region"] + (f" → {c['provider_region']}" if c["cross_region"] else ""),
            "state": c["state"],
        } for c in sorted(view.by_case[u], key=lambda c: (c["consumer_account_id"], c["consumer_region"], c["endpoint_id"]))]
        market = [{"endpoint": view.endpoint_label(c), **c["marketplace"]} for c in view.by_case[u] if c.get("marketplace")]
        yield pages[f"case:{u}"], "use_case.md.j2", {
            "case": u, "title": USE_CASE_TITLES[u], "rows": rows, "marketplace": market,
            "diagram": diagram.get(f"case:{u}"), "notes": notes.get(f"case:{u}", []),
        }

    # one page per endpoint service
    for s in view.services:
        key = f"service:{s['service_id']}"
        if key not in pages:
            continue
        consumers = [{"consumer": view.account_name(c["consumer_account_id"]), "endpoint": c["endpoint_id"],
                      "region": c["consumer_region"], "state": c["state"], "use_case": c["use_case"]}
                     for c in view.connections if c["service_id"] == s["service_id"]]
        targets = []
        for arn in s["load_balancer_arns"]:
            lb = view.load_balancers.get(arn)
            if lb is None:
                targets.append({"lb": arn, "type": "not crawled", "tg": "", "target": "", "port": "", "health": ""})
                continue
            for tg in lb["target_groups"]:
                for t in tg["targets"] or [{"id": "no targets", "port": None, "health": None}]:
                    targets.append({"lb": lb["name"], "type": lb["type"], "tg": tg.get("name") or tg["arn"],
                                    "target": t["id"], "port": t["port"], "health": t["health"]})
        yield pages[key], "service.md.j2", {
            "s": s, "provider": view.account_name(s["account_id"]), "provider_page": account_page(s["account_id"]),
            "supported": ", ".join(f"{r['region']} ({r.get('state')})" for r in s["supported_regions"]) or "its own region",
            "principals": ", ".join(p["principal"] or "" for p in s["allowed_principals"]) or "none",
            "consumers": consumers, "targets": targets,
            "findings": view.findings_by_resource.get(s["service_id"], []),
            "diagram": diagram.get(key), "notes": notes.get(key, []),
        }

    # one page per crawled account
    conns = {c["endpoint_id"]: c for c in view.connections}
    for a in view.crawled_accounts:
        key = f"account:{a}"
        if key not in pages:
            continue
        rec = view.accounts[a]
        endpoints = [{"endpoint_id": e["endpoint_id"], "name": e.get("name"), "type": e["type"], "vpc": e["vpc_id"],
                      "region": e["region"], "state": e["state"],
                      "service": view.service_label(conns[e["endpoint_id"]]) if e["endpoint_id"] in conns else e["service_name"],
                      "use_case": conns[e["endpoint_id"]]["use_case"] if e["endpoint_id"] in conns else None}
                     for e in doc["endpoints"] if e["account_id"] == a]
        yield pages[key], "account.md.j2", {
            "name": view.account_name(a),
            "membership": "A member of the organization" if rec["in_organization"] else "Not a member of the crawled organization",
            "regions": view.region_activity(a),
            "gaps": [c for c in doc["coverage"] if c["account_id"] == a and c["status"] != "ok"],
            "endpoints": endpoints,
            "services": [x for x in services if any(s["service_id"] == x["service_id"] and s["account_id"] == a for s in view.services)],
            "findings": [f for f in view.findings if f["account_id"] == a],
            "diagram": diagram.get(key), "notes": notes.get(key, []),
        }
