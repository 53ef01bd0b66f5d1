"""Recording a crawl's answers (``discover --raw``): :class:`Recorder` on botocore's events, and
the checks of the folder it writes to."""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import stat
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore

from archviz import __version__
from archviz.discovery import context as unit_context
from archviz.discovery.aws import holds_secret
from botocore.validate import ParamValidator

from archviz.discovery.raw.common import (CRAWL_FILE, FORMAT, KEEP_ONLY, _TOKEN_CACHE, _plain, canonical, dumps, iso,
                                         now, parse_time, scrub)
from archviz.discovery.raw.folder import _entries, _is_crawl_file, _raw_layout, index
from archviz.discovery.raw.journal import Journal
from archviz.discovery.raw.replay import served
from archviz.errors import ArchvizError, InputError, ReplayError
from archviz.files import resolved

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
    """Keeps every call of the clients it is attached to (thread-safe), then writes the folder.

    With a ``journal`` (:mod:`.journal`), each unit's answers are also written there as soon as
    the unit finishes; :meth:`resume` takes up such a journal, so the units it holds are served
    their recorded answers (kept in the new folder as they were) and only the others are sent."""

    offline = False  # see aws.AwsSessions

    calls: dict[tuple[str, str, str, str], list[dict]] = field(default_factory=lambda: defaultdict(list))
    started_at: dt.datetime = field(default_factory=now)
    finished_at: dt.datetime | None = None
    home_region: str | None = None
    caller: dict | None = None
    journal: Journal | None = None
    request: dict | None = None  # what the journal's header keeps
    resumed_at: list[str] = field(default_factory=list)  # when each resumption of the crawl began
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _journal_lock: threading.Lock = field(default_factory=threading.Lock)
    _sequence: int = 0
    _pages: dict[tuple, int] = field(default_factory=dict)  # (client, next token) -> the page it leads to
    _by_unit: dict[tuple, list[tuple[str, dict]]] = field(default_factory=lambda: defaultdict(list))
    _served: dict[tuple, dict[tuple, deque]] = field(default_factory=dict)  # finished units: their answers
    _header: dict | None = None

    @property
    def resumed(self) -> bool:
        """Whether the crawl was resumed (the coverage then says when each unit was seen)."""
        return bool(self.resumed_at)

    def resume(self, journal: Journal) -> int:
        """Take up an interrupted crawl's progress: its finished units will be served their answers.
        Returns how many units that is. An account's entry is served only when every unit of the
        account finished (otherwise its role is assumed again, for real credentials)."""
        header, done = journal.read()
        if header.get("request") != self.request:
            raise InputError(f"--resume: {journal.path} is the progress of another crawl (asked "
                             f"{_asked(header.get('request'))}; this run asks {_asked(self.request)}): give the same "
                             f"options, or drop --resume to start again")
        for key, unit in done.items():
            if key[0] == "entry" and not all(u in done for u in unit["units"] or []):
                continue
            calls: dict[tuple, deque] = defaultdict(deque)
            for rel, record in unit["calls"]:
                if not _raw_layout(rel, False):
                    raise ReplayError(f"{journal.path}: {rel}: not a file of an archviz raw folder")
                index(rel, [record], calls, f"{journal.path}: {rel}")
            self._served[key] = calls
        self.journal, self._header = journal, header
        self.started_at = parse_time(header.get("started_at"))
        self.resumed_at = [t for t in header.get("resumed_at", []) if isinstance(t, str)] + [iso(now())]
        return len(self._served)

    def began(self, home_region: str) -> None:
        """The caller is identified and the home region known: start (or go on with) the journal."""
        self.home_region = home_region
        if self.journal is None:
            return
        account = (self.caller or {}).get("Account")
        if self._header is not None:
            recorded = (self._header.get("caller") or {}).get("Account")
            if recorded != account:
                raise InputError(f"--resume: {self.journal.path} is a crawl made as account {recorded}; these "
                                 f"credentials are account {account}: use the same credentials, or drop --resume")
            self.journal.resumed({**self._header, "resumed_at": self.resumed_at})
        else:
            self.journal.start({"started_at": iso(self.started_at), "home_region": home_region,
                                "caller": self.caller, "request": self.request})

    def finished(self, notes: Any) -> None:
        """A unit ended: its answers go to the journal (unless they came from it)."""
        with self._lock:
            calls = self._by_unit.pop(notes.key, [])
        if self.journal is not None and notes.key not in self._served:
            with self._journal_lock:
                self.journal.add(notes.key, notes.units, calls)

    def attach(self, client: Any, account_id: str, region: str) -> None:
        service = client.meta.service_model.service_name
        tokens = _page_tokens(client)

        def keep_params(params: dict, context: dict, **_: Any) -> None:
            context["archviz_params"] = copy.deepcopy(params)

        def serve(model: Any, context: dict, **_: Any) -> Any:
            notes = unit_context.current()
            queues = self._served.get(notes.key) if notes is not None else None
            if queues is None:
                return None
            context["archviz_served"] = True
            return self._serve(queues, notes, account_id or "caller", region or "global", service, model,
                               context.get("archviz_params") or {})

        def keep_answer(http_response: Any, parsed: dict, model: Any, context: dict, **_: Any) -> None:
            if unit_context.is_unrecorded() or context.get("archviz_served"):
                return
            meta = parsed.get("ResponseMetadata") or {}
            answer = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            self._keep(client, account_id, region, service, model.name, tokens, context, answer=answer,
                       status=getattr(http_response, "status_code", None), request_id=meta.get("RequestId"))

        def keep_failure(model: Any, context: dict, exception: BaseException, **_: Any) -> None:
            if unit_context.is_unrecorded() or context.get("archviz_served"):
                return
            self._keep(client, account_id, region, service, model.name, tokens, context,
                       exception={"type": type(exception).__name__, "message": " ".join(str(exception).split())})

        client.meta.events.register("provide-client-params", keep_params)
        if self._served:
            client.meta.events.register("before-call", serve)
        client.meta.events.register("after-call", keep_answer)
        client.meta.events.register("after-call-error", keep_failure)

    def _serve(self, queues: dict[tuple, deque], notes: Any, account: str, region: str, service: str, model: Any,
               params: dict) -> Any:
        """A finished unit's recorded answer, kept in the new folder as it was recorded."""
        key = (account, region, service, model.name, canonical(params))
        with self._lock:
            queue = queues.get(key)
            if not queue:
                raise ReplayError(f"--resume: the unit {'/'.join(notes.key)} asked {service}:{model.name} in "
                                  f"{account}/{region}, which its recorded progress does not hold (progress of "
                                  f"another archviz version?): drop --resume to start again")
            record = queue.popleft()
            self._sequence += 1
            self.calls[(account, region, service, model.name)].append({**record, "sequence": self._sequence})
        notes.replayed(record)
        return served(record, model, f"{account}/{region}/{service}.{model.name}.json", _VALIDATOR)

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
        if context.get("archviz_renewals"):  # so a replay's coverage says so too
            record["credentials_renewed"] = context["archviz_renewals"]
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
            where = (account_id or "caller", region or "global", service, operation)
            self.calls[where].append(record)
            notes = unit_context.current()
            if notes is not None:
                self._by_unit[notes.key].append(("{}/{}/{}.{}.json".format(*where), record))
        if notes is not None:
            notes.answered(record["received_at"])

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
            made = {new}
            for rel, data in files.items():
                target = new / rel
                if target.parent not in made:  # each folder made once (a raw folder has hundreds of files)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    made.add(target.parent)
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
            **({"resumed_at": self.resumed_at} if self.resumed_at else {}),
        })}
        for (account, region, service, operation), records in sorted(calls.items()):
            out[f"{account}/{region}/{service}.{operation}.json"] = dumps(records)
        leaked = [rel for rel, data in out.items() if holds_secret(data)]
        if leaked:
            raise ArchvizError(f"archviz bug: a credential would have been written to {leaked[0]}; nothing was "
                               f"written (please report this)")
        return out


_VALIDATOR = ParamValidator()
_TOKEN_LOCK = threading.Lock()


def _asked(request: Any) -> str:
    """A recorded request, in a few words."""
    if not isinstance(request, dict):
        return "nothing readable"
    scope = "--org" if request.get("org") else f"--ou {','.join(request['ou_ids'])}" if request.get("ou_ids") else \
        f"--accounts {','.join(request['accounts'])}" if request.get("accounts") else "the caller's account"
    regions = ",".join(request.get("regions") or []) or "the session's region"
    return f"{scope} in {regions}" + (f" as role {request['role_name']}" if request.get("role_name") else "")


def _mkdtemp(parent: Path, name: str) -> str:
    import tempfile

    return tempfile.mkdtemp(prefix=f".{name}.archviz-", suffix=".tmp", dir=parent)


def _page_tokens(client: Any) -> dict[str, tuple[str, str]]:
    """Per operation with a paginator: (the parameter that asks for a page, the answer's field
    that names the next one), from botocore's pagination model, read once per service through the
    client's own loader (the crawl's, which has every model it loaded cached; a new loader would
    scan botocore's data folder of every service again)."""
    model = client.meta.service_model
    key = (model.service_name, model.api_version)
    with _TOKEN_LOCK:
        if key not in _TOKEN_CACHE:
            try:
                config = client._loader.load_service_model(model.service_name, "paginators-1", model.api_version)
            except Exception:  # noqa: BLE001 - a service without paginators
                config = {"pagination": {}}
            tokens = {}
            for operation, page in config.get("pagination", {}).items():
                ins, outs = page.get("input_token"), page.get("output_token")
                if isinstance(ins, str) and isinstance(outs, str):
                    tokens[operation] = (ins, outs)
            _TOKEN_CACHE[key] = tokens
        return _TOKEN_CACHE[key]
