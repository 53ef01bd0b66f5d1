"""Which unit of the crawl a call belongs to, for the hooks that need to know (credential
renewals noted in the unit's coverage, answers kept per unit so an interrupted crawl can
resume, answers served back to a unit that already finished).

A unit's key is a tuple: ``("scope",)`` (the organization's accounts, the caller's regions),
``("tree",)`` (the OU tree), ``("entry", account)`` (the account's role assumed, its regions
known), ``("region", account, region)`` and ``("marketplace", account, region)``. A call made
outside every unit (``sts:GetCallerIdentity``) has none. The key travels with the code that runs
the unit: :func:`archviz.discovery.aws.together` carries it to the threads it hands work to."""

from __future__ import annotations

import contextvars
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

UnitKey = tuple[str, ...]


@dataclass
class UnitNotes:
    """What happened to one unit's calls beyond their answers."""

    key: UnitKey
    credentials_renewed: int = 0  # calls sent again after AWS said the credentials had expired
    last_answer_at: str | None = None  # when its last answer arrived (recorded or replayed crawls)
    units: list[UnitKey] | None = None  # an account's entry: the units it is crawled in
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def renewed(self, times: int = 1) -> None:
        with self._lock:
            self.credentials_renewed += times

    def replayed(self, record: dict) -> None:
        """A recorded answer served again: what it says about its unit counts as if it were live."""
        renewed = record.get("credentials_renewed")
        if isinstance(renewed, int) and not isinstance(renewed, bool) and renewed > 0:
            self.renewed(renewed)
        if isinstance(record.get("received_at"), str):
            self.answered(record["received_at"])

    def answered(self, when: str) -> None:
        with self._lock:
            if self.last_answer_at is None or when > self.last_answer_at:
                self.last_answer_at = when


_UNIT: contextvars.ContextVar[UnitNotes | None] = contextvars.ContextVar("archviz_unit", default=None)
_UNRECORDED: contextvars.ContextVar[bool] = contextvars.ContextVar("archviz_unrecorded", default=False)


def current() -> UnitNotes | None:
    """The unit the running call belongs to, if any."""
    return _UNIT.get()


@contextmanager
def unit(key: UnitKey, hooks: Any = None) -> Iterator[UnitNotes]:
    """Run a unit: its calls carry ``key``; when it ends without an exception, ``hooks`` (a
    recorder) is told it finished (:meth:`finished`), so its answers can be kept as complete."""
    notes = UnitNotes(key)
    token = _UNIT.set(notes)
    try:
        yield notes
    finally:
        _UNIT.reset(token)
    finished = getattr(hooks, "finished", None)
    if finished is not None:
        finished(notes)


@contextmanager
def unrecorded() -> Iterator[None]:
    """Calls that are plumbing, not evidence: renewing a role's credentials (a replay never needs
    them, and a recording that kept them would not replay)."""
    token = _UNRECORDED.set(True)
    try:
        yield
    finally:
        _UNRECORDED.reset(token)


def is_unrecorded() -> bool:
    return _UNRECORDED.get()


def carried(call: Any) -> Any:
    """``call``, to run in another thread with this thread's unit."""
    ctx = contextvars.copy_context()
    return lambda: ctx.run(call)
