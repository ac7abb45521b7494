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
