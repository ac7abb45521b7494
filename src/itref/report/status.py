"""Render ``itref status``: one line per item with the command to continue, entity by entity (terminal text,
Markdown, JSON). Formatting only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text

from itref.core.findings import Severity, status_word
from itref.core.findings import status_label as label
from itref.i18n import _, format_datetime

if TYPE_CHECKING:
    from itref.status.model import EntityStatus, Item, Status

STYLES = {Severity.OK: "green", Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.CRITICAL: "bold red",
          Severity.UNKNOWN: "magenta"}


def heading(status: Status) -> str:
    """Return the first line: whose IT, when, for whom."""
    return _("{org} — what needs a person on {when} (asked by {who})").format(
        org=status.organisation, when=format_datetime(status.now), who=status.operator)


def _sections(status: Status) -> list[EntityStatus]:
    return [*status.entities, status.general] if status.general.items else list(status.entities)


def _title(e: EntityStatus) -> str:
    return f"{e.title} ({e.name})" if e.name else e.title


def item_text(item: Item) -> Text:
    """Return one item as one line: the word, the sentence, and the command after an arrow."""
    line = Text("  ")
    line.append(f"[{label(item.severity)}]", style=STYLES[item.severity])
    line.append(f" {item.text} ")
    line.append(f"→ {item.command}", style="bold")
    return line


def status_view(status: Status) -> Group:
    """Return the status for a terminal: the heading, each entity and its lines, and the verdict."""
    parts: list[Text] = [Text(heading(status), style="bold"), Text("")]
    for e in _sections(status):
        if not e.items:
            parts.append(Text(_title(e) + ": " + _("nothing needs a person."), style="dim"))
            continue
        parts.append(Text(_title(e), style="bold cyan"))
        parts += [item_text(i) for i in e.items]
    parts += [Text(""), Text(verdict(status), style=STYLES[status.worst])]
    return Group(*parts)


def verdict(status: Status) -> str:
    """Return the last line: how many items need a look, and the worst."""
    needs = [i for i in status.items() if i.severity.rank >= Severity.WARNING.rank]
    todo = [i for i in status.items() if i.severity is Severity.INFO]
    if not needs and not todo:
        return _("Nothing needs a person.")
    return _("{needs} to look at, {todo} to do; worst: {worst}.").format(
        needs=len(needs), todo=len(todo), worst=status_word(status.worst))


def status_markdown(status: Status) -> str:
    """Return the status as Markdown: a heading per entity, a bullet per item with its command."""
    lines = [f"# {heading(status)}", ""]
    for e in _sections(status):
        lines.append(f"## {_title(e)}")
        lines.append("")
        if not e.items:
            lines += ["_" + _("nothing needs a person.") + "_", ""]
            continue
        lines += [f"- **{label(i.severity)}** {_md(i.text)} — `{i.command}`" for i in e.items]
        lines.append("")
    lines.append(f"**{verdict(status)}**")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Return ``text`` with the characters Markdown would read as formatting escaped."""
    for ch in ("\\", "`", "*", "_", "[", "]", "<", ">"):
        text = text.replace(ch, "\\" + ch)
    return text
