"""Who connects to what: one connection per endpoint, merged from both sides.

The consumer's endpoint and the provider's connection record describe the same endpoint
id and become one connection. Provider resolution order: a crawled endpoint service with
the same name in the service's region, then the consumer's view of the service's owner,
then the ARN of a resource configuration or service network; organization membership
then decides between the internal and third-party use cases."""

from __future__ import annotations

from collections import defaultdict

from archviz.model.estate import Estate, account_of_arn, ref
from archviz.model.vocab import AMAZON, MARKETPLACE

HEURISTIC = "heuristic: the account's only active agreement and only Marketplace service"


def use_case(consumer: str | None, owner: str | None, provider: str | None, estate: Estate) -> str:
    if owner == AMAZON:
        return "aws-service"
    if owner == MARKETPLACE:
        return "marketplace"
    if provider is None:
        return "unresolved"
    if provider == consumer:
        return "internal-same-account"
    if provider in estate.members:
        return "internal-cross-account"
    return "third-party"


def _from_endpoint(e: dict, estate: Estate) -> dict:
    evidence = [ref("endpoints", e["endpoint_id"])]
    service = estate.services_by_name.get((e["service_name"], e["service_region"]))
    detail = estate.detail_for(e)
    owner = provider = service_id = None
    how = "none"
    if service is not None:
        provider, service_id, how = service["account_id"], service["service_id"], "crawled endpoint service"
        owner = MARKETPLACE if detail and detail["owner"] == MARKETPLACE else provider
        evidence.append(ref("endpoint_services", service_id))
    if detail is not None and detail["visible"]:
        evidence.append(ref("service_details", e["account_id"], e["region"], e["service_name"]))
        if service is None:
            owner, service_id, how = detail["owner"], detail["service_id"], "consumer's service details"
            provider = owner if owner not in (AMAZON, MARKETPLACE) else None
    if owner is None and e["type"] in ("Resource", "ServiceNetwork"):
        target = e.get("resource_configuration_arn") or e.get("service_network_arn")
        provider = owner = account_of_arn(target)
        how = "target ARN" if provider else "none"
    conn = estate.provider_connections.get(e["endpoint_id"])
    if conn is not None:
        evidence.append(ref("endpoint_connections", conn["service_id"], e["endpoint_id"]))
    return {
        "endpoint_id": e["endpoint_id"],
        "endpoint_type": e["type"],
        "endpoint_name": e.get("name"),
        "consumer_account_id": e["account_id"],
        "consumer_region": e["region"],
        "consumer_vpc_id": e["vpc_id"],
        "service_name": e["service_name"] or e.get("resource_configuration_arn") or e.get("service_network_arn"),
        "service_id": service_id,
        "provider_account_id": provider,
        "provider_region": e["service_region"],
        "provider_owner": owner,
        "use_case": use_case(e["account_id"], owner, provider, estate),
        "state": e["state"],
        "provider_state": conn["state"] if conn else None,
        "cross_region": e["service_region"] != e["region"],
        "load_balancer_arns": service["load_balancer_arns"] if service else [],
        "seen_from": ["consumer", "provider"] if conn else ["consumer"],
        "resolved_by": how,
        "evidence": evidence,
    }


def _from_provider(c: dict, estate: Estate) -> dict:
    """A connection only the provider saw: the consumer account was not crawled."""
    service = estate.services_by_id.get(c["service_id"])
    owner = c["account_id"]
    consumer = c["endpoint_owner"]
    if consumer == owner:
        case = "internal-same-account"
    elif consumer in estate.members:
        case = "internal-cross-account"
    else:
        case = "external-consumer"
    kind = service["type"] if service and service["type"] in ("Interface", "GatewayLoadBalancer") else None
    return {
        "endpoint_id": c["endpoint_id"],
        "endpoint_type": kind,
        "endpoint_name": None,
        "consumer_account_id": consumer,
        "consumer_region": c["endpoint_region"],
        "consumer_vpc_id": None,
        "service_name": service["service_name"] if service else None,
        "service_id": c["service_id"],
        "provider_account_id": owner,
        "provider_region": c["region"],
        "provider_owner": owner,
        "use_case": case,
        "state": c["state"],
        "provider_state": c["state"],
        "cross_region": c["endpoint_region"] != c["region"],
        "load_balancer_arns": service["load_balancer_arns"] if service else [],
        "seen_from": ["provider"],
        "resolved_by": "provider connection",
        "evidence": [ref("endpoint_connections", c["service_id"], c["endpoint_id"])],
    }


def _only_active(agreements: dict[str, dict]) -> dict | None:
    active = [a for a in agreements.values() if (a["status"] or "").upper() == "ACTIVE"]
    return active[0] if len(active) == 1 else None


def link_marketplace(connections: list[dict], estate: Estate, links: dict[str, str]) -> None:
    """Attach a Marketplace agreement to each marketplace connection, saying how.

    No AWS API links an agreement to an endpoint service, so a link is either the user's
    (``marketplace_links`` in the config: service name -> agreement id) or a heuristic: the
    consumer account has exactly one active agreement for exactly one Marketplace service.
    What the heuristic needs is gathered once per account, not once per connection, so that
    linking stays linear in the number of Marketplace connections."""
    market = [c for c in connections if c["use_case"] == "marketplace"]
    services: dict[str, set] = defaultdict(set)  # consumer account -> its Marketplace service names
    for c in market:
        services[c["consumer_account_id"]].add(c["service_name"])
    only = {account: _only_active(estate.agreements.get(account, {}))
            for account, names in services.items() if len(names) == 1}
    for c in market:
        wanted = links.get(c["service_name"] or "")
        if wanted:
            chosen, how = estate.agreements.get(c["consumer_account_id"], {}).get(wanted), "mapping"
        else:
            chosen, how = only.get(c["consumer_account_id"]), HEURISTIC
        how = how if chosen else None
        c["marketplace"] = {
            "agreement_id": chosen["agreement_id"] if chosen else None,
            "product_id": chosen["product_id"] if chosen else None,
            "link": how,
        }
        if chosen:
            c["evidence"].append(ref("marketplace_agreements", c["consumer_account_id"], chosen["agreement_id"]))


def build_connections(estate: Estate, marketplace_links: dict[str, str] | None = None) -> list[dict]:
    connections = [_from_endpoint(e, estate) for e in estate.doc["endpoints"]]
    seen = {c["endpoint_id"] for c in connections}
    connections += [_from_provider(c, estate) for c in estate.doc["endpoint_connections"] if c["endpoint_id"] not in seen]
    link_marketplace(connections, estate, marketplace_links or {})
    return sorted(connections, key=lambda c: c["endpoint_id"])
