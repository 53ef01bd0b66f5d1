"""An analyzed snapshot's findings as audit evidence: CSV for spreadsheets, JSON for scripts and
OCSF Detection Findings for security tools.

Every export is a pure function of the snapshot: the same document gives the same bytes. The only
time written is the snapshot's own ``generated_at``; findings keep the model's order (most severe
first). Each finding carries its rule's rationale and remediation, taken from the snapshot's
``analysis["rules"]`` and, for a rule the snapshot does not describe, from ``archviz.model.CATALOG``.

CSV: UTF-8 without a byte-order mark, "\\r\\n" line ends (RFC 4180, the csv module's default), one
header row then one row per finding. Names, tags and messages come from AWS and are untrusted, so
the CSV guards against CSV (formula) injection as OWASP advises: a cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, which spreadsheets read
as "this is text" instead of evaluating a formula. ``rows`` gives the unguarded values.

OCSF: a JSON array of Detection Findings (class_uid 2004) built with py-ocsf-models, mapped the way
Prowler maps its checks (prowler/lib/outputs/ocsf/ocsf.py); see ``detection_finding``. Its times
(``time``, ``finding_info.created_time``) are milliseconds since the epoch, as OCSF's timestamps
are; evidence packs of format 1 held seconds (``to_ocsf(doc, milliseconds=False)`` makes them again)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from datetime import datetime, timedelta, timezone

from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from py_ocsf_models.events.findings.detection_finding_type_id import DetectionFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import Account, TypeID
from py_ocsf_models.objects.analytic import Analytic
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.organization import Organization
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.remediation import Remediation
from py_ocsf_models.objects.resource_details import ResourceDetails

from archviz import __version__, records
from archviz.model import CATALOG, SEVERITIES
from archviz.model.estate import Estate

__all__ = ["COLUMNS", "rows", "neutralise", "to_csv", "to_json", "detection_findings", "to_ocsf"]

COLUMNS = ("rule", "severity", "title", "resource", "account", "region", "message", "rationale", "remediation")

# A cell starting with one of these is a formula to Excel, LibreOffice Calc or Google Sheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# archviz's severities (vocab.SEVERITIES) and OCSF's: "info" is OCSF's Informational.
SEVERITY_IDS: dict[str, SeverityID] = {"critical": SeverityID.Critical, "high": SeverityID.High,
                                       "medium": SeverityID.Medium, "low": SeverityID.Low,
                                       "info": SeverityID.Informational}
assert set(SEVERITY_IDS) == set(SEVERITIES), "every archviz severity needs an OCSF severity"

PRODUCT = "archviz"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# --- the findings, explained ----------------------------------------------------------------

def _rule_texts(doc: dict) -> dict[str, tuple[str, str]]:
    """rule_id -> (rationale, remediation): the snapshot's analysis first, the catalog behind it."""
    texts = {r.id: (r.rationale, r.remediation) for r in CATALOG.values()}
    for r in (doc.get("analysis") or {}).get("rules") or []:
        texts[r["rule_id"]] = (r.get("rationale") or "", r.get("remediation") or "")
    return texts


def _explained(doc: dict) -> list[dict]:
    """Each finding (a copy) with its rule's rationale and remediation ("" for an unknown rule)."""
    if not isinstance(doc.get("findings"), list):
        raise ValueError("the snapshot has no findings list: analyze it first (archviz.model.apply)")
    texts = _rule_texts(doc)
    explained = []
    for f in doc["findings"]:
        rationale, remediation = texts.get(f["rule_id"], ("", ""))
        explained.append({**f, "rationale": rationale, "remediation": remediation})
    return explained


# --- CSV ----------------------------------------------------------------------------------------

def rows(doc: dict) -> list[dict]:
    """One dict per finding, keyed by ``COLUMNS``: the raw values (an unknown account or region is
    ""), not yet guarded against formula injection; ``to_csv`` guards them."""
    return [{"rule": f["rule_id"], "severity": f["severity"], "title": f["title"], "resource": f["resource_id"],
             "account": f["account_id"] or "", "region": f["region"] or "", "message": f["message"],
             "rationale": f["rationale"], "remediation": f["remediation"]} for f in _explained(doc)]


def neutralise(value) -> str:
    """A cell's text, with a leading apostrophe when it would start a spreadsheet formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def to_csv(doc: dict) -> bytes:
    """The findings as CSV (UTF-8, "\\r\\n" line ends): the ``COLUMNS`` header, then one row per
    finding, every cell guarded against formula injection."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows(doc):
        writer.writerow([neutralise(row[c]) for c in COLUMNS])
    return buffer.getvalue().encode("utf-8")


# --- JSON ---------------------------------------------------------------------------------------

def _dumps(value) -> bytes:
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def to_json(doc: dict) -> bytes:
    """``{"generated_at", "tool", "findings"}`` with each finding plus its rationale and remediation:
    sorted keys, two-space indent, UTF-8, a trailing newline."""
    return _dumps({"generated_at": doc["generated_at"], "tool": doc["tool"], "findings": _explained(doc)})


# --- OCSF ---------------------------------------------------------------------------------------

def _generated_at(doc: dict) -> datetime:
    """The snapshot's time, aware (UTC when the text carries no offset)."""
    when = datetime.fromisoformat(doc["generated_at"].replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _uids(findings: list[dict]) -> list[str]:
    """Stable finding uids: ``archviz-<rule>-<account>-<region>-<resource>``, the same finding
    keeps it from crawl to crawl. Findings that would share one (one rule, one resource, several
    principals or connections) each get a suffix hashed from their evidence and message."""
    bases = ["-".join(("archviz", f["rule_id"], f["account_id"] or "", f["region"] or "", f["resource_id"]))
             for f in findings]
    shared = {b for b, n in Counter(bases).items() if n > 1}
    uids = []
    for base, f in zip(bases, findings):
        if base in shared:
            what = json.dumps([f["evidence"], f["message"]], sort_keys=True, ensure_ascii=False)
            base += "-" + hashlib.sha256(what.encode("utf-8")).hexdigest()[:12]
        uids.append(base)
    return uids


def _resource_type(f: dict) -> str:
    """What the finding's resource is to security tools: its rule's resource kind's type
    (``archviz.records``). A rule this archviz does not know (a snapshot analysed by another
    version): the kind its id is of by its prefix, else the kind of its first piece of evidence.
    A resource of no AWS type (a coverage gap's account/region unit) is "Other"."""
    rule = CATALOG.get(f["rule_id"])
    if rule is not None:
        return rule.resource_type or "Other"
    kind = records.kind_of_id(f["resource_id"])
    if kind is None:
        first = f["evidence"][0].split("/", 1)[0] if f["evidence"] else ""
        kind = records.KINDS.get(first)
    return (kind.resource_type if kind else None) or "Other"


def _references(rule_id: str) -> list[str] | None:
    """The AWS documentation the rule's remediation points to (OCSF remediation.references)."""
    rule = CATALOG.get(rule_id)
    return list(rule.references) if rule and rule.references else None


def _cloud(estate: Estate, account_id: str | None, region: str | None) -> Cloud:
    """Where a finding is: the account (named as the snapshot names it) and, for an account the
    organization lists (not any crawled one: :meth:`Estate.organization_of`), the organization."""
    account = org = None
    if account_id:
        known = estate.accounts.get(account_id, {})
        account = Account(uid=account_id, name=known.get("name") or account_id, type_id=TypeID.AWS_Account,
                          type=TypeID.AWS_Account.name.replace("_", " "))
        org_id = estate.organization_of(account_id)
        if org_id:
            org = Organization(uid=org_id, ou_uid=known.get("ou_id"))
    return Cloud(provider="AWS", region=region, account=account, org=org)


def _resource(estate: Estate, f: dict) -> ResourceDetails:
    """The finding's resource, with the name and tags of the endpoint service or endpoint it is."""
    record = estate.services_by_id.get(f["resource_id"])
    if record is None:
        record = estate.endpoints.get(f["resource_id"], {})
    tags = record.get("tags") or {}
    return ResourceDetails(uid=f["resource_id"], type=_resource_type(f), region=f["region"],
                           name=record.get("name") or None,
                           labels=[f"{k}:{v}" for k, v in sorted(tags.items())] or None)


def _severity(severity: str) -> tuple[SeverityID, str]:
    """OCSF's severity id and caption; a severity archviz does not know is Other, named as is."""
    if severity in SEVERITY_IDS:
        return SEVERITY_IDS[severity], SEVERITY_IDS[severity].name
    return SeverityID.Other, severity


def detection_finding(f: dict, uid: str, when: datetime, estate: Estate, version: str = __version__,
                      milliseconds: bool = True) -> DetectionFinding:
    """One explained finding as an OCSF Detection Finding: created (activity Create), new (status
    New), at the snapshot's time (in milliseconds since the epoch; with ``milliseconds=False``, in
    seconds, as pack format 1 wrote it); the rule is the analytic and the metadata's event code, its
    rationale the risk details, its remediation the remediation; the evidence is unmapped."""
    severity_id, severity = _severity(f["severity"])
    epoch = (when - _EPOCH) // timedelta(milliseconds=1) if milliseconds else int(when.timestamp())
    org = estate.organization_of(f["account_id"])
    return DetectionFinding(
        activity_id=ActivityID.Create, activity_name=ActivityID.Create.name,
        type_uid=DetectionFindingTypeID.Create, type_name=f"Detection Finding: {DetectionFindingTypeID.Create.name}",
        severity_id=severity_id, severity=severity, status_id=StatusID.New, status=StatusID.New.name,
        time=epoch, time_dt=when, message=f["message"],
        finding_info=FindingInformation(
            uid=uid, title=f["title"], desc=f["message"], created_time=epoch, created_time_dt=when,
            analytic=Analytic(uid=f["rule_id"], name=f["title"], type_id=1, type="Rule")),
        risk_details=f["rationale"] or None,
        remediation=Remediation(desc=f["remediation"], references=_references(f["rule_id"])),
        metadata=Metadata(event_code=f["rule_id"], profiles=["cloud", "datetime"], tenant_uid=org,
                          product=Product(uid=PRODUCT, name=PRODUCT, vendor_name=PRODUCT, version=version)),
        cloud=_cloud(estate, f["account_id"], f["region"]),
        resources=[_resource(estate, f)],
        unmapped={"evidence": list(f["evidence"])},
    )


def detection_findings(doc: dict, milliseconds: bool = True) -> list[DetectionFinding]:
    """The snapshot's findings as OCSF Detection Findings, in the snapshot's order."""
    findings = _explained(doc)
    when, estate = _generated_at(doc), Estate(doc)
    version = (doc.get("tool") or {}).get("version") or __version__  # the archviz that made the snapshot
    return [detection_finding(f, uid, when, estate, version, milliseconds) for f, uid in zip(findings, _uids(findings))]


def to_ocsf(doc: dict, milliseconds: bool = True) -> bytes:
    """The findings as a JSON array of OCSF Detection Findings (class_uid 2004): each serialized as
    pydantic's ``model_dump(mode="json", exclude_none=True)``, sorted keys, two-space indent."""
    return _dumps([f.model_dump(mode="json", exclude_none=True) for f in detection_findings(doc, milliseconds)])


# ``archviz findings --format``: a snapshot's findings in each format a pack holds them in.
FORMATS = {"csv": to_csv, "json": to_json, "ocsf": to_ocsf}
