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
import re
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from archviz.errors import ArchvizError
from archviz.files import LOCK_FILE, existing_mode, folder_lock, output_file, remove_temporaries, write_atomic
from archviz.render.kinds import PAGE_FOLDERS

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


# The files a render manages: its pages and diagrams, and nothing else (a doctored manifest
# can name anything; only these are ever moved or removed).
_FOLDERS = "|".join(map(re.escape, ("diagrams", *PAGE_FOLDERS.values())))
_OUTPUT_PATH = re.compile(rf"^(index\.md|findings\.md|nav\.yml|\.nav\.yml|({_FOLDERS})/[A-Za-z0-9_-][A-Za-z0-9._-]*)$")


def _inside(path: Path, root: Path) -> bool:
    """``path`` is in ``root`` once every link on the way is followed."""
    return path.resolve().is_relative_to(root.resolve())


def is_output(rel: str) -> bool:
    """A page or diagram path: one of the render's folders, a name that starts with no dot."""
    return bool(_OUTPUT_PATH.match(rel))


def _not_a_render(folder: Path, rel: str) -> ArchvizError:
    return ArchvizError(f"refusing to replace {folder / rel}: {folder} holds no {MANIFEST}, so it is not an "
                        f"earlier render's; move the file away or choose another folder")


def check(folder: Path) -> None:
    """Before a crawl whose render goes into ``folder`` (``archviz snapshot``): refuse now what
    :meth:`Output.write` would refuse after the crawl, a page or diagram of yours in a folder that
    is not an earlier render's, or one that is a link, a FIFO or a device."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    adopted = (folder / MANIFEST).exists()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not is_output(rel) or (path.is_dir() and not path.is_symlink()):
            continue
        if not adopted:
            raise _not_a_render(folder, rel)
        output_file(path, label="", new_folder=True)


class Output:
    """``with Output(folder) as out: out.write(rel, data) ... out.commit(manifest_extra)``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.staging = self.folder / STAGING
        self.site = Site()
        self.adopted = False
        self._stack = ExitStack()

    def __enter__(self) -> "Output":
        self._stack.enter_context(folder_lock(self.folder))
        try:
            self._recover()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _recover(self) -> None:
        """Finish a killed run's commit, drop a killed run's staging and temporaries."""
        try:
            if self.staging.is_symlink() or (self.staging.exists() and not self.staging.is_dir()):
                self.staging.unlink()
            elif (self.staging / COMPLETE).is_file():
                _Commit(self.folder, self.staging, Site()).run()
            shutil.rmtree(self.staging, ignore_errors=True)
            remove_temporaries(self.folder, lambda rel: is_output(rel) or rel == MANIFEST)
            self.staging.mkdir()
            self.adopted = (self.folder / MANIFEST).exists()  # an earlier render's folder (its manifest may be odd)
        except OSError as exc:
            raise ArchvizError(f"cannot prepare {self.folder}: {exc.strerror or exc}")

    def __exit__(self, *exc) -> None:
        try:
            if not (self.staging / COMPLETE).is_file():
                shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            self._stack.close()

    def write(self, rel: str, data: bytes) -> None:
        if not is_output(rel):  # a second guard behind Names
            raise ArchvizError(f"refusing to write {rel!r} into {self.folder}")
        if rel in self.site.hashes:
            raise ArchvizError(f"archviz bug: {rel} would be written twice in one render (please report this)")
        if not self.adopted and (self.folder / rel).exists():  # a file of yours: never replaced
            raise _not_a_render(self.folder, rel)
        output_file(self.folder / rel, label="", new_folder=True)  # never a link, a FIFO or a device
        try:  # a page or diagram that is replaced keeps its mode
            write_atomic(self.staging / rel, data, mode=existing_mode(self.folder / rel))
        except OSError as exc:
            raise ArchvizError(f"cannot write {self.folder / rel}: {exc.strerror or exc}")
        self.site.files.append(rel)
        self.site.hashes[rel] = sha256(data)

    def commit(self, extra: dict, exclusive: bool = False) -> Site:
        """Write the manifest (``extra`` plus every file's hash), then move everything into place.
        ``exclusive`` (a redacted render): refuse, before anything moves, to leave beside the new
        files any file this render does not write: a file of an earlier render edited since
        (kept, not removed) or one of yours, such as a snapshot.json, would show what the new
        render hides."""
        if exclusive:
            others = self._others()
            if others:
                shown = [rel for rel in others if not re.search(r"[0-9]{12}", rel)][:3]  # names can hold ids
                raise ArchvizError(f"{self.folder} holds {len(others)} file(s) this render does not write"
                                   + (f" ({', '.join(shown)}{', ...' if len(others) > len(shown) else ''})" if shown else "")
                                   + "; a redacted render would leave them unredacted beside its pages: move them "
                                     "away, or render into an empty folder")
        self.site.files.sort()
        manifest = dict(extra, files=dict(sorted(self.site.hashes.items())))
        try:
            write_atomic(self.staging / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(),
                         mode=existing_mode(self.folder / MANIFEST))
            write_atomic(self.staging / COMPLETE, b"")
            _Commit(self.folder, self.staging, self.site).run()
        except OSError as exc:
            raise ArchvizError(f"cannot write {self.folder}: {exc.strerror or exc}")
        return self.site


    def _others(self) -> list[str]:
        """The files in the folder that this render will neither write nor remove (a stale file
        of the previous render is removed only if unedited)."""
        previous = read_manifest(self.folder / MANIFEST) if self.adopted else {}
        others = []
        for path in sorted(self.folder.rglob("*")):
            rel = path.relative_to(self.folder).as_posix()
            if (rel.split("/")[0] == STAGING or rel in (MANIFEST, LOCK_FILE) or rel in self.site.hashes
                    or path.is_dir()):
                continue
            if rel in previous and is_output(rel) and path.is_file() and not path.is_symlink() \
                    and sha256(path.read_bytes()) == previous[rel]:
                continue  # removed as stale by the commit
            others.append(rel)
        return others


class _Commit:
    """Moves a complete staging folder into place. Every step can run again after a kill: files
    still in staging move, stale files go, the manifest moves last, then ``.complete`` goes; a
    staging folder marked complete but without a manifest was already committed."""

    def __init__(self, folder: Path, staging: Path, site: Site):
        self.folder, self.staging, self.site = folder, staging, site

    def run(self) -> None:
        if (self.staging / MANIFEST).is_file():
            new = read_manifest(self.staging / MANIFEST)
            for rel in sorted(r for r in new if is_output(r)):
                source, target = self.staging / rel, self.folder / rel
                if source.is_file() and _inside(source, self.staging):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if not _inside(target.parent, self.folder):
                        raise ArchvizError(f"refusing to write through a link: {target.parent} leads outside {self.folder}")
                    os.replace(source, target)
            self._remove_stale(read_manifest(self.folder / MANIFEST), new)
            os.replace(self.staging / MANIFEST, self.folder / MANIFEST)
        (self.staging / COMPLETE).unlink(missing_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)

    def _remove_stale(self, previous: dict[str, str], new: dict[str, str]) -> None:
        """Delete what the previous render wrote and this one did not, unless edited since. Only
        pages and diagrams are ever removed, whatever a (possibly doctored) manifest lists."""
        for rel, digest in sorted(previous.items()):
            target = self.folder / rel
            if rel in new or not is_output(rel) or not target.is_file() or not _inside(target, self.folder):
                continue
            if sha256(target.read_bytes()) == digest:
                target.unlink()
                self.site.removed.append(rel)
            else:
                self.site.kept.append(rel)
