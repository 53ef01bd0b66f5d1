"""The use cases in archviz.pipeline: a render with --since and --redact analyses each snapshot
once, and gives what analysing them afresh gives."""

from __future__ import annotations

import copy

import pytest

from archviz import diff, model, pipeline
from archviz.redact import from_options
from tests.test_diff import changed


def _counting(monkeypatch) -> list[int]:
    calls = []
    real = model.analyze

    def counted(doc, *args, **kwargs):
        calls.append(1)
        return real(doc, *args, **kwargs)

    monkeypatch.setattr(model, "analyze", counted)  # redaction and diff both call model.analyze
    return calls


def _pair():
    old, new = changed(lambda d: d["endpoint_services"][0]["allowed_principals"].append(
        {"principal": "arn:aws:iam::999999999999:root", "principal_type": None}))
    return model.apply(old), model.apply(new)


@pytest.mark.parametrize("redact", [False, True])
def test_render_since_analyses_each_snapshot_once(monkeypatch, redact):
    old, new = _pair()
    redactor = from_options([new, old], None, False) if redact else None
    calls = _counting(monkeypatch)
    doc, since = pipeline.prepare_render(copy.deepcopy(new), copy.deepcopy(old), redactor)
    assert len(calls) == 2
    monkeypatch.undo()
    # the same changes as comparing the (redacted) snapshots from scratch
    if redactor is not None:
        fresh = diff.compare(redactor.snapshot(old), redactor.snapshot(new))
        assert "999999999999" not in diff.to_json(since)
    else:
        fresh = diff.compare(old, new)
    assert since == fresh and since["changes"]


def test_diff_with_redaction_analyses_each_snapshot_once(monkeypatch):
    old, new = _pair()
    redactor = from_options([new, old], None, False)
    calls = _counting(monkeypatch)
    result = pipeline.diff(copy.deepcopy(old), copy.deepcopy(new), {}, redactor)
    assert len(calls) == 2
    monkeypatch.undo()
    assert result == diff.compare(redactor.snapshot(old), redactor.snapshot(new))


def test_a_stored_analysis_is_not_trusted_unless_fresh(monkeypatch):
    """A snapshot read from disk may have been analysed by an older archviz: compare re-analyses it."""
    old, new = _pair()
    calls = _counting(monkeypatch)
    diff.compare(old, new)
    assert len(calls) == 2
    stale = copy.deepcopy(new)
    stale["findings"] = []  # as an older archviz without the rules might have left it
    assert diff.compare(old, stale)["changes"] == diff.compare(old, new)["changes"] != []
