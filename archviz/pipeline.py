"""Discovery end to end: a crawl (live, recorded, or replayed from recorded answers) into a
snapshot. The command line and evidence packs both go through here, so a replay rebuilds a
snapshot exactly as the live crawl built it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from archviz import snapshot
from archviz.discovery.aws import AwsSessions
from archviz.discovery.crawl import CrawlRequest, crawl
from archviz.discovery.raw import Recorder, Replayer, now, parse_time
from archviz.errors import ReplayError, some


def discover(request: CrawlRequest, progress: Callable | None = None, recorder: Recorder | None = None) -> dict:
    """Crawl into a snapshot (not analyzed yet). With a ``recorder``, every answer is kept, and
    the snapshot's ``generated_at`` is the recording's ``finished_at``, so replaying the
    recording rebuilds the same bytes."""
    sessions = AwsSessions(profile=request.profile, hooks=recorder)
    result = crawl(request, progress, sessions)
    finished = now().replace(microsecond=0)
    if recorder is not None:
        recorder.finished_at = finished
        recorder.home_region = sessions.region
    return snapshot.build(result.scope, result.organization, result.accounts, result.coverage, result.records,
                          generated_at=finished)


def replay(source: Path | Replayer, progress: Callable | None = None, concurrency: int | None = None) -> dict:
    """The snapshot a raw folder's crawl built, rebuilt from its recorded answers alone: the same
    collectors run on real botocore clients, nothing is sent (not analyzed yet). Every recorded
    answer must be asked for, once."""
    replayer = source if isinstance(source, Replayer) else Replayer.from_folder(Path(source))
    request = CrawlRequest.from_record(replayer.request, concurrency)
    sessions = AwsSessions(region=replayer.home_region, hooks=replayer)
    result = crawl(request, progress, sessions)
    unused = replayer.unused()
    if unused:
        raise ReplayError(f"replay: recorded answers the crawl never asked for, in {some(unused, 3)} "
                          f"(a raw folder of another crawl, or one with answers added?)")
    return snapshot.build(result.scope, result.organization, result.accounts, result.coverage, result.records,
                          generated_at=parse_time(replayer.crawl["finished_at"]))
