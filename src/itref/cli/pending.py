"""``itref pending``: the directory changes scheduled for a date (``--at``): list, show, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from itref.cli.state import CliState, state, warn_unreadable
from itref.core.status import ExitStatus
from itref.i18n import _

if TYPE_CHECKING:
    from itref.ad.scheduled import ScheduledChange

app = typer.Typer(help=_("Directory changes scheduled for a date: list them, show one, cancel one."),
                  no_args_is_help=True, rich_markup_mode=None)


def _store(st: CliState) -> Any:
    from itref.ad.scheduled import ScheduledChanges

    return ScheduledChanges(st.state_folder())


def _row(c: ScheduledChange) -> dict[str, Any]:
    from itref.ad.scheduled import describe

    return {"id": c.id, "what": describe(c.action, c.params), "action": c.action, "params": c.params, "at": c.at,
            "entity": c.entity, "status": c.status, "scheduled_by": c.who, "created": c.created, "origin": c.origin,
            "problem": c.problem, "done": c.done, "plan": c.plan, "new_plan": c.new_plan}


@app.command("list")
def list_(ctx: typer.Context,
          everything: Annotated[bool, typer.Option("--all", help=_(
              "Also the changes applied or cancelled."))] = False) -> ExitStatus:
    """List the changes waiting for their date, and those held for a person (by date)."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.ad.scheduled import describe, status_word
    from itref.i18n import format_datetime

    store = _store(st)
    changes = store.list(everything=everything)
    warn_unreadable(st, store.state)
    if fmt == "json":
        from itref.report.inventory import to_json

        st.out.print(to_json([_row(c) for c in changes]), markup=False, soft_wrap=True)
        return ExitStatus.SUCCESS
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for title in (_("Id"), _("When"), _("What"), _("Scheduled by"), _("Status")):
        table.add_column(title, overflow="fold")
    for c in changes:
        status = status_word(c.status) + (f" — {c.problem}" if c.problem else "")
        table.add_row(*(Text(x) for x in (c.id, format_datetime(c.when), describe(c.action, c.params), c.who,
                                         status)))
    if changes:
        st.out.print(table)
    else:
        st.err.print(_("No change is scheduled."), markup=False)
    return ExitStatus.SUCCESS


@app.command()
def show(ctx: typer.Context, change_id: Annotated[str, typer.Argument(metavar="ID")]) -> ExitStatus:
    """Show one scheduled change: the plan as confirmed, and for a held change the plan as it would be now."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.ad.scheduled import describe, status_word
    from itref.core.errors import UsageError
    from itref.i18n import format_datetime

    change = _store(st).get(change_id)
    if change is None:
        raise UsageError(_("no scheduled change '{id}' (see itref pending list)").format(id=change_id))
    if fmt == "json":
        from itref.report.inventory import to_json

        st.out.print(to_json(_row(change)), markup=False, soft_wrap=True)
        return ExitStatus.SUCCESS
    lines = [f"{change.id}: {describe(change.action, change.params)} — {format_datetime(change.when)}",
             _("Scheduled by {who} on {date} ({origin}).").format(who=change.who, date=change.created[:16].replace(
                 "T", " "), origin=change.origin or "?"),
             _("Status: {status}").format(status=status_word(change.status))
             + (f" — {change.problem}" if change.problem else ""),
             _("Plan as confirmed: {title}").format(title=change.title), *_plan_lines(change.plan)]
    if change.new_plan is not None:
        lines += [_("Plan as it would be now:"), *_plan_lines(change.new_plan)]
    for line in lines:
        st.out.print(line, markup=False, soft_wrap=True, highlight=False)
    return ExitStatus.SUCCESS


def _plan_lines(changes: list[dict[str, Any]]) -> list[str]:
    if not changes:
        return ["  " + _("nothing to change")]
    out = []
    for c in changes:
        out.append(f"  {c.get('kind')} {c.get('dn')}" + (f" → {c['target']}" if c.get("target") else ""))
        before = c.get("before") or {}
        for key, value in (c.get("attributes") or {}).items():
            old, new = (v if v not in (None, "") else "∅" for v in (before.get(key), value))
            out.append(f"      {key}: {old} → {new}")
    return out


@app.command()
def cancel(ctx: typer.Context, change_id: Annotated[str, typer.Argument(metavar="ID")],
           reason: Annotated[str, typer.Option("--reason", help=_("Why it will not be made."))]) -> ExitStatus:
    """Cancel a scheduled change: it will never be applied (journaled with the reason)."""
    st = state(ctx)
    st.require_format("table", "json")
    from itref.cli.schedule import refresh_installed
    from itref.journal import JournalRecord

    rctx = st.context()
    change = _store(st).cancel(change_id, reason)
    rctx.journal.append(JournalRecord(action="ad schedule cancel", target=change.subject,
                                      outcome="cancelled", entity=change.entity, run_id=rctx.run_id,
                                      detail=_("change {id}: {reason}").format(id=change.id, reason=reason)))
    st.err.print(_("Change {id} cancelled: it will not be applied.").format(id=change.id), markup=False)
    if change.action == "user enable" and "create" in change.origin:  # an arrival: the account exists already
        st.err.print(_("The account {login} was created when this arrival was scheduled and stays in the directory, "
                       "disabled. If the person is not coming: itref ad user offboard {login} --reason ... (then "
                       "itref ad purge removes it after the retention).").format(login=change.login),
                     markup=False, highlight=False, soft_wrap=True)
    note = refresh_installed(st)
    if note:
        st.err.print(note, markup=False)
    return ExitStatus.SUCCESS
