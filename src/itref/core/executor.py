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
        pool.shutdown(wait=False, cancel_futures=True)
        with lock:
            for conn in list(live.values()):
                conn.close()
        raise
    pool.shutdown(wait=True)
    report = RunReport([results[h.name] for h in hosts], warnings)
    if unrecorded:
        report.warnings.append(unrecorded[0])
        report.unrecorded = True
    return report


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
        command = result.result
        if command is not None:  # a command that echoes a password must not show it
            command = replace(command, stdout=mask(command.stdout), stderr=mask(command.stderr))
        return HostResult(result.host, result.entity, result.outcome, command,
                          mask(result.error) if result.error else None, time.monotonic() - started)
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
