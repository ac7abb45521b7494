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
    from itref.backup.check import check_backups, journal_checks, targets
    from itref.core.findings import exit_status, worst
    from itref.report.findings import findings_json, findings_view

    rctx = st.context()
    chosen = targets(rctx.project, limit=limit, entity=entity, names=names)
    if not chosen:
        st.err.print(_("No backup is described in the playbooks (backups: section)."), markup=False)
        return ExitStatus.SUCCESS
    findings = check_backups(rctx, chosen, forks=rctx.project.inventory.defaults.forks, fresh=fresh)
    journal_checks(rctx, chosen, findings)
    if fmt == "json":
        st.out.print(findings_json(findings), markup=False, soft_wrap=True)
    else:
        st.out.print(findings_view(findings))
    return exit_status(worst(findings))


def _print_actions(st: CliState, results: list[ActionResult], fmt: str, verb: str) -> ExitStatus:
    """Print verify/drill results; return SUCCESS when all passed, CHECK_CRITICAL when one failed, CHECK_WARNING
    when one proved nothing (a drill that compared nothing, a dump no tool could read)."""
    import json

    from rich.text import Text

    from itref.backup.check import label

    data = [{"backup": r.target.backup.name, "entity": r.target.entity, "where": r.target.where, "ok": r.ok,
             "status": r.status, "detail": r.detail, "files": list(r.files), "mismatched": list(r.mismatched),
             "unverified": list(r.unverified)} for r in results]
    if fmt == "json":
        st.out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, soft_wrap=True)
    else:
        words = {"ok": (_("OK"), "green"), "warning": (_("WARNING"), "yellow"), "failed": (_("FAILED"), "bold red")}
        for r, d in zip(results, data, strict=True):
            word, style = words[r.status]
            line = Text(f"[{word}] ", style=style)
            line.append(f"{verb} {label(st.project(), r.target)}: {d['detail']}")
            st.out.print(line)
            if d["unverified"] and r.target.backup.kind != "files":
                st.out.print(Text("    " + _("changed since the backup, not compared: ") + ", ".join(d["unverified"]),
                                  style="dim"))
    if any(r.status == "failed" for r in results):
        return ExitStatus.CHECK_CRITICAL
    return ExitStatus.CHECK_WARNING if any(r.status == "warning" for r in results) else ExitStatus.SUCCESS


def _testable_backups(st: CliState, names: list[str] | None, limit: str | None, entity: str | None,
                      what: str) -> tuple[RunContext, list[Target]]:
    """Return the run context and the selected backups itref can read back (restic, borg, dumps on a Linux host).

    Raises NothingToTest (exit 8) naming what was selected when none of them can be: a verify or drill that tests
    nothing is not a pass."""
    from itref.backup.check import targets
    from itref.backup.policy import testable

    rctx = st.context()
    selected = targets(rctx.project, limit=limit, entity=entity, names=names)
    chosen = [t for t in selected if testable(t.backup, t.host)]
    if not chosen:
        from itref.core.errors import NothingToTest

        others = ", ".join(f"{t.backup.name} ({t.backup.kind})" for t in selected) or _("no backup")
        raise NothingToTest(_("nothing to {what} in the selection ({others}): itref reads back restic and borg "
                              "repositories and dump folders (kind: files) on Linux hosts; wbadmin, Veeam and dumps "
                              "on Windows hosts are restore-tested with their own tools").format(
            what=what, others=others))
    return rctx, chosen


@app.command()
def verify(ctx: typer.Context, names: Names = None, limit: Limit = None, entity: Entity = None) -> ExitStatus:
    """Read the backups back to prove they are sound: restic check --read-data-subset, borg check, and every dump of
    a files backup read to its end. Exit 8 when the selection holds nothing itref can read back."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.backup.actions import verify_backups

    rctx, chosen = _testable_backups(st, names, limit, entity, _("verify"))
    return _print_actions(st, verify_backups(rctx, chosen), fmt, _("verify"))


@app.command()
def drill(
    ctx: typer.Context, names: Names = None, limit: Limit = None, entity: Entity = None,
    files: Annotated[list[str] | None, typer.Option("--file", help=_("Restore this file (repeatable)."))] = None,
    random: Annotated[int | None, typer.Option("--random", min=0, help=_("How many random files to restore."))]
    = None,
) -> ExitStatus:
    """Restore a sample into a temporary folder and prove it right: files compared with the originals, the newest
    dump read back as what it is. Recorded; exit 8 when the selection holds nothing itref can restore-test."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.backup.actions import drill_backups

    rctx, chosen = _testable_backups(st, names, limit, entity, _("restore-test"))
    return _print_actions(st, drill_backups(rctx, chosen, files=files, random_count=random), fmt, _("restore drill"))
