"""``itref journal``: read what itref ran and changed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from itref.cli import complete
from itref.cli.state import state
from itref.core.status import ExitStatus
from itref.i18n import _


def journal(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(
        "--since", help=_("Only records newer than a duration (2h, 7d) or a date (2026-11-01)."))] = None,
    entity: Annotated[str | None, typer.Option("--entity", "-e", autocompletion=complete.entities,
                                               help=_("Only this entity."))] = None,
    host: Annotated[str | None, typer.Option("--host", autocompletion=complete.hosts, help=_("Only this host."))]
    = None,
    last: Annotated[int | None, typer.Option("--last", "-n", min=1, help=_("Only the N most recent."))] = None,
    operator: Annotated[str | None, typer.Option(
        "--operator", help=_("Only what this person did (the name records are signed with, or an account)."))]
    = None,
) -> ExitStatus:
    """Show the journal of actions (who ran what, where, with what outcome), from the project's state folder."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.journal import Journal
    from itref.report.inventory import to_json

    journal_ = Journal(st.state_folder())
    records = journal_.query(since=_since(since) if since else None, entity=entity, host=host, operator=operator)
    if last:
        records = records[-last:]
    if fmt == "json":
        st.out.print(to_json([{**r.as_dict(), "who": r.who} for r in records]), markup=False, soft_wrap=True)
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table()
        for title in (_("When"), _("Who"), _("Entity"), _("Host"), _("Action"), _("What"), _("Result")):
            table.add_column(title, overflow="fold")
        from itref.i18n import format_datetime
        from itref.journal import action_word, detail_shown, outcome_word, shown
        from itref.state.records import parse_time

        for r in records:
            who = r.who + (f" ({r.via})" if r.via in ("cron", "schedule") else "")
            moment = parse_time(r.time)
            when = format_datetime(moment) if moment else str(r.time).replace("T", " ")  # unreadable: as written
            cells = (when, who, r.entity or "", r.host or "", action_word(r.action), shown(r.target),
                     outcome_word(r.outcome) + (f" ({detail_shown(r.action, r.detail)})" if r.detail else ""))
            table.add_row(*(Text(c) for c in cells))
        st.out.print(table)
        if not records:
            st.err.print(_("No journal record matches ({path}).").format(path=journal_.path), markup=False)
    for path, line in journal_.stream.damage.places[:5]:
        st.err.print(_("{path}:{line}: this journal line cannot be read and was skipped").format(
            path=path, line=line), markup=False)
    if journal_.damaged > 5:
        st.err.print(_("{n} damaged line(s) in {path} were skipped.").format(n=journal_.damaged, path=journal_.path),
                     markup=False)
    return ExitStatus.SUCCESS


def _since(text: str) -> datetime:
    """Return the moment ``text`` designates (a duration back from now, or a date/time)."""

    from itref.core.errors import UsageError
    from itref.core.units import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(_("--since '{text}' is neither a duration (7d) nor a date (2026-11-01)").format(
            text=text)) from None
    return when if when.tzinfo else when.astimezone()
