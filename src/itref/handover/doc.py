"""A small neutral document model the layout fills and the Markdown and HTML renderers format.

Texts are already translated; renderers only escape and mark them up. Every piece of information is
in visible text: a link's text carries its target (an e-mail address, a file name, a section number),
so nothing is lost on paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Code:
    """A command, path or identifier, shown in a fixed-width font."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Text that must stand out (also without colour)."""

    text: str


@dataclass(frozen=True)
class Link:
    """A clickable reference whose ``text`` already shows what it points to (never link-only information)."""

    text: str
    href: str


Inline = str | Code | Strong | Link
Line = tuple[Inline, ...]


@dataclass(frozen=True)
class Para:
    """A paragraph. ``style``: '' (plain), 'note' (to notice), 'muted' (secondary)."""

    parts: Line
    style: str = ""


@dataclass(frozen=True)
class Fields:
    """Label → value rows, e.g. a host's address, port and user."""

    rows: tuple[tuple[str, Line], ...]


@dataclass(frozen=True)
class Bullets:
    """An unordered list."""

    items: tuple[Line, ...]


@dataclass(frozen=True)
class Step:
    """One numbered instruction: a title, what to do, then labelled details (why, if it fails...)."""

    number: int
    title: str
    action: Line
    details: tuple[tuple[str, Line], ...] = ()


@dataclass(frozen=True)
class Steps:
    """Numbered instructions, to be followed (and ticked on paper) in order."""

    items: tuple[Step, ...]


@dataclass(frozen=True)
class Table:
    """A table with a header row."""

    header: tuple[str, ...]
    rows: tuple[tuple[Line, ...], ...]


Block = Para | Fields | Bullets | Steps | Table


@dataclass
class Subsection:
    """A numbered part of a main section (one host, one routine, one backup)."""

    number: str
    title: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Section:
    """A main section; on paper each one starts a new page when the document asks for it."""

    number: int
    title: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)
    subsections: list[Subsection] = field(default_factory=list)


@dataclass
class Page:
    """One page of the pack (an entity, or the index)."""

    title: str
    lang: str
    running: str
    """Short text repeated above each main section, so a loose printed page says what it belongs to."""
    intro: list[Block]
    contents_title: str
    sections: list[Section]
    page_breaks: bool = True
    """Start each main section (but the first) on a new printed page."""
