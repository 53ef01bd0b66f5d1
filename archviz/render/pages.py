"""Markdown pages from jinja2 templates (``templates/``, shipped as ``archviz.templates``).

Every ``{{ value }}`` is escaped for markdown by the environment's ``finalize`` hook: AWS
text can hold pipes, brackets, backticks or HTML, and must not break a table or inject
markup. Links and images that archviz builds itself are :class:`markupsafe.Markup` and pass
through; they are relative paths, checked to stay inside the output folder. A value in a heading
goes through the ``heading`` filter (:func:`archviz.text.title`): headings become page
titles, which themes write where markdown's escaping does not reach."""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from importlib import resources

import jinja2
from markupsafe import Markup

from archviz.text import title, visible

DEFAULT_TITLE = "PrivateLink architecture"  # the index page's and a docs-site section's, unless given

# Inline syntax: links, emphasis, code, tables, and attribute lists (``{: onclick=... }``, which
# Python-Markdown's attr_list, common in Material sites, turns into attributes of the element before).
_SPECIAL = re.compile(r"([\\`*_\[\]|~{}])")
_ORDERED = re.compile(r"^(\d+)([.)])(?=\s|$)")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/\-]+$")
# What auto-linking renderers (GitHub, GitLab, pymdownx.magiclink, linkify) turn into a link:
# a scheme, a www. host, an e-mail address, wherever it starts (GitHub links ``_https://x`` and
# ``1https://x`` too). Shown as a code span, which no renderer links.
_URL_LIKE = re.compile(r"(?i)(?:[a-z][a-z0-9+.-]*:/+|www\.)[^\s<>`|\\{}]*"
                       r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _inline(s: str) -> str:
    """Plain text as inert inline markdown: HTML as entities, markdown syntax escaped."""
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s)


def md(value) -> str:
    """Untrusted text as inert markdown: one line, invisible characters shown, HTML as
    entities, markdown syntax escaped, anything a renderer would auto-link kept as code."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    s = visible(value)
    parts, last = [], 0
    for m in _URL_LIKE.finditer(s):
        parts += [_inline(s[last:m.start()]), f"`{m.group(0)}`"]
        last = m.end()
    s = "".join(parts) + _inline(s[last:])
    if s[:1] in ("-", "+", "=", "#"):  # would start a list, a heading or an underline
        s = "\\" + s
    return _ORDERED.sub(r"\1\\\2", s)  # would start an ordered list


def heading(value) -> Markup:
    """Untrusted text in a heading: a title no theme can turn into markup (``{{ x|heading }}``)."""
    return Markup(md(title(value)))


def relative(page: str, target: str) -> str:
    """The link from one output file to another, relative (``../diagrams/x.svg``)."""
    if not _SAFE_PATH.match(target) or target.startswith("/") or ".." in target.split("/"):
        raise ValueError(f"unsafe link target {target!r}")
    return posixpath.relpath(target, posixpath.dirname(page) or ".")


def _load(name: str) -> str:
    return resources.files("archviz.templates").joinpath(name).read_text("utf-8")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FunctionLoader(_load), finalize=md, autoescape=False,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["md"] = md
    env.filters["heading"] = heading
    return env


def render_page(template: str, page: str, **context) -> str:
    def link(text, target: str) -> Markup:
        return Markup(f"[{md(text)}]({relative(page, target)})")

    def image(alt, target: str) -> Markup:
        """The diagram, as an image that opens the diagram itself at full size when clicked: a
        docs theme shrinks it to its content column, and only the diagram opened on its own can
        be zoomed and panned in the browser and follow the links inside it."""
        path = relative(page, target)
        return Markup(f"[![{md(alt)}]({path})]({path})")

    out = environment().get_template(template).render(link=link, image=image, **context)
    return re.sub(r"\n{3,}", "\n\n", out).rstrip("\n") + "\n"
