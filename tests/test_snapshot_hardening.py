"""Odd input never becomes a traceback or "internal error": one line, exit 3, and output files
keep the mode a plain ``open()`` gives them."""

from __future__ import annotations

import copy
import json
import os
import stat

import pytest

from archviz import snapshot as snap
from archviz.errors import ArchvizError
from tests.conftest import invoke


@pytest.fixture(scope="module")
def demo_doc(demo_crawl):
    return copy.deepcopy(demo_crawl[1])


def _deep(levels: int):
    value: object = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def _odd(doc: dict, what: str) -> dict:
    doc = copy.deepcopy(doc)
    if what == "target-group-arn":
        lb = next(lb for lb in doc["load_balancers"] if lb["target_groups"])
        lb["target_groups"][0]["arn"] = 5
    elif what == "rule-severity":
        doc["analysis"]["rules"][0]["severity"] = "bogus"
    elif what == "listener-without-arn":
        next(lb for lb in doc["load_balancers"] if lb["listeners"])["listeners"][0] = {}
    elif what == "connection-without-endpoint-id":
        doc["endpoint_connections"][0]["endpoint_id"] = None
    elif what == "connection-without-owner":
        doc["endpoint_connections"][0]["endpoint_owner"] = None
    return doc


@pytest.mark.parametrize("what", ["target-group-arn", "rule-severity", "listener-without-arn",
                                  "connection-without-endpoint-id", "connection-without-owner"])
@pytest.mark.parametrize("command", ["validate", "analyze", "render"])
def test_schema_rejects_what_the_code_relies_on(demo_doc, tmp_path, what, command):
    path = tmp_path / "snapshot.json"
    path.write_bytes(snap.dumps(_odd(demo_doc, what)))
    args = [command, str(path)] + (["--out", str(tmp_path / "site")] if command == "render" else [])
    result = invoke(args)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith(f"archviz: error: {path}: invalid snapshot at ")
    assert len(result.stderr.strip().splitlines()) == 1


def _write_raw(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("command", ["validate", "analyze", "render"])
def test_a_policy_nested_10000_deep_is_one_line(demo_doc, tmp_path, command):
    doc = copy.deepcopy(demo_doc)
    body = json.dumps(doc)
    path = tmp_path / "snapshot.json"
    # json.dumps itself cannot nest that deep: splice the text in.
    _write_raw(path, body.replace('"policy": null', '"policy": ' + '{"a": ' * 10000 + "1" + "}" * 10000, 1))
    args = [command, str(path)] + (["--out", str(tmp_path / "site")] if command == "render" else [])
    result = invoke(args)
    assert result.returncode == 3, result.stderr
    assert "nested too deeply" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_moderate_nesting_beyond_the_limit_names_the_place(demo_doc, tmp_path):
    doc = copy.deepcopy(demo_doc)
    doc["endpoints"][0]["policy"] = _deep(snap.MAX_DEPTH)
    path = tmp_path / "snapshot.json"
    _write_raw(path, json.dumps(doc))
    result = invoke(["validate", str(path)])
    assert result.returncode == 3
    assert f"nested deeper than {snap.MAX_DEPTH} levels at endpoints/0/policy/a" in result.stderr


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_is_rejected_on_load_and_never_written(demo_doc, tmp_path, constant):
    doc = copy.deepcopy(demo_doc)
    path = tmp_path / "snapshot.json"
    _write_raw(path, json.dumps(doc).replace('"port": 443', f'"port": {constant}', 1))
    for command in (["validate", str(path)], ["analyze", str(path)]):
        result = invoke(command)
        assert result.returncode == 3 and f"{constant} is not a JSON value" in result.stderr
    doc["load_balancers"][0]["target_groups"][0]["port"] = float("nan")
    with pytest.raises(ArchvizError):
        snap.dumps(doc)


@pytest.mark.parametrize("make", ["fifo", "dev-zero", "folder-without-snapshot"])
def test_non_regular_files_are_refused_before_reading(tmp_path, make):
    if make == "fifo":
        path = tmp_path / "pipe.json"
        os.mkfifo(path)  # reading it would block forever
    elif make == "dev-zero":
        path = "/dev/zero"  # reading it would never end
    else:
        path = tmp_path
    result = invoke(["validate", str(path)])
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not a regular file" in result.stderr or "no such file" in result.stderr


def test_a_snapshot_over_the_size_limit_is_one_line(demo_doc, tmp_path, monkeypatch):
    path = tmp_path / "snapshot.json"
    path.write_bytes(snap.dumps(demo_doc))
    monkeypatch.setattr(snap, "MAX_BYTES", 1000)
    result = invoke(["validate", str(path)])
    assert result.returncode == 3 and "more than the 1000 bytes" in result.stderr
    assert "ARCHVIZ_MAX_SNAPSHOT_BYTES" in result.stderr


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_analyze_in_place_keeps_the_mode(demo_doc, tmp_path, umask_022):
    path = tmp_path / "snapshot.json"
    path.write_bytes(snap.dumps(demo_doc))
    os.chmod(path, 0o644)
    assert invoke(["analyze", str(path)]).returncode == 0
    assert _mode(path) == 0o644
    os.chmod(path, 0o640)
    assert invoke(["analyze", str(path)]).returncode == 0
    assert _mode(path) == 0o640  # a replaced file keeps its mode


def test_new_files_get_the_umask_mode(demo_doc, tmp_path, umask_022):
    snap.save(demo_doc, tmp_path / "a")
    assert _mode(tmp_path / "a" / "snapshot.json") == 0o644
    os.umask(0o077)
    snap.save(demo_doc, tmp_path / "b")
    assert _mode(tmp_path / "b" / "snapshot.json") == 0o600


@pytest.mark.parametrize("command", ["validate", "analyze", "render"])
def test_an_unpaired_surrogate_is_one_line(demo_doc, tmp_path, command):
    """Valid JSON, but not text: UTF-8 cannot encode it, so nothing could be written from it."""
    path = tmp_path / "snapshot.json"
    _write_raw(path, json.dumps(demo_doc).replace('"name": "app-prod"', '"name": "app\\ud800prod"', 1))
    args = [command, str(path)] + (["--out", str(tmp_path / "site")] if command == "render" else [])
    result = invoke(args)
    assert result.returncode == 3 and "unpaired UTF-16 surrogate" in result.stderr, result.stderr


def test_a_surrogate_pair_is_text(demo_doc, tmp_path):
    path = tmp_path / "snapshot.json"
    _write_raw(path, json.dumps(demo_doc).replace('"name": "app-prod"', '"name": "app\\ud83d\\ude00"', 1))
    assert any(a["name"] == "app\U0001F600" for a in snap.load(path)["accounts"])
