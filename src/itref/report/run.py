"""Render a :class:`RunReport` of ``itref run`` as a Rich table or as JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from itref.core.results import CommandResult, HostResult, Outcome, RunReport
from itref.i18n import _

if TYPE_CHECKING:  # Rich is imported by the table renderers only: JSON and plain progress lines do without it
    from rich.table import Table
    from rich.text import Text

MAX_LINES = 40
STYLE = {Outcome.OK: "green", Outcome.CHANGED: "yellow", Outcome.SKIPPED: "dim",
         Outcome.FAILED: "red", Outcome.UNREACHABLE: "magenta"}


def outcome_label(outcome: Outcome) -> str:
    """Return the translated word for ``outcome``."""
    return {Outcome.OK: _("ok"), Outcome.CHANGED: _("changed"), Outcome.SKIPPED: _("skipped"),
            Outcome.FAILED: _("failed"), Outcome.UNREACHABLE: _("unreachable")}[outcome]


def output_lines(result: CommandResult, limit: int = MAX_LINES, *, last: bool = False) -> list[str]:
    """Return the lines of a command's output (standard output, then standard error) as ``itref run`` shows
    them: at most ``limit``, the first ones (``last``: the last ones), with a line saying how many are left out."""
    lines = (result.stdout + result.stderr).rstrip("\n").splitlines()
    if len(lines) <= limit:
        return lines
    hidden = len(lines) - limit
    if last:
        return [_("… {n} earlier lines").format(n=hidden), *lines[-limit:]]
    return [*lines[:limit], _("… {n} more lines (use --format json for everything)").format(n=hidden)]


def _output(result: HostResult) -> Text:
    from rich.text import Text

    text = Text()
    if result.result is not None:
        text.append("\n".join(output_lines(result.result)))
    if result.error:
        if text:
            text.append("\n")
        text.append(result.error, style=STYLE[result.outcome])
    return text


def run_table(report: RunReport) -> Table:
    """Return a table with one row per host: host, entity, outcome, exit code, duration, output."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=len(report.results) > 1, expand=False)
    table.add_column(_("Host"), no_wrap=True)
    table.add_column(_("Entity"), no_wrap=True)
    table.add_column(_("Result"), no_wrap=True)
    table.add_column(_("Code"), justify="right")
    table.add_column(_("Time"), justify="right", no_wrap=True)
    table.add_column(_("Output"), overflow="fold")
    for r in report.results:
        rc = "" if r.result is None or r.result.rc is None else str(r.result.rc)
        table.add_row(r.host, r.entity, Text(outcome_label(r.outcome), style=STYLE[r.outcome]), rc,
                      f"{r.duration:.2f} s", _output(r))
    return table


def run_json(report: RunReport) -> str:
    """Return the report as a JSON array with one object per host."""
    return json.dumps([r.as_dict() for r in report.results], ensure_ascii=False, indent=2)
