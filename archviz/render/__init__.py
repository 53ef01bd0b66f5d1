"""Rendering: diagrams (mingrammer ``diagrams`` on Graphviz, or Mermaid text) and markdown pages,
offline, from an analyzed snapshot. Same snapshot, same bytes.

Where each kind of thing lives:

- :mod:`.kinds`: the kinds of diagram (overview, OU, use case, service, account), one entry each;
- :mod:`.pictures`: one module per family of diagrams, describing plain-data scenes (:mod:`.scene`);
- :mod:`.backends`: the output formats of diagrams, one entry each (Graphviz's svg and png, Mermaid);
- :mod:`.contexts` and ``templates/``: what each page shows; :mod:`.pages` fills the templates;
- :mod:`.drift`: ``archviz diff`` as text and markdown;
- :mod:`.site`: a whole render (:func:`build`, :func:`render`); :mod:`.output` writes it.

The package itself imports nothing heavy: ``from archviz.render import render`` loads the
drawing stack (``diagrams``, Graphviz) when it is first asked for, so the text and markdown of a
diff need neither."""

from __future__ import annotations

from importlib import import_module

_LAZY = {"render": "site", "build": "site", "Built": "site", "DEFAULT_TITLE": "pages", "Site": "output",
         "MANIFEST": "output", "GROUPS": "kinds", "FORMATS": "backends"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"archviz.render.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'archviz.render' has no attribute {name!r}")
