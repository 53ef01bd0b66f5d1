"""The use cases the command line runs, each from its inputs to the files it writes: discovery
(a crawl, live, recorded or replayed from recorded answers, analyzed and saved), evidence packs,
analyze, merge, diff, and the inputs of a render (:func:`prepare_render`: the render itself is
:mod:`archviz.render`'s, which nothing here imports). The command line parses options, checks their combinations and reports;
the sequencing is here, so a replay rebuilds a snapshot exactly as the live crawl built it and
evidence packs go through the same crawl.

Functions that the command line calls after checks of its own (discover_snapshot,
evidence_from_crawl, diff) take the settings loaded already (:func:`analysis_settings`), so the
errors come in the order they always have; the others load them first. Progress (units done /
total) and the reports due midway are callbacks the caller passes. The discovery and evidence
modules are imported when used, so analyze, merge and diff do not load botocore through here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, NamedTuple

from archviz import model, snapshot
from archviz.errors import IncompleteCrawl, InputError, ReplayError, some
from archviz.files import output_file

if TYPE_CHECKING:
    from archviz.discovery.crawl import CrawlRequest
    from archviz.discovery.raw import Recorder, Replayer
    from archviz.merge import Merged
    from archviz.redact import Redactor

OnProgress = Callable[[int, int], None]  # units done, units in all


class Saved(NamedTuple):
    """An analyzed snapshot and the file it was written to."""

    doc: dict
    path: Path


class MergedSnapshot(NamedTuple):
    """archviz merge: what was combined (:class:`archviz.merge.Merged`) and the file written."""

    merged: Merged
    path: Path


class Evidence(NamedTuple):
    """An evidence pack written: its snapshot, where, how many files it holds (the manifest's, the
    manifest itself, its sums and the signature), how many raw answer files, and if signed."""

    doc: dict
    path: Path
    files: int
    answers: int
    signed: bool


def analysis_settings(trusted_accounts: Iterable[str] | None = None, config_path: Path | None = None) -> dict:
    """The config file (``--config``) and ``--trusted-accounts`` as :func:`archviz.model.apply`'s
    keyword settings."""
    from archviz import config

    cfg = config.load(config_path, trusted_accounts)
    return {"trusted_accounts": cfg.trusted_accounts, "marketplace_links": cfg.marketplace_links}


def require_complete(doc: dict, consequence: str) -> None:
    """``--strict``: an account-region or Marketplace unit that failed is exit code 5 (the OU tree
    is optional: a denied one is reported, it does not fail --strict)."""
    failed = [c for c in doc["coverage"] if c["status"] == "error" and c["kind"] != "organization"]
    if failed:
        raise IncompleteCrawl(f"--strict: {len(failed)} unit(s) failed; {consequence}")


# -- discovery -------------------------------------------------------------------------------

def discover(request: CrawlRequest, progress: OnProgress | None = None, recorder: Recorder | None = None) -> dict:
    """Crawl into a snapshot (not analyzed yet). With a ``recorder``, every answer is kept, and
    the snapshot's ``generated_at`` is the recording's ``finished_at``, so replaying the
    recording rebuilds the same bytes."""
    from archviz.discovery.crawl import crawl
    from archviz.discovery.raw import now

    sessions = request.sessions(hooks=recorder)
    result = crawl(request, progress, sessions)
    finished = now().replace(microsecond=0)
    if recorder is not None:
        recorder.finished_at = finished
        recorder.home_region = sessions.region
    return snapshot.build(result.scope, result.organization, result.accounts, result.coverage, result.records,
                          generated_at=finished)


def replay(source: Path | Replayer, progress: OnProgress | None = None, concurrency: int | None = None) -> dict:
    """The snapshot a raw folder's crawl built, rebuilt from its recorded answers alone: the same
    collectors run on real botocore clients, nothing is sent (not analyzed yet). Every recorded
    answer must be asked for, once."""
    from archviz.discovery.crawl import CrawlRequest, crawl
    from archviz.discovery.raw import Replayer, parse_time

    replayer = source if isinstance(source, Replayer) else Replayer.from_folder(Path(source))
    request = CrawlRequest.from_record(replayer.request, concurrency)
    sessions = request.sessions(hooks=replayer, region=replayer.home_region)
    result = crawl(request, progress, sessions)
    unused = replayer.unused()
    if unused:
        raise ReplayError(f"replay: recorded answers the crawl never asked for, in {some(unused, 3)} "
                          f"(a raw folder of another crawl, or one with answers added?)")
    return snapshot.build(result.scope, result.organization, result.accounts, result.coverage, result.records,
                          generated_at=parse_time(replayer.crawl["finished_at"]))


def discover_snapshot(out: Path, source: CrawlRequest | Path, settings: dict, raw_dir: Path | None = None,
                      concurrency: int | None = None, progress: OnProgress | None = None,
                      recorded: Callable[[int, Path], None] | None = None, resume: bool = False,
                      resuming: Callable[[int, Path], None] | None = None) -> Saved:
    """archviz discover: crawl ``source`` (a request) or replay it (a raw folder, ``--replay``),
    analyze with ``settings``, and write OUT/snapshot.json atomically. A crawl with ``raw_dir``
    keeps every answer there, and ``recorded(answers, raw_dir)`` is told once that folder is
    written (before the snapshot is). A replay takes ``concurrency``; a request has its own."""
    from archviz.discovery.crawl import CrawlRequest, fewer_collections
    from archviz.discovery.raw import apart

    with fewer_collections():  # the crawl's objects stay alive through the analysis and the writing
        if isinstance(source, CrawlRequest):
            doc = _crawl(source, out, raw_dir, progress, recorded, resume, resuming)
        else:
            apart(source, out, "--replay")
            doc = replay(source, progress, concurrency)
        model.apply(doc, **settings)
        return Saved(doc, snapshot.save(doc, out))


def _crawl(request: CrawlRequest, out: Path, raw_dir: Path | None, progress: OnProgress | None,
           recorded: Callable[[int, Path], None] | None, resume: bool = False,
           resuming: Callable[[int, Path], None] | None = None) -> dict:
    """The crawl's snapshot; with ``raw_dir``, its answers written there too, and its progress
    kept beside it as each unit finishes, so that ``resume`` can take it up if this run dies
    (``resuming(units, progress folder)`` is told how many units are taken up)."""
    from archviz.discovery.raw import Recorder
    from archviz.discovery.raw.journal import Journal, progress_of
    from archviz.files import LOCK_SUFFIX, lock

    if raw_dir is None:
        return discover(request, progress)
    Recorder.check_target(raw_dir, out)  # before the crawl, not after it
    journal = Journal(progress_of(raw_dir))
    # One run at a time records into (and resumes) a raw folder.
    with lock(journal.path.parent / f"{journal.path.name}{LOCK_SUFFIX}", f"the raw folder {raw_dir}"):
        recorder = Recorder(journal=journal, request=request.record())
        if resume:
            if not journal.exists():
                raise InputError(f"--resume: no interrupted crawl to resume for --raw {raw_dir} (none was "
                                 f"started, or it finished: {journal.path} does not exist)")
            units = recorder.resume(journal)
            if resuming is not None:
                resuming(units, journal.path)
        doc = discover(request, progress, recorder)
        recorder.write(raw_dir, request.record())
        journal.remove()
    if recorded is not None:
        recorded(sum(len(c) for c in recorder.calls.values()), raw_dir)
    return doc


# -- evidence packs --------------------------------------------------------------------------

def evidence_from_crawl(request: CrawlRequest, out: Path, settings: dict, key: Any = None,
                        progress: OnProgress | None = None, analyzed: Callable[[dict], None] | None = None) -> Evidence:
    """archviz evidence: crawl ``request`` recording every answer, analyze with ``settings``, and
    write the pack ``out`` (its manifest signed with ``key``, an Ed25519 private key, if given).
    ``analyzed(doc)`` is called with the analyzed snapshot before the pack is built: what it
    raises (``--strict``) ends the run with no pack written."""
    from archviz.discovery.crawl import fewer_collections
    from archviz.discovery.raw import Recorder
    from archviz.evidence import pack

    with fewer_collections():
        recorder = Recorder()
        doc = discover(request, progress, recorder)
        model.apply(doc, **settings)
        raw_files = recorder.files(request.record())
        if analyzed is not None:
            analyzed(doc)
        return _write_pack(out, doc, raw_files, key, pack.RAW)


def evidence_from_snapshot(snapshot_path: Path, raw_dir: Path, out: Path, key: Any = None) -> Evidence:
    """archviz evidence --snapshot --raw: pack a finished crawl as it was analyzed (the pack is
    refused unless the raw folder's answers derive the snapshot)."""
    from archviz.discovery.raw import read_folder

    doc = snapshot.load(snapshot_path)
    return _write_pack(out, doc, read_folder(raw_dir), key, f"{raw_dir}/")


def _write_pack(out: Path, doc: dict, raw_files: dict[str, bytes], key: Any, source: str) -> Evidence:
    from archviz.evidence import pack

    data, manifest = pack.build(doc, raw_files, key, source)
    pack.write(out, data)
    # The manifest's files, the manifest and its sums file, and the signature.
    return Evidence(doc, out, len(manifest["files"]) + 2 + (key is not None), len(raw_files) - 1, key is not None)


# -- offline ---------------------------------------------------------------------------------

def analyze_file(snapshot_path: Path, out: Path | None = None, trusted_accounts: Iterable[str] | None = None,
                 config_path: Path | None = None) -> Saved:
    """archviz analyze: recompute the connections and findings of a snapshot (a file, or a folder
    holding snapshot.json) and write it to ``out``, a new file, or without it back to the snapshot
    file itself (updated in place, as documented)."""
    settings = analysis_settings(trusted_accounts, config_path)
    source = snapshot.file_of(snapshot_path)
    target = output_file(out, [config_path]) if out is not None else source
    doc = snapshot.load(source)
    model.apply(doc, **settings)
    snapshot.write(doc, target)
    return Saved(doc, target)


def merge_snapshots(snapshot_paths: list[Path], out: Path, trusted_accounts: Iterable[str] | None = None,
                    config_path: Path | None = None) -> MergedSnapshot:
    """archviz merge: combine snapshots of slices of one organization into OUT/snapshot.json,
    with connections and findings recomputed across them."""
    from archviz import merge

    settings = analysis_settings(trusted_accounts, config_path)
    output_file(Path(out) / snapshot.SNAPSHOT_FILE, [*map(snapshot.file_of, snapshot_paths), config_path],
                new_folder=True)
    docs = [snapshot.load(p) for p in snapshot_paths]
    result = merge.merge(docs, [str(p) for p in snapshot_paths], **settings)
    return MergedSnapshot(result, snapshot.save(result.doc, out))


def diff(old: dict, new: dict, settings: dict | None = None, redactor: Redactor | None = None) -> dict:
    """archviz diff: what changed from ``old`` to ``new`` (:func:`archviz.diff.compare`), judged with
    ``settings`` (none: the new snapshot's own). With a ``redactor``, both snapshots and the
    settings' account ids are replaced by its pseudonyms first, so the result names no real one."""
    from archviz import diff as drift

    settings = settings or {}
    if redactor is not None:
        old, new = redactor.snapshot(old), redactor.snapshot(new)
        settings = {k: frozenset(redactor.value(sorted(v))) if k == "trusted_accounts" else redactor.value(v)
                    for k, v in settings.items()}
    # A redacted copy was analysed just now: compare reuses that analysis where it would run the same one.
    return drift.compare(old, new, **settings, fresh=redactor is not None)


def findings_of(doc: dict, fmt: str, min_severity: str | None = None) -> tuple[bytes, int]:
    """archviz findings: a snapshot's findings alone, in a format of a pack's findings files
    (:data:`archviz.evidence.findings.FORMATS`), those at ``min_severity`` or worse; and how many."""
    from archviz.evidence import findings
    from archviz.model import vocab

    if "connections" not in doc:  # a snapshot written before the model existed
        model.apply(doc)
    if min_severity is not None:
        bar = vocab.severity_rank(min_severity)
        doc = dict(doc, findings=[f for f in doc["findings"] if vocab.severity_rank(f["severity"]) <= bar])
    return findings.FORMATS[fmt](doc), len(doc["findings"])


def prepare_render(doc: dict, old: dict | None = None, redactor: Redactor | None = None) -> tuple[dict, dict | None]:
    """archviz render (and the MkDocs plugin): the snapshot to draw and, given an older one
    (``--since``), the changes to show, each snapshot analysed once. With a ``redactor``, both are
    redacted first (which analyses each redacted copy), so that nothing a page says about the
    changes names what the drawing hides; the comparison reuses those analyses."""
    from archviz import diff as drift

    if redactor is not None:
        doc, old = redactor.snapshot(doc), (redactor.snapshot(old) if old is not None else None)
    return doc, (drift.compare(old, doc, fresh=redactor is not None) if old is not None else None)
