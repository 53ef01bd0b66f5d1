"""The sandbox's own state: what moto does not model, shared by the sandbox's layers.

One process-wide ``STATE`` holds the endpoint connections the EC2 completion records
(``archviz.sandbox.ec2``), the Marketplace marks and agreements (``archviz.sandbox.marketplace``),
and the request counters, latency, throttling, credential expiry and injected faults of the
WSGI layer (``archviz.sandbox.faults``). Tests and the demo seed and read it directly;
``reset()`` forgets everything, and ``lock`` guards it (the sandbox serves requests on several
threads).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    """What moto does not model: connections, Marketplace marks and agreements, expiry, faults."""

    connections: dict[str, Connection] = field(default_factory=dict)
    marketplace_services: set[str] = field(default_factory=set)  # service ids
    agreements: dict[str, list[dict]] = field(default_factory=dict)  # buyer account -> agreements
    faults: list[Fault] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)  # (action, region) -> requests received
    by_account: Counter = field(default_factory=Counter)  # (caller account, region, service) -> requests
    latency: float = 0.0  # seconds added to every request, to make a benchmark look like a network
    throttle: float = 0.0  # share of EC2, ELB and AssumeRole requests answered with a throttling error
    throttled: Counter = field(default_factory=Counter)  # action -> requests throttled
    # Session credentials (ASIA...) expire early: after this many requests, or this long after their first.
    expire_after_requests: int | None = None
    expire_after_seconds: float | None = None
    expired: Counter = field(default_factory=Counter)  # action -> requests answered as expired
    key_requests: Counter = field(default_factory=Counter)  # session access key -> requests seen
    key_first_seen: dict[str, float] = field(default_factory=dict)  # session access key -> time.monotonic()
    in_flight: int = 0  # requests being answered now
    last_request_at: float = 0.0  # time.monotonic() of the newest request received
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.by_account.clear()
            self.latency = 0.0
            self.throttle = 0.0
            self.throttled.clear()
            self.expire_after_requests = None
            self.expire_after_seconds = None
            self.expired.clear()
            self.key_requests.clear()
            self.key_first_seen.clear()
            self.rng = random.Random(7)
            self.connections.clear()
            self.marketplace_services.clear()
            self.agreements.clear()
            self.faults.clear()

    def settle(self, quiet: float = 0.3, timeout: float = 30.0) -> None:
        """Wait until no request is being answered and none has arrived for ``quiet`` seconds:
        a client killed mid-request may have sent bytes the server has not read yet, and counters
        cleared before they arrive would count them against the next client."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                idle = self.in_flight == 0 and time.monotonic() - self.last_request_at >= quiet
            if idle:
                return
            time.sleep(0.02)
        raise TimeoutError(f"the sandbox was still answering requests after {timeout} s")

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


STATE = SandboxState()
