"""The kinds of diagram, one entry each: everything the render, the navigation, the MkDocs
plugin and the command line's ``--only`` know about a kind is read from :data:`KINDS`.

An entry says which ``--only`` group draws it and the folder of its pages (the group's name),
the navigation section its pages are listed under, which ids a render draws (``subjects``), the
picture builder (:mod:`archviz.render.pictures`), and the page's template and context
(:mod:`archviz.render.contexts`). The overview has no page of its own (``index.md`` shows it);
an OU's diagram is drawn only when the overview leads to it, so it has no group.

This module imports no drawing library: the command line reads the groups from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from archviz.render import contexts, pictures
from archviz.render.view import USE_CASE_TITLES, View


@dataclass(frozen=True)
class Kind:
    name: str  # the key of its diagrams and pages ("use-case"); diagram files are named <name>-<id>
    group: str | None  # the --only group that draws it, and the folder of its pages; None: reached from the overview
    picture: Callable[[View, Any], pictures.Picture]
    subjects: Callable[[View], list[str]] | None = None  # the ids a render draws (None: as the overview leads)
    names: Callable[[View], list[str]] | None = None  # the ids its files are named after (default: subjects)
    heading: str | None = None  # the navigation section of its pages (None: no page of its own)
    template: str | None = None
    context: Callable[[View, contexts.Links, str], dict] | None = None
    nav_order: Callable[[View, str], Any] | None = None  # sort key of its pages in the navigation
    linked: bool = False  # other diagrams' nodes link to this kind's diagram

    def idents(self, view: View) -> list[str]:
        """The ids a render names files after (:class:`archviz.render.names.Names`)."""
        return (self.names or self.subjects or (lambda _: []))(view)


def _by_name(view: View, name: str | None, ident: str) -> tuple:
    return ((name or ident).casefold(), ident)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("overview", "overview", lambda view, _: pictures.overview(view), subjects=lambda view: [""],
         names=lambda view: []),  # one diagram, named "overview", shown on index.md
    Kind("ou", None, lambda view, scope: pictures.overview(view, scope), names=lambda view: view.ou_ids),  # scope: a Scope
    Kind("use-case", "use-cases", pictures.use_case, subjects=lambda view: view.use_cases, heading="Use cases",
         template="use_case.md.j2", context=contexts.use_case, nav_order=lambda view, u: list(USE_CASE_TITLES).index(u)),
    Kind("service", "services", lambda view, sid: pictures.service(view, view.services_by_id[sid]),
         subjects=lambda view: [s["service_id"] for s in view.services], heading="Endpoint services",
         template="service.md.j2", context=lambda view, links, sid: contexts.service(view, links, view.services_by_id[sid]),
         nav_order=lambda view, sid: _by_name(view, view.services_by_id[sid]["name"], sid), linked=True),
    Kind("account", "accounts", pictures.account, subjects=lambda view: view.crawled_accounts, heading="Accounts",
         template="account.md.j2", context=contexts.account,
         nav_order=lambda view, a: _by_name(view, view.accounts[a].get("name"), a), linked=True),
)}

GROUPS = tuple(k.group for k in KINDS.values() if k.group)  # --only's choices, in reading order
PAGE_FOLDERS = {k.name: k.group for k in KINDS.values() if k.template}  # kinds with pages of their own


def page(view: View, kind: str, ident: str) -> str:
    """The page of one subject (``services/vpce-svc-1.md``)."""
    return f"{PAGE_FOLDERS[kind]}/{view.names.stem(kind, ident)}.md"


def subjects(view: View, only: tuple[str, ...]) -> list[tuple[str, str]]:
    """(kind, id) of every diagram and page this render draws, in reading order: the overview, then
    the other groups' subjects (the OUs' diagrams come as the overview leads to them)."""
    return [(k.name, ident) for k in KINDS.values() if k.group in only and k.subjects for ident in k.subjects(view)]
