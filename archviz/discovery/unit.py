"""One unit of a crawl (an account-region, or an account's Marketplace lookup): the records
its collectors found, and the calls that failed, for ``coverage``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from archviz.discovery.aws import AWS_ERRORS, error_code, error_message


class Unit:
    """Collects one unit's records; each step that fails is recorded and the others go on."""

    def __init__(self, account_id: str, region: str, kind: str):
        self.account_id, self.region, self.kind = account_id, region, kind
        self.records: dict[str, list[dict]] = defaultdict(list)
        self.failures: list[dict] = []

    def attempt(self, operation: str, fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        try:
            return fn(*args)
        except AWS_ERRORS as exc:
            self.failures.append({"operation": operation, "error_code": error_code(exc),
                                  "message": error_message(exc)})
            return default

    def coverage(self) -> dict:
        entry = {"account_id": self.account_id, "region": self.region, "kind": self.kind,
                 "status": "ok", "error_code": None, "message": None, "failed_operations": []}
        if self.failures:
            first = self.failures[0]
            more = f" (and {len(self.failures) - 1} more failed calls)" if len(self.failures) > 1 else ""
            entry.update(status="error", error_code=first["error_code"], message=first["message"] + more,
                         failed_operations=sorted(f["operation"] for f in self.failures))
        return entry
