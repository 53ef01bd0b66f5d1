"""What changed between two snapshots: connections, endpoint services, their principals and
settings, load balancer targets, findings, coverage and accounts, each keyed by a stable id
(never by a list position), so a reordered but identical snapshot has no changes.

Both snapshots are analysed here, with the current rules and one set of analysis settings, so a
finding that appears is a change in the estate, not in the rules or in the settings.

A crawl that failed for a unit (an account-region, an account's Marketplace lookup) says
nothing about that unit. So a record that is missing from the new snapshot is *removed* only
when a unit that saw it before was crawled successfully this time; otherwise it is *not visible
any more*. The other way round, a record found in a unit that had failed before is *newly
visible*, not *added*. Snapshots of different scopes are compared where they overlap (the
accounts and the regions both crawled), and the result says what was left out."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Iterator

from archviz import model, snapshot
from archviz.errors import DriftFound, InputError, some
from archviz.model.estate import account_of_principal
from archviz.model.vocab import NOT_FLOWING, SEVERITIES, severity_rank
from archviz.text import visible

DIFF_VERSION = 1

# Kinds of change, in the order the pages list them, with their headings.
KINDS = {
    "connection": "Connections",
    "endpoint-service": "Endpoint services",
    "principal": "Allowed principals",
    "acceptance": "Acceptance of connection requests",
    "supported-regions": "Supported regions",
    "target": "Load balancer targets",
    "finding": "Findings",
    "coverage": "Coverage",
    "account": "Accounts",
}
# How each change is named, in the order the counts list them.
CHANGES = {
    "added": "added", "removed": "removed", "newly-visible": "newly visible", "not-visible": "not visible any more",
    "state": "state changed", "use-case": "use case changed", "changed": "changed",
    "opened": "opened", "resolved": "resolved", "worse": "worse", "better": "better",
    "joined": "joined the organization", "left": "left the organization",
}
SYMBOL = {"added": "+", "newly-visible": "+", "opened": "+", "joined": "+", "removed": "-", "resolved": "-",
          "left": "-", "not-visible": "?", "worse": "!", "better": "~"}

# --fail-on: what may page someone. "new-findings" takes an optional ":severity" (that or worse).
ALERTS = ("new-external-consumer", "new-untrusted-principal", "open-to-all", "new-findings", "coverage-worse", "any")
APPEARED = ("added", "newly-visible")


def parse_fail_on(value: str | None) -> tuple[str, ...]:
    """``new-findings:high,coverage-worse`` -> the kinds, checked; one-line error otherwise."""
    kinds = []
    for item in (v.strip() for v in (value or "").split(",")):
        if not item:
            continue
        name, colon, sev = item.partition(":")
        if name not in ALERTS or (colon and (name != "new-findings" or sev not in SEVERITIES)):
            raise InputError(f"--fail-on: unknown kind {item!r} (kinds: {', '.join(ALERTS[:3])}, "
                             f"new-findings[:{'|'.join(SEVERITIES)}], coverage-worse, any)")
        kinds.append(item)
    if value is not None and not kinds:
        raise InputError("--fail-on: give at least one kind")
    return tuple(dict.fromkeys(kinds))


def triggered(result: dict, kinds: Iterable[str]) -> list[dict]:
    """The changes that fire any of ``kinds`` (``any``: every change)."""
    kinds = set(kinds)
    if "any" in kinds:
        return list(result["changes"])
    wanted = {k for k in kinds if not k.startswith("new-findings")}
    floors = [k.partition(":")[2] or SEVERITIES[-1] for k in kinds if k.startswith("new-findings")]
    floor = max((severity_rank(s) for s in floors), default=None)
    out = []
    for c in result["changes"]:
        if wanted & set(c["alerts"]):
            out.append(c)
        elif floor is not None and "new-findings" in c["alerts"] and severity_rank(c["after"]["severity"]) <= floor:
            out.append(c)
    return out


# --- the two sides ----------------------------------------------------------------------------

Unit = tuple[str, str, str]  # (account id, coverage kind, region)


@dataclass
class Side:
    """One snapshot, analysed, with what its crawl could see."""

    doc: dict
    connections: dict[str, dict]
    findings: list[dict]
    status: dict[Unit, str]
    members: frozenset[str]
    trusted: frozenset[str]
    names: dict[str, str]
    units: dict[str, Unit]  # service and endpoint ids -> the unit that reported them
    resource_names: dict[str, str]  # service and endpoint ids -> their names

    @classmethod
    def of(cls, doc: dict, members: frozenset[str], trusted: frozenset[str], links: dict[str, str]) -> "Side":
        """``members``: the accounts this side counts as the organization's (see :func:`_members`);
        the analysis is run with them, so both sides call the same accounts inside."""
        org = dict(doc.get("organization") or {}, account_ids=sorted(members))
        analysis = model.analyze(dict(doc, organization=org), trusted_accounts=trusted, marketplace_links=links)
        ids = [(r["service_id"], r) for r in doc["endpoint_connections"] + doc["endpoint_services"]] + \
            [(e["endpoint_id"], e) for e in doc["endpoints"]]
        return cls(doc, {c["endpoint_id"]: c for c in analysis["connections"]}, analysis["findings"],
                   {(c["account_id"], c.get("kind", "region"), c["region"]): c["status"] for c in doc["coverage"]},
                   members, trusted, {a["account_id"]: a["name"] for a in doc["accounts"] if a.get("name")},
                   {ident: _region_unit(r["account_id"], r["region"]) for ident, r in ids},
                   {ident: r["name"] for ident, r in ids if r.get("name")})

    def ok(self, unit: Unit) -> bool:
        return self.status.get(unit) == "ok"

    def name(self, account_id: str | None) -> str:
        """An account as a reader knows it: its name and id, or that it is outside."""
        if account_id is None:
            return "unknown account"
        if account_id in self.names:
            return f"{self.names[account_id]} ({account_id})"
        return account_id if account_id in self.members else f"{account_id} (outside the organization)"

    def outside(self, account_id: str | None) -> bool:
        return account_id is not None and account_id not in self.members and account_id not in self.trusted


@dataclass
class Overlap:
    """The accounts and regions both snapshots crawled: only there are they compared."""

    accounts: frozenset[str]
    regions: frozenset[str]

    def covers(self, unit: Unit) -> bool:
        account, kind, region = unit
        return account in self.accounts and (kind != "region" or region in self.regions)


def _region_unit(account_id: str | None, region: str | None) -> Unit:
    return (account_id or "", "region", region or "")


# --- changes ---------------------------------------------------------------------------------

def _change(kind: str, change: str, ident: str, account_id: str | None, region: str | None, summary: str,
            before=None, after=None, alerts: Iterable[str] = ()) -> dict:
    return {"kind": kind, "change": change, "id": ident, "account_id": account_id, "region": region,
            "before": before, "after": after, "alerts": sorted(set(alerts)), "summary": summary}


def _presence(seen_by: list[Unit], old: Side, new: Side, overlap: Overlap, gone: bool) -> str | None:
    """For a record in one snapshot only (the old one if ``gone``), seen by the units ``seen_by``:
    added/removed, or only newly/no longer visible, or None when none of them is in both scopes."""
    units = [u for u in seen_by if overlap.covers(u)]
    if not units:
        return None
    other = new if gone else old
    if any(other.ok(u) for u in units):
        return "removed" if gone else "added"
    return "not-visible" if gone else "newly-visible"


def _connection_units(c: dict) -> list[Unit]:
    units = []
    if "consumer" in c["seen_from"]:
        units.append(_region_unit(c["consumer_account_id"], c["consumer_region"]))
    if "provider" in c["seen_from"]:
        units.append(_region_unit(c["provider_account_id"], c["provider_region"]))
    return units


def _external_flowing(c: dict, side: Side) -> bool:
    """A connection through which an account outside the organization (and not trusted) reaches
    one of our services: what ``new-external-consumer`` pages about."""
    return (c["use_case"] == "external-consumer" and side.outside(c["consumer_account_id"])
            and c["state"] not in NOT_FLOWING and (c["provider_state"] or c["state"]) not in NOT_FLOWING)


def _connection_text(c: dict, side: Side) -> str:
    service = c["service_name"] or c["service_id"] or "an unresolved service"
    provider = {"aws-service": "AWS", "marketplace": "AWS Marketplace"}.get(c["use_case"]) or side.name(c["provider_account_id"])
    return (f"{c['endpoint_id']} from {side.name(c['consumer_account_id'])} in {c['consumer_region']} to {service} "
            f"({provider}, {c['provider_region']}), {c['use_case']}, {c['state']}")


CONNECTION_FIELDS = ("use_case", "consumer_account_id", "consumer_region", "provider_account_id", "provider_region",
                     "service_name", "service_id", "state", "provider_state")


def _brief(c: dict) -> dict:
    return {k: c[k] for k in CONNECTION_FIELDS}


GONE = frozenset({"deleted"})  # AWS lists a deleted endpoint for a while: the connection is gone


def connections(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    """Connections by endpoint id. One whose endpoint is now ``deleted`` is removed (AWS lists a
    deleted endpoint for a while; when it stops, the connection is not removed a second time)."""
    for eid in sorted(set(old.connections) | set(new.connections)):
        before, after = old.connections.get(eid), new.connections.get(eid)
        if after is None and before is not None and before["state"] in GONE:
            continue
        if after is not None and before is not None and after["state"] in GONE and before["state"] not in GONE:
            if any(overlap.covers(u) for u in _connection_units(after)):
                yield _change("connection", "removed", eid, before["consumer_account_id"], before["consumer_region"],
                              f"connection {_connection_text(before, old)} (its endpoint is now deleted)",
                              _brief(before), _brief(after))
            continue
        if before is None or after is None:
            c, side = (before, old) if after is None else (after, new)
            how = _presence(_connection_units(c), old, new, overlap, gone=after is None)
            if how:
                alerts = ["new-external-consumer"] if after is not None and _external_flowing(c, new) else []
                yield _change("connection", how, eid, c["consumer_account_id"], c["consumer_region"],
                              f"connection {_connection_text(c, side)}", before and _brief(before),
                              after and _brief(after), alerts)
            continue
        if not any(overlap.covers(u) for u in _connection_units(before) + _connection_units(after)):
            continue
        alerts = ["new-external-consumer"] if _external_flowing(after, new) and not _external_flowing(before, old) else []
        if before["use_case"] != after["use_case"]:
            yield _change("connection", "use-case", eid, after["consumer_account_id"], after["consumer_region"],
                          f"connection {eid}: use case {before['use_case']} → {after['use_case']} "
                          f"({_connection_text(after, new)})", _brief(before), _brief(after), alerts)
            alerts = []
        moved = [f"{label} {before[k]} → {after[k]}" for k, label in (("provider_account_id", "provider"),
                                                                      ("service_name", "service"))
                 if before[k] and after[k] and before[k] != after[k]]
        if moved and before["use_case"] == after["use_case"]:
            yield _change("connection", "changed", eid, after["consumer_account_id"], after["consumer_region"],
                          f"connection {eid}: {', '.join(moved)} ({_connection_text(after, new)})",
                          _brief(before), _brief(after), alerts)
            alerts = []
        if before["state"] != after["state"] and before["state"] and after["state"]:
            yield _change("connection", "state", eid, after["consumer_account_id"], after["consumer_region"],
                          f"connection {eid}: {before['state']} → {after['state']} ({_connection_text(after, new)})",
                          _brief(before), _brief(after), alerts)


def _principal_alerts(principal: str, side: Side) -> list[str]:
    if principal == "*":
        return ["open-to-all"]
    return ["new-untrusted-principal"] if side.outside(account_of_principal(principal)) else []


def _service_text(s: dict, side: Side) -> str:
    label = f"{s['name']} ({s['service_id']})" if s.get("name") else s["service_id"]
    return f"{label} of {side.name(s['account_id'])} in {s['region']}"


def endpoint_services(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    before_all = {s["service_id"]: s for s in old.doc["endpoint_services"]}
    after_all = {s["service_id"]: s for s in new.doc["endpoint_services"]}
    for sid in sorted(set(before_all) | set(after_all)):
        before, after = before_all.get(sid), after_all.get(sid)
        s = after or before
        unit = _region_unit(s["account_id"], s["region"])
        if before is None or after is None:
            how = _presence([unit], old, new, overlap, gone=after is None)
            if how:
                principals = sorted(_principals(s))
                alerts = [a for p in principals for a in _principal_alerts(p, new)] if after is not None else []
                text = f"endpoint service {_service_text(s, new if after else old)}"
                if principals:
                    text += f", allowing {some(principals)}"
                yield _change("endpoint-service", how, sid, s["account_id"], s["region"], text,
                              before and {"principals": principals}, after and {"principals": principals}, alerts)
            continue
        if not (overlap.covers(unit) and new.ok(unit)):
            continue  # the service seen only in part now: its settings are not compared
        was, now = _principals(before), _principals(after)
        for p in sorted(now - was):
            how = "added" if old.ok(unit) else "newly-visible"  # after a crawl that failed: not known to be new
            yield _change("principal", how, f"{sid}/{p}", s["account_id"], s["region"],
                          f"{_service_text(after, new)} {'now allows' if how == 'added' else 'allows'} "
                          f"{new_principal_text(p, new)}", None, p, _principal_alerts(p, new))
        if not old.ok(unit):
            continue  # removals and settings are compared between two complete views only
        for p in sorted(was - now):
            yield _change("principal", "removed", f"{sid}/{p}", s["account_id"], s["region"],
                          f"{_service_text(after, new)} no longer allows {p}", p, None)
        if before["acceptance_required"] != after["acceptance_required"]:
            said = {True: "required", False: "not required (automatic)", None: "unknown"}
            yield _change("acceptance", "changed", sid, s["account_id"], s["region"],
                          f"{_service_text(after, new)}: acceptance {said[before['acceptance_required']]} → "
                          f"{said[after['acceptance_required']]}", before["acceptance_required"],
                          after["acceptance_required"])
        was_r, now_r = _regions(before), _regions(after)
        if was_r != now_r:
            parts = [f"+{r}" for r in sorted(now_r - was_r)] + [f"-{r}" for r in sorted(was_r - now_r)]
            yield _change("supported-regions", "changed", sid, s["account_id"], s["region"],
                          f"{_service_text(after, new)}: supported regions {' '.join(parts)}",
                          sorted(was_r), sorted(now_r))


def _principals(s: dict) -> set[str]:
    return {p["principal"] for p in s["allowed_principals"] if p.get("principal")}


def _regions(s: dict) -> set[str]:
    return {r["region"] for r in s["supported_regions"] or [] if r.get("region")}


def new_principal_text(principal: str, side: Side) -> str:
    if principal == "*":
        return "'*' (every AWS account)"
    account = account_of_principal(principal)
    if account and side.outside(account):
        return f"{principal} (outside the organization)"
    return principal


def _targets(side: Side) -> dict[tuple, tuple[dict, dict, dict]]:
    out = {}
    for lb in side.doc["load_balancers"]:
        for tg in lb.get("target_groups") or []:
            for t in tg.get("targets") or []:
                out[(lb["arn"], tg["arn"], str(t["id"]), str(t.get("port")))] = (lb, tg, t)
    return out


def targets(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    """Targets behind the load balancers, by balancer, target group, target and port: health
    changed, or registered and deregistered (compared only where both crawls of the balancer's
    unit were complete, as a failed call can leave a target group without its targets)."""
    before_all, after_all = _targets(old), _targets(new)
    for key in sorted(set(before_all) | set(after_all)):
        lb, tg, t = (after_all.get(key) or before_all[key])
        unit = _region_unit(lb["account_id"], lb["region"])
        was, now = (before_all.get(key) or (None, None, None))[2], (after_all.get(key) or (None, None, None))[2]
        if not overlap.covers(unit) or (was and now and was.get("health") == now.get("health")):
            continue
        if (was is None or now is None) and not (old.ok(unit) and new.ok(unit)):
            continue
        port = f":{t['port']}" if t.get("port") is not None else ""
        what = f"target {t['id']}{port} of {tg.get('name') or tg['arn']} behind {lb.get('name') or lb['arn']}"
        health = lambda x: x.get("health") or "unknown"  # noqa: E731
        if was and now:
            yield _change("target", "changed", "/".join(key[1:3]) + port, lb["account_id"], lb["region"],
                          f"{what}: {health(was)} → {health(now)}", was.get("health"), now.get("health"))
        else:
            yield _change("target", "added" if now else "removed", "/".join(key[1:3]) + port, lb["account_id"],
                          lb["region"], f"{what} {'registered' if now else 'deregistered'} ({health(now or was)})",
                          None if now else was.get("health"), now.get("health") if now else None)


def _finding_unit(f: dict) -> Unit:
    ref = (f["evidence"] or [""])[0].split("/")
    if ref[0] == "coverage" and len(ref) == 4:  # coverage/<account>/<kind>/<region>
        return (ref[1], ref[2], ref[3])
    return _region_unit(f["account_id"], f["region"])


def _evidence_units(f: dict, side: Side) -> list[Unit]:
    """The units that reported what a finding's evidence points at (an endpoint service, a
    provider's connection record, an endpoint)."""
    units = []
    for ref in f["evidence"]:
        kind, _, rest = ref.partition("/")
        if kind in ("endpoint_services", "endpoint_connections", "endpoints"):
            ident = rest.split("/")[0] if kind != "endpoints" else rest
            if ident in side.units:
                units.append(side.units[ident])
    return units


def _finding_units(f: dict, side: Side, overlap: Overlap) -> list[Unit]:
    """Where a finding was seen: its own account-region (or coverage unit); for a finding filed
    under an account nobody crawled (an outside consumer's pending request), the provider's
    unit that reported it."""
    own = _finding_unit(f)
    return [own] if overlap.covers(own) else _evidence_units(f, side)


def _subject(f: dict, side: Side) -> tuple:
    """What tells apart the findings of one rule about one resource: the other records its
    evidence names (the consumer's endpoint, the security group), else its message with the
    resource's name taken out (a renamed resource keeps its findings)."""
    ids = sorted({ref.rsplit("/", 1)[-1] for ref in f["evidence"]
                  if ref.split("/", 1)[0] in ("endpoint_connections", "endpoints", "security_groups")}
                 - {f["resource_id"]})
    if ids:
        return tuple(ids)
    name = side.resource_names.get(f["resource_id"])
    return (f["message"].replace(name, "\0") if name else f["message"],)


def _finding_groups(findings: list[dict]) -> dict[tuple, list[dict]]:
    groups = defaultdict(list)
    for f in findings:
        groups[(f["rule_id"], f["account_id"] or "", f["region"] or "", f["resource_id"])].append(f)
    return groups


def _finding_brief(f: dict) -> dict:
    return {k: f[k] for k in ("rule_id", "severity", "title", "resource_id", "message")}


def _unmatched(these: list[dict], this: Side, others: list[dict], other: Side) -> list[dict]:
    """The findings of ``these`` whose subject ``others`` lacks (counted: two alike match two)."""
    left = Counter(_subject(f, other) for f in others)
    out = []
    for f in these:
        subject = _subject(f, this)
        if left[subject]:
            left[subject] -= 1
        else:
            out.append(f)
    return out


def findings(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    """A finding is its rule, account, region and resource (not its evidence, which can lose the
    side of a connection that a failed unit did not see); where one resource has several
    findings of one rule, their :func:`_subject` tells them apart. A lone finding whose message
    changed (a renamed resource) is the same finding."""
    before_all, after_all = _finding_groups(old.findings), _finding_groups(new.findings)
    gone, came = [], []
    for key in set(before_all) | set(after_all):
        was, now = before_all.get(key, []), after_all.get(key, [])
        if len(was) == 1 and len(now) == 1:
            continue
        gone += _unmatched(was, old, now, new)
        came += _unmatched(now, new, was, old)
    for f, is_gone in sorted([(f, True) for f in gone] + [(f, False) for f in came],
                             key=lambda p: (severity_rank(p[0]["severity"]), p[0]["rule_id"], p[0]["account_id"] or "",
                                            p[0]["region"] or "", p[0]["resource_id"], p[0]["message"], p[1])):
        units = _finding_units(f, old if is_gone else new, overlap)
        how = _presence(units, old, new, overlap, gone=is_gone)
        if how is None:
            continue
        how = {"removed": "resolved", "added": "opened"}.get(how, how)
        # A crawl that failed opens a coverage-gap finding: that is coverage-worse's to page about.
        alerts = ["new-findings"] if how in ("opened", "newly-visible") and f["rule_id"] != "coverage-gap" else []
        yield _change("finding", how, f"{f['rule_id']}/{f['resource_id']}", f["account_id"], f["region"],
                      f"{f['severity']}: {f['title']}: {f['message']}", _finding_brief(f) if is_gone else None,
                      None if is_gone else _finding_brief(f), alerts)


def coverage(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    before_all = {(c["account_id"], c.get("kind", "region"), c["region"]): c for c in old.doc["coverage"]}
    after_all = {(c["account_id"], c.get("kind", "region"), c["region"]): c for c in new.doc["coverage"]}
    for unit in sorted(set(before_all) | set(after_all)):
        if not overlap.covers(unit):
            continue
        was, now = before_all.get(unit), after_all.get(unit)
        was_s, now_s = (was or {}).get("status", "not crawled"), (now or {}).get("status", "not crawled")
        if was_s == now_s:
            continue
        account, kind, region = unit
        what = f"{kind} unit {account}/{region}" if kind != "region" else f"{new.name(account)} in {region}"
        if now_s == "error":
            yield _change("coverage", "worse", "/".join(unit), account, region,
                          f"{what}: {was_s} → error ({now['error_code']}: {now['message']})", was_s, now_s,
                          ["coverage-worse"])
        elif was_s == "error":
            yield _change("coverage", "better", "/".join(unit), account, region, f"{what}: error → {now_s}",
                          was_s, now_s)
        else:  # a region enabled or disabled (skipped), or a unit one crawl did not have
            yield _change("coverage", "changed", "/".join(unit), account, region, f"{what}: {was_s} → {now_s}",
                          was_s, now_s)


def accounts(old: Side, new: Side) -> Iterator[dict]:
    """Accounts that joined or left the organization (compared only between snapshots of the
    same organization, as both listed it)."""
    o_org, n_org = old.doc.get("organization"), new.doc.get("organization")
    if not o_org or not n_org or o_org.get("id") != n_org.get("id"):
        return
    was, now = set(o_org["account_ids"]), set(n_org["account_ids"])
    for a in sorted(now - was):
        yield _change("account", "joined", a, a, None, f"{new.name(a)} joined the organization")
    for a in sorted(was - now):
        yield _change("account", "left", a, a, None, f"{old.name(a)} left the organization")


# --- the whole comparison ----------------------------------------------------------------------

def _about(doc: dict) -> dict:
    return {"generated_at": doc["generated_at"], "schema_version": doc["schema_version"],
            "tool_version": doc["tool"]["version"], "sha256": snapshot.sha256(doc),
            "accounts": sorted(doc["scope"]["accounts"]), "regions": sorted(doc["scope"]["regions"]),
            "organization_id": (doc.get("organization") or {}).get("id")}


def _settings(new: dict, trusted_accounts, marketplace_links) -> tuple[frozenset[str], dict[str, str]]:
    """The settings both snapshots are analysed with: those given (None: not given), else those
    the new snapshot was analysed with (so that comparing two analysed snapshots needs no flags)."""
    stored = new.get("analysis") or {}
    if trusted_accounts is None and marketplace_links is None:
        return frozenset(stored.get("trusted_accounts") or []), dict(stored.get("marketplace_links") or {})
    return frozenset(trusted_accounts or ()), dict(marketplace_links or {})


def _members(doc: dict, other: dict) -> frozenset[str]:
    """The accounts a snapshot counts as inside: its organization's and its crawled ones. One that
    does not list its organization (a crawl of --accounts, or the listing failed) also counts the
    other snapshot's, so that crawling fewer accounts does not make one an outsider; one that lists
    it does not, so that an account that left the organization becomes one."""
    def listed(d: dict) -> frozenset[str]:
        return frozenset((d.get("organization") or {}).get("account_ids") or [])

    own = listed(doc) | frozenset(doc["scope"]["accounts"])
    return own if listed(doc) else own | listed(other) | frozenset(other["scope"]["accounts"])


def compare(old_doc: dict, new_doc: dict, trusted_accounts: Iterable[str] | None = None,
            marketplace_links: dict[str, str] | None = None) -> dict:
    """The changes from ``old_doc`` to ``new_doc``, as the document ``diff-1.schema.json`` describes."""
    trusted, links = _settings(new_doc, trusted_accounts, marketplace_links)
    old = Side.of(old_doc, _members(old_doc, new_doc), trusted, links)
    new = Side.of(new_doc, _members(new_doc, old_doc), trusted, links)
    o_scope, n_scope = old_doc["scope"], new_doc["scope"]
    overlap = Overlap(frozenset(o_scope["accounts"]) & frozenset(n_scope["accounts"]),
                      frozenset(o_scope["regions"]) & frozenset(n_scope["regions"]))
    changes = [*connections(old, new, overlap), *endpoint_services(old, new, overlap), *targets(old, new, overlap),
               *findings(old, new, overlap), *coverage(old, new, overlap), *accounts(old, new)]
    order = list(KINDS)
    changes.sort(key=lambda c: order.index(c["kind"]))  # stable: each kind keeps its own order
    counts = Counter((c["kind"], c["change"]) for c in changes)
    o_org, n_org = (old_doc.get("organization") or {}).get("id"), (new_doc.get("organization") or {}).get("id")
    return {
        "diff_version": DIFF_VERSION,
        "old": _about(old_doc),
        "new": _about(new_doc),
        "compared": {
            "accounts": sorted(overlap.accounts), "regions": sorted(overlap.regions),
            "trusted_accounts": sorted(trusted),
            "out_of_scope": {
                "accounts_only_in_old": sorted(set(o_scope["accounts"]) - overlap.accounts),
                "accounts_only_in_new": sorted(set(n_scope["accounts"]) - overlap.accounts),
                "regions_only_in_old": sorted(set(o_scope["regions"]) - overlap.regions),
                "regions_only_in_new": sorted(set(n_scope["regions"]) - overlap.regions),
                "different_organizations": bool(o_org and n_org and o_org != n_org),
            },
        },
        "counts": [{"kind": k, "change": ch, "count": counts[(k, ch)]}
                   for k in KINDS for ch in CHANGES if counts[(k, ch)]],
        "changes": changes,
    }


# --- output --------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def schema() -> dict:
    return json.loads(resources.files("archviz").joinpath("schema", f"diff-{DIFF_VERSION}.schema.json").read_text("utf-8"))


def to_json(result: dict) -> str:
    return json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _scope_notes(result: dict) -> list[str]:
    out = result["compared"]["out_of_scope"]
    notes = []
    for key, text in (("accounts_only_in_old", "accounts crawled only in the old snapshot"),
                      ("accounts_only_in_new", "accounts crawled only in the new snapshot"),
                      ("regions_only_in_old", "regions crawled only in the old snapshot"),
                      ("regions_only_in_new", "regions crawled only in the new snapshot")):
        if out[key]:
            notes.append(f"{text} (not compared): {some(out[key], 10)}")
    if out["different_organizations"]:
        notes.append(f"the snapshots are of different organizations ({result['old']['organization_id']} and "
                     f"{result['new']['organization_id']}): accounts joining or leaving are not compared")
    return notes


def backwards(result: dict) -> str | None:
    """A warning when OLD was made after NEW (the arguments swapped?), else None."""
    if result["old"]["generated_at"] > result["new"]["generated_at"]:
        return (f"the old snapshot ({result['old']['generated_at']}) was made after the new one "
                f"({result['new']['generated_at']}): the changes read backwards")
    return None


def headline(result: dict) -> str:
    n = len(result["changes"])
    if not n:
        return "no changes"
    by_kind: dict[str, list[str]] = defaultdict(list)
    for c in result["counts"]:
        by_kind[KINDS[c["kind"]].lower()].append(f"{c['count']} {CHANGES[c['change']]}")
    return f"{n} change{'s' if n != 1 else ''}: " + "; ".join(f"{k} {', '.join(v)}" for k, v in by_kind.items())


def to_text(result: dict) -> str:
    lines = [f"archviz diff: {result['old']['generated_at']} → {result['new']['generated_at']}: {headline(result)}"]
    lines += [f"  not compared: {visible(note)}" for note in _scope_notes(result)]
    for c in result["changes"]:
        lines.append(f"{SYMBOL.get(c['change'], '~')} {c['kind']} {CHANGES[c['change']]}: {visible(c['summary'])}")
    return "\n".join(lines) + "\n"


def context(result: dict) -> dict:
    """What the markdown templates (``diff.md.j2``, and the section of ``index.md``) show."""
    sections = []
    for kind, title in KINDS.items():
        items = [c for c in result["changes"] if c["kind"] == kind]
        if items:
            sections.append({"title": title, "rows": [{"change": CHANGES[c["change"]], "summary": c["summary"],
                                                       "account": c["account_id"], "region": c["region"]}
                                                      for c in items]})
    return {"diff": result, "headline": headline(result), "sections": sections, "scope_notes": _scope_notes(result),
            "new_connections": len(new_connections(result)),
            "counts": [{"kind": KINDS[c["kind"]], "change": CHANGES[c["change"]], "count": c["count"]}
                       for c in result["counts"]]}


def to_markdown(result: dict) -> str:
    from archviz.render.pages import render_page

    return render_page("diff.md.j2", "diff.md", **context(result))


FORMATS = {"md": to_markdown, "json": to_json, "text": to_text}


def new_connections(result: dict) -> frozenset[str]:
    """Endpoint ids of connections that appeared (added, or newly visible): marked on the overview."""
    return frozenset(c["id"] for c in result["changes"] if c["kind"] == "connection" and c["change"] in APPEARED)
