"""``itref schedule``: put the schedules of the playbooks into cron, list them, take them out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from itref.cli.clock import NOW_HELP
from itref.cli.state import CliState, state
from itref.core.status import ExitStatus
from itref.i18n import _

if TYPE_CHECKING:
    from itref.schedule import CrontabCommand, CrontabFile

app = typer.Typer(help=_("Install, list and remove the cron entries made from the playbooks' schedules "
                         "(audits.schedule, routines' schedule, backups' verify_schedule); apply the directory "
                         "changes whose date has come."),
                  no_args_is_help=True, rich_markup_mode=None)

CrontabPath = Annotated[Path | None, typer.Option(
    "--crontab-file", envvar="ITREF_CRONTAB_FILE", show_envvar=True,
    help=_("Edit this file instead of the user's crontab (crontab -l / crontab -)."))]
DryRun = Annotated[bool, typer.Option("--dry-run", "-n", help=_(
    "Show the change as a diff; change nothing."))]


def _store(crontab_file: Path | None) -> CrontabFile | CrontabCommand:
    from itref.schedule import crontab_store

    return crontab_store(crontab_file)


def _print_json(st: CliState, data: object) -> None:
    import json

    st.out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, soft_wrap=True)


def _apply(st: CliState, store: CrontabFile | CrontabCommand, before: str, after: str, *, dry_run: bool,
           action: str, detail: str) -> bool:
    """Show the diff (dry run) or write ``after``; journal a change. Return True when something changed."""
    from itref.schedule import unified_diff

    if before == after:
        return False
    if dry_run:
        st.out.print(unified_diff(before, after, store.describe()), markup=False, highlight=False, soft_wrap=True,
                     end="")
        return True
    store.write(after)
    from itref.journal import Journal, JournalRecord

    Journal(st.project().state).append(JournalRecord(action=action, target=store.describe(), outcome="changed",
                                                     detail=detail))
    return True


@app.command()
def install(ctx: typer.Context, crontab_file: CrontabPath = None, dry_run: DryRun = False) -> ExitStatus:
    """Write this inventory's cron entries (replacing the ones installed before); other lines are kept."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.schedule import inventory_key, planned_entries, render_block, with_block

    project = st.project()
    entries = planned_entries(project, playbooks_dir=st.playbooks)
    inventory = project.inventory_path.resolve()
    key = inventory_key(inventory)
    store = _store(crontab_file)
    before = store.read()
    after = with_block(before, key, render_block(inventory, entries))
    changed = _apply(st, store, before, after, dry_run=dry_run, action="schedule install",
                     detail=f"{len(entries)} entries for {inventory}")
    for entity, book in project.playbooks.items():
        if book.audits.schedule and not any(h.entity == entity for h in project.hosts):
            st.err.print(_("Warning: entity {entity} has no host, so its scheduled audit "
                           "(--limit entity:{entity}) will stop with a usage error.").format(entity=entity),
                         markup=False)
    if fmt == "json" and not dry_run:
        _print_json(st, {"crontab": store.describe(), "inventory": str(inventory), "changed": changed,
                         "entries": [{"what": e.what, "schedule": e.schedule, "command": e.command}
                                     for e in entries]})
    elif not dry_run:
        for e in entries:
            st.out.print(f"{e.what:<32} {e.schedule:<16} {e.command}", markup=False, soft_wrap=True)
    if dry_run:
        st.err.print(_("Dry run: nothing was changed.") if changed else
                     _("Nothing to change in {where}.").format(where=store.describe()), markup=False)
    elif not entries:
        st.err.print(_("No schedule in the playbooks (audits.schedule, routines' schedule, backups' "
                       "verify_schedule); {where} has no itref entry for {inventory}.").format(
            where=store.describe(), inventory=inventory), markup=False)
    elif changed:
        st.err.print(_("{n} cron entries installed in {where}.").format(n=len(entries), where=store.describe()),
                     markup=False)
    else:
        st.err.print(_("{where} was already up to date ({n} entries).").format(where=store.describe(),
                                                                              n=len(entries)), markup=False)
    return ExitStatus.SUCCESS


@app.command("list")
def list_(ctx: typer.Context, crontab_file: CrontabPath = None) -> ExitStatus:
    """Show the cron entries installed for this inventory."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.core.errors import ItrefError
    from itref.schedule import installed, inventory_key, planned_entries

    inventory = st.inventory.expanduser().resolve()
    store = _store(crontab_file)
    found = installed(store.read(), inventory_key(inventory))
    if fmt == "json":
        _print_json(st, [{"what": e.what, "schedule": e.schedule, "command": e.command} for e in found])
    else:
        for e in found:
            st.out.print(f"{e.what:<32} {e.schedule:<16} {e.command}", markup=False, soft_wrap=True)
    if not found:
        st.err.print(_("No itref entry in {where} for {inventory}.").format(where=store.describe(),
                                                                            inventory=inventory), markup=False)
    try:
        wanted = planned_entries(st.project(), playbooks_dir=st.playbooks)
    except ItrefError:
        return ExitStatus.SUCCESS  # an invalid or missing inventory: still show what is installed
    if [(e.what, e.schedule, e.command) for e in wanted] != [(e.what, e.schedule, e.command) for e in found]:
        st.err.print(_("The installed entries differ from the playbooks' schedules; run: itref schedule install"),
                     markup=False)
    return ExitStatus.SUCCESS


@app.command()
def remove(ctx: typer.Context, crontab_file: CrontabPath = None, dry_run: DryRun = False) -> ExitStatus:
    """Take this inventory's cron entries out; other lines are kept byte for byte."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.schedule import installed, inventory_key, without_block

    inventory = st.inventory.expanduser().resolve()
    key = inventory_key(inventory)
    store = _store(crontab_file)
    before = store.read()
    n = len(installed(before, key))
    changed = _apply(st, store, before, without_block(before, key), dry_run=dry_run, action="schedule remove",
                     detail=f"{n} entries for {inventory}")
    if fmt == "json" and not dry_run:
        _print_json(st, {"crontab": store.describe(), "inventory": str(inventory), "changed": changed, "removed": n})
    if dry_run:
        st.err.print(_("Dry run: nothing was changed.") if changed else
                     _("Nothing to change in {where}.").format(where=store.describe()), markup=False)
    elif changed:
        st.err.print(_("{n} cron entries removed from {where}.").format(n=n, where=store.describe()), markup=False)
    else:
        st.err.print(_("No itref entry in {where} for {inventory}.").format(where=store.describe(),
                                                                            inventory=inventory), markup=False)
    return ExitStatus.SUCCESS


def refresh_installed(st: CliState) -> str | None:
    """When this inventory's itref lines are installed in the crontab, rewrite them as the playbooks and the
    pending changes want them now (the line running ``itref schedule run`` comes while changes wait for their date
    and goes with the last one). Return what to tell the person, or None when there is nothing to say."""
    from itref.core.errors import ItrefError
    from itref.schedule import (
        PENDING_WHAT,
        crontab_store,
        installed,
        inventory_key,
        planned_entries,
        render_block,
        with_block,
    )

    try:
        project = st.project()
        inventory = project.inventory_path.resolve()
        key = inventory_key(inventory)
        store = crontab_store()
        before = store.read()
        wanted = planned_entries(project, playbooks_dir=st.playbooks)
        waiting = any(e.what == PENDING_WHAT for e in wanted)
        if not installed(before, key):
            return _("Nothing applies scheduled changes on this machine yet: run itref schedule install (or itref "
                     "schedule run once the date has come).") if waiting else None
        after = with_block(before, key, render_block(inventory, wanted))
        if after == before:
            return None
        _apply(st, store, before, after, dry_run=False, action="schedule install",
               detail=f"{len(wanted)} entries for {inventory}")
    except ItrefError as exc:
        return _("itref's crontab lines could not be updated ({reason}); run: itref schedule install").format(
            reason=exc.message)
    if waiting:
        return _("{where}: itref schedule run will apply it (every five minutes while changes wait).").format(
            where=store.describe())
    return _("{where}: no change waits any more, so the line running itref schedule run was removed.").format(
        where=store.describe())


@app.command("run")
def run_due(ctx: typer.Context,
            now: Annotated[str | None, typer.Option("--now", hidden=True, help=NOW_HELP)] = None) -> ExitStatus:
    """Apply the directory changes whose date has come (cron runs this every five minutes while some wait); a
    change whose plan is no longer the one confirmed is held for a person, never applied."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.ad.scheduled import describe, run_due
    from itref.cli.clock import moment
    from itref.core.errors import UsageError

    when = moment(now)
    rctx = st.context()

    def open_client() -> object:
        from itref.ad.client import DirectoryClient

        directory = rctx.project.inventory.directory
        if directory is None:
            raise UsageError(_("changes are due but the inventory has no 'directory' section to apply them to"))
        return DirectoryClient(directory, rctx.secrets).open()

    outcomes = run_due(rctx, when, open_client)  # type: ignore[arg-type]
    if outcomes is None:
        st.err.print(_("Another itref schedule run is applying this project's changes on this machine."),
                     markup=False)
        return ExitStatus.SUCCESS
    rows = [{"id": o.change.id, "what": describe(o.change.action, o.change.params), "at": o.change.at,
             "result": o.result, "message": o.message} for o in outcomes]
    if fmt == "json":
        _print_json(st, rows)
    words = {"applied": _("applied"), "held": _("HELD for a person"), "failed": _("FAILED"),
             "waiting": _("not applied yet")}
    for row in rows if fmt != "json" else []:
        line = f"{row['id']}  {row['what']}: {words.get(row['result'], row['result'])} — {row['message']}"
        if row["result"] in ("held", "failed"):
            line += " — " + _("see: itref pending show {id}").format(id=row["id"])
        st.out.print(line, markup=False, soft_wrap=True)
    if any(o.result in ("applied", "held", "failed") for o in outcomes):
        note = refresh_installed(st)
        if note:
            st.err.print(note, markup=False)
    if any(o.result in ("held", "failed") for o in outcomes):
        return ExitStatus.FAILURE
    if any(o.result == "waiting" for o in outcomes):
        return ExitStatus.UNREACHABLE
    return ExitStatus.SUCCESS
