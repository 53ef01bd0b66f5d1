"""The connectivity model: pure functions from a snapshot to connections and findings."""

from __future__ import annotations

from typing import Iterator

from archviz.model.connections import build_connections
from archviz.model.estate import Estate
from archviz.model.rules import CATALOG, Rule
from archviz.model.vocab import (AMAZON, MARKETPLACE, NOT_FLOWING, PENDING_ACCEPTANCE, PROVIDER_IS_OURS, REJECTED,
                                 SEVERITIES, USE_CASES, severity_rank, worst)

__all__ = ["analyze", "apply", "CATALOG", "USE_CASES", "PROVIDER_IS_OURS", "NOT_FLOWING", "PENDING_ACCEPTANCE",
           "REJECTED", "SEVERITIES", "severity_rank", "worst", "AMAZON", "MARKETPLACE"]


def analyze(doc: dict, trusted_accounts: frozenset[str] | set[str] = frozenset(),
            marketplace_links: dict[str, str] | None = None) -> dict:
    """``{"connections": [...], "findings": [...], "analysis": {...}}`` for a snapshot."""
    estate = Estate(doc, frozenset(trusted_accounts))
    connections = build_connections(estate, marketplace_links)
    findings = [f for rule in CATALOG.values() for f in _run(rule, estate, connections)]
    findings.sort(key=_finding_order)
    return {
        "connections": connections,
        "findings": findings,
        "analysis": {
            "trusted_accounts": sorted(trusted_accounts),
            "marketplace_links": dict(sorted((marketplace_links or {}).items())),
            "rules": [r.described() for r in CATALOG.values()],
        },
    }


def _run(rule: Rule, estate: Estate, connections: list[dict]) -> Iterator[dict]:
    """A rule's findings, stamped with the rule in place (one dict per finding, not two)."""
    for f in rule.check(estate, connections):
        f.update(rule_id=rule.id, severity=rule.severity, title=rule.title)
        yield f


def _finding_order(f: dict) -> tuple:
    return (severity_rank(f["severity"]), f["rule_id"], f["account_id"] or "", f["region"] or "",
            f["resource_id"], f["message"])


def apply(doc: dict, **options) -> dict:
    """The snapshot with its connections, findings and analysis (re)computed."""
    doc.update(analyze(doc, **options))
    return doc
