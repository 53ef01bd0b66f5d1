"""What the pictures and the pages both need, derived once from an analyzed snapshot.

Every index is built in one pass, so no picture or page scans the whole estate per account,
service or region: rendering stays linear in the size of the snapshot."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from archviz.model import CATALOG, vocab
from archviz.model.estate import Estate
from archviz.records import KINDS
from archviz.render.names import Names

USE_CASE_TITLES = {
    "aws-service": "AWS services",
    "internal-cross-account": "Internal services across accounts",
    "internal-same-account": "Custom services inside one account",
    "third-party": "Third-party services",
    "marketplace": "AWS Marketplace solutions",
    "external-consumer": "Consumers outside the organization",
    "unresolved": "Unresolved connections",
}
# One visual variable per meaning, the same in the SVG and in Mermaid and stated in each legend:
# an edge's colour is its use case, its line pattern the traffic state of the connections it
# stands for (TRAFFIC), its weight what render --since marks as new (NEW_PENWIDTH).
USE_CASE_COLOR = {
    "aws-service": "#E07B00",
    "internal-cross-account": "#1565C0",
    "internal-same-account": "#2E7D32",
    "third-party": "#6A1B9A",
    "marketplace": "#AD1457",
    "external-consumer": "#C62828",
    "unresolved": "#757575",
}
# Traffic states, in legend order: (line pattern, what the legend says).
TRAFFIC = {
    "flowing": ("solid", "traffic can flow (available)"),
    "awaiting": ("dashed", "awaiting: pending acceptance or pending, no traffic yet"),
    "stopped": ("dotted", "no traffic: rejected, failed, deleting, deleted or expired"),
}
# A loop's count, written in its node's label: connections whose both ends that node stands for
# (an account-region reaching its own services, or accounts of one group node reaching each other's).
LOOP = "↻"
SUBNET_COLOR = "#90A4AE"  # the line from a subnet to an endpoint with a network interface in it
# A connection's state as a label says it (AWS's own word otherwise).
STATE_WORDS = {vocab.PENDING_ACCEPTANCE: "pending acceptance"}


def traffic(state: str | None) -> str:
    """The traffic state (a key of :data:`TRAFFIC`) of a connection in endpoint state ``state``."""
    if state in (vocab.PENDING_ACCEPTANCE, "pending"):
        return "awaiting"
    return "stopped" if state in vocab.NOT_FLOWING else "flowing"


SEVERITY_COLOR = {"critical": "#7B0000", "high": "#C62828", "medium": "#E65100", "low": "#9E7C00", "info": "#1565C0"}
SEVERITY_MARK = {"critical": "!!!", "high": "!!", "medium": "!", "low": "·", "info": "i"}
# The record kinds whose names label their ids on the pages (``name (id)``), later ones winning.
LABELLED_KINDS = ("endpoints", "endpoint_services", "vpcs", "load_balancers")
# render --since: an edge holding connections new since the older snapshot is drawn heavier.
NEW_PENWIDTH = "3.5"
NEW_MARK = "heavier, \"(n new)\": connections new since the snapshot compared"


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


def _group(records, key) -> dict:
    out: dict = defaultdict(list)
    for rec in records:
        out[key(rec)].append(rec)
    return out


def ou_tree(doc: dict) -> tuple[dict[str, tuple | None], dict[str, str | None]]:
    """Each account's OU path, as OU keys from the top down (``()`` directly under the root, None
    where not known), and each key's OU name.

    A key is the OU's id where the snapshot holds the OU tree (``organizational_units``,
    ``root_id``, the account's ``ou_id``). Without it (a snapshot written by hand, or an OU the
    tree does not hold), the account's ``ou_path`` names are used, each prefix as one JSON text:
    names may hold "/" or be null, so they are never joined into a key."""
    org = doc.get("organization") or {}
    units = {u["id"]: u for u in org.get("organizational_units") or []}
    roots = {org.get("root_id")} - {None}
    paths, names = {}, {}
    for a in doc["accounts"]:
        node, names_down = a.get("ou_id"), a.get("ou_path")
        if node is not None and (node in roots or node in units):
            path: list = []
            while node in units and node not in path:  # up to the root; a cycle is not followed
                path.append(node)
                names[node] = units[node]["name"]
                node = units[node]["parent_id"]
            paths[a["account_id"]] = tuple(reversed(path))
        elif names_down is not None:
            keys = tuple("\0" + json.dumps(names_down[:i + 1]) for i in range(len(names_down)))
            names.update(zip(keys, names_down))
            paths[a["account_id"]] = keys
        else:
            paths[a["account_id"]] = None
    return paths, names


class View:
    def __init__(self, doc: dict):
        self.doc = doc
        # The model's indexes and its notion of "inside" (organization, crawled set, trusted list).
        self.estate = Estate(doc, frozenset((doc.get("analysis") or {}).get("trusted_accounts") or []))
        self.accounts = self.estate.accounts
        self.inside = self.estate.inside
        self.load_balancers = self.estate.load_balancers
        self.services_by_id = self.estate.services_by_id
        self.subnets = self.estate.subnets
        self.connections = doc.get("connections") or []
        self.findings = doc.get("findings") or []
        self.services = sorted(doc["endpoint_services"], key=KINDS["endpoint_services"].order)
        self.crawled_accounts = sorted(a for a, rec in self.accounts.items() if rec.get("crawled", True))
        self._index()
        from archviz.render.kinds import KINDS as DIAGRAM_KINDS  # it reads View: imported when a View is made

        # the kinds of diagram other diagrams' nodes link to (a render keeps those it writes)
        self.linked: set[str] = {k.name for k in DIAGRAM_KINDS.values() if k.linked}
        self.new_connections: frozenset[str] = frozenset()  # endpoint ids new since --since's snapshot
        # Each account's OU path (OU keys, :func:`ou_tree`) and the OUs' names, for labels only.
        self.ou_paths, self._ou_names = ou_tree(doc)
        self.doc_has_ous = any(p is not None for p in self.ou_paths.values())
        self.ou_ids = sorted({k for p in self.ou_paths.values() if p for k in p})
        # a file name for every diagram and page a render may write, by kind of diagram
        self.names = Names({k.name: k.idents(self) for k in DIAGRAM_KINDS.values()})

    def _index(self) -> None:
        doc = self.doc
        self.by_case = _group(self.connections, lambda c: c["use_case"])
        self.use_cases = [u for u in USE_CASE_TITLES if self.by_case.get(u)]
        self.connection_of = {c["endpoint_id"]: c for c in self.connections}
        self.by_service = _group(self.connections, lambda c: c["service_id"])
        self.by_consumer = _group(self.connections, lambda c: c["consumer_account_id"])
        self.endpoints_of = _group(doc["endpoints"], lambda e: e["account_id"])
        self.services_of = _group(self.services, lambda s: s["account_id"])
        self.vpcs = {(v["account_id"], v[KINDS["vpcs"].id]): v for v in doc["vpcs"]}
        self.findings_by_resource = _group(self.findings, lambda f: f["resource_id"])
        self.findings_of = _group(self.findings, lambda f: f["account_id"])
        self.gaps_of = _group((c for c in doc["coverage"] if c["status"] != "ok"), lambda c: c["account_id"])
        listed = dict(doc, endpoint_services=self.services)  # the services in the pages' order
        self._resource_names = {rec[kind.id]: rec.get(kind.name) for kind in (KINDS[k] for k in LABELLED_KINDS)
                                for rec in listed[kind.key] if rec.get(kind.name)}
        self.marks = {rid: Mark(vocab.worst(f["severity"] for f in fs), len(fs))
                      for rid, fs in self.findings_by_resource.items()}
        self.rules = {r["rule_id"]: r for r in (doc.get("analysis") or {}).get("rules", [])} or {
            r.id: r.described() for r in CATALOG.values()}
        regions = defaultdict(set)
        for rec in doc["endpoints"] + self.services:
            regions[rec["account_id"]].add(rec["region"])
        self._regions = {a: sorted(r) for a, r in regions.items()}
        self.counts = Counter()  # (account, region, what) -> how many; region "" for the account
        for what, records in (("endpoints", doc["endpoints"]), ("services", self.services), ("findings", self.findings)):
            for rec in records:
                self.counts[(rec["account_id"], rec["region"], what)] += 1
                self.counts[(rec["account_id"], "", what)] += 1

    def link(self, kind: str, ident: str) -> dict:
        """Node attributes linking to the diagram of a service or account, if it was rendered."""
        if kind not in self.linked or (kind, ident) not in self.names:
            return {}
        return {"URL": self.names.diagram(kind, ident) + ".svg", "tooltip": f"see the {kind} diagram"}

    def ou_of(self, account_id: str | None) -> tuple | None:
        """The account's OU path (OU keys from the top; ``()`` directly under the root), None where unknown."""
        return self.ou_paths.get(account_id or "")

    def ou_label(self, path: tuple) -> str:
        """An OU path as people read it (``workloads/prod``): names are labels, never keys (a
        name holding "/" is quoted)."""
        names = (self._ou_names.get(k) or "(unnamed OU)" for k in path)
        return "/".join(f'"{n}"' if "/" in n else n for n in names)

    def ou_order(self, path: tuple | None) -> tuple:
        """A sort key: OUs by name from the top (then id), accounts of no known OU last."""
        return (path is None, tuple((self._ou_names.get(k) or "", k) for k in path or ()))

    def ou_title(self, path: tuple | None) -> str:
        if path is None:
            return "OU not known"
        return "OU " + self.ou_label(path) if path else "organization root"

    def resource_label(self, resource_id: str | None) -> str:
        """A finding's resource as people know it: ``name (id)`` where it has a name."""
        if resource_id in self.accounts:
            return self.account_name(resource_id)
        name = self._resource_names.get(resource_id or "")
        return f"{name} ({resource_id})" if name else (resource_id or "")

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
        if c["provider_owner"] == vocab.AMAZON and c["service_name"]:
            return c["service_name"].rsplit(".", 1)[-1]
        return c["service_id"] or c["service_name"] or "unknown service"

    def provider_label(self, c: dict) -> str:
        owner = c["provider_owner"]
        if owner == vocab.AMAZON:
            return "AWS"
        if owner == vocab.MARKETPLACE:
            return "AWS Marketplace seller"
        return self.account_name(c["provider_account_id"])

    def region_activity(self, account_id: str) -> list[str]:
        """The regions where an account has endpoints or provides services."""
        return self._regions.get(account_id, [])

    def worst_finding(self, account_id: str, region: str = "") -> str | None:
        found = [f["severity"] for f in self.findings_of.get(account_id, []) if not region or f["region"] == region]
        return vocab.worst(found) if found else None
