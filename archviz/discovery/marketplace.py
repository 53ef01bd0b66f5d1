"""Marketplace, buyer side: the purchase agreements an account has accepted.

No AWS API links an agreement to an endpoint service; linking is the model's job, and it
must say how a link was made."""

from __future__ import annotations

from typing import Any

from archviz.discovery.aws import AccountSession, paginate
from archviz.discovery.common import iso
from archviz.discovery.unit import Unit

# The Agreement API is served from us-east-1 only.
AGREEMENT_REGION = "us-east-1"
BUYER_FILTERS = [
    {"name": "PartyType", "values": ["Acceptor"]},
    {"name": "AgreementType", "values": ["PurchaseAgreement"]},
]


def collect(unit: Unit, session: AccountSession, region: str) -> None:
    """The account's purchase agreements (one unit per account: the API lives in one region)."""
    raw = unit.attempt("aws-marketplace:SearchAgreements", get_agreements,
                       session.client("marketplace-agreement", region), default=[])
    unit.records["marketplace_agreements"] = transform_agreements(raw, session.account_id)


def get_agreements(client: Any) -> list[dict]:
    return paginate(client, "search_agreements", "agreementViewSummaries",
                    catalog="AWSMarketplace", filters=BUYER_FILTERS)


def transform_agreements(raw: list[dict], account_id: str) -> list[dict]:
    records = []
    for a in raw:
        resources = (a.get("proposalSummary") or {}).get("resources") or [{}]
        records.append({
            "account_id": account_id,
            "agreement_id": a["agreementId"],
            "product_id": resources[0].get("id"),
            "product_type": resources[0].get("type"),
            "offer_id": (a.get("proposalSummary") or {}).get("offerId"),
            "status": a.get("status"),
            "proposer_account_id": (a.get("proposer") or {}).get("accountId"),
            "start_time": iso(a.get("startTime")),
            "end_time": iso(a.get("endTime")),
        })
    return records
