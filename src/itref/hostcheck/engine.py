"""Run ``itref hosts check``: every host in parallel through the executor (one connection each), the directory
beside them. Read-only: nothing is written on a host, in the directory or in known_hosts."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from itref.connectors.base import Command, Connector
from itref.context import RunContext
from itref.core.findings import Finding, Severity
from itref.core.results import CommandResult, HostResult, Outcome
from itref.hostcheck.access import diagnose, port_of
from itref.hostcheck.model import HostCheck, Report, problem
from itref.hostcheck.needs import host_needs
from itref.hostcheck.network import certificate
from itref.hostcheck.remote import evaluate, probe
from itref.i18n import _

if TYPE_CHECKING:
    from itref.connectors.base import HostSpec
    from itref.core.executor import ProgressCallback


class _Watched(Connector):
    """A host's real connector, remembering the exception its ``open`` raised (to explain it afterwards)."""

    def __init__(self, inner: Connector, failures: dict[str, BaseException]) -> None:
        super().__init__(inner.host, inner.secrets)
        self.inner = inner
        self.failures = failures
        self.warnings = inner.warnings
        self.kind = inner.kind  # type: ignore[misc]
        self.shell_family = inner.shell_family  # type: ignore[misc]

    def open(self) -> None:
        try:
            self.inner.open()
        except BaseException as exc:
            self.failures[self.host.name] = exc
            raise

    def run(self, command: Command) -> CommandResult:
        return self.inner.run(command)

    def put(self, local: Path, remote: str, mode: int | None = None) -> None:
        self.inner.put(local, remote, mode)

    def get(self, remote: str, local: Path) -> None:
        self.inner.get(remote, local)

    def close(self) -> None:
        self.inner.close()


@dataclass
class _WatchingContext(RunContext):
    """The run context, handing out connectors that remember why they could not be opened."""

    failures: dict[str, BaseException] | None = None

    def connector(self, host: HostSpec) -> Connector:
        assert self.failures is not None
        return _Watched(super().connector(host), self.failures)


def _tls_off(host: HostSpec) -> Finding | None:
    """Return a warning for a WinRM host whose certificate check is turned off (saying whether it would pass)."""
    if host.connection != "winrm" or str(getattr(host.settings, "scheme", "https")) != "https" \
            or getattr(host.settings, "cert_validation", True) is not False:
        return None
    cert = certificate(host.address, port_of(host), host.address, getattr(host.settings, "ca_file", None),
                       float(getattr(host.settings, "connect_timeout", 10.0)))
    state = _("its certificate would verify: remove 'cert_validation: false'") if cert.valid else _(
        "its certificate would not verify ({reason}): set 'ca_file:' to the CA that signed it, then remove "
        "'cert_validation: false'").format(reason=cert.reason)
    return problem("hosts.tls", Severity.WARNING, _(
        "{host}: the WinRM certificate is not checked (cert_validation: false): anyone on the network path can pose "
        "as the server and receive its password").format(host=host.name), state[:1].upper() + state[1:] + ".",
        host=host.name, entity=host.entity)


def check_hosts(ctx: RunContext, hosts: Sequence[HostSpec], *, directory: bool = True, forks: int | None = None,
                on_progress: ProgressCallback | None = None) -> Report:
    """Return what is wrong with each of ``hosts`` (in their order) and, with ``directory``, with the directory.

    Never raises for a host: a host that cannot be opened gets the one finding that explains why.
    """
    from itref.core.executor import execute
    from itref.hostcheck.directory import check_directory

    started = time.monotonic()
    checked = datetime.now(UTC)
    project = ctx.project
    failures: dict[str, BaseException] = {}
    watching = _WatchingContext(**{f.name: getattr(ctx, f.name) for f in fields(RunContext)}, failures=failures)
    results: dict[str, HostCheck] = {}
    lock = threading.Lock()

    def blank(host: HostSpec) -> HostCheck:
        return HostCheck(host.name, host.entity, host.connection, host.address)

    def work(conn: Connector, host: HostSpec) -> HostResult:
        needs = host_needs(project, host)
        found = probe(conn, host, needs)
        one = blank(host)
        one.os, one.account, one.clock_offset = found.os, found.account, found.offset
        one.findings = evaluate(host, needs, found)
        tls = _tls_off(host)
        if tls is not None:
            one.findings.insert(0, tls)
        with lock:
            results[host.name] = one
        return HostResult(host.name, host.entity, Outcome.OK)

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(check_directory, project, ctx.secrets) if directory else None
        report = execute(watching, list(hosts), work, forks=forks or project.inventory.defaults.forks,
                         on_progress=on_progress)
        directory_findings = future.result() if future is not None else None
    by_name = {h.name: h for h in hosts}
    for result in report.results:
        if result.host in results:
            results[result.host].duration = result.duration
            continue
        host = by_name[result.host]
        one = blank(host)
        one.duration = result.duration
        error = failures.get(host.name)
        if error is not None:
            one.findings = [diagnose(host, error, ctx.secrets)]
        else:
            one.findings = [problem("hosts.probe", Severity.UNKNOWN, _("{host}: the check stopped: {error}").format(
                host=host.name, error=result.error or "?"), _("Run 'itref hosts check --limit {host}' again; if it "
                                                              "persists, run 'itref run --limit {host} -- id'.").format(
                host=host.name), host=host.name, entity=host.entity)]
        results[host.name] = one
    return Report([results[h.name] for h in hosts], directory_findings, checked, time.monotonic() - started)
