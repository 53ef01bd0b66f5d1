"""Accounts (AWS Organizations), the organization's OU tree, and regions."""

from __future__ import annotations

from typing import Any, Callable

from archviz.discovery.aws import paginate, together


def get_organization(org: Any) -> dict:
    return org.describe_organization()["Organization"]


def get_accounts(org: Any) -> list[dict]:
    return paginate(org, "list_accounts", "Accounts")


def get_tree(org: Any, fan_out: Callable[..., list] = together) -> dict[str, Any]:
    """The OU tree, level by level: ``Roots``; ``OrganizationalUnits`` as (parent id, OU) pairs;
    ``Accounts`` as (parent id, account id) pairs. The parents of one level are asked at once
    (``fan_out``), so the tree costs about two round trips per level of depth."""
    roots = paginate(org, "list_roots", "Roots")
    units: list[tuple[str, dict]] = []
    accounts: list[tuple[str, str]] = []
    level = [r["Id"] for r in roots]
    seen = set(level)  # an answer naming a parent twice (a cycle) is not walked again
    while level:
        answers = fan_out(*(lambda parent=parent: (
            paginate(org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent),
            paginate(org, "list_accounts_for_parent", "Accounts", ParentId=parent)) for parent in level))
        next_level = []
        for parent, (ous, accts) in zip(level, answers):
            accounts.extend((parent, a["Id"]) for a in accts)
            for ou in ous:
                if ou["Id"] not in seen:
                    seen.add(ou["Id"])
                    units.append((parent, ou))
                    next_level.append(ou["Id"])
        level = sorted(next_level)
    return {"Roots": roots, "OrganizationalUnits": units, "Accounts": accounts}


def transform_organization(organization: dict, accounts: list[dict], tree: dict | None = None) -> dict:
    units = [] if tree is None else [{"id": ou["Id"], "name": ou.get("Name"), "parent_id": parent}
                                     for parent, ou in tree["OrganizationalUnits"]]
    return {
        "id": organization.get("Id"),
        "management_account_id": organization.get("MasterAccountId"),
        "account_ids": sorted(a["Id"] for a in accounts),
        "root_id": tree["Roots"][0]["Id"] if tree and tree["Roots"] else None,
        "organizational_units": sorted(units, key=lambda u: u["id"]),
    }


def placement(tree: dict | None) -> dict[str, tuple[str, list]]:
    """Each account's parent (an OU or the root) and the names of the OUs from the root down."""
    if tree is None:
        return {}
    parent_of = {ou["Id"]: parent for parent, ou in tree["OrganizationalUnits"]}
    name_of = {ou["Id"]: ou.get("Name") for _, ou in tree["OrganizationalUnits"]}

    def path(node: str) -> list:
        names, seen = [], set()
        while node in parent_of and node not in seen:  # the root has no parent; a cycle is not trusted
            seen.add(node)
            names.append(name_of[node])
            node = parent_of[node]
        return names[::-1]

    return {account: (parent, path(parent)) for parent, account in tree["Accounts"]}


def under(tree: dict, ou_ids: list[str]) -> set[str]:
    """The accounts under these OUs (or roots), at any depth."""
    children: dict[str, list[str]] = {}
    for parent, ou in tree["OrganizationalUnits"]:
        children.setdefault(parent, []).append(ou["Id"])
    wanted, stack = set(), list(ou_ids)
    while stack:
        node = stack.pop()
        if node not in wanted:
            wanted.add(node)
            stack.extend(children.get(node, []))
    return {account for parent, account in tree["Accounts"] if parent in wanted}


def known_nodes(tree: dict) -> set[str]:
    return {r["Id"] for r in tree["Roots"]} | {ou["Id"] for _, ou in tree["OrganizationalUnits"]}


def get_regions(ec2: Any) -> list[dict]:
    return ec2.describe_regions(AllRegions=True)["Regions"]


def opted_in(regions: list[dict]) -> list[str]:
    """Regions the account can use: every region whose opt-in status is not ``not-opted-in``."""
    return sorted(r["RegionName"] for r in regions if r.get("OptInStatus") != "not-opted-in")
