"""The output backends of diagrams, one entry per ``--diagram-format``: what a format's file is
called, whether Graphviz draws it, and how a page shows it. The render (:mod:`archviz.render.site`)
and the command line read :data:`BACKENDS`; a new format is a new entry here.

- Graphviz formats (``svg``, ``png``, ``drawio``) are laid out once per diagram (measured on the
  SVG, :mod:`archviz.render.layout`) and written from that layout; a page shows the first image
  format given (``svg``, ``png``) as an image, and links an editable one (``drawio``: written by
  :mod:`archviz.render.drawio` from Graphviz's coordinates) for download.
- Text formats (``mermaid``) are written from the same scene by their ``text`` function and
  shown in the page as a fenced block that the docs site draws (with the blocks and the note the
  function adds: :class:`Drawn`); they need no Graphviz."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from archviz.render.scene import Picture


def _drawio(pic: Picture, canvas) -> bytes:
    from archviz.render.drawio import drawio

    return drawio(pic, canvas)


@dataclass(frozen=True)
class Drawn:
    """A text format's drawing of a picture: the file's text, the page's other blocks after it (a
    legend drawn on its own), and a note under them (what the drawing leaves to the image)."""

    text: str
    blocks: tuple[str, ...] = ()
    note: str | None = None


def _mermaid(pic: Picture) -> Drawn:
    from archviz.render import mermaid

    level, note = mermaid.readable(pic)
    key = mermaid.legend(level)
    return Drawn(mermaid.mermaid(level), (key,) if key else (), note)


@dataclass(frozen=True)
class Backend:
    format: str  # the --diagram-format name
    suffix: str  # the diagram file's extension
    graphviz: bool = False  # drawn by Graphviz's dot (from the one layout of the picture)
    image: bool = False  # a page shows it as an image (else links it, to edit: ``laid_out``)
    laid_out: Callable[[Picture, object], bytes] | None = None  # written from the picture and its laid-out canvas
    text: Callable[[Picture], Drawn] | None = None  # for a text format: the picture as text
    block: str | None = None  # for a text format: the fenced block's language pages embed it in


BACKENDS: dict[str, Backend] = {b.format: b for b in (
    Backend("svg", "svg", graphviz=True, image=True),
    Backend("png", "png", graphviz=True, image=True),
    Backend("drawio", "drawio", graphviz=True, laid_out=_drawio),
    Backend("mermaid", "mmd", text=_mermaid, block="mermaid"),
)}

FORMATS = tuple(BACKENDS)
IMAGES = tuple(f for f, b in BACKENDS.items() if b.image)  # drawn by Graphviz; pages show the first given
EDITABLE = tuple(f for f, b in BACKENDS.items() if b.laid_out)  # pages link the first given, to download
