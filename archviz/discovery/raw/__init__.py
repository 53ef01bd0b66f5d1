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
HTTP status, AWS's request id, the time the answer arrived and the answer itself.

The package: :mod:`.common` (what recording and replay share: the format, scrubbing, times),
:mod:`.record` (:class:`Recorder`, and the checks of a ``--raw`` target), :mod:`.replay`
(:class:`Replayer`) and :mod:`.folder` (reading and checking a raw folder)."""

from __future__ import annotations

from archviz.discovery.raw.common import (CRAWL_FILE, FORMAT, MAX_FILE_BYTES, PLACEHOLDER, SECRET_FIELDS, canonical,
                                         dumps, iso, now, parse_time, scrub)
from archviz.discovery.raw.folder import max_raw_bytes, parse, read_folder
from archviz.discovery.raw.record import Recorder, apart
from archviz.discovery.raw.replay import Replayer

__all__ = ["Recorder", "Replayer", "apart", "read_folder", "parse", "max_raw_bytes", "scrub", "canonical", "dumps",
           "now", "iso", "parse_time", "CRAWL_FILE", "FORMAT", "MAX_FILE_BYTES", "PLACEHOLDER", "SECRET_FIELDS"]
