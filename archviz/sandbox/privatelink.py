"""PrivateLink completion layer over moto: fills the test double's gaps *at the double*.

moto (written against ``moto>=5.2.1,<5.3``) lacks parts of PrivateLink. This module makes
the in-process moto answer these as AWS does, across accounts and regions, without any
change to the crawler:

- ``DescribeVpcEndpointConnections`` (filters ``service-id``, ``vpc-endpoint-owner``,
  ``vpc-endpoint-state``) from the provider's view, consumers in any account or region;
- ``AcceptVpcEndpointConnections`` / ``RejectVpcEndpointConnections``; an interface endpoint
  to a service with ``AcceptanceRequired`` starts in ``pendingAcceptance``;
- ``DescribeVpcEndpointServices`` shows a consumer the other accounts' services it may
  discover (allowed principal is its account root, or ``*``), with ``Owner`` set to the
  provider account, or ``aws-marketplace`` for services marked as Marketplace listings,
  and honours ``ServiceRegions``;
- ``CreateVpcEndpoint`` accepts ``ServiceRegion`` (cross-region PrivateLink) when the
  provider lists the consumer's region in ``SupportedRegions``, and
  ``DescribeVpcEndpoints`` returns it;
- a GWLB-backed service reports ``GatewayLoadBalancer`` (moto says ``Gateway``) and no endpoint
  policy support, its endpoints carry no policy, and allowed principals carry their
  ``PrincipalType`` (moto leaves it out);
- ``marketplace-agreement:SearchAgreements`` for buyer accounts (moto has no such service);
- a count of the requests received per (action, region), so tests can see what a crawl spent,
  and an optional latency per request, so benchmarks resemble a network;
- EC2 in a region the account has not opted into answers ``AuthFailure`` (401), as AWS does
  (moto answers there as anywhere);
- optional random throttling of a share of the PrivateLink calls (EC2, ELB) and of
  ``AssumeRole``, answered with each service's throttling error, for benchmarks;
- fault injection: any action, for a chosen account and region, answers with an AWS error
  (``AccessDenied`` on ``AssumeRole``, throttling that recovers after N calls, ...).

Everything here touches moto internals; a test per behaviour (``tests/test_sandbox_layer.py``)
shows at once what a moto upgrade broke. ``install()`` is idempotent.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import parse_qs

MARKETPLACE_OWNER = "aws-marketplace"
AGREEMENT_TARGET_PREFIX = "AWSMPCommerceService_v20200301."


@dataclass
class Connection:
    service_id: str
    provider_account: str
    provider_region: str
    endpoint_id: str
    endpoint_owner: str
    endpoint_region: str
    state: str
    created: datetime


@dataclass
class Fault:
    action: str
    code: str
    message: str
    account: str | None = None  # the caller's account (for AssumeRole: the target account)
    region: str | None = None
    status: int = 400
    times: int | None = None  # None: every time; N: the first N matching calls, then recover
    fired: int = 0


@dataclass
class SandboxState:
    """What moto does not model: connections, Marketplace marks and agreements, faults."""

    connections: dict[str, Connection] = field(default_factory=dict)
    marketplace_services: set[str] = field(default_factory=set)  # service ids
    agreements: dict[str, list[dict]] = field(default_factory=dict)  # buyer account -> agreements
    faults: list[Fault] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)  # (action, region) -> requests received
    by_account: Counter = field(default_factory=Counter)  # (caller account, region, service) -> requests
    latency: float = 0.0  # seconds added to every request, to make a benchmark look like a network
    throttle: float = 0.0  # share of EC2, ELB and AssumeRole requests answered with a throttling error
    throttled: Counter = field(default_factory=Counter)  # action -> requests throttled
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.by_account.clear()
            self.latency = 0.0
            self.throttle = 0.0
            self.throttled.clear()
            self.rng = random.Random(7)
            self.connections.clear()
            self.marketplace_services.clear()
            self.agreements.clear()
            self.faults.clear()

    def add_fault(self, action: str, code: str, message: str = "", **kw: Any) -> Fault:
        fault = Fault(action=action, code=code, message=message or f"{code} (injected by the archviz sandbox)", **kw)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, action: str, account: str | None, region: str | None) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.action != action or (fault.account and fault.account != account):
                    continue
                if fault.region and fault.region != region:
                    continue
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                fault.fired += 1
                return fault
        return None

    def take_throttle(self, req: "Request") -> Fault | None:
        """A throttling error for a share (``throttle``) of the PrivateLink and AssumeRole calls."""
        if req.service == "ec2" and req.action != "DescribeRegions":
            fault = Fault(req.action, "RequestLimitExceeded", "Request limit exceeded.", status=503)
        elif req.service == "elasticloadbalancing" or req.action == "AssumeRole":
            fault = Fault(req.action, "Throttling", "Rate exceeded", status=400)
        else:
            return None
        with self.lock:
            if self.rng.random() >= self.throttle:
                return None
            self.throttled[req.action] += 1
        return fault


STATE = SandboxState()


@lru_cache(maxsize=1)
def _not_opted_in() -> frozenset[str]:
    """The regions moto lists as not opted in (the same for every account)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = _ec2_backends()[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return frozenset(r.name for r in backend.describe_regions() if r.opt_in_status == "not-opted-in")


_installed = False
_install_lock = threading.Lock()


# --- moto lookups -------------------------------------------------------------------------

def _ec2_backends():
    from moto.ec2.models import ec2_backends

    return ec2_backends


def _all_service_configurations(region: str | None = None):
    """(account, region, configuration) for every endpoint service moto holds."""
    for account_id, per_region in list(_ec2_backends().items()):
        for region_name, backend in list(per_region.items()):
            if region is not None and region_name != region:
                continue
            for config in list(backend.configurations.values()):
                yield account_id, region_name, config


def find_service(name: str, region: str):
    for account_id, _, config in _all_service_configurations(region):
        if config.service_name == name:
            return account_id, config
    return None, None


def may_discover(config: Any, provider: str, consumer: str) -> bool:
    """AWS rule: the provider itself, ``*``, or the consumer's account root (or the bare id)."""
    if provider == consumer:
        return True
    allowed = set(config.principals)
    return "*" in allowed or bool({f"arn:aws:iam::{consumer}:root", consumer} & allowed)


def _service_detail(config: Any, provider: str, region: str) -> dict:
    detail = config.to_dict()
    detail["Owner"] = MARKETPLACE_OWNER if config.id in STATE.marketplace_services else provider
    detail["ServiceRegion"] = region
    if config._service_type_name == "GatewayLoadBalancer":  # AWS: GWLB endpoints take no policy
        detail["VpcEndpointPolicySupported"] = False
    return detail


# --- EC2 response methods added to / wrapped on moto's EC2Response -------------------------

def describe_vpc_endpoint_services(self: Any) -> Any:
    """Replaces moto's: adds the other accounts' services this account may discover."""
    from moto.core.responses import ActionResult

    backend = self.ec2_backend
    consumer = self.current_account
    regions = self._get_param("ServiceRegions", []) or [self.region]
    names = self._get_param("ServiceNames", [])
    services: list[dict] = []
    for region in regions:
        for svc in backend._collect_default_endpoint_services(consumer, region):
            services.append(dict(svc, ServiceRegion=region))
        for provider, _, config in _all_service_configurations(region):
            if may_discover(config, provider, consumer):
                services.append(_service_detail(config, provider, region))
    from moto.ec2.exceptions import InvalidServiceName

    known = {s["ServiceName"] for s in services}
    for name in names:
        if name not in known:
            raise InvalidServiceName(name)
    found = sorted(backend._filter_endpoint_services(names, self._get_param("Filters", []), services),
                   key=lambda s: (s["ServiceName"], s.get("ServiceId", "")))
    return ActionResult({"ServiceNames": sorted({s["ServiceName"] for s in found}), "ServiceDetails": found})


def _wrap_create_vpc_endpoint(original: Callable) -> Callable:
    def create_vpc_endpoint(self: Any) -> Any:
        from moto.ec2.exceptions import EC2ClientError, InvalidServiceName

        consumer, region = self.current_account, self.region
        name = self._get_param("ServiceName")
        service_region = self._get_param("ServiceRegion") or region
        provider, config = find_service(name, service_region)
        if config is not None:
            if not may_discover(config, provider, consumer):
                raise InvalidServiceName(name)
            if service_region != region and region not in config._supported_region_names:
                raise EC2ClientError("InvalidParameter",
                                     f"The service {name} does not support the region {region}.")
        elif service_region != region:
            raise InvalidServiceName(name)
        result = original(self)
        endpoint = result.result["VpcEndpoint"]
        endpoint.service_region = service_region
        if endpoint.vpc_endpoint_type == "GatewayLoadBalancer":
            endpoint.policy_document = None  # AWS gives GWLB endpoints no policy; moto attaches full access
        if config is not None:
            pending = config.acceptance_required and endpoint.vpc_endpoint_type != "Gateway"
            endpoint.state = "pendingAcceptance" if pending else "available"
            with STATE.lock:
                STATE.connections[endpoint.id] = Connection(
                    service_id=config.id, provider_account=provider, provider_region=service_region,
                    endpoint_id=endpoint.id, endpoint_owner=consumer, endpoint_region=region,
                    state=endpoint.state, created=datetime.now(timezone.utc).replace(microsecond=0))
        return result

    create_vpc_endpoint._archviz_wrapped = True  # type: ignore[attr-defined]
    return create_vpc_endpoint


def describe_vpc_endpoint_connections(self: Any) -> Any:
    from moto.core.responses import ActionResult

    filters = self._filters_from_querystring()
    provider, region = self.current_account, self.region
    rows = []
    with STATE.lock:
        conns = sorted(STATE.connections.values(), key=lambda c: (c.service_id, c.endpoint_id))
    for c in conns:
        if (c.provider_account, c.provider_region) != (provider, region):
            continue
        if "service-id" in filters and c.service_id not in filters["service-id"]:
            continue
        if "vpc-endpoint-owner" in filters and c.endpoint_owner not in filters["vpc-endpoint-owner"]:
            continue
        if "vpc-endpoint-state" in filters and c.state.lower() not in {v.lower() for v in filters["vpc-endpoint-state"]}:
            continue
        config = self.ec2_backend.configurations.get(c.service_id)
        row = {
            "ServiceId": c.service_id, "VpcEndpointId": c.endpoint_id, "VpcEndpointOwner": c.endpoint_owner,
            "VpcEndpointState": c.state, "CreationTimestamp": c.created,
            "VpcEndpointConnectionId": f"vpce-con-{c.endpoint_id[5:]}",
            "NetworkLoadBalancerArns": list(getattr(config, "network_load_balancer_arns", [])),
            "GatewayLoadBalancerArns": list(getattr(config, "gateway_load_balancer_arns", [])),
        }
        if c.endpoint_region != c.provider_region:
            row["VpcEndpointRegion"] = c.endpoint_region
        rows.append(row)
    return ActionResult({"VpcEndpointConnections": rows})


def principal_type(principal: str) -> str:
    """AWS's ``PrincipalType`` for an allowed principal (moto leaves it out)."""
    if principal == "*":
        return "All"
    if principal.endswith(":root") or principal.isdigit():
        return "Account"
    for kind in ("role", "user"):
        if f":{kind}/" in principal:
            return kind.capitalize()
    return "Service" if principal.endswith(".amazonaws.com") else "OrganizationUnit"


def describe_vpc_endpoint_service_permissions(self: Any) -> Any:
    from moto.core.responses import ActionResult

    principals = self.ec2_backend.describe_vpc_endpoint_service_permissions(self._get_param("ServiceId"))
    return ActionResult({"AllowedPrincipals": [
        {"Principal": p, "PrincipalType": principal_type(p)} for p in sorted(principals)]})


def _decide(self: Any, new_state: str) -> Any:
    from moto.core.responses import ActionResult

    service_id = self._get_param("ServiceId")
    config = self.ec2_backend.configurations.get(service_id)
    if config is None:
        from moto.ec2.exceptions import UnknownVpcEndpointService

        raise UnknownVpcEndpointService(service_id)
    unsuccessful = []
    for endpoint_id in self._get_param("VpcEndpointIds", []):
        with STATE.lock:
            conn = STATE.connections.get(endpoint_id)
            if conn is None or conn.service_id != service_id:
                unsuccessful.append({"ResourceId": endpoint_id, "Error": {
                    "Code": "InvalidVpcEndpointId.NotFound",
                    "Message": f"The Vpc Endpoint Id '{endpoint_id}' does not exist"}})
                continue
            conn.state = new_state
        consumer = _ec2_backends()[conn.endpoint_owner][conn.endpoint_region]
        endpoint = consumer.vpc_end_points.get(endpoint_id)
        if endpoint is not None:
            endpoint.state = new_state
    return ActionResult({"Unsuccessful": unsuccessful})


def accept_vpc_endpoint_connections(self: Any) -> Any:
    return _decide(self, "available")


def reject_vpc_endpoint_connections(self: Any) -> Any:
    return _decide(self, "rejected")


def _wrap_service_configuration_init(original: Callable) -> Callable:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self._service_type_name == "Gateway":  # AWS: GWLB-backed services are GatewayLoadBalancer
            self._service_type_name = "GatewayLoadBalancer"

    __init__._archviz_wrapped = True  # type: ignore[attr-defined]
    return __init__


def install() -> None:
    """Patch moto once; safe to call again."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
        from moto.ec2.responses import EC2Response

        EC2Response.describe_vpc_endpoint_services = describe_vpc_endpoint_services
        EC2Response.describe_vpc_endpoint_connections = describe_vpc_endpoint_connections
        EC2Response.describe_vpc_endpoint_service_permissions = describe_vpc_endpoint_service_permissions
        EC2Response.accept_vpc_endpoint_connections = accept_vpc_endpoint_connections
        EC2Response.reject_vpc_endpoint_connections = reject_vpc_endpoint_connections
        if not getattr(EC2Response.create_vpc_endpoint, "_archviz_wrapped", False):
            EC2Response.create_vpc_endpoint = _wrap_create_vpc_endpoint(EC2Response.create_vpc_endpoint)
        if not getattr(VPCServiceConfiguration.__init__, "_archviz_wrapped", False):
            VPCServiceConfiguration.__init__ = _wrap_service_configuration_init(VPCServiceConfiguration.__init__)
        _installed = True


# --- WSGI middleware: services moto lacks, and injected faults -----------------------------

class Request:
    """The parts of an AWS request the middleware needs (body is read once and put back)."""

    def __init__(self, environ: dict):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(self.body)
        environ["CONTENT_LENGTH"] = str(len(self.body))
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/") if "Credential=" in auth else []
        self.access_key = scope[0] if scope else ""
        self.region = scope[2] if len(scope) > 2 else None
        self.service = scope[3] if len(scope) > 3 else None
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            self.protocol = "json"
            self.action = target.rsplit(".", 1)[-1]
            self.target = target
            try:
                self.params = json.loads(self.body or b"{}")
            except ValueError:
                self.params = {}
        else:
            self.protocol = "query"
            self.target = ""
            form = parse_qs(self.body.decode("utf-8", "replace")) if self.body else {}
            form.update(parse_qs(environ.get("QUERY_STRING", "")))
            self.form = {k: v[0] for k, v in form.items()}
            self.action = self.form.get("Action", "")
            self.params = {}

    @property
    def account(self) -> str:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(self.access_key)


def _respond(start_response: Callable, status: int, body: bytes, content_type: str, extra=()) -> list[bytes]:
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                          ("x-amzn-RequestId", str(uuid.uuid4())), *extra])
    return [body]


def error_response(req: Request, fault: Fault, start_response: Callable) -> list[bytes]:
    """An AWS error in the request's own protocol (EC2 query, other query, or JSON)."""
    from xml.sax.saxutils import escape

    if req.protocol == "json":
        body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        return _respond(start_response, fault.status, body, "application/x-amz-json-1.0",
                        [("x-amzn-ErrorType", fault.code)])
    code, message = escape(fault.code), escape(fault.message)
    if req.service == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>")
    else:
        body = (f'<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>'
                f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return _respond(start_response, fault.status, body.encode(), "text/xml")


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
    return _respond(start_response, 200, json.dumps(page).encode(), "application/x-amz-json-1.0")


class SandboxApp:
    """WSGI middleware in front of moto's dispatcher."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        req = Request(environ)
        account = req.account
        with STATE.lock:
            STATE.calls[(req.action, req.region)] += 1
            STATE.by_account[(account, req.region, req.service)] += 1
        if STATE.latency:
            time.sleep(STATE.latency)
        if req.service == "ec2" and req.region in _not_opted_in():
            return error_response(req, Fault(req.action, "AuthFailure", "AWS was not able to validate the provided "
                                             "access credentials", status=401), start_response)
        if req.action and STATE.throttle:
            fault = STATE.take_throttle(req)
            if fault is not None:
                return error_response(req, fault, start_response)
        if req.action and STATE.faults:
            # AssumeRole faults are keyed by the account being entered, not the caller.
            account = req.form.get("RoleArn", "::::").split(":")[4] if req.action == "AssumeRole" else req.account
            fault = STATE.take_fault(req.action, account, req.region)
            if fault is not None:
                return error_response(req, fault, start_response)
        if req.target.startswith(AGREEMENT_TARGET_PREFIX):
            if req.action == "SearchAgreements":
                return search_agreements(req, start_response)
            return error_response(req, Fault(req.action, "UnsupportedOperation",
                                             f"{req.action} is not modelled by the archviz sandbox"), start_response)
        return self.app(environ, start_response)
