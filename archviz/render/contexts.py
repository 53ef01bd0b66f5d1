"""What each page shows: one function per kind of page, each returning its template's context.

Values are data, never markup: the page templates escape every ``{{ value }}`` for markdown."""

from __future__ import annotations

from collections import Counter

from markupsafe import Markup

from archviz.model import vocab
from archviz.render.view import USE_CASE_TITLES, View

TOP_FINDINGS = 10


class Links:
    """Where each page and diagram of this render is (only what was rendered is linked)."""

    def __init__(self, pages: dict[tuple[str, str], str], diagrams: dict[tuple, str], notes: dict[tuple, list[str]],
                 blocks: dict[tuple, str] | None = None, ous: list[tuple[str, str, list[str]]] = (),
                 editable: dict[tuple, str] | None = None, block_notes: dict[tuple, str] | None = None):
        self.pages, self.diagrams, self.notes, self.blocks = pages, diagrams, notes, blocks or {}
        self.editable = editable or {}  # each diagram's editable file (--diagram-format drawio)
        self.block_notes = block_notes or {}  # what a text backend's block leaves to the image
        self.ous = ous  # (title, file, notes) of each diagram of an OU or group of accounts

    def page(self, kind: str, ident: str | None) -> str | None:
        return self.pages.get((kind, ident or ""))

    def figure(self, kind: str, ident: str = "") -> dict:
        """A page's diagram: the image's path, the fenced block of a text backend (Mermaid: its
        text is escaped by :mod:`archviz.render.mermaid` and holds no backtick), its editable file,
        the notes under it."""
        block = self.blocks.get((kind, ident))
        return {"diagram": self.diagrams.get((kind, ident)), "notes": self.notes.get((kind, ident), []),
                "block": Markup(block) if block else None, "editable": self.editable.get((kind, ident)),
                "block_note": self.block_notes.get((kind, ident))}


def severity_summary(findings: list[dict]) -> str:
    counts = Counter(f["severity"] for f in findings)
    parts = [f"{counts[s]} {s}" for s in vocab.SEVERITIES if counts[s]]
    return f"{len(findings)} findings: " + ", ".join(parts) if findings else "No findings"


def finding_rows(view: View, findings: list[dict]) -> list[dict]:
    """Findings with their resource and account named (the ids stay in brackets)."""
    return [dict(f, resource=view.resource_label(f["resource_id"]), account=view.account_name(f["account_id"]))
            for f in findings]


def _service_row(view: View, links: Links, s: dict) -> dict:
    return {"label": s["name"] or s["service_id"], "service_id": s["service_id"], "region": s["region"],
            "account": view.account_name(s["account_id"]), "page": links.page("service", s["service_id"])}


def index(view: View, links: Links) -> dict:
    doc = view.doc
    accounts = [{"label": view.account_name(a["account_id"]), "account_id": a["account_id"],
                 "in_organization": a["in_organization"], "crawled": a.get("crawled", True),
                 "ou": view.ou_label(p) if (p := view.ou_of(a["account_id"])) else ("root" if p == () else "not known"),
                 "page": links.page("account", a["account_id"])} for a in doc["accounts"]]
    return {
        "doc": doc, "accounts": accounts, "ous": view.doc_has_ous, "gaps": [dict(c, account=view.account_name(c["account_id"])) for c in doc["coverage"] if c["status"] != "ok"],
        **links.figure("overview"),
        "ou_diagrams": [{"title": title, "file": file, "notes": notes} for title, file, notes in links.ous],
        "use_cases": [{"title": USE_CASE_TITLES[u], "count": len(view.by_case[u]), "page": links.page("use-case", u)}
                      for u in view.use_cases],
        "top_findings": finding_rows(view, view.findings[:TOP_FINDINGS]), "severity_summary": severity_summary(view.findings),
        "services": [_service_row(view, links, s) for s in view.services],
    }


def findings(view: View, links: Links) -> dict:
    by_rule: dict[str, list[dict]] = {}
    for f in view.findings:
        by_rule.setdefault(f["rule_id"], []).append(f)
    groups = []
    for sev in vocab.SEVERITIES:
        rules = [dict(view.rules.get(rule_id) or {"rule_id": rule_id, "title": rule_id, "rationale": "",
                                                   "remediation": ""}, findings=finding_rows(view, fs))
                 for rule_id, fs in sorted(by_rule.items()) if fs[0]["severity"] == sev]
        if rules:
            groups.append({"severity": sev, "rules": rules})
    return {"summary": severity_summary(view.findings), "groups": groups,
            "rules": sorted(view.rules.values(), key=lambda r: (vocab.severity_rank(r["severity"]), r["rule_id"]))}


def use_case(view: View, links: Links, case: str) -> dict:
    rows = [{
        "consumer": view.account_name(c["consumer_account_id"]), "consumer_page": links.page("account", c["consumer_account_id"]),
        "endpoint": view.endpoint_label(c) if c["endpoint_name"] else c["endpoint_id"],
        "provider": view.provider_label(c), "service": view.service_label(c),
        "service_page": links.page("service", c["service_id"]),
        "region": c["consumer_region"] + (f" → {c['provider_region']}" if c["cross_region"] else ""),
        "state": c["state"],
    } for c in sorted(view.by_case[case], key=lambda c: (c["consumer_account_id"], c["consumer_region"], c["endpoint_id"]))]
    market = [{"endpoint": view.endpoint_label(c), **c["marketplace"]} for c in view.by_case[case] if c.get("marketplace")]
    return {"case": case, "title": USE_CASE_TITLES[case], "rows": rows, "marketplace": market,
            **links.figure("use-case", case)}


def _targets(view: View, s: dict) -> list[dict]:
    rows = []
    for arn in s["load_balancer_arns"]:
        lb = view.load_balancers.get(arn)
        if lb is None:
            rows.append({"lb": arn, "type": "not crawled", "tg": "", "target": "", "port": "", "health": ""})
            continue
        for tg in lb["target_groups"]:
            for t in tg["targets"] or [{"id": "no targets", "port": None, "health": None}]:
                rows.append({"lb": lb["name"], "type": lb["type"], "tg": tg.get("name") or tg["arn"],
                             "target": t["id"], "port": t["port"], "health": t["health"]})
    return rows


def service(view: View, links: Links, s: dict) -> dict:
    consumers = [{"consumer": view.account_name(c["consumer_account_id"]), "endpoint": view.resource_label(c["endpoint_id"]),
                  "region": c["consumer_region"], "state": c["state"], "use_case": USE_CASE_TITLES[c["use_case"]]}
                 for c in view.by_service.get(s["service_id"], [])]
    return {
        "s": s, "provider": view.account_name(s["account_id"]), "provider_page": links.page("account", s["account_id"]),
        "supported": ", ".join(f"{r['region']} ({r.get('state')})" for r in s["supported_regions"]) or "its own region",
        "principals": ", ".join(p["principal"] or "" for p in s["allowed_principals"]) or "none",
        "consumers": consumers, "targets": _targets(view, s),
        "findings": finding_rows(view, view.findings_by_resource.get(s["service_id"], [])), **links.figure("service", s["service_id"]),
    }


def account(view: View, links: Links, account_id: str) -> dict:
    endpoints = []
    for e in view.endpoints_of.get(account_id, []):
        c = view.connection_of.get(e["endpoint_id"])
        endpoints.append({"endpoint": view.resource_label(e["endpoint_id"]), "type": e["type"],
                          "vpc": view.resource_label(e["vpc_id"]), "region": e["region"], "state": e["state"],
                          "service": view.service_label(c) if c else e["service_name"],
                          "use_case": USE_CASE_TITLES[c["use_case"]] if c else None})
    member = view.accounts[account_id]["in_organization"]
    return {
        "name": view.account_name(account_id),
        "membership": "A member of the organization" if member else "Not a member of the crawled organization",
        "regions": view.region_activity(account_id),
        "gaps": view.gaps_of.get(account_id, []),
        "endpoints": endpoints,
        "services": [_service_row(view, links, s) for s in view.services_of.get(account_id, [])],
        "findings": finding_rows(view, view.findings_of.get(account_id, [])), **links.figure("account", account_id),
    }
