"""One unit of a crawl (an account-region, or an account's Marketplace lookup): the records
its collectors found, and the calls that failed, for ``coverage``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from archviz.discovery.aws import AWS_ERRORS, error_code, error_message, together


class Unit:
    """Collects one unit's records; each step that fails is recorded and the others go on.

    ``pool`` (optional) is the unit's own small executor: :meth:`together` runs independent
    steps of the unit on it, so a unit costs about as many round trips as its longest chain of
    dependent calls, with at most the pool's width of requests in flight for one account-region."""

    def __init__(self, account_id: str, region: str, kind: str, pool: Any = None):
        self.account_id, self.region, self.kind = account_id, region, kind
        self.pool = pool
        self.records: dict[str, list[dict]] = defaultdict(list)
        self.failures: list[dict] = []
        self.skipped: tuple[str, str] | None = None  # (error code, message)
        self.notes: Any = None  # its context.UnitNotes, once it ran
        self.timed = False  # say when it was seen (a resumed crawl: not all units were seen in one run)

    def attempt(self, operation: str, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        try:
            return fn(*args)
        except AWS_ERRORS as exc:
            self.failures.append({"operation": operation, "error_code": error_code(exc),
                                  "message": error_message(exc)})
            return default

    def together(self, *calls: Callable[[], Any]) -> list[Any]:
        """Independent steps of this unit, at once (see :func:`archviz.discovery.aws.together`)."""
        return together(*calls, pool=self.pool)

    def failed_with(self, code: str) -> bool:
        """Whether every call that failed failed with ``code`` (and at least one did)."""
        return bool(self.failures) and all(f["error_code"] == code for f in self.failures)

    def skip(self, code: str, message: str) -> None:
        """Not crawled on purpose (a region the account has not enabled): not a failure."""
        self.records.clear()
        self.failures.clear()
        self.skipped = (code, message)

    def coverage(self) -> dict:
        entry = {"account_id": self.account_id, "region": self.region, "kind": self.kind,
                 "status": "ok", "error_code": None, "message": None, "failed_operations": []}
        if self.notes is not None and self.notes.credentials_renewed:
            entry["credentials_renewed"] = self.notes.credentials_renewed
        if self.timed and self.notes is not None and self.notes.last_answer_at:
            entry["seen_at"] = self.notes.last_answer_at
        if self.skipped:
            entry.update(status="skipped", error_code=self.skipped[0], message=self.skipped[1])
        elif self.failures:
            # Steps run concurrently: report in a fixed order, so the same failures give the same bytes.
            failures = sorted(self.failures, key=lambda f: (f["operation"], f["error_code"], f["message"]))
            first = failures[0]
            more = f" (and {len(failures) - 1} more failed calls)" if len(failures) > 1 else ""
            entry.update(status="error", error_code=first["error_code"], message=first["message"] + more,
                         failed_operations=sorted(f["operation"] for f in failures))
        return entry
