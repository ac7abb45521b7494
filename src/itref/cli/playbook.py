"""``itref playbook``: validate, list and show the entity playbooks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from itref.cli import complete
from itref.cli.state import CliState, state, warn_unreadable
from itref.core.status import ExitStatus
from itref.i18n import _

if TYPE_CHECKING:
    from itref.runner.routine import RunState

app = typer.Typer(help=_("Check, list and show the playbooks (what each entity needs)."),
                  no_args_is_help=True, rich_markup_mode=None)


@app.command()
def validate(ctx: typer.Context) -> ExitStatus:
    """Check every playbook against the schema and the inventory."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.report.inventory import to_json

    project = st.project()
    from itref.core.errors import ConfigError
    from itref.runner.routine import shell_step_issues

    issues = shell_step_issues(project)  # a parameter where its value would be code: refused before any run
    if issues:
        raise ConfigError(issues)
    files = {e: str(p) for e, p in project.playbook_files.items()}
    if fmt == "json":
        st.out.print(to_json({"valid": True, "playbooks": files}), markup=False, soft_wrap=True)
    else:
        for entity, path in files.items():
            st.out.print(_("{file}: valid (entity {entity})").format(file=path, entity=entity), markup=False)
        if not files:
            st.err.print(_("No playbook found in {dir}.").format(dir=project.playbooks_dir), markup=False)
    return ExitStatus.SUCCESS


@app.command()
def example(ctx: typer.Context) -> ExitStatus:
    """Print a commented example playbook written from the schema, for the entity of `itref inventory example`."""
    from itref.config.example import playbook_example

    state(ctx).write(playbook_example().rstrip("\n"))  # as it is: a YAML file to save
    return ExitStatus.SUCCESS


@app.command("list")
def list_(ctx: typer.Context) -> ExitStatus:
    """List every routine of every playbook, with its schedule."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from rich.table import Table
    from rich.text import Text

    from itref.report.inventory import to_json

    project = st.project()
    rows = [{"routine": f"{entity}/{name}", "description": r.description, "schedule": r.schedule,
             "steps": len(r.steps)}
            for entity, book in project.playbooks.items() for name, r in book.routines.items()]
    if fmt == "json":
        st.out.print(to_json(rows), markup=False, soft_wrap=True)
        return ExitStatus.SUCCESS
    table = Table()
    for title in (_("Routine"), _("What it does"), _("Schedule"), _("Steps")):
        table.add_column(title)
    for row in rows:
        table.add_row(*(Text(str(row[k] or "")) for k in ("routine", "description", "schedule", "steps")))
    st.out.print(table)
    return ExitStatus.SUCCESS


@app.command()
def show(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="ENTITY[/ROUTINE]", autocompletion=complete.routines,
                                          help=_("An entity, or one routine."))],
) -> ExitStatus:
    """Show one entity's playbook, or one routine step by step."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.core.errors import UsageError
    from itref.report.inventory import playbook_tree, to_json

    project = st.project()
    entity, _sep, routine = target.partition("/")
    book = project.playbooks.get(entity)
    if book is None:
        raise UsageError(_("no playbook for entity '{entity}' (playbooks: {known})").format(
            entity=entity, known=", ".join(sorted(project.playbooks)) or "-"))
    if routine and routine not in book.routines:
        raise UsageError(_("entity '{entity}' has no routine '{routine}' (routines: {known})").format(
            entity=entity, routine=routine, known=", ".join(book.routines) or "-"))
    if fmt == "json":
        data = book.routines[routine].model_dump(mode="json", by_alias=True, exclude_none=True) if routine \
            else book.model_dump(mode="json", by_alias=True, exclude_none=True)
        st.out.print(to_json(data), markup=False, soft_wrap=True)
    else:
        st.out.print(playbook_tree(book, routine or None))
    return ExitStatus.SUCCESS


@app.command("run")
def run_routine(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="ENTITY/ROUTINE", autocompletion=complete.routines,
                                          help=_("The routine to run."))],
    guided: Annotated[bool, typer.Option("--guided", "-g", help=_(
        "Step by step for a stand-in: explain each step and ask before doing it."))] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help=_("Show every step's effect; change nothing."))]
    = False,
    values: Annotated[list[str] | None, typer.Option("--set", help=_("Give a parameter: NAME=VALUE (repeatable)."))]
    = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help=_("Unattended: nobody answers (for cron)."))] = False,
    password_file: Annotated[Path | None, typer.Option("--password-file", help=_(
        "Where new account passwords go (mode 0600) instead of the terminal."))] = None,
) -> ExitStatus:
    """Run a playbook routine, step by step; progress is saved so it can be resumed."""
    return _drive(ctx, target, guided=guided, dry_run=dry_run, values=values or [], yes=yes,
                  password_file=password_file, saved=None)


@app.command("resume")
def resume_routine(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help=_(
        "Which run (without it: the only unfinished one; when several are, you are asked which)."))] = None,
    guided: Annotated[bool, typer.Option("--guided", "-g", help=_("Step by step, asking before each step."))]
    = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help=_("Unattended: nobody answers."))] = False,
    password_file: Annotated[Path | None, typer.Option("--password-file")] = None,
) -> ExitStatus:
    """Continue a routine where it stopped (Ctrl-C, a lost SSH session, a failed step, 'q')."""
    from itref.core.errors import UsageError
    from itref.runner.routine import load

    st = state(ctx)
    saved = load(st.project().state, run_id) if run_id else _choose_run(st)
    if saved.finished:
        raise UsageError(_("routine run {id} is already finished").format(id=saved.run_id))
    if saved.cancelled:
        raise UsageError(_("routine run {id} was cancelled: {reason}").format(id=saved.run_id, reason=saved.cancelled))
    return _drive(ctx, saved.target, guided=guided, dry_run=False, values=[], yes=yes, password_file=password_file,
                  saved=saved)


def _choose_run(st: CliState) -> RunState:
    """Return the only unfinished run, or the one the person picks when several are open. Raises UsageError when
    none is open, or several are and nobody is at a terminal to choose (never picks one silently)."""
    import sys

    from itref.core.errors import UsageError
    from itref.i18n import format_datetime
    from itref.runner.routine import saved_runs
    from itref.runner.runs import view

    project = st.project()
    runs = saved_runs(project.state, open_only=True)
    warn_unreadable(st, project.state)  # a run left out must not make another one look like the only one
    if not runs:
        raise UsageError(_("no unfinished routine to resume"))
    if len(runs) == 1:
        return runs[0]
    ids = ", ".join(f"{r.run_id} ({r.target})" for r in runs)
    if not sys.stdin.isatty():
        raise UsageError(_("{n} routine runs are unfinished: {ids}; say which one: itref playbook resume ID").format(
            n=len(runs), ids=ids))
    st.err.print(_("{n} routine runs are unfinished:").format(n=len(runs)), markup=False)
    for i, run in enumerate(runs, 1):
        v = view(project, run)
        started = format_datetime(v.started) if v.started else run.started
        st.err.print(f"  {i}. {v.run_id}  {v.routine} — " + _("started {when} by {who}, at {where}; it waits for "
                                                              "{waits}").format(when=started, who=v.who,
                                                                                where=v.where, waits=v.waits),
                     markup=False, highlight=False, soft_wrap=True)
    while True:
        st.err.print(_("Which one? [1-{n}] (q: none) ").format(n=len(runs)), markup=False, end="")
        try:
            answer = input().strip().lower()
        except EOFError:
            answer = "q"
        if answer == "q":
            raise UsageError(_("nothing resumed"))
        chosen = next((r for r in runs if answer == r.run_id), None)
        if chosen is None and answer.isdigit() and 1 <= int(answer) <= len(runs):
            chosen = runs[int(answer) - 1]
        if chosen is not None:
            return chosen
        st.err.print(_("Type a number from 1 to {n}, or q.").format(n=len(runs)), markup=False)


@app.command("runs")
def list_runs(ctx: typer.Context,
              everything: Annotated[bool, typer.Option("--all", help=_(
                  "Also the finished and cancelled runs."))] = False) -> ExitStatus:
    """List the unfinished routine runs: id, routine, parameters (never a secret answer), who, when started,
    the next step and what it waits for."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.i18n import format_datetime
    from itref.runner.routine import saved_runs
    from itref.runner.runs import view

    project = st.project()
    views = [view(project, r) for r in saved_runs(project.state, open_only=not everything)]
    warn_unreadable(st, project.state)
    if fmt == "json":
        from itref.report.inventory import to_json

        st.out.print(to_json([v.as_dict() for v in views]), markup=False, soft_wrap=True)
        return ExitStatus.SUCCESS
    if not views:
        st.err.print(_("No unfinished routine run.") if not everything else _("No routine run saved."), markup=False)
        return ExitStatus.SUCCESS
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for title in (_("Id"), _("Routine"), _("Parameters"), _("Who"), _("Started"), _("Next step"),
                  _("Waits for")):
        table.add_column(title, overflow="fold")
    for v in views:
        params = ", ".join(f"{k}={val}" for k, val in v.params.items())
        where = v.where if v.state == "open" else {"finished": _("finished"), "cancelled": _("cancelled")}[v.state]
        table.add_row(*(Text(x) for x in (v.run_id, v.routine, params, v.who,
                                          format_datetime(v.started) if v.started else "?", where, v.waits)))
    st.out.print(table)
    return ExitStatus.SUCCESS


@app.command("cancel")
def cancel_run(ctx: typer.Context, run_id: Annotated[str, typer.Argument(metavar="ID")],
               reason: Annotated[str, typer.Option("--reason", help=_("Why it will not be finished."))]) -> ExitStatus:
    """Close an unfinished routine run that will not be finished (journaled with the reason)."""
    st = state(ctx)
    st.require_format("table", "json")
    from itref.journal import JournalRecord
    from itref.runner.routine import cancel

    rctx = st.context()
    run = cancel(rctx.state, run_id, reason)
    entity = run.target.partition("/")[0] or None
    rctx.journal.append(JournalRecord(action="routine cancel", target=run.target, outcome="cancelled", entity=entity,
                                      run_id=run.run_id, detail=reason))
    st.err.print(_("Routine run {id} ({routine}) is closed: {reason}").format(id=run.run_id, routine=run.target,
                                                                              reason=reason), markup=False)
    return ExitStatus.SUCCESS


def _drive(ctx: typer.Context, target: str, *, guided: bool, dry_run: bool, values: list[str], yes: bool,
           password_file: Path | None, saved: RunState | None) -> ExitStatus:
    """Run or resume ``target`` with a terminal interaction; return SUCCESS when every step succeeded."""
    from itref.cli.guided import TerminalUI
    from itref.runner.routine import RunState, given_values, resolve, run_routine

    st = state(ctx)
    rctx = st.context()
    entity, _name, routine = resolve(rctx.project, target)
    book = rctx.project.playbooks[entity]
    contacts = [*rctx.project.inventory.entities[entity].contacts, *book.contacts]
    ui = TerminalUI(st.err, guided=guided, contacts=contacts, yes=yes, password_file=password_file)
    given = given_values(routine, values)
    if not dry_run:
        rctx.journal.preflight()  # before anything is asked or done: what is done must be journaled
    if saved is not None:
        current = saved
        rctx.run_id = current.run_id
        st.err.print(_("Resuming {target} at step {n}.").format(target=target, n=current.next_step), markup=False)
        for pname in current.secret_params:  # never saved: asked again
            if pname not in current.params and pname in routine.ask:
                current.params[pname] = given.get(pname) or ui.ask(pname, routine.ask[pname])
    else:
        from itref.runner.routine import secret_names

        params = {**routine.vars, **given}
        for pname, spec in routine.ask.items():
            if pname not in params:  # a dry run shows where the answer would go instead of asking
                params[pname] = f"<{pname}>" if dry_run else ui.ask(pname, spec)
        current = RunState(rctx.run_id, target, params, secret_params=secret_names(routine))
    if dry_run:
        st.err.print(_("Dry run of {target}: nothing is changed.").format(target=target), markup=False)
    from itref.core.errors import Interrupted

    try:
        result = run_routine(rctx, target, ui, state=current, dry_run=dry_run)
    except Interrupted as exc:  # progress is saved at the step that was running: resume starts there again
        from itref.cli.errors import interrupted

        status = interrupted(exc)
        st.err.print(_("Continue with: itref playbook resume {id}").format(id=current.run_id), markup=False)
        return status
    if dry_run:
        return ExitStatus.SUCCESS
    from itref.cli.guided import step_outcome
    from itref.runner.routine import flatten

    ui.summary(result, len(flatten(rctx.project, entity, _name)))
    last = {r.number: r for r in result.records}  # a retried step counts by its last attempt
    if not result.finished or any(r.status == "failed" for r in last.values()):
        return ExitStatus.FAILURE
    return ExitStatus.CHECK_WARNING if any(step_outcome(r) == "warning" for r in last.values()) \
        else ExitStatus.SUCCESS
