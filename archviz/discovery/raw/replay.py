"""Replaying recorded answers (``discover --replay``, ``verify``): :class:`Replayer` stands in
for the HTTP request on botocore's ``before-call`` event; nothing is ever sent."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import BotoCoreError
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator

from archviz.discovery import context as unit_context
from archviz.discovery.raw.common import PLACEHOLDER, canonical
from archviz.discovery.raw.folder import parse, read_folder
from archviz.errors import ReplayError

def _as_parsed(value: Any, shape: Any) -> Any:
    """Recorded JSON -> what botocore hands the caller: timestamps as datetimes, blobs as bytes,
    and only the members the model knows (as this botocore's parser would have kept)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _as_parsed(v, shape.members[k]) for k, v in value.items() if k in shape.members}
    if kind == "list" and isinstance(value, list):
        return [_as_parsed(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _as_parsed(v, shape.value) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, str):
        try:
            return parse_timestamp(value)
        except (ValueError, TypeError):
            return value  # the model check names it
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return value
    return value


def _put_back(answer: dict, removed: list[str], shape: Any) -> None:
    """Placeholders where secrets were removed and the output shape requires a value."""
    for path in removed:
        if path.startswith(("params.", "exception")) or "[" in path or " " in path:
            continue
        parts = path.split(".")
        node, node_shape = answer, shape
        for part in parts[:-1]:
            member = node_shape.members.get(part) if node_shape is not None and node_shape.type_name == "structure" else None
            if member is None or not isinstance(node, dict):
                node = None
                break
            node, node_shape = node.setdefault(part, {}), member
        if isinstance(node, dict) and node_shape is not None and node_shape.type_name == "structure":
            member = node_shape.members.get(parts[-1])
            if member is not None and parts[-1] in node_shape.required_members:
                node[parts[-1]] = PLACEHOLDER if member.type_name == "string" else _placeholder_of(member)


def _placeholder_of(shape: Any) -> Any:
    return {"timestamp": dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), "blob": b"", "integer": 0,
            "long": 0, "boolean": False}.get(shape.type_name, PLACEHOLDER)


class _RecordedFailure(BotoCoreError):
    """A call that got no answer when it was recorded (a connection error): raised again."""

    fmt = "{message}"

    def __init__(self, kind: str, message: str):
        super().__init__(message=message)
        self.archviz_code = kind


class Replayer:
    """Serves a raw folder's answers to the clients it is attached to. Calls are matched by
    account, region, operation and parameters; the same call asked twice gets its recordings in
    order; each recording is served once. Thread-safe. ``files``: the folder's files by relative
    path; ``source``: how errors name the folder."""

    offline = True  # see aws.AwsSessions

    def __init__(self, files: dict[str, bytes], source: str):
        self.source = source.rstrip("/") + "/"
        self.crawl, self.calls = parse(files, self.source)
        counted: Counter[str] = Counter()
        for (_, _, service, operation, _), queue in self.calls.items():
            counted[f"{service}:{operation}"] += len(queue)
        self.recorded = dict(sorted(counted.items()))  # every operation, with how often it was called
        self.served = 0
        self._lock = threading.Lock()
        self._validator = ParamValidator()
        caller = self.crawl.get("caller") or {}
        self.caller_account = caller.get("Account") or "caller"
        self.resumed = bool(self.crawl.get("resumed_at"))  # the coverage then says when each unit was seen

    @classmethod
    def from_folder(cls, folder: Path) -> "Replayer":
        return cls(read_folder(folder), str(folder))

    @property
    def request(self) -> dict:
        return self.crawl["request"]

    @property
    def home_region(self) -> str:
        return self.crawl["home_region"]

    def unused(self) -> list[str]:
        """The recorded answers no call asked for, by file (the replay must account for all)."""
        with self._lock:
            return sorted({f"{a}/{r}/{svc}.{op}.json" for (a, r, svc, op, _), queue in self.calls.items() if queue})

    def attach(self, client: Any, account_id: str, region: str) -> None:
        service = client.meta.service_model.service_name

        def keep_params(params: dict, context: dict, **_: Any) -> None:
            context["archviz_params"] = copy.deepcopy(params)

        def answer(model: Any, context: dict, **_: Any) -> tuple[AWSResponse, dict]:
            return self._answer(account_id or self.caller_account, region or "global", service, model,
                                context.get("archviz_params") or {})

        client.meta.events.register("provide-client-params", keep_params)
        client.meta.events.register("before-call", answer)

    def _answer(self, account_id: str, region: str, service: str, model: Any, params: dict) -> tuple[AWSResponse, dict]:
        key = (account_id, region, service, model.name, canonical(params))
        where = f"{self.source}{account_id}/{region}/{service}.{model.name}.json"
        with self._lock:
            queue = self.calls.get(key)
            if not queue:
                asked = "more often than it was recorded" if key in self.calls else "but it was not recorded"
                raise ReplayError(f"replay: the crawl asked {service}:{model.name} in {account_id}/{region} with "
                                  f"parameters {key[4]} {asked} ({where}; a raw folder of another crawl, or altered?)")
            record = queue.popleft()
            self.served += 1
        notes = unit_context.current()
        if notes is not None:
            notes.replayed(record)
        return served(record, model, where, self._validator)


def served(record: dict, model: Any, where: str, validator: ParamValidator) -> tuple[AWSResponse, dict]:
    """What botocore hands on for a recorded call: the answer, checked against the operation's
    output shape with placeholders where secrets were removed, or the recorded failure raised."""
    if "exception" in record:
        failure = record["exception"]
        raise _RecordedFailure(str(failure.get("type") or "ConnectionError"), str(failure.get("message") or ""))
    status = record.get("status", 200)
    parsed = _as_parsed(copy.deepcopy(record["response"]), model.output_shape if status < 300 else None)
    if status < 300 and model.output_shape is not None:
        _put_back(parsed, record.get("removed") or [], model.output_shape)
        report = validator.validate(parsed, model.output_shape)
        if report.has_errors():
            raise ReplayError(f"replay: {where}: answer {record['sequence']} does not match the service model: "
                              f"{report.generate_report().splitlines()[-1]}")
    parsed["ResponseMetadata"] = {"RequestId": record.get("request_id") or "", "HTTPStatusCode": status,
                                  "HTTPHeaders": {}, "RetryAttempts": 0}
    return AWSResponse(None, status, {}, None), parsed
