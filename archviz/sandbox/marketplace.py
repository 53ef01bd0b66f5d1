"""A fake AWS Marketplace for the sandbox: the agreement API moto does not have.

- ``marketplace-agreement:SearchAgreements`` answers a buyer account with the agreements seeded
  in ``STATE.agreements`` (filters ``PartyType``, ``AgreementType``, ``Status``; paginated);
  any other action of the agreement API answers ``UnsupportedOperation``;
- ``MARKETPLACE_OWNER`` is the ``Owner`` the EC2 completion (``archviz.sandbox.ec2``) reports
  for endpoint services marked in ``STATE.marketplace_services`` as Marketplace listings.

The WSGI layer (``archviz.sandbox.faults``) hands this module the requests whose
``X-Amz-Target`` is the agreement API's (``is_agreement_request``).
"""

from __future__ import annotations

import json
from typing import Callable

from archviz.sandbox.state import STATE, Fault
from archviz.sandbox.wire import Request, error_response, respond

MARKETPLACE_OWNER = "aws-marketplace"
AGREEMENT_TARGET_PREFIX = "AWSMPCommerceService_v20200301."


def is_agreement_request(req: Request) -> bool:
    return req.target.startswith(AGREEMENT_TARGET_PREFIX)


def search_agreements(req: Request, start_response: Callable) -> list[bytes]:
    """``marketplace-agreement:SearchAgreements`` for the caller as buyer (acceptor)."""
    filters = {f.get("name"): set(f.get("values") or []) for f in req.params.get("filters") or []}
    rows = []
    for a in STATE.agreements.get(req.account, []):
        if "PartyType" in filters and "Acceptor" not in filters["PartyType"]:
            continue
        if "AgreementType" in filters and a["agreementType"] not in filters["AgreementType"]:
            continue
        if "Status" in filters and a["status"] not in filters["Status"]:
            continue
        rows.append(a)
    start = int(req.params.get("nextToken") or 0)
    size = int(req.params.get("maxResults") or 50)
    page = {"agreementViewSummaries": rows[start : start + size]}
    if start + size < len(rows):
        page["nextToken"] = str(start + size)
    return respond(start_response, 200, json.dumps(page).encode(), "application/x-amz-json-1.0")


def handle(req: Request, start_response: Callable) -> list[bytes]:
    """Answer a request to the agreement API (``is_agreement_request``)."""
    if req.action == "SearchAgreements":
        return search_agreements(req, start_response)
    return error_response(req, Fault(req.action, "UnsupportedOperation",
                                     f"{req.action} is not modelled by the archviz sandbox"), start_response)
