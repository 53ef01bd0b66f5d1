"""The connectivity model: pure functions from a snapshot to connections and findings."""

from __future__ import annotations

from archviz.model.connections import USE_CASES, build_connections
from archviz.model.estate import Estate
from archviz.model.rules import CATALOG, SEVERITIES

__all__ = ["analyze", "apply", "USE_CASES", "CATALOG", "SEVERITIES"]


def analyze(doc: dict, trusted_accounts: frozenset[str] | set[str] = frozenset(),
            marketplace_links: dict[str, str] | None = None) -> dict:
    """``{"connections": [...], "findings": [...], "analysis": {...}}`` for a snapshot."""
    estate = Estate(doc, frozenset(trusted_accounts))
    connections = build_connections(estate, marketplace_links)
    findings = []
    for rule in CATALOG.values():
        for f in rule.check(estate, connections):
            findings.append({"rule_id": rule.id, "severity": rule.severity, "title": rule.title, **f})
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (rank[f["severity"]], f["rule_id"], f["account_id"] or "", f["region"] or "",
                                 f["resource_id"], f["message"]))
    return {
        "connections": connections,
        "findings": findings,
        "analysis": {
            "trusted_accounts": sorted(trusted_accounts),
            "marketplace_links": dict(sorted((marketplace_links or {}).items())),
            "rules": [{"rule_id": r.id, "severity": r.severity, "title": r.title, "rationale": r.rationale,
                       "remediation": r.remediation} for r in CATALOG.values()],
        },
    }


def apply(doc: dict, **options) -> dict:
    """The snapshot with its connections, findings and analysis (re)computed."""
    doc.update(analyze(doc, **options))
    return doc
