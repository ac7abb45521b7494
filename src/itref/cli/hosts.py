"""``itref hosts``: the first-day doctor (check) and deliberate decisions about hosts (trust an SSH host key)."""

from __future__ import annotations

from typing import Annotated

import typer

from itref.cli import complete
from itref.cli.state import state
from itref.core.status import ExitStatus
from itref.i18n import _

app = typer.Typer(help=_("Hosts: check that itref can work on them; trust an SSH host key."), no_args_is_help=True,
                  rich_markup_mode=None)


@app.command()
def trust(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(autocompletion=complete.hosts, help=_("Host name from the inventory."))],
    replace: Annotated[bool, typer.Option("--replace", help=_(
        "Replace a different key already recorded (after checking why it changed)."))] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help=_("Do not ask for confirmation."))] = False,
) -> ExitStatus:
    """Show an SSH host's key fingerprint and record it in known_hosts once you confirm."""
    st = state(ctx)
    from itref.connectors.hostkeys import (
        check_known_hosts,
        describe,
        fetch_host_key,
        key_line,
        record_host_key,
        recorded_keys,
    )
    from itref.connectors.ssh import known_hosts_path
    from itref.core.errors import HostKeyRejected, UsageError
    from itref.journal import JournalRecord

    rctx = st.context()
    spec = rctx.project.host(host)
    if spec is None:
        raise UsageError(_("unknown host '{host}'").format(host=host))
    if spec.connection != "ssh":
        raise UsageError(_("'{host}' is reached by {kind}, not ssh: it has no SSH host key").format(
            host=host, kind=spec.connection))
    check_known_hosts(spec)  # a line itref cannot read is named first: recording beside it would not help
    key = fetch_host_key(spec, rctx.secrets)
    path = known_hosts_path(spec)
    line = key_line(spec, key)
    existing = recorded_keys(spec)
    if any(e.split()[1:3] == line.split()[1:3] for e in existing):
        st.out.print(_("{host}: key {key} is already trusted in {path}.").format(
            host=host, key=describe(key), path=path), markup=False)
        return ExitStatus.SUCCESS
    if existing and not replace:
        raise HostKeyRejected(_("{host}: a DIFFERENT key is recorded in {path}; the host now presents {key}. "
                                "Find out why (reinstall? interception?), then run again with --replace.").format(
            host=host, path=path, key=describe(key)))
    st.err.print(_("{host} ({address}:{port}) presents the key {key}.").format(
        host=host, address=spec.address, port=spec.settings.port, key=describe(key)), markup=False)
    st.err.print(_("Compare it with what the server itself shows: ssh-keygen -lf /etc/ssh/ssh_host_{kind}_key.pub")
                 .format(kind=key.get_name().removeprefix("ssh-").split("-")[0]), markup=False)
    if not yes:
        import sys

        if not sys.stdin.isatty():
            raise UsageError(_("no terminal to confirm on; after checking the fingerprint, add --yes"))
        if not typer.confirm(_("Trust this key?"), default=False):
            st.err.print(_("Nothing recorded."), markup=False)
            return ExitStatus.FAILURE
    record_host_key(spec, key, replace=replace)
    rctx.journal.append(JournalRecord(action="trust-host-key", target=describe(key), outcome="changed",
                                      host=host, entity=spec.entity, detail=str(path), run_id=rctx.run_id))
    st.out.print(_("{host}: key {key} recorded in {path}.").format(host=host, key=describe(key), path=path),
                 markup=False)
    return ExitStatus.SUCCESS


@app.command()
def check(
    ctx: typer.Context,
    limit: Annotated[str | None, typer.Option("--limit", "-l", autocompletion=complete.selectors,
                                              help=_("Only these hosts (same syntax as run)."))] = None,
    directory: Annotated[bool | None, typer.Option("--directory/--no-directory", help=_(
        "Also check the directory: LDAPS, certificate, the service account's rights (default: when no --limit "
        "is given)."))] = None,
) -> ExitStatus:
    """First-day doctor, read-only: can itref reach each host, log in, do what the playbooks ask there?

    One line per problem with what to do; the exit code is the worst problem's (0, 6, 7, 8, as the audit's).
    """
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.config.selection import select
    from itref.core.findings import exit_status
    from itref.hostcheck.engine import check_hosts
    from itref.hostcheck.store import save
    from itref.report.hostcheck import as_json, text

    rctx = st.context()
    hosts = select(rctx.project.hosts, limit)
    with_directory = directory if directory is not None else limit is None
    if st.err.is_terminal and fmt == "table":
        from itref.cli.progress import host_progress

        with host_progress(st.err, len(hosts)) as progress:
            report = check_hosts(rctx, hosts, directory=with_directory, on_progress=progress)
    else:
        report = check_hosts(rctx, hosts, directory=with_directory)
    from itref.journal import JournalRecord

    save(report, rctx.state)
    rctx.journal.append(JournalRecord(
        action="hosts-check", target=f"{len(hosts)} host(s)" + (" + directory" if with_directory else ""),
        outcome=report.worst.value, duration=round(report.duration, 3), run_id=rctx.run_id,
        detail=f"{len(report.problems)} problem(s)"))
    if fmt == "json":
        st.write(as_json(report).rstrip("\n"))
    else:
        out = text(report)
        st.out.print(out, markup=False, highlight=False, soft_wrap=True, end="")
    return exit_status(report.worst)
