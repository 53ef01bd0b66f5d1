"""The ``archviz`` command line: thin click commands over :mod:`archviz.pipeline` (the use
cases) and the library. A command parses its options, checks their combinations (click usage
errors) and reports on stderr; the pipeline does the work.

Exit codes are those of :mod:`archviz.errors` (``errors.exit_codes()``): each error class there
carries its own, and the README's table lists them."""

from __future__ import annotations

import atexit
import gc
import os
import re
import sys
import threading
from pathlib import Path

import click

from archviz import __version__
from archviz.config import ACCOUNT as ACCOUNT_RE
from archviz.errors import INTERRUPTED, ArchvizError, InputError, some as _some

REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
OU_RE = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")  # an OU, or the root


def _ids(pattern: re.Pattern, expected: str, unique: bool = False):
    """A click callback: comma-separated ids, each matching ``pattern``; a bad one is named."""
    def parse(_ctx, _param, value: str | None) -> list[str] | None:
        if value is None:
            return None
        ids = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in ids if not pattern.match(v)]
        if bad or not ids:
            raise click.BadParameter(f"expected {expected} separated by commas, got {', '.join(bad) or 'nothing'}")
        return sorted(set(ids)) if unique else ids
    return parse


_accounts = _ids(ACCOUNT_RE, "12-digit account ids")
_ous = _ids(OU_RE, "organizational unit ids (like ou-ab12-cd34ef56, or the root r-ab12)", unique=True)


def _regions(_ctx, _param, value: str | None) -> list[str] | None:
    if value is None:
        return None
    regions = [v.strip() for v in value.split(",") if v.strip()]
    if regions == ["all"]:
        return regions
    bad = [r for r in regions if not REGION_RE.match(r)]
    if bad or not regions:
        raise click.BadParameter(f"expected region names (like eu-west-1) separated by commas, or 'all'; got {', '.join(bad) or 'nothing'}")
    return regions


SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")


def _session_name(_ctx, _param, value: str | None) -> str | None:
    """An STS role session name: 2 to 64 letters, digits or ``+=,.@_-`` (what AssumeRole takes)."""
    if value is not None and not SESSION_NAME_RE.match(value):
        raise click.BadParameter(f"2 to 64 letters, digits or +=,.@_- (what sts:AssumeRole takes); got {value!r}")
    return value


class Progress:
    """Units done / total on stderr: a rewritten line on a terminal, a few lines otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last_step = -1

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            click.echo(f"\r{self.label}: {done}/{total} units", nl=done == total, err=True)
            return
        step = (10 * done) // max(total, 1)
        if step != self.last_step or done == total:
            self.last_step = step
            click.echo(f"{self.label}: {done}/{total} units", err=True)


ANALYSIS_OPTIONS = [
    click.option("--trusted-accounts", callback=_accounts, metavar="ID,ID...",
                 help="Accounts outside the organization that the findings treat as inside."),
    click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                 help="TOML config file (trusted_accounts, marketplace_links)."),
]


def _report_analysis(doc: dict) -> None:
    from collections import Counter

    from archviz.model import SEVERITIES

    cases = Counter(c["use_case"] for c in doc["connections"])
    sev = Counter(f["severity"] for f in doc["findings"])
    click.echo(f"analyze: {len(doc['connections'])} connections ("
               + ", ".join(f"{k} {v}" for k, v in sorted(cases.items())) + f"); {len(doc['findings'])} findings ("
               + ", ".join(f"{v} {k}" for k, v in sorted(sev.items(), key=lambda kv: SEVERITIES.index(kv[0])))
               + ")", err=True)


DISCOVER_OPTIONS = [
    click.option("--profile", help="AWS profile (default: the standard credential chain)."),
    click.option("--org", is_flag=True, help="Crawl every ACTIVE account of the organization."),
    click.option("--accounts", callback=_accounts, metavar="ID,ID...", help="Crawl exactly these accounts."),
    click.option("--accounts-from", metavar="FILE",
                 help="Crawl exactly the accounts listed in FILE ('-': standard input): one 12-digit id at the "
                      "start of each line (CSV 'id,name' works), '#' comments and blank lines ignored."),
    click.option("--ou", "ou_ids", callback=_ous, metavar="OU_ID,OU_ID...",
                 help="Crawl the ACTIVE accounts under these organizational units, at any depth "
                      "(needs the organization's read access, like --org)."),
    click.option("--role-name", help="Role to assume in every account other than the caller's."),
    click.option("--external-id", help="External id for the assumed role."),
    click.option("--role-session-name", callback=_session_name,
                 help="Session name of the assumed role, as CloudTrail shows it (default: archviz)."),
    click.option("--duration-seconds", type=click.IntRange(900, 43200), default=None,
                 help="How long the assumed role's credentials last, 900 to 43200 seconds (default: one hour, "
                      "AssumeRole's default); they are renewed as they run out."),
    click.option("--regions", callback=_regions, metavar="R1,R2...|all",
                 help="Regions to crawl (default: the session's region)."),
    click.option("--concurrency", type=click.IntRange(1, 256), default=None,
                 help="Account-region units crawled in parallel (default: one per unit, up to 64)."),
    click.option("--strict", is_flag=True,
                 help="Exit with code 5 if any account-region or Marketplace unit failed."),
]


RAW_OPTIONS = [
    click.option("--raw", "raw_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="Also keep every AWS answer the crawl used, as received (credentials removed), in this "
                      "folder: the evidence 'discover --replay' rebuilds the snapshot from."),
    click.option("--replay", "replay_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="Rebuild the snapshot from a --raw folder's recorded answers instead of crawling: "
                      "the same collectors, nothing sent, no credentials needed."),
    click.option("--resume", is_flag=True,
                 help="With --raw: continue the crawl into that folder that was interrupted (same options): "
                      "the units it finished are not asked again."),
]


def _list(choices):
    def parse(_ctx, _param, value):
        items = [v.strip() for v in (value or "").split(",") if v.strip()]
        bad = [v for v in items if v not in choices]
        if bad or not items:
            raise click.BadParameter(f"choose from {', '.join(choices)} (comma-separated); got {', '.join(bad) or 'nothing'}")
        return tuple(dict.fromkeys(items))
    return parse


REDACT_OPTIONS = [
    click.option("--redact", is_flag=True,
                 help="Replace account ids, IP addresses, organization ids and DNS names that embed an id "
                      "with stable pseudonyms in everything written (AWS service and region names stay)."),
    click.option("--redact-key", "redact_key", type=click.Path(dir_okay=False, path_type=Path),
                 help="HMAC key file (16 bytes or more) for --redact: the same pseudonyms across runs. "
                      "Without it, the key is derived from the snapshot itself."),
    click.option("--redact-names", is_flag=True, help="With --redact: also replace account, OU and resource names, "
                                                       "tag values and custom private DNS names."),
]


def _render_options():
    """--diagram-format and --only, with the choices the render layer declares (its backends and
    its kinds of diagram; neither module loads a drawing library)."""
    from archviz.render.backends import BACKENDS, FORMATS
    from archviz.render.kinds import GROUPS

    graphviz = [f for f in FORMATS if BACKENDS[f].image]
    editable = ", ".join(f for f in FORMATS if BACKENDS[f].laid_out)
    blocks = "; ".join(f"{f} puts each diagram in its page as a ```{BACKENDS[f].block} block" for f in FORMATS
                       if BACKENDS[f].block)
    files = ", ".join(f for f in FORMATS if BACKENDS[f].text and not BACKENDS[f].block)
    return [
        click.option("--diagram-format", "--format", "formats", default=FORMATS[0], show_default=True,
                     metavar=",".join(FORMATS), callback=_list(FORMATS),
                     help=f"Diagram formats: {' and '.join(graphviz)} are drawn by Graphviz (pages show the first); "
                          f"{editable}: an editable diagrams.net file from the same layout (pages link it); "
                          f"{blocks} (no Graphviz needed)" + (f"; {files}: diagram files only" if files else "") + "."),
        click.option("--only", default=",".join(GROUPS), show_default=True,
                     metavar="GROUPS", callback=_list(GROUPS),
                     help="Which diagrams and pages to render (index.md and findings.md always are)."),
    ]


RENDER_OPTIONS = _render_options()


def run_render(doc: dict, out: Path, formats, only, title=None, nav_prefix=None, since=None, redacted=False) -> None:
    try:
        from archviz.render import render  # the drawing stack: diagrams and the graphviz package
    except ModuleNotFoundError as exc:  # a broken install: diff, validate and the rest still work
        raise ArchvizError(f"cannot render: the {(exc.name or 'drawing').split('.')[0]} package is not installed "
                           f"(reinstall archviz: it depends on it)")

    site = render(doc, out, formats=formats, only=only, title=title, nav_prefix=nav_prefix, since=since,
                  redacted=redacted)
    pages = sum(1 for f in site.files if f.endswith(".md"))
    diagrams = sum(1 for f in site.files if f.startswith("diagrams/"))
    click.echo(f"render: {pages} pages and {diagrams} diagram files in {out}/ (start at {out / 'index.md'})", err=True)
    if nav_prefix is not None:
        click.echo(f"render: docs-site section; add the entries of {out / 'nav.yml'} to the nav of mkdocs.yml "
                   f"(pages under {nav_prefix or 'the docs folder'})", err=True)
    if site.removed:
        click.echo(f"render: removed {len(site.removed)} files of the previous render that no longer apply", err=True)
    if site.kept:
        click.echo(f"render: kept {len(site.kept)} files of the previous render that were edited since: "
                   + ", ".join(site.kept[:5]), err=True)


def with_options(options):
    def apply(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn
    return apply


# The option each parameter comes from, where its name is not the flag's.
_FLAG = {"raw_dir": "--raw", "replay_dir": "--replay", "ou_ids": "--ou", "config_path": "--config"}


def _given(**values) -> list[str]:
    """The flags of the options that were given (for "drop ..." usage errors)."""
    return [_FLAG.get(name, "--" + name.replace("_", "-")) for name, value in values.items() if value]


def _report_strict(label: str, doc: dict, where: Path, strict: bool, consequence: str) -> None:
    """Report what the snapshot holds and misses; with --strict, a failed unit is exit code 5."""
    from archviz import pipeline

    _report_snapshot(label, doc, where)
    if strict:
        pipeline.require_complete(doc, consequence)


def crawl_request(profile, org, accounts, role_name, external_id, regions, concurrency, ou_ids=None,
                  accounts_from=None, role_session_name=None, duration_seconds=None):
    """The crawl the discover options ask for; alternatives given together are a usage error
    (checked here, with the options, before --accounts-from's file is read)."""
    from archviz.accounts_file import read_account_ids
    from archviz.discovery.crawl import ROLE_SESSION_NAME, CrawlRequest

    given = [flag for flag, value in (("--org", org), ("--accounts", accounts), ("--accounts-from", accounts_from),
                                      ("--ou", ou_ids)) if value]
    if len(given) > 1:
        raise click.UsageError(f"{', '.join(given[:-1])} and {given[-1]} are alternatives: pass one of them")
    if accounts_from is not None:
        accounts = read_account_ids(accounts_from)
    return CrawlRequest(profile=profile, org=org, accounts=accounts, role_name=role_name,
                        external_id=external_id, regions=regions, concurrency=concurrency, ou_ids=ou_ids,
                        role_session_name=role_session_name or ROLE_SESSION_NAME, duration_seconds=duration_seconds)


def run_discover(out: Path, profile, org, accounts, role_name, external_id, regions, concurrency, strict,
                 trusted_accounts=None, config_path=None, ou_ids=None, accounts_from=None, raw_dir=None,
                 replay_dir=None, role_session_name=None, duration_seconds=None, resume=False) -> dict:
    """Crawl (or replay a recorded crawl), analyze, write DIR/snapshot.json atomically, report
    coverage on stderr."""
    from archviz import pipeline, snapshot
    from archviz.files import output_file

    if resume and raw_dir is None:
        raise click.UsageError("--resume continues a crawl recorded with --raw DIR: pass that --raw DIR")
    settings = pipeline.analysis_settings(trusted_accounts, config_path)
    output_file(out / snapshot.SNAPSHOT_FILE, [accounts_from, config_path], new_folder=True)
    if replay_dir is not None:
        scoped = _given(profile=profile, org=org, accounts=accounts, accounts_from=accounts_from, ou_ids=ou_ids,
                        role_name=role_name, external_id=external_id, regions=regions, raw_dir=raw_dir,
                        role_session_name=role_session_name, duration_seconds=duration_seconds, resume=resume)
        if scoped:
            raise click.UsageError(f"--replay rebuilds the recorded crawl as it was asked: drop {', '.join(scoped)}")
        source, label = replay_dir, "replay"
    else:
        source, label = crawl_request(profile, org, accounts, role_name, external_id, regions, concurrency, ou_ids,
                                      accounts_from, role_session_name, duration_seconds), "discover"
    saved = pipeline.discover_snapshot(out, source, settings, raw_dir, concurrency, Progress(label), _report_kept,
                                       resume, _report_resuming)
    try:
        _report_strict("discover", saved.doc, saved.path, strict, f"the snapshot was written to {saved.path}")
    finally:
        click.echo(str(saved.path))
    return saved.doc


def _report_resuming(units: int, progress: Path) -> None:
    click.echo(f"discover: resuming: {units} finished units taken from {progress}/, the rest crawled", err=True)


def _report_kept(answers: int, raw_dir: Path) -> None:
    click.echo(f"discover: {answers} AWS answers kept in {raw_dir}/", err=True)


def _report_snapshot(label: str, doc: dict, path: Path) -> None:
    """What the snapshot holds and what it does not cover, on stderr."""
    failed = [c for c in doc["coverage"] if c["status"] == "error"]
    skipped = [c for c in doc["coverage"] if c["status"] == "skipped"]
    click.echo(f"{label}: {len(doc['accounts'])} accounts, {len(doc['scope']['regions'])} regions: "
               f"{len(doc['endpoints'])} endpoints, {len(doc['endpoint_services'])} endpoint services, "
               f"{len(doc['endpoint_connections'])} connections, {len(doc['load_balancers'])} load balancers", err=True)
    if failed or skipped:
        shown = _some([f"{c['account_id']}/{c['region']} {c['error_code']}" for c in failed + skipped])
        click.echo(f"{label}: not covered: {len(failed)} failed, {len(skipped)} skipped: {shown} "
                   f"(see coverage in {path})", err=True)
    _report_analysis(doc)


class ArchvizGroup(click.Group):
    """Maps every error to one line on stderr and a documented exit code, inside the group, so
    ``CliRunner`` tests see exactly what a user sees."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except ArchvizError as exc:
            click.echo(f"archviz: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("archviz: interrupted", err=True)
            ctx.exit(INTERRUPTED)
        except BrokenPipeError:  # whoever read standard output stopped (``| head``): stop quietly
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
            except (OSError, ValueError):  # no real file descriptor (a test's runner)
                pass
            ctx.exit(ArchvizError.exit_code)
        except Exception as exc:  # a bug: one line, unless asked for the traceback
            if os.environ.get("ARCHVIZ_DEBUG"):
                raise
            click.echo(f"archviz: internal error: {type(exc).__name__}: {exc} "
                       f"(set ARCHVIZ_DEBUG=1 for a traceback)", err=True)
            ctx.exit(ArchvizError.exit_code)


@click.group(cls=ArchvizGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archviz")
def cli() -> None:
    """Crawl AWS accounts and draw their PrivateLink architecture."""


@cli.command()
@with_options(DISCOVER_OPTIONS + RAW_OPTIONS + ANALYSIS_OPTIONS)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for snapshot.json.")
def discover(out, **opts):
    """Crawl accounts and regions into DIR/snapshot.json."""
    run_discover(out, **opts)


@cli.command()
@with_options(DISCOVER_OPTIONS + RAW_OPTIONS + ANALYSIS_OPTIONS + RENDER_OPTIONS)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for snapshot.json, the pages and the diagrams.")
def snapshot(out, formats, only, **opts):
    """Discover, then render into the same folder (the main command for your own accounts)."""
    from archviz.render.output import check

    check(out)  # what the render would refuse, before the crawl
    doc = run_discover(out, **opts)
    run_render(doc, out, formats, only)


@cli.command()
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(path_type=Path))
@with_options(RENDER_OPTIONS)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the pages and the diagrams.")
@click.option("--site", type=click.Path(file_okay=False, path_type=Path),
              help="Like --out, for a folder inside a docs site (docs/privatelink): also writes "
                   "nav.yml (for mkdocs.yml) and .nav.yml (for mkdocs-awesome-nav).")
@click.option("--site-title", metavar="TEXT", help="Title of the section and of its first page.")
@click.option("--since", "since_path", metavar="OLD", type=click.Path(path_type=Path),
              help="An older snapshot: index.md gets a 'Changes since' section (as archviz diff) and the "
                   "overview marks the connections that are new.")
@with_options(REDACT_OPTIONS)
def render(snapshot_path, out, site, site_title, formats, only, since_path, redact, redact_key, redact_names):
    """Render diagrams and markdown pages from a snapshot (offline, no credentials)."""
    from archviz import diff as drift
    from archviz import pipeline
    from archviz import snapshot as snap
    from archviz.render.drift import headline
    from archviz.render.nav import is_docs_folder, prefix_for

    if (out is None) == (site is None):
        raise click.UsageError("pass one of --out DIR and --site DIR")
    if site_title is not None and site is None:
        raise click.UsageError("--site-title goes with --site")
    if site is not None and is_docs_folder(site):
        raise click.UsageError(f"--site {site} is a docs folder itself: give a folder inside it "
                               f"(for example {site / 'privatelink'}), so the site's own pages stay its own")
    doc = snap.load(snapshot_path)
    old = snap.load(since_path) if since_path is not None else None
    redactor = _redactor([doc] + ([old] if old else []), redact, redact_key, redact_names)
    doc, since = pipeline.prepare_render(doc, old, redactor)
    redacted = redactor is not None
    if site is not None:
        run_render(doc, site, formats, only, title=site_title, nav_prefix=prefix_for(site), since=since,
                   redacted=redacted)
    else:
        run_render(doc, out, formats, only, since=since, redacted=redacted)
    if since is not None:
        click.echo(f"render: since {since['old']['generated_at']}: {headline(since)}", err=True)
        if drift.backwards(since):
            click.echo(f"render: note: --since: {drift.backwards(since)}", err=True)


@cli.command()
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the analyzed snapshot here (default: update SNAPSHOT in place).")
@with_options(ANALYSIS_OPTIONS)
def analyze(snapshot_path, out, **opts):
    """Recompute connections and findings of an existing snapshot (offline)."""
    from archviz import pipeline

    # Without --out, SNAPSHOT is updated in place, as documented; --out is a new file.
    saved = pipeline.analyze_file(snapshot_path, out, opts["trusted_accounts"], opts["config_path"])
    _report_analysis(saved.doc)
    click.echo(str(saved.path))


@cli.command("merge")
@click.argument("snapshot_paths", metavar="SNAPSHOT...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the merged snapshot.json.")
@with_options(ANALYSIS_OPTIONS)
def merge_command(snapshot_paths, out, **opts):
    """Combine snapshots of slices of one organization (discover --ou, --accounts-from) into
    DIR/snapshot.json, with connections and findings recomputed across them (offline)."""
    from archviz import pipeline

    result, path = pipeline.merge_snapshots(snapshot_paths, out, opts["trusted_accounts"], opts["config_path"])
    _report_merge(result)
    _report_snapshot("merge", result.doc, path)
    click.echo(str(path))


def _report_merge(result) -> None:
    """What archviz merge combined, counted once, chose between and misses, on stderr."""
    from archviz import merge

    click.echo(f"merge: {result.inputs} snapshots combined", err=True)
    for label in result.duplicates:
        click.echo(f"merge: {label} is identical to another input; counted once", err=True)
    if result.conflicts:
        shown = _some([f"{merge.describe(key)} from {label}" for key, label in result.conflicts])
        click.echo(f"merge: {len(result.conflicts)} units differ between the inputs that crawled them; each was "
                   f"taken whole from one (ok before skipped before error, then the newest): {shown}", err=True)
    if result.unsliced:
        shown = _some(result.unsliced)
        click.echo(f"merge: {len(result.unsliced)} accounts of the organization are in none of the snapshots' scope "
                   f"(a missing slice? suspended accounts are never crawled): {shown}", err=True)


@cli.command()
@with_options(DISCOVER_OPTIONS + ANALYSIS_OPTIONS)
@click.option("--snapshot", "snapshot_path", type=click.Path(path_type=Path),
              help="Pack this snapshot (with --raw, the folder of the crawl that made it) instead of crawling.")
@click.option("--raw", "raw_dir", type=click.Path(file_okay=False, path_type=Path),
              help="With --snapshot: the raw folder ('discover --raw') of the same crawl.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The pack to write (a .zip).")
@click.option("--sign", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Sign the manifest with this Ed25519 private key (PEM; openssl genpkey -algorithm ed25519).")
def evidence(snapshot_path, raw_dir, out, key_path, strict, trusted_accounts, config_path, **opts):
    """Crawl (or take a snapshot and its raw folder) into an audit evidence pack: one zip with the
    raw AWS answers, the snapshot, the findings (CSV, JSON, OCSF), the pages, report.html, a
    manifest with every file's SHA-256, and a README telling an auditor how to verify it."""
    from archviz import pipeline, snapshot
    from archviz.evidence import pack
    from archviz.files import output_file

    inputs = [key_path, config_path, opts.get("accounts_from"), snapshot_path and snapshot.file_of(snapshot_path),
              raw_dir]
    output_file(out, inputs)  # before the crawl, not after it
    key = pack.load_key(key_path) if key_path is not None else None
    if snapshot_path is not None or raw_dir is not None:
        if snapshot_path is None or raw_dir is None:
            raise click.UsageError("--snapshot and --raw go together: the snapshot and the raw folder of one crawl")
        given = _given(**opts, strict=strict, trusted_accounts=trusted_accounts, config_path=config_path)
        if given:
            raise click.UsageError(f"--snapshot packs a finished crawl as it was analyzed: drop {', '.join(given)}")
        packed = pipeline.evidence_from_snapshot(snapshot_path, raw_dir, out, key)
    else:
        settings = pipeline.analysis_settings(trusted_accounts, config_path)
        request = crawl_request(**opts)
        packed = pipeline.evidence_from_crawl(
            request, out, settings, key, Progress("evidence"),
            analyzed=lambda doc: _report_strict("evidence", doc, out, strict, "no pack was written"))
    click.echo(f"evidence: {packed.files} files, {packed.answers} raw answer files, "
               f"{len(packed.doc['findings'])} findings" + ("; manifest signed" if packed.signed else ""), err=True)
    click.echo(str(packed.path))


@cli.command()
@click.argument("pack_path", metavar="PACK", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The Ed25519 public key (PEM) the pack's manifest must be signed with.")
@click.option("--require-signature", is_flag=True,
              help="Fail (exit 7) unless the pack is signed and the signature is checked with --key and good.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="The verdict as one line of text, or as JSON on standard output (for CI).")
def verify(pack_path, key_path, require_signature, fmt):
    """Check an evidence pack offline: every hash and the signature, no file added or removed, and
    the snapshot and findings re-derived from its raw AWS answers. Exit 7 names the first difference."""
    import json

    from archviz.errors import ArchvizError, VerificationError
    from archviz.evidence import pack as evidence_pack
    from archviz.evidence.verify import verify as check

    try:
        if require_signature and key_path is None:
            raise VerificationError("--require-signature: no --key given, so no signature can be checked")
        public = evidence_pack.read_small(key_path, "--key") if key_path is not None else None
        result = check(pack_path, public, str(key_path))
        if require_signature and not result.signed:  # (with --key, an unsigned pack already failed above)
            raise VerificationError("--require-signature: the pack is not signed")
    except ArchvizError as exc:
        if fmt == "json":
            click.echo(json.dumps({"pack": str(pack_path), "verified": False, "exit_code": exc.exit_code,
                                   "error": str(exc)}, indent=2))
        raise
    signature = "good" if result.signed else "unchecked" if result.unchecked_signature else "none"
    if fmt == "json":
        click.echo(json.dumps({"pack": str(pack_path), "verified": True, "exit_code": 0, "signature": signature,
                               "files": result.files, "answers": result.answers, "connections": result.connections,
                               "findings": result.findings, "trusted_accounts": result.trusted,
                               "marketplace_links": result.marketplace_links, "made_by": result.made_by}, indent=2))
        return
    first = {"good": "verified, signature good", "none": "verified, not signed",
             "unchecked": "verified, but its signature was NOT checked (pass --key)"}[signature]
    settings = f"{result.trusted} trusted outside accounts, {result.marketplace_links} Marketplace links"
    click.echo(f"{pack_path}: {first}: {result.files} files match the manifest; the snapshot, findings and manifest "
               f"({result.connections} connections, {result.findings} findings; analyzed with {settings}) re-derive "
               f"from {result.answers} raw answer files")


@cli.command()
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(path_type=Path))
def validate(snapshot_path):
    """Check that SNAPSHOT (a file, or a folder holding snapshot.json) is a valid snapshot."""
    from archviz import snapshot

    doc = snapshot.load(snapshot_path)
    click.echo(f"{snapshot_path}: valid archviz snapshot (schema version {doc['schema_version']}, "
               f"{len(doc['accounts'])} accounts, {len(doc['endpoints'])} endpoints)")


def _redactor(docs: list[dict], redact: bool, redact_key, redact_names: bool):
    """The :class:`archviz.redact.Redactor` the flags ask for, or None without --redact."""
    if not redact:
        flags = _given(redact_key=redact_key, redact_names=redact_names)
        if flags:
            raise click.UsageError(f"{' and '.join(flags)} go{'es' if len(flags) == 1 else ''} with --redact")
        return None
    from archviz.redact import from_options

    return from_options(docs, redact_key, redact_names)


def _write_or_print(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    from archviz.files import write_atomic

    try:
        write_atomic(out, text.encode("utf-8"))
    except OSError as exc:
        raise ArchvizError(f"cannot write {out}: {exc.strerror or exc}")


@cli.command()
@click.argument("old_path", metavar="OLD", type=click.Path(path_type=Path))
@click.argument("new_path", metavar="NEW", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True,
              help="text for a terminal, md for a docs-site page, json (archviz/schema/diff-1.schema.json).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of standard output.")
@click.option("--fail-on", metavar="KINDS",
              help="Exit with code 8 when a change of these kinds is found (comma-separated): new-external-consumer, "
                   "new-untrusted-principal, open-to-all, new-findings[:critical|high|medium|low|info], "
                   "coverage-worse, any.")
@with_options(ANALYSIS_OPTIONS + REDACT_OPTIONS)
def diff(old_path, new_path, fmt, out, fail_on, trusted_accounts, config_path, redact, redact_key, redact_names):
    """What changed from snapshot OLD to snapshot NEW (offline): connections, endpoint services,
    principals, targets, findings, coverage, accounts."""
    from archviz import diff as drift
    from archviz import pipeline, snapshot
    from archviz.files import output_file
    from archviz.render.drift import FORMATS, headline
    from archviz.text import visible

    kinds = drift.parse_fail_on(fail_on)
    if out is not None:  # leave out --out to write to standard output
        output_file(out, [snapshot.file_of(old_path), snapshot.file_of(new_path), config_path, redact_key])
    old, new = snapshot.load(old_path), snapshot.load(new_path)
    given = trusted_accounts or config_path  # without either, the new snapshot's own settings
    settings = pipeline.analysis_settings(trusted_accounts, config_path) if given else {}
    result = pipeline.diff(old, new, settings, _redactor([new, old], redact, redact_key, redact_names))
    if drift.backwards(result):
        click.echo(f"diff: note: {drift.backwards(result)}", err=True)
    _write_or_print(FORMATS[fmt](result), out)
    click.echo(f"diff: {headline(result)}" + (f" (written to {out})" if out else ""), err=True)
    fired = drift.triggered(result, kinds)
    if fired:
        raise drift.DriftFound(f"--fail-on {','.join(kinds)}: {len(fired)} change(s), first: "
                               f"{fired[0]['kind']} {drift.CHANGES[fired[0]['change']]}: "
                               f"{visible(fired[0]['summary'])}")


@cli.command()
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "ocsf"]), default="json", show_default=True,
              help="csv (for a spreadsheet), json (archviz's own), ocsf (OCSF Detection Findings, for a SIEM or "
                   "Security Lake): the formats of an evidence pack's findings files.")
@click.option("--min-severity", type=click.Choice(["critical", "high", "medium", "low", "info"]),
              help="Only findings this severe or worse.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (replaced whole, never half-written); standard output if left out.")
def findings(snapshot_path, fmt, min_severity, out):
    """The findings of SNAPSHOT alone (offline), for CI and SIEM pipelines: the same files an
    evidence pack holds, without building a pack."""
    from archviz import pipeline, snapshot
    from archviz.files import output_file

    if out is not None:
        output_file(out, [snapshot.file_of(snapshot_path)])
    data, count = pipeline.findings_of(snapshot.load(snapshot_path), fmt, min_severity)
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)  # the bytes as a pack holds them (CSV ends lines with CRLF)
        sys.stdout.buffer.flush()
    else:
        _write_or_print(data.decode("utf-8"), out)
    click.echo(f"findings: {count} {'finding' if count == 1 else 'findings'}"
               + (f" at {min_severity} or worse" if min_severity else "") + (f" written to {out}" if out else ""), err=True)


@cli.command("redact")
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The redacted snapshot to write (a .json file).")
@click.option("--redact-key", "redact_key", type=click.Path(dir_okay=False, path_type=Path),
              help="HMAC key file (16 bytes or more): the same pseudonyms across runs.")
@click.option("--redact-names", is_flag=True, help="Also replace account, OU and resource names, tag values and "
                                                   "custom private DNS names.")
def redact_command(snapshot_path, out, redact_key, redact_names):
    """Write a copy of SNAPSHOT with account ids, addresses and ids in DNS names replaced by
    stable pseudonyms; it loads, analyses and renders like the original."""
    from archviz import snapshot
    from archviz.files import output_file, resolved

    source = snapshot.file_of(snapshot_path)
    if resolved(out, f"--out {out}") == resolved(source, str(source)):
        raise InputError(f"--out {out} is the snapshot being redacted: write the redacted copy elsewhere "
                         f"(the original is kept)")
    output_file(out, [source, redact_key])
    doc = snapshot.load(source)
    redacted = _redactor([doc], True, redact_key, redact_names).snapshot(doc)
    snapshot.write(snapshot.validate(redacted, "redacted snapshot"), out)
    click.echo(f"redact: {out} ({len(redacted['accounts'])} accounts, {len(redacted['endpoints'])} endpoints)", err=True)


@cli.command()
@click.option("--out", default="output/demo", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's snapshot and pages.")
def demo(out):
    """Run the whole pipeline against the embedded sandbox (no AWS account needed)."""
    from archviz.sandbox import demo as demo_org
    from archviz.sandbox.server import Sandbox

    with Sandbox() as sb:
        sb.reset()
        click.echo(f"demo: sandbox on {sb.endpoint_url}; seeding the demo organization", err=True)
        demo_org.seed(sb.endpoint_url, *sb.credentials)
        with sb.activated():
            doc = run_discover(out, profile=None, org=True, accounts=None, role_name=demo_org.ROLE_NAME,
                               external_id=None, regions=list(demo_org.REGIONS), concurrency=None, strict=False)
    from archviz.render.kinds import GROUPS

    run_render(doc, out, ("svg",), GROUPS)
    click.echo(f"demo: done; open {out / 'index.md'}", err=True)


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
def sandbox(port):
    """Start the seeded sandbox and keep it running until interrupted."""
    from archviz.sandbox import demo as demo_org
    from archviz.sandbox.server import Sandbox

    with Sandbox(port=port) as sb:
        sb.reset()
        demo_org.seed(sb.endpoint_url, *sb.credentials)
        click.echo(f"# archviz sandbox on {sb.endpoint_url} (Ctrl-C stops it). Point AWS tools at it with:")
        for key, value in sb.env().items():
            click.echo(f"export {key}={value}")
        click.echo(f"# then: archviz discover --org --role-name {demo_org.ROLE_NAME} "
                   f"--regions {','.join(demo_org.REGIONS)} --out output/sandbox")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("archviz sandbox: stopped", err=True)


# A command's process ends when the command does. Python's cyclic collector runs less often in it
# (as during a crawl: discovery.crawl.fewer_collections), and what is still alive at exit is not
# walked once more on the way out (a crawl recorded with --raw holds every answer: that last full
# collection cost about 0.35 s of a 4 s process); the operating system takes the memory back.
PROCESS_GC_THRESHOLD = 10_000


def main(argv: list[str] | None = None) -> None:
    """The console script: the group maps errors to exit codes; click handles usage errors."""
    gc.set_threshold(max(PROCESS_GC_THRESHOLD, gc.get_threshold()[0]), *gc.get_threshold()[1:])
    atexit.register(gc.freeze)
    cli.main(args=argv, prog_name="archviz")
