"""The output folder of a render: consistent with its manifest, whatever happens.

A render takes the folder's lock (a second render into the same folder is told at once that
another one holds it), writes every file into a staging folder ``.archviz-staging/``, and only
then commits: moves the files into place, removes what the previous render wrote and this one
did not (unless edited since), and replaces ``archviz-manifest.json`` last. The staging folder
is marked complete before the first move, so if a run is killed while committing, the next
run finishes that commit before it starts; a run killed before that leaves the folder as the
previous render left it. Temporaries of killed runs are removed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from archviz.errors import ArchvizError
from archviz.files import folder_lock, remove_temporaries, write_atomic

MANIFEST = "archviz-manifest.json"
STAGING = ".archviz-staging"
COMPLETE = ".complete"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Site:
    """What a render wrote: files (relative to the output folder) and node counts per diagram."""

    files: list[str] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)  # stale files of the previous render, deleted
    kept: list[str] = field(default_factory=list)  # stale files edited since, left in place


def read_manifest(path: Path) -> dict[str, str]:
    """The files a manifest lists with their hashes; an unreadable or odd manifest lists none
    (so nothing is deleted on its word)."""
    from archviz.snapshot import read_json  # the defensive JSON reader (size, depth, no NaN)

    try:
        files = read_json(path, "manifest").get("files")
    except (ArchvizError, AttributeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}


class Output:
    """``with Output(folder) as out: out.write(rel, data) ... out.commit(manifest_extra)``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.staging = self.folder / STAGING
        self.site = Site()
        self._stack = ExitStack()

    def __enter__(self) -> "Output":
        self._stack.enter_context(folder_lock(self.folder))
        try:
            if (self.staging / COMPLETE).is_file():
                _Commit(self.folder, self.staging, Site()).run()  # a killed run's commit, finished
            shutil.rmtree(self.staging, ignore_errors=True)
            remove_temporaries(self.folder)
            self.staging.mkdir()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if not (self.staging / COMPLETE).is_file():
                shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            self._stack.close()

    def write(self, rel: str, data: bytes) -> None:
        target = self.folder / rel
        if not target.resolve().is_relative_to(self.folder.resolve()):  # a second guard behind Names
            raise ArchvizError(f"refusing to write outside {self.folder}: {rel}")
        if rel in self.site.hashes or rel == MANIFEST:
            raise ArchvizError(f"archviz bug: {rel} would be written twice in one render (please report this)")
        try:
            write_atomic(self.staging / rel, data)
        except OSError as exc:
            raise ArchvizError(f"cannot write {target}: {exc.strerror or exc}")
        self.site.files.append(rel)
        self.site.hashes[rel] = sha256(data)

    def commit(self, extra: dict) -> Site:
        """Write the manifest (``extra`` plus every file's hash), then move everything into place."""
        self.site.files.sort()
        manifest = dict(extra, files=dict(sorted(self.site.hashes.items())))
        try:
            write_atomic(self.staging / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
            write_atomic(self.staging / COMPLETE, b"")
            _Commit(self.folder, self.staging, self.site).run()
        except OSError as exc:
            raise ArchvizError(f"cannot write {self.folder}: {exc.strerror or exc}")
        return self.site


class _Commit:
    """Moves a complete staging folder into place. Every step can run again after a kill."""

    def __init__(self, folder: Path, staging: Path, site: Site):
        self.folder, self.staging, self.site = folder, staging, site

    def run(self) -> None:
        new = read_manifest(self.staging / MANIFEST)
        for rel in sorted(new):
            source = self.staging / rel
            if source.is_file():
                (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, self.folder / rel)
        self._remove_stale(read_manifest(self.folder / MANIFEST), new)
        if (self.staging / MANIFEST).is_file():
            os.replace(self.staging / MANIFEST, self.folder / MANIFEST)
        shutil.rmtree(self.staging, ignore_errors=True)

    def _remove_stale(self, previous: dict[str, str], new: dict[str, str]) -> None:
        """Delete what the previous render wrote and this one did not, unless edited since."""
        root = self.folder.resolve()
        for rel, digest in sorted(previous.items()):
            target = self.folder / rel
            if rel in new or not target.is_file():
                continue
            if not target.resolve().is_relative_to(root) or rel.startswith(STAGING):
                continue  # a manifest never makes archviz touch anything outside the output folder
            if sha256(target.read_bytes()) == digest:
                target.unlink()
                self.site.removed.append(rel)
            else:
                self.site.kept.append(rel)
