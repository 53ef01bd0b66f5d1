"""``archviz merge``: slices of one organization, crawled apart, combined into one snapshot.

A slice is any snapshot (``discover --ou``, ``--accounts-from``, ``--accounts``, even ``--org``
or an earlier merge). The merged document is what one crawl of every slice's accounts would
have written; its connections and findings are recomputed over the whole (``model.apply``), so a
consumer in one slice and its provider in another meet.

The rules:

- Every input is a valid snapshot of the same schema version; inputs that name an organization
  name the same one (an input whose organization is not known, ``null``, goes with any).
- The unit of data is what one crawl unit produced: an account-region (``kind: region``: its
  coverage entry and every record with that account and region), an account's Marketplace
  lookup (``kind: marketplace``: its coverage entry and the account's agreements), the
  caller's organization lookup (``kind: organization``). Each unit is taken whole from ONE
  input, never pieced together from two: the input whose crawl of it went best (``ok``, then
  ``skipped``, then ``error``; a failure in one slice never hides what another slice saw),
  then the newest (``generated_at``), then the greatest SHA-256 (an arbitrary but fixed
  choice). Units present in several inputs with different content are reported.
- Accounts are unioned: ``crawled`` is true when any input says so, ``in_organization`` when
  any input says so or the merged organization lists the account; every other field (name,
  OU) comes from the first input that knows it: one that crawled the account, then the newest.
- The organization: its id, management account and root from the inputs that know them;
  ``account_ids`` and ``organizational_units`` unioned (an OU known to several inputs is taken
  from the newest).
- ``scope``: mode ``merged``; ``accounts`` and ``regions`` unioned; ``merged_from`` the SHA-256
  of each input, sorted; ``caller_account_id`` and ``role_name`` kept when every input agrees.
  ``generated_at`` is the newest input's. Identical inputs count once.
- Inputs are ordered by their SHA-256 before anything else, so the same inputs in any order
  give the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from archviz import snapshot
from archviz.errors import InputError
from archviz.records import KINDS

STATUS_RANK = {"ok": 3, "skipped": 2, "error": 1}  # absent: 0
# The records one crawl unit reports (accounts and coverage are combined their own way).
RECORD_KINDS = tuple(key for key, kind in KINDS.items() if kind.unit)
Key = tuple[str, ...]


@dataclass
class Source:
    """One input snapshot, with its records grouped by the crawl unit that produced them."""

    doc: dict
    label: str
    sha256: str
    units: dict[Key, dict[str, list[dict]]] = field(default_factory=dict)

    @property
    def generated_at(self) -> str:
        return self.doc["generated_at"]  # fixed format (schema): compares as text

    def status(self, key: Key) -> int:
        entries = self.units.get(key, {}).get("coverage", [])
        return min((STATUS_RANK.get(c.get("status"), 0) for c in entries), default=0)


@dataclass
class Merged:
    doc: dict
    inputs: int  # distinct inputs combined
    duplicates: list[str]  # labels of inputs identical to an earlier one (counted once)
    conflicts: list[tuple[Key, str]]  # units with different content in several inputs, and who won
    unsliced: list[str]  # accounts of the organization that no input's scope holds (a missing slice?)


def unit_of(kind: str, record: dict) -> Key:
    """The crawl unit a coverage entry or a record belongs to."""
    account = str(record.get("account_id"))
    if kind == "coverage":
        unit_kind = str(record.get("kind") or "region")
        if unit_kind == "marketplace":  # one lookup per account; its agreements carry no region
            return (account, "marketplace")
        return (account, unit_kind, str(record.get("region")))
    if kind in KINDS and KINDS[kind].unit == "marketplace":  # the account's lookup, as its coverage entry
        return (account, "marketplace")
    return (account, "region", str(record.get("region")))


def _source(doc: dict, label: str) -> Source:
    src = Source(doc, label, snapshot.sha256(doc))
    for kind in ("coverage", *RECORD_KINDS):
        for rec in doc.get(kind) or []:
            src.units.setdefault(unit_of(kind, rec), {}).setdefault(kind, []).append(rec)
    return src


def _canonical(unit: dict[str, list[dict]]) -> str:
    return json.dumps({k: sorted(v, key=lambda r: json.dumps(r, sort_keys=True)) for k, v in unit.items()},
                      sort_keys=True)


def _first(values: Iterable[Any]) -> Any:
    return next((v for v in values if v is not None), None)


def _organization(sources: list[Source]) -> dict | None:
    known = [s for s in sources if s.doc.get("organization") is not None]
    ids: dict[str, str] = {}
    for s in known:
        org_id = s.doc["organization"].get("id")
        if org_id is not None:
            ids.setdefault(org_id, s.label)
    if len(ids) > 1:
        (a, a_label), (b, b_label) = sorted(ids.items(), key=lambda kv: kv[1])[:2]
        raise InputError(f"{a_label} is a snapshot of organization {a}, {b_label} of organization {b}: "
                         f"merge combines slices of one organization")
    if not known:
        return None
    newest = sorted(known, key=lambda s: (s.generated_at, s.sha256), reverse=True)
    orgs = [s.doc["organization"] for s in newest]
    merged: dict[str, Any] = {
        "id": _first(o.get("id") for o in orgs),
        "management_account_id": _first(o.get("management_account_id") for o in orgs),
        "account_ids": sorted({a for o in orgs for a in o.get("account_ids") or []}),
    }
    if any("root_id" in o for o in orgs):
        merged["root_id"] = _first(o.get("root_id") for o in orgs)
    if any("organizational_units" in o for o in orgs):
        units: dict[str, dict] = {}
        for o in orgs:  # newest first: its view of an OU (name, parent) wins
            for ou in o.get("organizational_units") or []:
                units.setdefault(ou["id"], ou)
        merged["organizational_units"] = sorted(units.values(), key=lambda ou: ou["id"])
    return merged


def _accounts(sources: list[Source], members: set[str]) -> list[dict]:
    seen: dict[str, list[tuple[Source, dict]]] = {}
    for s in sources:
        for rec in s.doc.get("accounts") or []:
            seen.setdefault(rec["account_id"], []).append((s, rec))
    out = []
    for account_id, mentions in seen.items():
        # crawled first, then newest, then greatest hash: the first that knows a field gives it
        mentions.sort(key=lambda m: (bool(m[1].get("crawled")), m[0].generated_at, m[0].sha256), reverse=True)
        recs = [rec for _, rec in mentions]
        merged: dict[str, Any] = {}
        for key in dict.fromkeys(k for rec in recs for k in rec):
            if key in ("crawled", "in_organization"):
                merged[key] = any(rec.get(key) is True for rec in recs)
            else:
                merged[key] = _first(rec.get(key) for rec in recs)
        merged["account_id"] = account_id
        merged["in_organization"] = merged.get("in_organization", False) or account_id in members
        out.append(merged)
    return out


def _scope(sources: list[Source]) -> dict:
    scopes = [s.doc["scope"] for s in sources]
    scope: dict[str, Any] = {
        "mode": "merged",
        "accounts": sorted({a for sc in scopes for a in sc.get("accounts") or []}),
        "regions": sorted({r for sc in scopes for r in sc.get("regions") or []}),
        "merged_from": [s.sha256 for s in sources],
    }
    for key in ("caller_account_id", "role_name"):  # kept only when every input agrees
        values = {json.dumps(sc[key]) if key in sc else None for sc in scopes}
        if len(values) == 1 and None not in values:
            scope[key] = scopes[0][key]
    return scope


def combine(docs: list[dict], labels: list[str] | None = None) -> Merged:
    """Combine validated snapshots into one (connections and findings not yet computed)."""
    if not docs:
        raise InputError("merge: no snapshots to merge")
    labels = labels or [f"input {i + 1}" for i in range(len(docs))]
    versions = {d.get("schema_version") for d in docs}
    if len(versions) > 1:
        shown = ", ".join(map(str, sorted(versions, key=str)))
        raise InputError(f"merge: the snapshots have different schema versions ({shown})")
    by_hash: dict[str, Source] = {}
    duplicates = []
    for doc, label in zip(docs, labels):
        src = _source(doc, label)
        if src.sha256 in by_hash:
            duplicates.append(label)
        else:
            by_hash[src.sha256] = src
    sources = sorted(by_hash.values(), key=lambda s: s.sha256)

    organization = _organization(sources)
    coverage: list[dict] = []
    records: dict[str, list[dict]] = {k: [] for k in RECORD_KINDS}
    conflicts: list[tuple[Key, str]] = []
    for key in sorted({k for s in sources for k in s.units}):
        holders = [s for s in sources if key in s.units]
        best = max(holders, key=lambda s: (s.status(key), s.generated_at, s.sha256))
        if len(holders) > 1 and len({_canonical(s.units[key]) for s in holders}) > 1:
            conflicts.append((key, best.label))
        for kind, recs in best.units[key].items():
            (coverage if kind == "coverage" else records[kind]).extend(recs)

    newest = max(sources, key=lambda s: s.generated_at)
    try:
        when = datetime.strptime(newest.generated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:  # the schema checks the shape, not the calendar (a 13th month)
        raise InputError(f"{newest.label}: generated_at {newest.generated_at!r} is not a real date")
    members = set(organization["account_ids"]) if organization else set()
    scope = _scope(sources)
    doc = snapshot.build(scope, organization, _accounts(sources, members), coverage, records, generated_at=when)
    return Merged(doc, len(sources), duplicates, conflicts, sorted(members - set(scope["accounts"])))


def merge(docs: list[dict], labels: list[str] | None = None, **settings) -> Merged:
    """:func:`combine`, then connections and findings over the whole (``model.apply`` settings)."""
    from archviz import model

    result = combine(docs, labels)
    model.apply(result.doc, **settings)
    return result


def describe(key: Key) -> str:
    """A unit for people: ``111122223333/us-east-1``, ``111122223333 marketplace``."""
    if key[1] == "region":
        return f"{key[0]}/{key[2]}"
    return " ".join(key[:2]) + (f" ({key[2]})" if len(key) > 2 else "")
