"""One diagram per use case: its consumers and the services they reach, aggregated by
:data:`USE_CASE_LEVELS` until it fits."""

from __future__ import annotations

from collections import Counter

from archviz.model import vocab
from archviz.render import icons
from archviz.render.scene import Cluster, Picture, node_id
from archviz.render.view import USE_CASE_TITLES, View
from archviz.render.pictures.common import (INSIDE, OURS, OUTSIDE, PLAIN, by, connect_counted, fit,
                                            marked, plural, service_key, service_kind)

# (consumer grain, service grain), most detailed first.
USE_CASE_LEVELS = (("endpoint", "service"), ("vpc", "service"), ("account", "service"), ("account", "provider"),
                   ("region", "provider"), ("region", "all"))


def use_case(view: View, case: str) -> Picture:
    return fit(_use_case, len(USE_CASE_LEVELS), view, case)


def _consumer_grain(case: str, level: int) -> str:
    grain = USE_CASE_LEVELS[level][0]
    if case == "external-consumer" and grain != "region":
        return "region" if grain == "account" else "account"  # outside consumers: the account is the finest grain
    return grain


def _consumer_key(c: dict, grain: str):
    if grain == "region":
        return c["consumer_region"]
    if grain == "account":
        return c["consumer_account_id"]
    if grain == "vpc":
        return (c["consumer_account_id"], c["consumer_region"], c["consumer_vpc_id"] or "")
    return c["endpoint_id"]


def _use_case_consumer_regions(pic: Picture, conns: list[dict], outside: bool) -> dict:
    box = pic.root.cluster("consumers", "Outside the organization" if outside else "Consumers",
                           bgcolor=OUTSIDE if outside else INSIDE)
    nodes = {}
    for region, here in sorted(by(conns, lambda c: c["consumer_region"]).items()):
        accounts = len({c["consumer_account_id"] for c in here})
        nodes[region] = box.node("external-consumer" if outside else "endpoints:aggregate",
                                 [plural(accounts, "account"), plural(len(here), "endpoint"), region],
                                 node_id("consumers", region))
    return nodes


def _use_case_consumer_account(view: View, box: Cluster, acct: str, items: list[dict], grain: str) -> dict:
    """One account's consumers: a counted node, or per region its VPCs or endpoints."""
    link = view.link("account", acct)
    if grain == "account":
        return {acct: box.node("endpoints:aggregate", [plural(len(items), "endpoint")], node_id("agg", acct), **link)}
    nodes = {}
    for region, here in sorted(by(items, lambda c: c["consumer_region"]).items()):
        inner = box.cluster(f"acct-{acct}-{region}", region, bgcolor=PLAIN)
        if grain == "vpc":
            for (a, r, vpc), n in sorted(Counter(_consumer_key(c, "vpc") for c in here).items()):
                nodes[(a, r, vpc)] = inner.node("endpoints:aggregate", [plural(n, "endpoint"), vpc],
                                                node_id("agg", acct, region, vpc), **link)
            continue
        for c in here:
            lines, attrs = marked(view, c["endpoint_id"], [view.endpoint_label(c), c["endpoint_type"], c["state"]])
            nodes[c["endpoint_id"]] = inner.node(icons.endpoint_kind(c["endpoint_type"]), lines,
                                                 node_id(c["endpoint_id"]), **attrs)
    return nodes


def _use_case_consumers(view: View, pic: Picture, case: str, conns: list[dict], grain: str) -> dict:
    outside = case == "external-consumer"
    if grain == "region":
        nodes = _use_case_consumer_regions(pic, conns, outside)
    elif outside:
        box = pic.root.cluster("outside", "Outside the organization", bgcolor=OUTSIDE)
        nodes = {acct: box.node("external-consumer", [view.account_name(acct)], node_id("external", acct))
                 for acct in sorted({c["consumer_account_id"] for c in conns})}
    else:
        nodes = {}
        for acct, items in sorted(by(conns, lambda c: c["consumer_account_id"]).items()):
            box = pic.root.cluster(f"acct-{acct}", view.account_name(acct), bgcolor=INSIDE)
            nodes.update(_use_case_consumer_account(view, box, acct, items, grain))
    if grain != "endpoint" and not (outside and grain == "account"):
        pic.collapsed.append(f"{len(conns)} endpoints are drawn per {grain}; counted nodes link to the "
                             f"account's diagram or page.")
    return nodes


def _provider_title(view: View, owner: str, provider: str) -> str:
    return {vocab.AMAZON: "AWS", vocab.MARKETPLACE: "AWS Marketplace"}.get(owner) or view.account_name(provider or None)


def _use_case_services(view: View, pic: Picture, case: str, conns: list[dict], grain: str) -> dict:
    """The services reached: one node each, per provider, or all in one node."""
    services = {service_key(c): c for c in reversed(conns)}  # the first connection of each service
    by_provider = by(services, lambda k: (services[k]["provider_owner"] or "", services[k]["provider_account_id"] or ""))
    bgcolor = INSIDE if case in OURS else OUTSIDE
    if grain == "all":
        box = pic.root.cluster("providers", "Providers", bgcolor=bgcolor)
        pic.collapsed.append(f"{len(services)} services of {len(by_provider)} providers are drawn as one node "
                             f"(see the table below).")
        return {("all",): box.node("endpoint-service", [plural(len(services), "service"),
                                                         plural(len(by_provider), "provider")], node_id("svcall"))}
    nodes = {}
    for (owner, provider), keys in sorted(by_provider.items()):
        box = pic.root.cluster(f"provider-{owner}-{provider}", _provider_title(view, owner, provider), bgcolor=bgcolor)
        if grain == "provider":
            nodes[(owner, provider)] = box.node("endpoint-service", [plural(len(keys), "service")],
                                                node_id("svcagg", owner, provider))
            continue
        for key in sorted(keys):
            c = services[key]
            lines, attrs = marked(view, c["service_id"], [view.service_label(c), c["provider_region"]])
            nodes[key] = box.node(service_kind(c), lines, node_id("svc", *key), **attrs)
    if grain == "provider":
        pic.collapsed.append(f"{len(services)} services are drawn per provider.")
    return nodes


def _use_case(view: View, case: str, level: int) -> Picture:
    conns = sorted(view.by_case[case], key=lambda c: (c["consumer_account_id"], c["consumer_region"], c["endpoint_id"]))
    pic = Picture(view.names.diagram("use-case", case), f"Use case: {USE_CASE_TITLES[case]}")
    grain, service_grain = _consumer_grain(case, level), USE_CASE_LEVELS[level][1]
    nodes = _use_case_consumers(view, pic, case, conns, grain)
    nodes.update(_use_case_services(view, pic, case, conns, service_grain))
    edges = Counter()
    for c in conns:
        dst = {"all": ("all",), "provider": (c["provider_owner"] or "", c["provider_account_id"] or "")}.get(
            service_grain, service_key(c))
        edges[(_consumer_key(c, grain), dst, case, c["state"])] += 1
    connect_counted(pic, nodes, edges)
    pic.legend = [case]
    return pic
