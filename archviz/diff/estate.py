"""The differs of the estate's resources: connections (by endpoint id), endpoint services with
their allowed principals, acceptance and supported regions, and the targets behind load
balancers. Each is one entry of the table in :mod:`archviz.diff.core`."""

from __future__ import annotations

from typing import Iterator

from archviz.diff import alerts
from archviz.diff.core import SERVICES, Overlap, Side, Unit, change, differ, presence, region_unit
from archviz.errors import some
from archviz.model.estate import account_of_principal

def _connection_units(c: dict) -> list[Unit]:
    units = []
    if "consumer" in c["seen_from"]:
        units.append(region_unit(c["consumer_account_id"], c["consumer_region"]))
    if "provider" in c["seen_from"]:
        units.append(region_unit(c["provider_account_id"], c["provider_region"]))
    return units


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


@differ(("connection", "Connections"))
def connections(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    """Connections by endpoint id. One whose endpoint is now ``deleted`` is removed (AWS lists a
    deleted endpoint for a while; when it stops, the connection is not removed a second time)."""
    for eid in sorted(set(old.connections) | set(new.connections)):
        before, after = old.connections.get(eid), new.connections.get(eid)
        if after is None and before is not None and before["state"] in GONE:
            continue
        if after is not None and before is not None and after["state"] in GONE and before["state"] not in GONE:
            if any(overlap.covers(u) for u in _connection_units(after)):
                yield change("connection", "removed", eid, before["consumer_account_id"], before["consumer_region"],
                              f"connection {_connection_text(before, old)} (its endpoint is now deleted)",
                              _brief(before), _brief(after))
            continue
        if before is None or after is None:
            c, side = (before, old) if after is None else (after, new)
            how = presence(_connection_units(c), old, new, overlap, gone=after is None)
            if how:
                fired = alerts.connection_alerts(c, new) if after is not None else []
                yield change("connection", how, eid, c["consumer_account_id"], c["consumer_region"],
                              f"connection {_connection_text(c, side)}", before and _brief(before),
                              after and _brief(after), fired)
            continue
        if not any(overlap.covers(u) for u in _connection_units(before) + _connection_units(after)):
            continue
        fired = alerts.connection_alerts(after, new, before, old)
        if before["use_case"] != after["use_case"]:
            yield change("connection", "use-case", eid, after["consumer_account_id"], after["consumer_region"],
                          f"connection {eid}: use case {before['use_case']} → {after['use_case']} "
                          f"({_connection_text(after, new)})", _brief(before), _brief(after), fired)
            fired = []
        moved = [f"{label} {before[k]} → {after[k]}" for k, label in (("provider_account_id", "provider"),
                                                                      ("service_name", "service"))
                 if before[k] and after[k] and before[k] != after[k]]
        if moved and before["use_case"] == after["use_case"]:
            yield change("connection", "changed", eid, after["consumer_account_id"], after["consumer_region"],
                          f"connection {eid}: {', '.join(moved)} ({_connection_text(after, new)})",
                          _brief(before), _brief(after), fired)
            fired = []
        if before["state"] != after["state"] and before["state"] and after["state"]:
            yield change("connection", "state", eid, after["consumer_account_id"], after["consumer_region"],
                          f"connection {eid}: {before['state']} → {after['state']} ({_connection_text(after, new)})",
                          _brief(before), _brief(after), fired)



def _service_text(s: dict, side: Side) -> str:
    label = f"{s['name']} ({s['service_id']})" if s.get("name") else s["service_id"]
    return f"{label} of {side.name(s['account_id'])} in {s['region']}"


@differ(("endpoint-service", "Endpoint services"), ("principal", "Allowed principals"),
        ("acceptance", "Acceptance of connection requests"), ("supported-regions", "Supported regions"))
def endpoint_services(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    before_all, after_all = SERVICES.index(old.doc), SERVICES.index(new.doc)
    for sid in sorted(set(before_all) | set(after_all)):
        before, after = before_all.get(sid), after_all.get(sid)
        s = after or before
        unit = region_unit(s["account_id"], s["region"])
        if before is None or after is None:
            how = presence([unit], old, new, overlap, gone=after is None)
            if how:
                principals = sorted(_principals(s))
                fired = [a for p in principals for a in alerts.principal_alerts(sid, p, new)] if after is not None else []
                text = f"endpoint service {_service_text(s, new if after else old)}"
                if principals:
                    text += f", allowing {some(principals)}"
                yield change("endpoint-service", how, sid, s["account_id"], s["region"], text,
                              before and {"principals": principals}, after and {"principals": principals}, fired)
            continue
        if not (overlap.covers(unit) and new.ok(unit)):
            continue  # the service seen only in part now: its settings are not compared
        was, now = _principals(before), _principals(after)
        for p in sorted(now - was):
            how = "added" if old.ok(unit) else "newly-visible"  # after a crawl that failed: not known to be new
            yield change("principal", how, f"{sid}/{p}", s["account_id"], s["region"],
                          f"{_service_text(after, new)} {'now allows' if how == 'added' else 'allows'} "
                          f"{new_principal_text(p, new)}", None, p, alerts.principal_alerts(sid, p, new))
        if not old.ok(unit):
            continue  # removals and settings are compared between two complete views only
        for p in sorted(was - now):
            yield change("principal", "removed", f"{sid}/{p}", s["account_id"], s["region"],
                          f"{_service_text(after, new)} no longer allows {p}", p, None)
        if before["acceptance_required"] != after["acceptance_required"]:
            said = {True: "required", False: "not required (automatic)", None: "unknown"}
            yield change("acceptance", "changed", sid, s["account_id"], s["region"],
                          f"{_service_text(after, new)}: acceptance {said[before['acceptance_required']]} → "
                          f"{said[after['acceptance_required']]}", before["acceptance_required"],
                          after["acceptance_required"])
        was_r, now_r = _regions(before), _regions(after)
        if was_r != now_r:
            parts = [f"+{r}" for r in sorted(now_r - was_r)] + [f"-{r}" for r in sorted(was_r - now_r)]
            yield change("supported-regions", "changed", sid, s["account_id"], s["region"],
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


@differ(("target", "Load balancer targets"))
def targets(old: Side, new: Side, overlap: Overlap) -> Iterator[dict]:
    """Targets behind the load balancers, by balancer, target group, target and port: health
    changed, or registered and deregistered (compared only where both crawls of the balancer's
    unit were complete, as a failed call can leave a target group without its targets)."""
    before_all, after_all = _targets(old), _targets(new)
    for key in sorted(set(before_all) | set(after_all)):
        lb, tg, t = (after_all.get(key) or before_all[key])
        unit = region_unit(lb["account_id"], lb["region"])
        was, now = (before_all.get(key) or (None, None, None))[2], (after_all.get(key) or (None, None, None))[2]
        if not overlap.covers(unit) or (was and now and was.get("health") == now.get("health")):
            continue
        if (was is None or now is None) and not (old.ok(unit) and new.ok(unit)):
            continue
        port = f":{t['port']}" if t.get("port") is not None else ""
        what = f"target {t['id']}{port} of {tg.get('name') or tg['arn']} behind {lb.get('name') or lb['arn']}"
        health = lambda x: x.get("health") or "unknown"  # noqa: E731
        if was and now:
            yield change("target", "changed", "/".join(key[1:3]) + port, lb["account_id"], lb["region"],
                          f"{what}: {health(was)} → {health(now)}", was.get("health"), now.get("health"))
        else:
            yield change("target", "added" if now else "removed", "/".join(key[1:3]) + port, lb["account_id"],
                          lb["region"], f"{what} {'registered' if now else 'deregistered'} ({health(now or was)})",
                          None if now else was.get("health"), now.get("health") if now else None)


