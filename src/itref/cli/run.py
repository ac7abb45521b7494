"""``itref run``: one command on the selected hosts, in parallel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from itref.cli import complete
from itref.cli.state import CliState, state
from itref.core.status import ExitStatus
from itref.i18n import _

if TYPE_CHECKING:
    from itref.connectors.base import Command, HostSpec


def run(
    ctx: typer.Context,
    command: Annotated[list[str], typer.Argument(help=_("The command and its arguments (after --)."),
                                                 metavar="-- COMMAND [ARGS]...")],
    limit: Annotated[str | None, typer.Option("--limit", "-l", autocompletion=complete.selectors, help=_(
        "Hosts: names, globs, entity:NAME, tag:NAME; ',' for several, '!' to exclude."))] = None,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", "-t", min=0.1, help=_("Seconds before a command is stopped (default from the inventory)."))]
    = None,
    forks: Annotated[int | None, typer.Option("--forks", min=1, help=_("Hosts worked on at once."))] = None,
    shell: Annotated[bool, typer.Option("--shell", help=_(
        "Give COMMAND to the host's shell as one command line (pipes, redirections)."))] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=_("Show what would run where; run nothing."))] = False,
) -> ExitStatus:
    """Run a command on hosts and show each host's result."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.config.selection import select
    from itref.connectors.base import Command
    from itref.core.errors import UsageError

    rc_ctx = st.context()
    project = rc_ctx.project
    hosts = select(project.hosts, limit)
    if shell and len(command) != 1:
        raise UsageError(_("with --shell, give the whole command line as one argument, e.g. "
                           "itref run --shell -- 'df -h | grep /srv'"))
    cmd = Command.of(command[0] if shell else command,
                     timeout=timeout or project.inventory.defaults.timeout)
    if dry_run:
        return _show_plan(st, hosts, cmd, fmt)
    rc_ctx.journal.preflight()  # a command that ran must be journaled: refuse before running, not after
    from itref.cli.progress import host_progress
    from itref.runner.command import run_command

    err = st.plain(stderr=True) or st.err  # progress lines without Rich when stderr is not a terminal
    from itref.cli.entry import end_startup

    end_startup()  # the inventory and its schema join the objects the collector no longer scans
    from itref.core.errors import Interrupted

    try:
        with host_progress(err, len(hosts)) as progress:
            report = run_command(rc_ctx, hosts, cmd, forks=forks or project.inventory.defaults.forks,
                                 on_progress=progress)
    except Interrupted as exc:  # the live view is gone: say where the commands were stopped
        from itref.cli.errors import interrupted

        return interrupted(exc)
    from itref.report.run import run_json, run_table

    if fmt == "json":
        st.write(run_json(report))
    else:
        st.out.print(run_table(report))
    for warning in report.warnings:
        err.print(warning, markup=False)
    return report.exit_status()


def _show_plan(st: CliState, hosts: list[HostSpec], cmd: Command, fmt: str) -> ExitStatus:
    """Print where the command would run, without running it."""
    import json

    rows = [{"host": h.name, "entity": h.entity, "connection": h.connection, "command": cmd.display()}
            for h in hosts]
    if fmt == "json":
        st.write(json.dumps({"dry_run": True, "hosts": rows}, ensure_ascii=False, indent=2))
    else:
        st.err.print(_("Dry run: nothing is executed."), markup=False)
        for row in rows:
            st.out.print(f"{row['host']} ({row['connection']}): {row['command']}", markup=False)
    return ExitStatus.SUCCESS
