"""``itref state``: where the project's shared memory lives, and moving an older per-user state into it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itref.cli.state import state
from itref.core.status import ExitStatus
from itref.i18n import _

app = typer.Typer(help=_("The project's state folder: journal, histories, waivers, departures, routine runs."),
                  no_args_is_help=True, rich_markup_mode=None)


@app.command()
def show(ctx: typer.Context) -> ExitStatus:
    """Say where the state folder is, who this process signs records as, and what stays on this machine."""
    st = state(ctx)
    project = st.project(playbooks=False)
    folder = project.state
    folder.check()
    op = folder.operator
    rows = [
        (_("State folder"), str(folder.path) + ("" if folder.exists() else " " + _("(not created yet)"))),
        (_("Shared with the group"), folder.group or _("no (owner only)")),
        (_("Records signed as"), op.display() + f" ({op.account}@{op.machine})"),
        (_("This process writes"), folder.writer + ".jsonl"),
        (_("Kept on this machine only"), str(folder.cache_dir(create=False))),
    ]
    if st.format == "json":
        import json

        st.write(json.dumps({"state": str(folder.path), "group": folder.group, "operator": op.name,
                             "account": op.account, "machine": op.machine, "writer": folder.writer,
                             "cache": str(folder.cache_dir(create=False))}, ensure_ascii=False, indent=2))
        return ExitStatus.SUCCESS
    width = max(len(k) for k, _v in rows)
    for key, value in rows:
        st.out.print(f"{key:<{width}}  {value}", markup=False, highlight=False)
    return ExitStatus.SUCCESS


@app.command()
def check(ctx: typer.Context) -> ExitStatus:
    """Read every record of the state folder and name each one that cannot be read (FILE:LINE: why): a merge
    done by hand may have broken one, and what it holds is then left out of status, journal and runs.

    Exits 0 when every record can be read, 6 otherwise (nothing is changed: repair or remove the file)."""
    st = state(ctx)
    from itref.ad.scheduled import ScheduledChanges
    from itref.audit.waivers import Waivers
    from itref.journal import Journal
    from itref.runner.routine import saved_runs
    from itref.state.documents import Documents

    folder = st.project(playbooks=False).state
    folder.check()
    journal = Journal(folder)
    lines = len(journal.records())
    counts = {_("journal lines"): lines, _("waivers"): len(Waivers(folder).load()),
              _("routine runs"): len(saved_runs(folder)),
              _("scheduled changes"): len(ScheduledChanges(folder).list(everything=True)),
              _("offboarding snapshots"): len(Documents(folder, "departed").all())}
    places = [f"{path}:{line}" if line else str(path) for path, line in journal.stream.damage.places]
    problems = [*(_("{place}: this journal line cannot be read").format(place=p) for p in places),
                *(str(problem) for _path, problem in sorted(folder.unreadable.items()))]
    if st.format == "json":
        import json

        st.write(json.dumps({"state": str(folder.path), "read": counts, "unreadable": problems},
                            ensure_ascii=False, indent=2))
    else:
        for line in problems:
            st.out.print(line, markup=False, highlight=False)
        st.out.print(_("{path}: {read} read; {n} cannot be read.").format(
            path=folder.path, read=", ".join(f"{n} {what}" for what, n in counts.items()), n=len(problems)),
            markup=False, highlight=False)
    return ExitStatus.CHECK_WARNING if problems else ExitStatus.SUCCESS


@app.command()
def migrate(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Option(
        "--from", help=_("Folder of the old state (default: ~/.local/state/itref, or $ITREF_STATE_DIR when set)."))]
    = None,
) -> ExitStatus:
    """Move the state an earlier itref kept per user (journal, waivers, offboarding snapshots, histories, paused
    routines) into the project's state folder. Safe to run again: what is there already is skipped."""
    st = state(ctx)
    from itref.core.errors import UsageError
    from itref.journal import JournalRecord
    from itref.migration import default_source, has_old_state, migrate

    rctx = st.context()
    folder = rctx.state
    src = (source or default_source(folder)).expanduser().absolute()
    if not src.is_dir() or not has_old_state(src):
        raise UsageError(_("no state of an earlier itref in {path}").format(path=src))
    results = migrate(src, folder)
    names = {"journal": _("journal records"), "waivers": _("waivers"), "departed": _("offboarding snapshots"),
             "routines": _("routine runs"), "audits": _("audit runs"), "backups": _("backup records")}
    moved = sum(r.moved for r in results)
    for r in results:
        if r.moved or r.present:
            st.out.print(_("{what}: {moved} moved, {present} already there").format(
                what=names[r.kind], moved=r.moved, present=r.present), markup=False)
    st.out.print(_("From {source} to {dest}: {n} record(s) moved; the old files were left as they were.").format(
        source=src, dest=folder.path, n=moved), markup=False)
    if moved:
        rctx.journal.append(JournalRecord(action="state migrate", target=str(src), outcome="changed",
                                          detail=", ".join(f"{r.kind} {r.moved}" for r in results if r.moved),
                                          run_id=rctx.run_id))
    return ExitStatus.SUCCESS
