"""The sandbox's WSGI layer in front of moto: request accounting and fault injection.

``SandboxApp`` wraps moto's dispatcher. For every request it

- counts it per (action, region) and per (caller account, region, service) in ``STATE``, so
  tests can see what a crawl spent, and per session access key (for the expiry below); waits
  ``STATE.latency`` seconds, so benchmarks resemble a network;
- answers EC2 in a region the account has not opted into with ``AuthFailure`` (401), as AWS
  does (moto answers there as anywhere);
- expires session credentials early, whatever ``Expiration`` they announced, so tests can see a
  long crawl outlive its credentials: a session access key (``ASIA...``: moto's ``AssumeRole``
  answers, a credential process's) that has served ``STATE.expire_after_requests`` requests, or
  whose first request is ``STATE.expire_after_seconds`` old, gets AWS's expired-token error on
  every later request (``RequestExpired`` from EC2, ``ExpiredToken`` from the other query
  services, ``ExpiredTokenException`` from the JSON ones; all 400), counted in ``STATE.expired``.
  The sandbox's long-term key (``AKIA...``) never expires;
- throttles a random share (``STATE.throttle``) of the PrivateLink calls (EC2, ELB) and of
  ``AssumeRole``, with each service's throttling error, for benchmarks;
- answers with the faults injected by ``STATE.add_fault``: any action, for a chosen account
  and region (``AccessDenied`` on ``AssumeRole``, throttling that recovers after N calls, ...);
- hands the Marketplace agreement API to ``archviz.sandbox.marketplace``, and everything else
  to moto.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from archviz.sandbox import marketplace
from archviz.sandbox.ec2 import not_opted_in
from archviz.sandbox.state import STATE, Fault
from archviz.sandbox.wire import Request, error_response

SESSION_KEY_PREFIX = "ASIA"  # AWS's prefix for temporary (STS) access key ids
EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"


def take_throttle(req: Request) -> Fault | None:
    """A throttling error for a share (``STATE.throttle``) of the PrivateLink and AssumeRole calls."""
    if req.service == "ec2" and req.action != "DescribeRegions":
        fault = Fault(req.action, "RequestLimitExceeded", "Request limit exceeded.", status=503)
    elif req.service == "elasticloadbalancing" or req.action == "AssumeRole":
        fault = Fault(req.action, "Throttling", "Rate exceeded", status=400)
    else:
        return None
    with STATE.lock:
        if STATE.rng.random() >= STATE.throttle:
            return None
        STATE.throttled[req.action] += 1
    return fault


def expired_fault(req: Request) -> Fault:
    """AWS's answer to expired session credentials, in the words of the request's protocol."""
    if req.protocol == "json":
        return Fault(req.action, "ExpiredTokenException", EXPIRED_TOKEN_MESSAGE)
    if req.service == "ec2":
        return Fault(req.action, "RequestExpired", "Request has expired.")
    return Fault(req.action, "ExpiredToken", EXPIRED_TOKEN_MESSAGE)


def take_expiry(req: Request) -> Fault | None:
    """The expired-token error for a session key past ``STATE.expire_after_requests`` requests or
    ``STATE.expire_after_seconds`` since its first request (both only grow: once expired, always)."""
    if not req.access_key.startswith(SESSION_KEY_PREFIX):
        return None
    now = time.monotonic()
    with STATE.lock:
        seen = STATE.key_requests[req.access_key]  # this request included (``_count``)
        age = now - STATE.key_first_seen.get(req.access_key, now)
        by_count = STATE.expire_after_requests is not None and seen > STATE.expire_after_requests
        by_age = STATE.expire_after_seconds is not None and age >= STATE.expire_after_seconds
        if not (by_count or by_age):
            return None
        STATE.expired[req.action] += 1
    return expired_fault(req)


def _count(req: Request) -> None:
    with STATE.lock:
        STATE.calls[(req.action, req.region)] += 1
        STATE.by_account[(req.account, req.region, req.service)] += 1
        STATE.last_request_at = time.monotonic()
        if req.access_key.startswith(SESSION_KEY_PREFIX):
            STATE.key_requests[req.access_key] += 1
            STATE.key_first_seen.setdefault(req.access_key, time.monotonic())
    if STATE.latency:
        time.sleep(STATE.latency)


def _fault_for(req: Request) -> Fault | None:
    """The error this request is to get instead of moto's answer, if any."""
    if req.service == "ec2" and req.region in not_opted_in():
        return Fault(req.action, "AuthFailure", "AWS was not able to validate the provided "
                     "access credentials", status=401)
    fault = take_expiry(req)
    if fault is not None:
        return fault
    if req.action and STATE.throttle:
        fault = take_throttle(req)
        if fault is not None:
            return fault
    if req.action and STATE.faults:
        # AssumeRole faults are keyed by the account being entered, not the caller.
        account = req.form.get("RoleArn", "::::").split(":")[4] if req.action == "AssumeRole" else req.account
        return STATE.take_fault(req.action, account, req.region)
    return None


class SandboxApp:
    """WSGI middleware in front of moto's dispatcher."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        with STATE.lock:
            STATE.in_flight += 1
        try:
            req = Request(environ)
            _count(req)
            fault = _fault_for(req)
            if fault is not None:
                return error_response(req, fault, start_response)
            if marketplace.is_agreement_request(req):
                return marketplace.handle(req, start_response)
            return self.app(environ, start_response)
        finally:
            with STATE.lock:
                STATE.in_flight -= 1
