"""The EC2 completion: patches that complete moto's EC2 PrivateLink, *at the double*.

moto (written against ``moto>=5.2.1,<5.3``) lacks parts of PrivateLink. ``install()`` patches
moto's ``EC2Response`` and ``VPCServiceConfiguration`` so the in-process moto answers these as
AWS does, across accounts and regions, without any change to the crawler:

- ``DescribeVpcEndpointConnections`` (filters ``service-id``, ``vpc-endpoint-owner``,
  ``vpc-endpoint-state``) from the provider's view, consumers in any account or region;
- ``AcceptVpcEndpointConnections`` / ``RejectVpcEndpointConnections``; an interface endpoint
  to a service with ``AcceptanceRequired`` starts in ``pendingAcceptance``;
- ``DescribeVpcEndpointServices`` shows a consumer the other accounts' services it may
  discover (allowed principal is its account root, or ``*``), with ``Owner`` set to the
  provider account, or ``aws-marketplace`` for services marked as Marketplace listings
  (``archviz.sandbox.marketplace``), and honours ``ServiceRegions``;
- ``CreateVpcEndpoint`` accepts ``ServiceRegion`` (cross-region PrivateLink) when the
  provider lists the consumer's region in ``SupportedRegions``, and
  ``DescribeVpcEndpoints`` returns it;
- a GWLB-backed service reports ``GatewayLoadBalancer`` (moto says ``Gateway``) and no endpoint
  policy support, its endpoints carry no policy, and allowed principals carry their
  ``PrincipalType`` (moto leaves it out).

It also tells which regions are not opted in (``not_opted_in``), for the WSGI layer
(``archviz.sandbox.faults``). The connections it records live in ``archviz.sandbox.state``.

Everything here touches moto internals; a test per behaviour (``tests/test_sandbox_layer.py``)
shows at once what a moto upgrade broke. ``install()`` is idempotent.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable

from archviz.sandbox.marketplace import MARKETPLACE_OWNER
from archviz.sandbox.state import STATE, Connection


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


@lru_cache(maxsize=1)
def not_opted_in() -> frozenset[str]:
    """The regions moto lists as not opted in (the same for every account)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = _ec2_backends()[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return frozenset(r.name for r in backend.describe_regions() if r.opt_in_status == "not-opted-in")


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


# --- install ------------------------------------------------------------------------------

_installed = False
_install_lock = threading.Lock()


def _remembering_accounts(original: Callable[[str], str]) -> Callable[[str], str]:
    """moto finds which account an access key belongs to by looking through every account's IAM
    backend in every partition, on every request: a thousand accounts make each request cost
    milliseconds more than with ten, which AWS does not. This remembers what it found, checking
    on each use that the key is still that account's (after a reset it may not be). The
    sandbox's own key is the management account's, never an IAM key."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.utilities.utils import PARTITION_NAMES

    from archviz.sandbox.server import SANDBOX_ACCESS_KEY

    found: dict[str, tuple[str, str]] = {}  # access key -> (account, partition)

    def get_account_id_from(access_key: str) -> str:
        if access_key == SANDBOX_ACCESS_KEY:
            return DEFAULT_ACCOUNT_ID
        where = found.get(access_key)
        if where is not None and where[0] in iam_backends and access_key in iam_backends[where[0]][where[1]].access_keys:
            return where[0]
        for account, per_partition in list(iam_backends.items()):  # moto's own search (original)
            for partition in PARTITION_NAMES:
                if access_key in per_partition[partition].access_keys:
                    found[access_key] = (account, partition)
                    return account
        return original(access_key)

    get_account_id_from._archviz_wrapped = True  # type: ignore[attr-defined]
    return get_account_id_from


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
        import moto.iam.models

        if not getattr(moto.iam.models.get_account_id_from, "_archviz_wrapped", False):
            moto.iam.models.get_account_id_from = _remembering_accounts(moto.iam.models.get_account_id_from)
        _installed = True

