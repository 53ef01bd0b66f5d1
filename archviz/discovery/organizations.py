"""Accounts (AWS Organizations) and regions."""

from __future__ import annotations

from typing import Any

from archviz.discovery.aws import paginate


def get_organization(org: Any) -> dict:
    return org.describe_organization()["Organization"]


def get_accounts(org: Any) -> list[dict]:
    return paginate(org, "list_accounts", "Accounts")


def transform_organization(organization: dict, accounts: list[dict]) -> dict:
    return {
        "id": organization.get("Id"),
        "management_account_id": organization.get("MasterAccountId"),
        "account_ids": sorted(a["Id"] for a in accounts),
    }


def get_regions(ec2: Any) -> list[dict]:
    return ec2.describe_regions(AllRegions=True)["Regions"]


def opted_in(regions: list[dict]) -> list[str]:
    """Regions the account can use: every region whose opt-in status is not ``not-opted-in``."""
    return sorted(r["RegionName"] for r in regions if r.get("OptInStatus") != "not-opted-in")
