"""An audit evidence pack: one zip a third party can check by themselves, offline.

It holds what was seen (``raw/``: every AWS answer the crawl used), what archviz made of it
(``snapshot.json``, the findings in three forms, the pages and diagrams, ``report.html``),
and how to check the two agree: ``manifest.json`` (who crawled what, when, with which calls
and IAM actions, and a SHA-256 for every other file), ``SHA256SUMS`` (the same hashes for
``sha256sum -c``, plus the manifest's), an optional Ed25519 signature over the manifest, and a
README for the auditor. A pack is only written once its snapshot has been re-derived from its
own ``raw/`` (:func:`rederive`), so every pack archviz writes passes ``archviz verify``.

Same snapshot and raw answers, same bytes: the zip's entries are sorted, and their dates are
the crawl's."""

from __future__ import annotations

import datetime as dt
import io
import json
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from archviz import __version__, model
from archviz.discovery.permissions import PERMISSIONS
from archviz.discovery.raw import CRAWL_FILE, dumps, parse_time
from archviz.environment import secret
from archviz.errors import ArchvizError, InputError
from archviz.evidence import findings, report
from archviz.evidence.compare import first_difference
from archviz.files import regular_file, write_atomic
from archviz.render.output import sha256

PACK_FORMAT = 2  # the format this archviz writes
# The formats it verifies: 1 wrote findings.ocsf.json's times in seconds, 2 in milliseconds (OCSF's unit).
PACK_FORMATS = (1, 2)
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
SUMS = "SHA256SUMS"
README = "README.md"
RAW = "raw/"
PAGES = "pages/"
# Files the manifest cannot list: itself, what is derived from it, and its signature.
UNLISTED = (MANIFEST, SUMS, SIGNATURE)
ACTIONS = {(p.service, p.operation): p.action for p in PERMISSIONS}


def analysis_settings(doc: dict) -> dict:
    """The settings a snapshot was analyzed with (kept in it), to analyze a replay the same way."""
    analysis = doc.get("analysis") or {}
    return {"trusted_accounts": frozenset(analysis.get("trusted_accounts") or []),
            "marketplace_links": dict(analysis.get("marketplace_links") or {})}


def rederive(raw_files: dict[str, bytes], settings: dict, source: str = RAW) -> tuple[dict, dict[str, int]]:
    """The analyzed snapshot that ``raw_files`` (a raw folder's files, by relative path; errors
    name them under ``source``) rebuild through the collectors, offline, and every operation the
    crawl called, as ``service:Operation``, with how often."""
    from archviz import pipeline
    from archviz.discovery.raw import Replayer

    replayer = Replayer(raw_files, source)
    return model.apply(pipeline.replay(replayer), **settings), replayer.recorded


def mismatch(doc: dict, derived: dict) -> str | None:
    """Where ``doc`` differs from what its raw answers derive (``tool`` aside: a replay by
    another archviz version stamps its own)."""
    return first_difference(dict(derived, tool=None), dict(doc, tool=None))


def assumed_roles(raw_files: dict[str, bytes], caller_account: str | None, home: str | None) -> list[dict]:
    """Each AssumeRole the crawl made: the role, and the session's ARN and expiry or the error."""
    data = raw_files.get(f"{caller_account}/{home}/sts.AssumeRole.json")
    roles = []
    for record in json.loads(data) if data else []:
        answer = record.get("response") or {}
        error = answer.get("Error") or {}
        roles.append({"role_arn": record["params"].get("RoleArn"),
                      "session_arn": (answer.get("AssumedRoleUser") or {}).get("Arn"),
                      "expires_at": (answer.get("Credentials") or {}).get("Expiration"),
                      "error_code": error.get("Code"), "requested_at": record.get("received_at")})
    return sorted(roles, key=lambda r: (r["role_arn"] or "", r["requested_at"] or ""))


def facts(doc: dict, raw_files: dict[str, bytes], operations: dict[str, int]) -> dict:
    """What the manifest says about the crawl, all derived from the snapshot and ``raw/`` (so
    ``verify`` derives it again): everything but the tool that made the pack and the hashes.
    ``operations``: what :func:`rederive` counted."""
    crawl = json.loads(raw_files[CRAWL_FILE])
    caller = crawl.get("caller") or {}
    coverage = Counter(c["status"] for c in doc["coverage"])
    return {
        "snapshot_tool": doc["tool"],
        "crawl": {"started_at": crawl.get("started_at"), "finished_at": crawl.get("finished_at"),
                  "home_region": crawl.get("home_region"), "request": crawl.get("request"),
                  "made_by": crawl.get("tool"), "botocore": crawl.get("botocore")},
        "analysis": {k: (doc.get("analysis") or {}).get(k) for k in ("trusted_accounts", "marketplace_links")},
        "caller": caller,
        "assumed_roles": assumed_roles(raw_files, caller.get("Account"), crawl.get("home_region")),
        "scope": doc["scope"],
        "coverage": {"units": len(doc["coverage"]), **{k: coverage[k] for k in ("ok", "error", "skipped")},
                     "not_covered": [{k: c[k] for k in ("account_id", "region", "kind", "status", "error_code")}
                                     for c in doc["coverage"] if c["status"] != "ok"]},
        "operations": {op: {"calls": n, "iam_action": ACTIONS.get(tuple(op.split(":", 1)))}
                       for op, n in operations.items()},
        "iam_actions": sorted({ACTIONS[k] for k in (tuple(op.split(":", 1)) for op in operations) if k in ACTIONS}),
    }


def manifest(doc: dict, raw_files: dict[str, bytes], files: dict[str, bytes], operations: dict[str, int]) -> dict:
    return {"pack_format": PACK_FORMAT, "tool": {"name": "archviz", "version": __version__},
            **facts(doc, raw_files, operations), "files": {rel: sha256(data) for rel, data in sorted(files.items())}}


def sums(manifest_bytes: bytes, digests: dict[str, str]) -> bytes:
    """``SHA256SUMS`` in the format ``sha256sum -c`` reads: every file the manifest lists (with
    the ``digests`` it lists) and the manifest itself; not itself, not the signature."""
    listed = dict(digests, **{MANIFEST: sha256(manifest_bytes)})
    return "".join(f"{digest}  {rel}\n" for rel, digest in sorted(listed.items())).encode("ascii")


def _render(doc: dict) -> tuple[dict[str, bytes], list]:
    from archviz.render import build

    files: dict[str, bytes] = {}
    built = build(doc, lambda rel, data: files.__setitem__(rel, data), formats=("svg",))
    return files, built.order


def _facts(doc: dict, crawl: dict) -> list[tuple[str, str]]:
    caller = crawl.get("caller") or {}
    cov = Counter(c["status"] for c in doc["coverage"])
    return [("Produced by", f"archviz {doc['tool']['version']}"),
            ("Crawl", f"{crawl.get('started_at')} to {crawl.get('finished_at')}"),
            ("Caller", str(caller.get("Arn"))),
            ("Scope", f"{doc['scope']['mode']}: {len(doc['scope']['accounts'])} accounts, "
                      f"regions {', '.join(doc['scope']['regions'])}"),
            ("Coverage", f"{cov['ok']} units ok, {cov['error']} failed, {cov['skipped']} skipped"),
            ("Connections and findings", f"{len(doc['connections'])} connections, {len(doc['findings'])} findings")]


def contents(doc: dict, raw_files: dict[str, bytes], version: str = __version__) -> dict[str, bytes]:
    """Every file of the pack but the manifest, its sums and its signature (``version``: of the
    archviz that makes the pack, named in its README)."""
    from archviz import snapshot

    crawl = json.loads(raw_files[CRAWL_FILE])
    pages, order = _render(doc)
    files = {
        "snapshot.json": snapshot.dumps(doc),
        **findings_files(doc),
        "report.html": report.report_html(pages, order, "PrivateLink architecture: audit evidence", _facts(doc, crawl)),
        **{RAW + rel: data for rel, data in raw_files.items()},
        **{PAGES + rel: data for rel, data in pages.items()},
    }
    files[README] = readme(doc, crawl, files, version)
    return files


def findings_files(doc: dict, pack_format: int = PACK_FORMAT) -> dict[str, bytes]:
    """The findings files a pack of ``pack_format`` holds for ``doc``."""
    return {"findings.csv": findings.to_csv(doc), "findings.json": findings.to_json(doc),
            "findings.ocsf.json": findings.to_ocsf(doc, milliseconds=pack_format >= 2)}


def readme(doc: dict, crawl: dict, names, version: str) -> bytes:
    """The auditor's README; ``names``: the pack's files (it counts the raw answers and pages)."""
    from archviz.render.pages import render_page

    request = crawl.get("request") or {}
    text = render_page("evidence_readme.md.j2", README, doc=doc, crawl=crawl, caller=crawl.get("caller") or {},
                       request=request, version=version, raw_files=sum(1 for r in names if r.startswith(RAW)),
                       pages=sum(1 for r in names if r.startswith(PAGES)))
    return text.encode("utf-8")


SIGNING_KEYS = "archviz signs with an Ed25519 private key in PEM (create one with: openssl genpkey -algorithm ed25519 -out KEY)"


def load_key(path: Path) -> Any:
    """An Ed25519 private key in PEM (``openssl genpkey -algorithm ed25519``); a passphrase, if
    any, from ``ARCHVIZ_SIGNING_KEY_PASSPHRASE``."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    data = read_small(path, "--sign")
    passphrase = secret("ARCHVIZ_SIGNING_KEY_PASSPHRASE")
    try:
        with warnings.catch_warnings():  # a deprecated key type (DSA, DH) warns: it is refused below anyway
            warnings.simplefilter("ignore")
            key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:  # a passphrase for a plain key, or none for an encrypted one
        advice = "unset ARCHVIZ_SIGNING_KEY_PASSPHRASE: the key is not encrypted" if passphrase else \
            "the key is encrypted: set ARCHVIZ_SIGNING_KEY_PASSPHRASE to its passphrase"
        raise InputError(f"--sign {path}: {advice}")
    except ValueError:
        hint = " or ARCHVIZ_SIGNING_KEY_PASSPHRASE is not its passphrase" if passphrase else ""
        raise InputError(f"--sign {path}: not a PEM private key{hint}; {SIGNING_KEYS}")
    except UnsupportedAlgorithm as exc:  # a key type, curve or cipher the cryptography package cannot load
        raise InputError(f"--sign {path}: not a key archviz can read ({exc}); {SIGNING_KEYS}")
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InputError(f"--sign {path}: not an Ed25519 key; {SIGNING_KEYS}")
    return key


def read_small(path: Path, option: str, limit: int = 64 * 1024) -> bytes:
    """A key file (``--sign``, ``--key``): a regular file of at most ``limit`` bytes."""
    info = regular_file(path, InputError, f"{option} takes a PEM key file")
    if info.st_size > limit:
        raise InputError(f"{path}: too large to be a key ({option})")
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}")


def zip_bytes(files: dict[str, bytes], when: dt.datetime) -> bytes:
    """The zip of ``files``, sorted, every entry dated ``when`` (deterministic)."""
    stamp = when.astimezone(dt.timezone.utc).timetuple()[:6]
    stamp = max(stamp, (1980, 1, 1, 0, 0, 0))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for rel in sorted(files):
            info = zipfile.ZipInfo(rel, date_time=stamp)
            info.create_system = 3  # Unix, wherever the pack is made: the same bytes everywhere
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[rel])
    return buffer.getvalue()


def build(doc: dict, raw_files: dict[str, bytes], key: Any = None, source: str = RAW) -> tuple[bytes, dict]:
    """The pack's bytes and its manifest. Refuses a snapshot that its raw answers do not derive
    (``source``: how errors name the raw files, e.g. the folder they came from)."""
    derived, operations = rederive(raw_files, analysis_settings(doc), source)
    diff = mismatch(doc, derived)
    if diff:
        raise InputError(f"the snapshot is not what the raw answers derive (snapshot.json: {diff}); "
                         f"give the snapshot and the raw folder of the same crawl")
    files = contents(doc, raw_files)
    info = manifest(doc, raw_files, files, operations)
    manifest_bytes = dumps(info)
    files[MANIFEST] = manifest_bytes
    files[SUMS] = sums(manifest_bytes, info["files"])
    if key is not None:
        files[SIGNATURE] = key.sign(manifest_bytes)
    finished = json.loads(raw_files[CRAWL_FILE]).get("finished_at")
    return zip_bytes(files, parse_time(finished)), info


def write(path: Path, data: bytes) -> Path:
    """Write the pack atomically (a temporary file beside it, then renamed)."""
    try:
        write_atomic(Path(path), data)
    except OSError as exc:
        raise ArchvizError(f"cannot write {path}: {exc.strerror or exc}")
    return Path(path)
