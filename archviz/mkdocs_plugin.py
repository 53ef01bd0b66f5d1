"""The ``archviz`` MkDocs plugin: a docs site's PrivateLink section, rendered at build time from a
snapshot committed to the site's repository, so the pages can never drift from the snapshot.

    plugins:
      - archviz:
          snapshot: network/snapshot.json   # relative to mkdocs.yml
          path: privatelink                 # the section's folder in the site
          title: PrivateLink architecture   # optional
          diagram_format: [svg]             # svg, png, drawio, mermaid (mermaid needs no Graphviz)
          since: network/last-week.json     # optional: an older snapshot, as render --since
          redact: false                     # as render --redact; redact_key (a file) and
          redact_key: !ENV ARCHVIZ_REDACT_KEY_FILE  # redact_names: --redact-key, --redact-names
          redact_names: false

The pages are generated files (nothing is written into ``docs/``). In the navigation, the
section replaces the entry that points at ``PATH/index.md`` (or, with no ``nav`` in mkdocs.yml,
the folder MkDocs found), ordered as ``archviz render --site`` orders it; a nav that lists the
section's pages itself is left as it is. ``mkdocs serve``
watches the snapshots and rebuilds when they change. A missing or invalid snapshot fails the
build with one line (a :class:`PluginError`)."""

from __future__ import annotations

import logging
import posixpath
from pathlib import Path

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page

from archviz.errors import ArchvizError
from archviz.render.backends import FORMATS
from archviz.render.pages import DEFAULT_TITLE
from archviz.text import title as title_text

log = logging.getLogger("mkdocs.plugins.archviz")


class ArchvizConfig(Config):
    snapshot = c.Type(str)
    path = c.Type(str, default="privatelink")
    title = c.Optional(c.Type(str))
    diagram_format = c.ListOfItems(c.Choice(FORMATS), default=[FORMATS[0]])
    since = c.Optional(c.Type(str))
    redact = c.Type(bool, default=False)
    redact_key = c.Optional(c.Type(str))
    redact_names = c.Type(bool, default=False)


class ArchvizPlugin(BasePlugin[ArchvizConfig]):
    def on_config(self, config):
        here = Path(config.config_file_path or ".").parent
        self.snapshot = here / self.config.snapshot
        self.since = here / self.config.since if self.config.since else None
        if (self.config.redact_key or self.config.redact_names) and not self.config.redact:
            raise PluginError("archviz: 'redact_key' and 'redact_names' go with 'redact: true'")
        self.redact_key = here / self.config.redact_key if self.config.redact_key else None
        path = posixpath.normpath(self.config.path.strip("/"))
        if path in (".", "") or path.startswith("..") or "\\" in path:
            raise PluginError(f"archviz: 'path' must be a folder inside the docs folder, not {self.config.path!r}")
        # The section's nav title: themes write navigation titles into their HTML as they are.
        self.path, self.title = path, title_text(self.config.title or DEFAULT_TITLE)
        self.files, self.order = self._render()
        if config.nav is not None and not _lists_section(config.nav, path):
            if not _expand(config.nav, f"{path}/index.md", self._entries(), self.title):
                log.info(f"archviz: no nav entry points at {path}/index.md: the section's pages are built "
                         f"and linked from each other, but not listed in the nav")
        return config

    def _render(self) -> tuple[dict[str, bytes], list]:
        from archviz import snapshot
        from archviz.pipeline import prepare_render
        from archviz.render import build

        try:
            out: dict[str, bytes] = {}
            doc = snapshot.load(self.snapshot)
            old = snapshot.load(self.since) if self.since else None
            redactor = None
            if self.config.redact:
                from archviz.redact import from_options

                redactor = from_options([doc] + ([old] if old else []), self.redact_key, self.config.redact_names)
            doc, since = prepare_render(doc, old, redactor)
            built = build(doc, out.__setitem__, tuple(dict.fromkeys(self.config.diagram_format)),
                          title=self.config.title, since=since)
        except ArchvizError as exc:
            raise PluginError(f"archviz: {exc}") from None
        return out, built.order

    def _entries(self) -> list:
        """The section as mkdocs.yml ``nav`` entries."""
        entries = []
        for heading, pages in self.order:
            uris = [f"{self.path}/{p}" for p in pages]
            entries += uris if heading is None else [{heading: uris}]
        return entries

    def on_files(self, files: Files, config) -> Files:
        for rel, data in sorted(self.files.items()):
            uri = f"{self.path}/{rel}"
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"archviz: {uri} is in the docs folder already; the plugin writes that "
                                  f"section itself (remove the folder or choose another 'path')")
            files.append(File.generated(config, uri, content=data))
        return files

    def on_nav(self, nav: Navigation, config, files: Files) -> Navigation:
        """With no ``nav`` in mkdocs.yml, MkDocs lists the folder alphabetically: put it in order."""
        if config.nav is not None:
            return nav
        section = Section(self.title, [])
        for heading, pages in self.order:
            items = [files.get_file_from_path(f"{self.path}/{p}").page for p in pages]
            section.children += items if heading is None else [Section(heading, items)]
        if _replace(nav.items, self.path, section):
            nav.pages = _pages(nav.items)
            _relink(nav.items, None)
            for before, page, after in zip([None, *nav.pages], nav.pages, [*nav.pages[1:], None]):
                page.previous_page, page.next_page = before, after
        return nav

    def on_serve(self, server, config, builder):
        server.watch(str(self.snapshot))
        if self.since is not None:
            server.watch(str(self.since))
        return server


def _strings(entries) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, dict):
        return [s for value in entries.values() for s in _strings(value)]
    return [s for entry in entries or [] for s in _strings(entry)] if isinstance(entries, list) else []


def _lists_section(nav: list, path: str) -> bool:
    """The nav lists the section's pages itself (pasted from ``archviz render --site``'s nav.yml)."""
    return any(s.startswith(path + "/") and s != f"{path}/index.md" for s in _strings(nav))


def _expand(entries: list, index: str, section: list, title: str) -> bool:
    """Replace the nav entry that points at the section's index page by the whole section (under
    the entry's own title, else the plugin's)."""
    for i, entry in enumerate(entries):
        if entry == index:
            entries[i] = {title: section}
            return True
        if isinstance(entry, dict) and len(entry) == 1:
            (key, value), = entry.items()
            if value == index:
                entries[i] = {key: section}
                return True
            if isinstance(value, list) and _expand(value, index, section, title):
                return True
    return False


def _replace(items: list, path: str, section: Section) -> bool:
    """Put ``section`` where MkDocs's own nav holds the folder: the section whose own index page
    (a direct child) is PATH/index.md."""
    for i, item in enumerate(items):
        if isinstance(item, Section):
            if any(isinstance(c, Page) and c.file.src_uri == f"{path}/index.md" for c in item.children):
                items[i] = section
                return True
            if _replace(item.children, path, section):
                return True
    return False


def _pages(items: list) -> list[Page]:
    out = []
    for item in items:
        if isinstance(item, Page):
            out.append(item)
        elif isinstance(item, Section):
            out += _pages(item.children)
    return out


def _relink(items: list, parent) -> None:
    for item in items:
        item.parent = parent
        if isinstance(item, Section):
            _relink(item.children, item)
