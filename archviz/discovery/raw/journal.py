"""The progress of a recorded crawl (``discover --raw DIR``), kept so that a crawl whose process
died resumes (``discover --raw DIR --resume``) instead of starting again.

Beside ``DIR`` (never inside it: an earlier raw folder there stays whole until the new one
replaces it), ``.DIR.archviz-partial/`` holds ``crawl.json`` (what was asked, by whom, when) and
one file per unit of the crawl that finished, ``units/NNNNNN.json``: the unit's key and every
answer it got, as a raw folder keeps them. Each file is written whole to a temporary and then
renamed into place, so a process killed at any moment leaves files that are complete or absent;
a temporary a killed write left behind is ignored. The files are not synced to disk one by one
(that would make the crawl wait on the disk once per unit): after a crash of the machine itself,
a unit file that is not whole JSON counts as unfinished, and its unit is crawled again. The finished raw folder is written as
always, and the progress removed after it. Answers are scrubbed of credentials exactly as in the
raw folder (they are the same records), and checked once more before each write."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from archviz import __version__
from archviz.discovery.aws import holds_secret
from archviz.discovery.raw.common import CRAWL_FILE, FORMAT
from archviz.errors import ArchvizError, ReplayError
from archviz.files import TEMP_MARK, default_mode

SUFFIX = ".archviz-partial"
_UNIT_FILE = re.compile(r"^[0-9]{6}\.json$")


def progress_of(raw_dir: Path) -> Path:
    """Where the progress of a crawl recorded into ``raw_dir`` is kept."""
    raw_dir = Path(raw_dir)
    return raw_dir.parent / f".{raw_dir.name}{SUFFIX}"


class Journal:
    """The progress folder of one recorded crawl (thread-safe for :meth:`add` by the caller's lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._written = 0

    def exists(self) -> bool:
        return (self.path / CRAWL_FILE).is_file()

    def start(self, header: dict) -> None:
        """A new crawl's progress: any earlier one is replaced."""
        try:
            if self.path.exists():
                shutil.rmtree(self.path)
            (self.path / "units").mkdir(parents=True)
        except OSError as exc:
            raise ArchvizError(f"cannot keep the crawl's progress in {self.path}: {exc.strerror or exc}")
        self._write_header(header)

    def resumed(self, header: dict) -> None:
        """Go on with this progress (a resumed crawl): new units are numbered after the old."""
        self._written = max((int(p.stem) for p in self._unit_files()), default=0)
        self._write_header(header)

    def _write_header(self, header: dict) -> None:
        self._write(self.path / CRAWL_FILE, {"format": FORMAT, "tool": {"name": "archviz", "version": __version__},
                                             **header})

    def add(self, key: tuple, units: list[tuple] | None, calls: list[tuple[str, dict]]) -> None:
        """One finished unit: its key, an entry's units, and its answers (file, record)."""
        self._written += 1
        entry: dict[str, Any] = {"unit": list(key), "calls": [{"file": rel, "record": rec} for rel, rec in calls]}
        if units is not None:
            entry["units"] = [list(u) for u in units]
        self._write(self.path / "units" / f"{self._written:06d}.json", entry)

    def _write(self, path: Path, value: dict) -> None:
        # Compact: Python's JSON encoder is its fast one only without indentation, and a crawl's
        # progress holds every answer of the crawl (read back by archviz alone, on --resume).
        data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if holds_secret(data):
            raise ArchvizError(f"archviz bug: a credential would have been written to {path}; nothing was written "
                               f"(please report this)")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), default_mode())
                f.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise ArchvizError(f"cannot keep the crawl's progress in {self.path}: {exc.strerror or exc}")

    def _unit_files(self) -> list[Path]:
        folder = self.path / "units"
        return sorted(p for p in folder.iterdir() if _UNIT_FILE.match(p.name)) if folder.is_dir() else []

    def read(self) -> tuple[dict, dict[tuple, dict]]:
        """The header, and every finished unit by key (``calls``: [(file, record)], ``units``)."""
        header = self._load(self.path / CRAWL_FILE)
        if header.get("format") != FORMAT or not isinstance(header.get("request"), dict):
            raise ReplayError(f"{self.path}: not the progress of a crawl this archviz {__version__} resumes")
        done: dict[tuple, dict] = {}
        for path in self._unit_files():
            try:
                entry = json.loads(path.read_bytes())
            except OSError as exc:
                raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}")
            except ValueError:
                continue  # not whole (the machine crashed as it was written): its unit is crawled again
            if not isinstance(entry, dict):
                raise ReplayError(f"{path}: not a unit of a crawl's progress")
            calls, key, units = entry.get("calls"), entry.get("unit"), entry.get("units")
            if units is not None and not (isinstance(units, list) and all(isinstance(u, list) for u in units)):
                raise ReplayError(f"{path}: not a unit of a crawl's progress")
            if not (isinstance(key, list) and all(isinstance(k, str) for k in key) and isinstance(calls, list)
                    and all(isinstance(c, dict) and isinstance(c.get("file"), str) and isinstance(c.get("record"), dict)
                            for c in calls)):
                raise ReplayError(f"{path}: not a unit of a crawl's progress")
            done[tuple(key)] = {"calls": [(c["file"], c["record"]) for c in calls],
                                "units": None if units is None else [tuple(u) for u in units]}
        return header, done

    @staticmethod
    def _load(path: Path) -> dict:
        try:
            value = json.loads(path.read_bytes())
        except OSError as exc:
            raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}")
        except ValueError:
            raise ReplayError(f"{path}: not JSON (a crawl's progress is written whole: was it edited?)")
        if not isinstance(value, dict):
            raise ReplayError(f"{path}: not a crawl's progress")
        return value

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
