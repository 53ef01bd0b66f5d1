"""What the pictures and the pages both need, derived once from an analyzed snapshot."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from archviz.model import CATALOG, SEVERITIES
from archviz.model.estate import Estate

USE_CASE_TITLES = {
    "aws-service": "AWS services",
    "internal-cross-account": "Internal services across accounts",
    "internal-same-account": "Custom services inside one account",
    "third-party": "Third-party services",
    "marketplace": "AWS Marketplace solutions",
    "external-consumer": "Consumers outside the organization",
    "unresolved": "Unresolved connections",
}
# Colour and line style of each use case's edges, and of each severity's marks.
USE_CASE_STYLE = {
    "aws-service": ("#E07B00", "solid"),
    "internal-cross-account": ("#1565C0", "solid"),
    "internal-same-account": ("#2E7D32", "solid"),
    "third-party": ("#6A1B9A", "dashed"),
    "marketplace": ("#AD1457", "dashed"),
    "external-consumer": ("#C62828", "bold"),
    "unresolved": ("#757575", "dotted"),
}
SEVERITY_COLOR = {"critical": "#7B0000", "high": "#C62828", "medium": "#E65100", "low": "#9E7C00", "info": "#1565C0"}
SEVERITY_MARK = {"critical": "!!!", "high": "!!", "medium": "!", "low": "·", "info": "i"}


@dataclass(frozen=True)
class Mark:
    """The findings on one resource: worst severity and count."""

    severity: str
    count: int

    @property
    def color(self) -> str:
        return SEVERITY_COLOR[self.severity]

    @property
    def text(self) -> str:
        return f"[{SEVERITY_MARK[self.severity]}] {self.count} finding{'s' if self.count > 1 else ''} ({self.severity})"


class View:
    def __init__(self, doc: dict):
        self.doc = doc
        self.accounts = {a["account_id"]: a for a in doc["accounts"]}
        # The model's indexes and its notion of "inside" (organization, crawled set, trusted list).
        self.estate = Estate(doc, frozenset((doc.get("analysis") or {}).get("trusted_accounts") or []))
        self.inside = self.estate.inside
        self.load_balancers = self.estate.load_balancers
        self.connections = doc.get("connections") or []
        self.findings = doc.get("findings") or []
        self.by_case: dict[str, list[dict]] = defaultdict(list)
        for c in self.connections:
            self.by_case[c["use_case"]].append(c)
        self.use_cases = [u for u in USE_CASE_TITLES if self.by_case.get(u)]
        self.services = sorted(doc["endpoint_services"], key=lambda s: (s["account_id"], s["region"], s["service_id"]))
        self.services_by_id = self.estate.services_by_id
        self.rules = {r["rule_id"]: r for r in (doc.get("analysis") or {}).get("rules", [])} or {
            r.id: {"rule_id": r.id, "severity": r.severity, "title": r.title, "rationale": r.rationale,
                   "remediation": r.remediation} for r in CATALOG.values()}
        by_resource: dict[str, list[dict]] = defaultdict(list)
        for f in self.findings:
            by_resource[f["resource_id"]].append(f)
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        self.marks = {rid: Mark(min((f["severity"] for f in fs), key=rank.__getitem__), len(fs))
                      for rid, fs in by_resource.items()}
        self.findings_by_resource = dict(by_resource)
        self.crawled_accounts = sorted(a for a, rec in self.accounts.items() if rec.get("crawled", True))

    def account_name(self, account_id: str | None) -> str:
        if account_id is None:
            return "unknown account"
        name = (self.accounts.get(account_id) or {}).get("name")
        return f"{name} ({account_id})" if name else account_id

    def endpoint_label(self, c: dict) -> str:
        return c.get("endpoint_name") or c["endpoint_id"]

    def service_label(self, c: dict) -> str:
        """Short: the Name tag of a service we crawled, ``s3`` for an AWS service, else its id."""
        service = self.services_by_id.get(c["service_id"] or "")
        if service and service.get("name"):
            return service["name"]
        if c["provider_owner"] == "amazon" and c["service_name"]:
            return c["service_name"].rsplit(".", 1)[-1]
        return c["service_id"] or c["service_name"] or "unknown service"

    def provider_label(self, c: dict) -> str:
        owner = c["provider_owner"]
        if owner == "amazon":
            return "AWS"
        if owner == "aws-marketplace":
            return "AWS Marketplace seller"
        return self.account_name(c["provider_account_id"])

    def region_activity(self, account_id: str) -> list[str]:
        regions = {e["region"] for e in self.doc["endpoints"] if e["account_id"] == account_id}
        regions |= {s["region"] for s in self.services if s["account_id"] == account_id}
        return sorted(regions)
