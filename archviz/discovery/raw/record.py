"""Recording a crawl's answers (``discover --raw``): :class:`Recorder` on botocore's events, and
the checks of the folder it writes to."""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import stat
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.loaders

from archviz import __version__
from archviz.discovery.aws import holds_secret
from archviz.discovery.raw.common import CRAWL_FILE, FORMAT, KEEP_ONLY, _TOKEN_CACHE, _plain, dumps, iso, now, scrub
from archviz.discovery.raw.folder import _entries, _is_crawl_file, _raw_layout
from archviz.errors import ArchvizError, InputError
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
