"""``itref backup``: are last night's backups there, the right size, readable and restorable?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from itref.cli import complete
from itref.cli.state import CliState, state
from itref.core.status import ExitStatus
from itref.i18n import _

if TYPE_CHECKING:
    from itref.backup.actions import ActionResult
    from itref.backup.check import Target
    from itref.context import RunContext

app = typer.Typer(help=_("Check, verify and restore-test the backups described in the playbooks."),
                  no_args_is_help=True, rich_markup_mode=None)

Limit = Annotated[str | None, typer.Option("--limit", "-l", autocompletion=complete.selectors,
                                           help=_("Only backups checked on these hosts."))]
Entity = Annotated[str | None, typer.Option("--entity", "-e", autocompletion=complete.entities,
                                            help=_("Only this entity's backups."))]
Names = Annotated[list[str] | None, typer.Argument(metavar="[NAME]...", help=_("Only these backups."))]


@app.command()
def check(
    ctx: typer.Context, names: Names = None, limit: Limit = None, entity: Entity = None,
    fresh: Annotated[bool, typer.Option("--fresh", "--no-cache", help=_(
        "Open every repository, even one whose files have not changed since the last check."))] = False,
) -> ExitStatus:
    """One status per backup (OK, WARNING, CRITICAL, UNKNOWN) with a reason; exit code = the worst."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.backup.check import check_backups, targets
    from itref.core.findings import exit_status, worst
    from itref.report.findings import findings_json, findings_view

    rctx = st.context()
    chosen = targets(rctx.project, limit=limit, entity=entity, names=names)
    if not chosen:
        st.err.print(_("No backup is described in the playbooks (backups: section)."), markup=False)
        return ExitStatus.SUCCESS
    findings = check_backups(rctx, chosen, forks=rctx.project.inventory.defaults.forks, fresh=fresh)
    if fmt == "json":
        st.out.print(findings_json(findings), markup=False, soft_wrap=True)
    else:
        st.out.print(findings_view(findings))
    return exit_status(worst(findings))


def _print_actions(st: CliState, results: list[ActionResult], fmt: str, verb: str) -> ExitStatus:
    """Print verify/drill results; return SUCCESS when all succeeded, CHECK_CRITICAL otherwise."""
    import json

    from rich.text import Text

    data = [{"backup": r.target.backup.name, "entity": r.target.entity, "where": r.target.where, "ok": r.ok,
             "detail": r.detail, "files": list(r.files), "mismatched": list(r.mismatched),
             "unverified": list(r.unverified)} for r in results]
    if fmt == "json":
        st.out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, soft_wrap=True)
    else:
        for d in data:
            line = Text(f"[{_('OK') if d['ok'] else _('FAILED')}] ", style="green" if d["ok"] else "bold red")
            line.append(f"{d['entity']} — {verb} {d['where']}: {d['detail']}")
            st.out.print(line)
            if d["unverified"]:
                st.out.print(Text("    " + _("changed since the backup, not compared: ") + ", ".join(d["unverified"]),
                                  style="dim"))
    return ExitStatus.SUCCESS if all(r.ok for r in results) else ExitStatus.CHECK_CRITICAL


def _readable_backups(st: CliState, names: list[str] | None, limit: str | None,
                      entity: str | None) -> tuple[RunContext, list[Target]]:
    """Return the run context and the selected backups that can be read back (restic, borg)."""
    from itref.backup.check import DRILLABLE, targets

    rctx = st.context()
    return rctx, [t for t in targets(rctx.project, limit=limit, entity=entity, names=names)
                  if t.backup.kind in DRILLABLE]


@app.command()
def verify(ctx: typer.Context, names: Names = None, limit: Limit = None, entity: Entity = None) -> ExitStatus:
    """Read the repositories back (restic check --read-data-subset, borg check) to prove they are sound."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.backup.actions import verify_backups

    rctx, chosen = _readable_backups(st, names, limit, entity)
    if not chosen:
        st.err.print(_("No restic or borg backup to verify in the selection."), markup=False)
        return ExitStatus.SUCCESS
    return _print_actions(st, verify_backups(rctx, chosen), fmt, _("verify"))


@app.command()
def drill(
    ctx: typer.Context, names: Names = None, limit: Limit = None, entity: Entity = None,
    files: Annotated[list[str] | None, typer.Option("--file", help=_("Restore this file (repeatable)."))] = None,
    random: Annotated[int | None, typer.Option("--random", min=0, help=_("How many random files to restore."))]
    = None,
) -> ExitStatus:
    """Restore a sample of files into a temporary folder, compare them with the originals, record the drill."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.backup.actions import drill_backups

    rctx, chosen = _readable_backups(st, names, limit, entity)
    if not chosen:
        st.err.print(_("No restic or borg backup to drill in the selection."), markup=False)
        return ExitStatus.SUCCESS
    return _print_actions(st, drill_backups(rctx, chosen, files=files, random_count=random), fmt, _("restore drill"))
