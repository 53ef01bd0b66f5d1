"""AWS's answers as received: recorded during a crawl (``discover --raw DIR``), replayed to
rebuild the snapshot offline (``discover --replay DIR``), and shipped in evidence packs.

Both work on botocore's own events, on every client :mod:`aws` builds, so no collector knows
about them and a new call is recorded and replayed without a change here:

- recording: ``provide-client-params`` keeps a copy of the call's parameters, ``after-call``
  (``after-call-error`` when no answer came) keeps the parsed answer. Retries happen below
  ``after-call``, so the answer recorded is the one the collector got.
- replay: a ``before-call`` handler that returns ``(http_response, parsed)`` stands in for the
  HTTP request (what botocore's ``Stubber`` does): the recorded answer, checked against the
  operation's output shape in the service model, is handed to the real client, its paginators
  and its error handling. A call that was not recorded stops the replay: nothing is ever sent.

What never reaches a recording: request signatures and headers (only the parameters are
kept), the values of :data:`SECRET_FIELDS` wherever they appear (an ``AssumeRole`` answer keeps
the role, its session's ARN and the expiry; its credentials are dropped), and, inside any text,
every credential archviz holds and the values of signing fields (:func:`aws.redact`). Each
record lists what was removed, and replay puts placeholders back where the model needs them.
Before anything is written, the files are searched once more for every credential archviz
holds: a hit is a bug, and nothing is written.

Replay is strict: a call asked more often than it was recorded, or a recorded answer no call
asked for, stops it, so a raw folder cannot carry answers that the snapshot does not account
for. A recorded answer holding fields this botocore's model does not know (one recorded with a
newer botocore) is served without them, as this botocore's own parser would have dropped them.

The folder: ``crawl.json`` (the request, the times, the caller), then one file per account,
region and operation, ``<account>/<region>/<service>.<Operation>.json``: a list of calls in the
order their answers arrived, each with its parameters, the page it was of a paginated listing, the
HTTP status, AWS's request id, the time the answer arrived and the answer itself."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import os
import re
import shutil
import stat
import threading
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders
from botocore.awsrequest import AWSResponse
from botocore.exceptions import BotoCoreError
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator

from archviz import __version__
from archviz.discovery.aws import REMOVED, holds_secret, redact
from archviz.discovery.permissions import is_allowed
from archviz.environment import positive_int
from archviz.errors import ArchvizError, InputError, ReplayError
from archviz.files import resolved

FORMAT = 1
CRAWL_FILE = "crawl.json"
# Values that are credentials or secrets, wherever they appear, in parameters and answers alike.
SECRET_FIELDS = frozenset({"AccessKeyId", "SecretAccessKey", "SessionToken", "ExternalId", "Password",
                           "SecretString", "SecretBinary"})
PLACEHOLDER = REMOVED
# Answers of which only these members are kept: an AssumeRole answer keeps the session's role ARN
# and the expiry (the credentials are removed by SECRET_FIELDS; the rest is not needed).
KEEP_ONLY = {("sts", "AssumeRole"): frozenset({"AssumedRoleUser", "Credentials"})}
_FILE = re.compile(r"^(?P<service>[a-z0-9-]+)\.(?P<operation>[A-Za-z0-9]+)\.json$")
MAX_FILE_BYTES = 256 * 1024**2
LIMIT_VARIABLE = "ARCHVIZ_MAX_RAW_BYTES"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_time(text: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError(f"not a time: {text!r}")


def iso(when: dt.datetime, ms: bool = False) -> str:
    return when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds" if ms else "seconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """A parsed answer as JSON: timestamps in ISO 8601, blobs in base64 (the model says which)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def scrub(value: Any, path: str = "", removed: list[str] | None = None) -> tuple[Any, list[str]]:
    """``value`` without :data:`SECRET_FIELDS`, and the dotted paths of what was removed."""
    removed = [] if removed is None else removed
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in SECRET_FIELDS:
                removed.append(where)
            else:
                kept[key] = scrub(item, where, removed)[0]
        return kept, removed
    if isinstance(value, list):
        return [scrub(item, f"{path}[{i}]", removed)[0] for i, item in enumerate(value)], removed
    if isinstance(value, str):
        clean = redact(value)
        if clean != value:
            removed.append(f"{path} (part of the text)")
        return clean, removed
    return value, removed


def canonical(params: dict) -> str:
    """The key a call is looked up by: its parameters, secrets removed, as sorted JSON."""
    return json.dumps(scrub(_plain(params))[0], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- recording ---------------------------------------------------------------------------------

def apart(raw_dir: Path, out: Path, flag: str = "--raw") -> None:
    """Refuse a raw folder (``--raw``, ``--replay``) that is, holds or is inside ``out``, the
    snapshot's folder: a raw folder holds AWS's answers only, or it no longer replays."""
    raw, snap = resolved(raw_dir, f"{flag} {raw_dir}"), resolved(out, f"--out {out}")
    if raw == snap:
        raise InputError(f"{flag} and --out must be different folders (the raw folder holds AWS's answers only)")
    for inner, outer, (a, b) in (("--out", flag, (snap, raw)), (flag, "--out", (raw, snap))):
        if a.is_relative_to(b):
            raise InputError(f"{inner} {a} is inside {outer} {b}: keep the raw folder and the snapshot's "
                             f"folder apart (a raw folder holds AWS's answers only)")


@dataclass
class Recorder:
    """Keeps every call of the clients it is attached to (thread-safe), then writes the folder."""

    offline = False  # see aws.AwsSessions

    calls: dict[tuple[str, str, str, str], list[dict]] = field(default_factory=lambda: defaultdict(list))
    started_at: dt.datetime = field(default_factory=now)
    finished_at: dt.datetime | None = None
    home_region: str | None = None
    caller: dict | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sequence: int = 0
    _pages: dict[tuple, int] = field(default_factory=dict)  # (client, next token) -> the page it leads to

    def attach(self, client: Any, account_id: str, region: str) -> None:
        service = client.meta.service_model.service_name
        tokens = _page_tokens(client)

        def keep_params(params: dict, context: dict, **_: Any) -> None:
            context["archviz_params"] = copy.deepcopy(params)

        def keep_answer(http_response: Any, parsed: dict, model: Any, context: dict, **_: Any) -> None:
            meta = parsed.get("ResponseMetadata") or {}
            answer = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            self._keep(client, account_id, region, service, model.name, tokens, context, answer=answer,
                       status=getattr(http_response, "status_code", None), request_id=meta.get("RequestId"))

        def keep_failure(model: Any, context: dict, exception: BaseException, **_: Any) -> None:
            self._keep(client, account_id, region, service, model.name, tokens, context,
                       exception={"type": type(exception).__name__, "message": " ".join(str(exception).split())})

        client.meta.events.register("provide-client-params", keep_params)
        client.meta.events.register("after-call", keep_answer)
        client.meta.events.register("after-call-error", keep_failure)

    def _keep(self, client: Any, account_id: str, region: str, service: str, operation: str,
              tokens: dict[str, tuple[str, str]], context: dict, answer: dict | None = None,
              status: int | None = None, request_id: str | None = None, exception: dict | None = None) -> None:
        params, removed = scrub(_plain(context.get("archviz_params") or {}))
        record: dict[str, Any] = {"params": params}
        if answer is not None:
            if not account_id and operation == "GetCallerIdentity" and status == 200:
                account_id = answer.get("Account") or ""
            answer, removed = scrub(_plain(answer), "", [f"params.{p}" for p in removed])
            keep = KEEP_ONLY.get((service, operation))
            if keep is not None and status == 200:
                removed += [k for k in answer if k not in keep]
                answer = {k: v for k, v in answer.items() if k in keep}
            record.update(status=status, request_id=request_id, response=answer)
        else:
            exception, removed = scrub(exception, "exception", [f"params.{p}" for p in removed])
            record["exception"] = exception
        if removed:
            record["removed"] = sorted(removed)
        in_token, out_token = tokens.get(operation, (None, None))
        with self._lock:
            self._sequence += 1
            record.update(sequence=self._sequence, received_at=iso(now(), ms=True))
            page = 1
            if in_token and params.get(in_token):
                page = self._pages.pop((id(client), operation, params[in_token]), 1)
            record["page"] = page
            if answer is not None and out_token and answer.get(out_token):
                self._pages[(id(client), operation, answer[out_token])] = page + 1
            if operation == "GetCallerIdentity" and answer is not None and self.caller is None:
                self.caller = {k: answer.get(k) for k in ("Account", "Arn", "UserId")}
            self.calls[(account_id or "caller", region or "global", service, operation)].append(record)

    @staticmethod
    def check_target(folder: Path, out: Path | None = None) -> None:
        """Refuse, before a crawl, a raw folder that is, holds or is inside ``out`` (the snapshot's
        folder), and one that exists but is neither empty nor an earlier raw folder holding only
        what archviz wrote there (replacing it would delete the rest)."""
        folder = Path(folder)
        if out is not None:
            apart(folder, out)
        if not folder.exists():
            return
        if not folder.is_dir():
            raise InputError(f"--raw {folder}: exists and is not a folder; choose an empty or new folder")
        entries = _entries(folder, InputError)
        if entries and not _is_crawl_file(folder / CRAWL_FILE):
            raise InputError(f"--raw {folder}: exists and is not an archviz raw folder (it holds {entries[0][1]} and "
                             f"no {CRAWL_FILE} of archviz's); choose an empty or new folder")
        for rel, path, info in entries:
            is_folder = stat.S_ISDIR(info.st_mode)
            if not _raw_layout(rel, is_folder) or (is_folder and not any(path.iterdir())):  # none is empty
                raise InputError(f"--raw {folder}: {path} was not written by archviz (replacing the folder would delete "
                                 f"it); nothing was changed: move it away, or choose another folder")

    def write(self, folder: Path, request: dict) -> Path:
        """Write the folder atomically: a new folder beside it, then renamed into place. An
        existing folder is replaced only if it is a raw folder itself (:meth:`check_target`); if
        the new one cannot be put in place, the old one is put back. The new folder is made inside
        a private staging folder with a plain ``mkdir``, so it gets the mode the umask gives."""
        folder = Path(folder)
        self.check_target(folder)
        files = self.files(request)
        parent = folder.parent
        staging = old = None
        try:
            parent.mkdir(parents=True, exist_ok=True)
            staging = Path(_mkdtemp(parent, folder.name))
            new = staging / "raw"
            new.mkdir()  # not the staging folder itself: mkdtemp makes it 0700
            for rel, data in files.items():
                target = new / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            if folder.exists():
                old = Path(_mkdtemp(parent, folder.name + ".old"))
                os.replace(folder, old / "raw")
            try:
                os.replace(new, folder)
            except BaseException:
                if old is not None:
                    os.replace(old / "raw", folder)  # the earlier folder, back in place
                raise
        except OSError as exc:
            raise ArchvizError(f"cannot write {folder}: {exc.strerror or exc}")
        finally:
            for leftover in (staging, old):
                if leftover is not None and leftover.exists():
                    shutil.rmtree(leftover, ignore_errors=True)
        return folder

    def files(self, request: dict) -> dict[str, bytes]:
        """Every file of the raw folder, by relative path (what :meth:`write` and packs write)."""
        with self._lock:
            calls = {key: sorted(records, key=lambda r: r["sequence"]) for key, records in self.calls.items()}
        out = {CRAWL_FILE: dumps({
            "format": FORMAT,
            "tool": {"name": "archviz", "version": __version__},
            "botocore": botocore.__version__,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at or now()),
            "home_region": self.home_region,
            "caller": self.caller,
            "request": request,
        })}
        for (account, region, service, operation), records in sorted(calls.items()):
            out[f"{account}/{region}/{service}.{operation}.json"] = dumps(records)
        leaked = [rel for rel, data in out.items() if holds_secret(data)]
        if leaked:
            raise ArchvizError(f"archviz bug: a credential would have been written to {leaked[0]}; nothing was "
                               f"written (please report this)")
        return out


def _mkdtemp(parent: Path, name: str) -> str:
    import tempfile

    return tempfile.mkdtemp(prefix=f".{name}.archviz-", suffix=".tmp", dir=parent)


def dumps(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


_TOKEN_CACHE: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}


def _page_tokens(client: Any) -> dict[str, tuple[str, str]]:
    """Per operation with a paginator: (the parameter that asks for a page, the answer's field
    that names the next one), from botocore's pagination model."""
    model = client.meta.service_model
    key = (model.service_name, model.api_version)
    if key not in _TOKEN_CACHE:
        try:
            config = botocore.loaders.create_loader().load_service_model(model.service_name, "paginators-1",
                                                                         model.api_version)
        except Exception:  # noqa: BLE001 - a service without paginators
            config = {"pagination": {}}
        tokens = {}
        for operation, page in config.get("pagination", {}).items():
            ins, outs = page.get("input_token"), page.get("output_token")
            if isinstance(ins, str) and isinstance(outs, str):
                tokens[operation] = (ins, outs)
        _TOKEN_CACHE[key] = tokens
    return _TOKEN_CACHE[key]


# --- replay --------------------------------------------------------------------------------------

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
        if "exception" in record:
            failure = record["exception"]
            raise _RecordedFailure(str(failure.get("type") or "ConnectionError"), str(failure.get("message") or ""))
        status = record.get("status", 200)
        parsed = _as_parsed(copy.deepcopy(record["response"]), model.output_shape if status < 300 else None)
        if status < 300 and model.output_shape is not None:
            _put_back(parsed, record.get("removed") or [], model.output_shape)
            report = self._validator.validate(parsed, model.output_shape)
            if report.has_errors():
                raise ReplayError(f"replay: {where}: answer {record['sequence']} does not match the service model: "
                                  f"{report.generate_report().splitlines()[-1]}")
        parsed["ResponseMetadata"] = {"RequestId": record.get("request_id") or "", "HTTPStatusCode": status,
                                      "HTTPHeaders": {}, "RetryAttempts": 0}
        return AWSResponse(None, status, {}, None), parsed


def max_raw_bytes() -> int:
    """How much a raw folder may hold, all files together (``ARCHVIZ_MAX_RAW_BYTES``, default
    1 GiB): it is read into memory, and parsed there."""
    return positive_int(LIMIT_VARIABLE, 1024**3)


def _entries(folder: Path, error: type[ArchvizError]) -> list[tuple[str, Path, os.stat_result]]:
    """Everything inside ``folder``, folders and files, by relative path, in order. A link, or
    anything else that is neither a folder nor a regular file, is refused, named: a raw folder
    never holds one."""
    def fail(exc: OSError) -> None:
        raise error(f"{exc.filename}: cannot read: {exc.strerror or exc}")

    found = []
    for root, dirs, names in os.walk(folder, onerror=fail):
        dirs.sort()
        for name in sorted(dirs + names):
            path = Path(root, name)
            try:
                info = os.lstat(path)
            except OSError as exc:
                fail(exc)
            if stat.S_ISLNK(info.st_mode):
                raise error(f"{path}: a link (a raw folder holds folders and JSON files only, never links)")
            if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                raise error(f"{path}: not a regular file (a raw folder holds JSON files only)")
            found.append((path.relative_to(folder).as_posix(), path, info))
    return found


_ACCOUNT_FOLDER = re.compile(r"^([0-9]{12}|caller)$")
_REGION_FOLDER = re.compile(r"^([a-z]{2}(-[a-z]+)+-[0-9]+|global)$")


def _raw_layout(rel: str, is_folder: bool) -> bool:
    """``rel`` is where a raw folder keeps things, and nothing else is: ``crawl.json``,
    ``<account id or caller>/<region or global>/`` folders and, in them,
    ``<service>.<Operation>.json`` files of operations archviz calls (``permissions.py``)."""
    parts = rel.split("/")
    folders = parts if is_folder else parts[:-1]
    if not all(pattern.match(p) for pattern, p in zip((_ACCOUNT_FOLDER, _REGION_FOLDER), folders)):
        return False
    if is_folder:
        return len(parts) <= 2
    match = _FILE.match(parts[-1])
    return rel == CRAWL_FILE or (len(parts) == 3 and match is not None
                                 and is_allowed(match.group("service"), match.group("operation")))


def _is_crawl_file(path: Path) -> bool:
    """``path`` is a ``crawl.json`` archviz wrote (a regular file naming archviz as its tool)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return False
        crawl = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(crawl, dict) and isinstance(crawl.get("tool"), dict) and crawl["tool"].get("name") == "archviz"


def read_folder(folder: Path) -> dict[str, bytes]:
    """A raw folder's files by relative path: regular files only (a link is refused), each of a
    bounded size, all together within :func:`max_raw_bytes`, checked before any is read."""
    folder = Path(folder)
    limit = max_raw_bytes()
    if not folder.is_dir():
        raise ReplayError(f"{folder}: not a folder (give the folder discover --raw wrote)")
    found = [(rel, path, info.st_size) for rel, path, info in _entries(folder, ReplayError)
             if stat.S_ISREG(info.st_mode)]
    for _, path, size in found:
        if size > MAX_FILE_BYTES:
            raise ReplayError(f"{path}: more than {MAX_FILE_BYTES} bytes: not a file of a raw folder")
    total = sum(size for _, _, size in found)
    if total > limit:
        raise ReplayError(f"{folder}: {total} bytes in {len(found)} files, more than {limit} bytes "
                          f"({LIMIT_VARIABLE} raises the limit)")
    files = {}
    for rel, path, size in found:
        try:
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
                files[rel] = f.read(size + 1)
        except OSError as exc:
            raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}")
        if len(files[rel]) != size:
            raise ReplayError(f"{path}: changed while it was read; read the raw folder again")
    return files


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _load(data: bytes, name: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ReplayError(f"{name}: not JSON ({exc})")


def _check_crawl(crawl: Any, name: str) -> dict:
    made = crawl.get("tool", {}).get("version") if isinstance(crawl, dict) and isinstance(crawl.get("tool"), dict) else None
    if not isinstance(crawl, dict) or crawl.get("format") != FORMAT:
        raise ReplayError(f"{name}: not a raw folder this archviz {__version__} reads"
                          + (f" (made by archviz {made})" if made else ""))
    problems = [key for key, kind in (("request", dict), ("home_region", str), ("started_at", str),
                                      ("finished_at", str)) if not isinstance(crawl.get(key), kind)]
    if crawl.get("caller") is not None and not isinstance(crawl.get("caller"), dict):
        problems.append("caller")
    if problems:
        raise ReplayError(f"{name}: not a raw folder's crawl.json ({', '.join(problems)} missing or of the wrong type)")
    for key in ("started_at", "finished_at"):
        parse_time(crawl[key])
    return crawl


def _check_record(record: Any) -> str | None:
    """What is wrong with one recorded call, or None."""
    if not isinstance(record, dict) or not isinstance(record.get("params"), dict):
        return "not a recorded call with its parameters"
    if not isinstance(record.get("sequence"), int) or isinstance(record.get("sequence"), bool):
        return "no sequence number"
    if "exception" in record:
        failure = record["exception"]
        ok = isinstance(failure, dict) and all(isinstance(failure.get(k), str) for k in ("type", "message"))
        return None if ok else "an exception without its type and message"
    status = record.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return "no HTTP status"
    if not isinstance(record.get("response"), dict):
        return "no answer"
    removed = record.get("removed", [])
    if not isinstance(removed, list) or not all(isinstance(r, str) for r in removed):
        return "a bad list of removed fields"
    return None


def parse(files: dict[str, bytes], source: str = "") -> tuple[dict, dict[tuple, deque]]:
    """``crawl.json`` and every recorded call, by lookup key. Any odd file is one clear error
    naming it (``source`` + its path)."""
    if CRAWL_FILE not in files:
        raise ReplayError(f"{source}{CRAWL_FILE}: no such file (not a raw folder of discover --raw)")
    crawl = _check_crawl(_load(files[CRAWL_FILE], source + CRAWL_FILE), source + CRAWL_FILE)
    calls: dict[tuple, deque] = defaultdict(deque)
    for rel in sorted(files):
        if rel == CRAWL_FILE:
            continue
        name = source + rel
        parts = rel.split("/")
        if not _raw_layout(rel, False):
            raise ReplayError(f"{name}: not a file of an archviz raw folder (<account>/<region>/<service>.<Operation>.json)")
        match = _FILE.match(parts[2])
        records = _load(files[rel], name)
        if not isinstance(records, list) or not records:
            raise ReplayError(f"{name}: not a list of recorded calls")
        for i, record in enumerate(records):
            problem = _check_record(record)
            if problem:
                raise ReplayError(f"{name}: call {i + 1}: {problem}")
        for record in sorted(records, key=lambda r: r["sequence"]):
            key = (parts[0], parts[1], match["service"], match["operation"], canonical(record["params"]))
            calls[key].append(record)
    return crawl, calls
