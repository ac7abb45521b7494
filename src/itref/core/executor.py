"""Run one piece of work on many hosts at once, one connection per host, failures isolated.

A host that is down, refuses us or crashes the work is recorded as such; the others carry on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from itref.core.errors import ConnectionFailed, ItrefError, StateError
from itref.core.masking import mask
from itref.core.results import HostResult, Outcome, RunReport
from itref.i18n import _

if TYPE_CHECKING:
    from itref.connectors.base import Connector, HostSpec
    from itref.context import RunContext

Work = Callable[["Connector", "HostSpec"], HostResult]
"""What to do on one open host; returns that host's result. May raise ItrefError."""


@dataclass(frozen=True)
class Progress:
    """A host changed state: ``connecting``, ``running`` or ``done`` (then ``result`` is set)."""

    host: HostSpec
    state: str
    started: float
    result: HostResult | None = None


ProgressCallback = Callable[[Progress], None]


def execute(ctx: RunContext, hosts: Sequence[HostSpec], work: Work, *, forks: int,
            on_progress: ProgressCallback | None = None,
            on_result: Callable[[HostResult], None] | None = None) -> RunReport:
    """Run ``work`` on every host with at most ``forks`` hosts at once.

    Returns a report in the order of ``hosts``. ``on_result`` is called from the worker thread as
    soon as each host ends (used for the journal). KeyboardInterrupt stops every running command
    and is re-raised.
    """
    live: dict[str, Connector] = {}
    lock = threading.Lock()
    warnings: list[str] = []
    unrecorded: list[str] = []

    def notify(progress: Progress) -> None:
        if on_progress is not None:
            on_progress(progress)

    def one(host: HostSpec) -> HostResult:
        started = time.monotonic()
        notify(Progress(host, "connecting", started))
        result = _guarded(ctx, host, work, started, live, lock, notify, warnings)
        if on_result is not None:
            try:
                on_result(result)
            except StateError as exc:  # the work was done: say the record is missing, keep the result
                unrecorded.append(exc.message)
            except OSError as exc:
                warnings.append(_("{host}: the journal could not be written: {reason}").format(
                    host=host.name, reason=exc.strerror or exc))
        notify(Progress(host, "done", started, result))
        return result

    results: dict[str, HostResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1)), thread_name_prefix="itref-host")
    futures: dict[Future[HostResult], HostSpec] = {pool.submit(one, h): h for h in hosts}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                results[futures[fut].name] = fut.result()
    except KeyboardInterrupt:
        _interrupt(pool, futures, results, live, lock)
    pool.shutdown(wait=True)
    # Every host is done, so every secret this run resolved is known now: mask again what a host returned
    # before another host's thread resolved a secret it printed.
    report = RunReport([_masked(results[h.name]) for h in hosts], [mask(w) for w in warnings])
    if unrecorded:
        report.warnings.append(unrecorded[0])
        report.unrecorded = True
    return report


STOP_WAIT = 60.0
"""Longest Ctrl-C waits for the hosts' commands to be stopped before it says which could not be."""


def _interrupt(pool: ThreadPoolExecutor, futures: dict[Future[HostResult], HostSpec],
               results: dict[str, HostResult], live: dict[str, Connector], lock: threading.Lock) -> None:
    """Ctrl-C: stop every running command (each connector stops all its processes on its host), wait for the
    hosts to report, and raise :class:`~itref.core.errors.Interrupted` saying where commands were stopped and
    where they could not be. A second Ctrl-C gives up waiting."""
    from itref.core.errors import Interrupted

    pool.shutdown(wait=False, cancel_futures=True)
    with lock:
        conns = list(live.values())
    for conn in conns:
        conn.close()
    running = {f: h for f, h in futures.items() if h.name not in results and not f.cancelled()}
    done, late = wait(running, timeout=STOP_WAIT)
    stopped, failed, finished = [], [], []
    for fut in done:
        host, result = running[fut], fut.result()
        command = result.result
        if command is not None and (command.interrupted or command.timed_out):
            if command.stop_error:
                failed.append(_("could not be stopped on {host}: {reason}").format(
                    host=host.name, reason=mask(command.stop_error)))
            else:
                stopped.append(host.name)
        else:
            finished.append(host.name)
    failed += [_("could not be stopped on {host}: it did not answer in time").format(host=running[f].name)
               for f in late]
    not_started = [h.name for f, h in futures.items() if f.cancelled()]
    lines = [_("Interrupted (Ctrl-C).")]
    if stopped:
        lines.append(_("Stopped on: {hosts}.").format(hosts=", ".join(stopped)))
    lines += failed
    if finished:
        lines.append(_("Already ended on: {hosts}.").format(hosts=", ".join(finished)))
    if not_started:
        lines.append(_("Not started on: {hosts}.").format(hosts=", ".join(not_started)))
    raise Interrupted(lines)


def resolve_secrets(ctx: RunContext, hosts: Sequence[HostSpec], *, sudo: bool = False) -> None:
    """Resolve, before any host starts, the secrets the connections to ``hosts`` will use (passwords; sudo
    passwords when ``sudo``, and always those read from a variable or a file, which asks no one), so that each is
    masked in every host's output from the start, whichever thread would have resolved it first. A prompt is asked
    here, once, instead of from a worker thread.

    A secret that cannot be resolved is left for its host to report; never raises.
    """
    from itref.core.errors import SecretError

    seen: set[str] = set()
    pending = list(hosts)
    while pending:
        host = pending.pop()
        if host.name in seen:
            continue
        seen.add(host.name)
        settings = host.settings
        names = []
        if getattr(settings, "transport", None) != "kerberos":  # a Kerberos login uses the ticket, not a password
            names.append("password")
        quiet_sudo = getattr(settings, "sudo_password", None)
        if sudo or getattr(quiet_sudo, "kind", None) in ("env", "file"):  # read without asking anyone: masked
            names.append("sudo_password")  # even when this run does not use sudo and a command prints it
        for option in names:
            ref = getattr(settings, option, None)
            if ref is None or not hasattr(ref, "model_dump_json"):
                continue
            try:
                ctx.secrets.resolve(ref, _("{option} of {host}").format(option=option, host=host.name))
            except SecretError:
                continue
        if host.jump is not None:
            pending.append(host.jump)


def _masked(result: HostResult) -> HostResult:
    """Return ``result`` with every known secret value masked in its output and error."""
    command = result.result
    if command is not None:  # a command that echoes a password must not show it
        command = replace(command, stdout=mask(command.stdout), stderr=mask(command.stderr))
    return replace(result, result=command, error=mask(result.error) if result.error else None)


def _guarded(ctx: RunContext, host: HostSpec, work: Work, started: float, live: dict[str, Connector],
             lock: threading.Lock, notify: Callable[[Progress], None], warnings: list[str]) -> HostResult:
    def fail(outcome: Outcome, message: str) -> HostResult:
        return HostResult(host.name, host.entity, outcome, error=mask(message),
                          duration=time.monotonic() - started)

    try:
        conn = ctx.connector(host)
    except ItrefError as exc:
        return fail(Outcome.FAILED, exc.message)
    with lock:
        live[host.name] = conn
    try:
        conn.open()
        notify(Progress(host, "running", started))
        result = work(conn, host)
        return replace(_masked(result), duration=time.monotonic() - started)
    except ConnectionFailed as exc:
        return fail(Outcome.UNREACHABLE, exc.message)
    except ItrefError as exc:
        return fail(Outcome.FAILED, exc.message)
    except Exception as exc:  # a bug or an unexpected library error must not stop the other hosts
        return fail(Outcome.FAILED, _("unexpected error: {kind}: {detail}").format(
            kind=type(exc).__name__, detail=exc))
    finally:
        try:
            conn.close()
        finally:
            with lock:
                live.pop(host.name, None)
                warnings.extend(f"{host.name}: {w}" for w in dict.fromkeys(conn.warnings))
