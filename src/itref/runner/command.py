"""The ``itref run`` capability: one command on the selected hosts, journaled per host."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from itref.connectors.base import Command, Connector, HostSpec
from itref.context import RunContext
from itref.core.executor import ProgressCallback, execute, resolve_secrets
from itref.core.results import HostResult, Outcome, RunReport
from itref.i18n import _
from itref.journal import JournalRecord


def run_command(ctx: RunContext, hosts: Sequence[HostSpec], command: Command | Callable[[Connector], Command], *,
                forks: int, on_progress: ProgressCallback | None = None, sudo: bool = False) -> RunReport:
    """Run ``command`` on every host in parallel and journal each host's outcome.

    ``command`` may be a function of the host's connector (a routine's shell step differs for sh and
    PowerShell; ``sudo`` then says whether it runs through sudo). The connection secrets of every host are
    resolved first (:func:`~itref.core.executor.resolve_secrets`). Returns the report; a host whose
    command exits non-zero or times out is FAILED, a host that cannot be reached is UNREACHABLE. Never
    raises for a single host's failure.
    """
    shown: dict[str, str] = {}
    resolve_secrets(ctx, hosts, sudo=sudo if callable(command) else command.sudo)

    def work(conn: Connector, host: HostSpec) -> HostResult:
        this = command(conn) if callable(command) else command
        shown[host.name] = this.display()
        res = conn.run(this)
        if res.timed_out and res.stop_error:
            error = _("timed out after {seconds:g} s and could not be stopped: {reason}").format(
                seconds=this.timeout, reason=res.stop_error)
        elif res.timed_out:
            error = _("stopped after {seconds:g} s (timeout)").format(seconds=this.timeout)
        elif res.interrupted:
            error = (_("stopped (Ctrl-C)") if not res.stop_error else
                     _("Ctrl-C: could not be stopped: {reason}").format(reason=res.stop_error))
        elif res.rc != 0:
            error = _("exit code {rc}").format(rc=res.rc)
        else:
            error = None
        return HostResult(host.name, host.entity, Outcome.OK if res.ok else Outcome.FAILED, res, error)

    def record(result: HostResult) -> None:
        ctx.journal.append(JournalRecord(
            action="run", target=shown.get(result.host) or (command.display() if not callable(command) else ""),
            outcome=result.outcome.value, host=result.host,
            entity=result.entity, rc=result.result.rc if result.result else None,
            duration=round(result.duration, 3), detail=result.error, run_id=ctx.run_id))

    return execute(ctx, hosts, work, forks=forks, on_progress=on_progress, on_result=record)
