"""Run the audit: one fact-gathering script per host (one connection, one round trip), then
evaluation in itref; host-less checks (network, directory, backups) run beside them."""

from __future__ import annotations

import fnmatch
import shlex
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from itref.audit.base import Check, Facts
from itref.backup.shell import MARK
from itref.config.project import Project
from itref.connectors.base import Command, Connector, HostSpec
from itref.context import RunContext
from itref.core.executor import ProgressCallback, execute
from itref.core.findings import Finding, Severity
from itref.core.results import HostResult, Outcome
from itref.i18n import _

REACHABLE = "audit.host.reachable"


def platform(host: HostSpec) -> str:
    """Return ``windows`` or ``linux`` for a host (its connection, unless a tag says otherwise)."""
    if "windows" in host.tags or (host.connection == "winrm" and "linux" not in host.tags):
        return "windows"
    return "linux"


def _skipped(project: Project, entity: str, check_id: str) -> bool:
    book = project.playbooks.get(entity)
    return bool(book) and any(fnmatch.fnmatchcase(check_id, pattern) for pattern in book.audits.skip)


def thresholds_for(project: Project, check: Check, host: HostSpec | None, entity: str) -> dict[str, Any]:
    """Return the check's thresholds: defaults, then the entity's, each tag's, and the host's own overrides."""
    merged = dict(check.thresholds)
    book = project.playbooks.get(entity)
    if book is None:
        return merged
    merged.update(book.audits.thresholds.get(check.id, {}))
    if host is not None:
        for tag in host.tags:
            merged.update(book.audits.tags.get(tag, {}).get(check.id, {}))
        merged.update(book.audits.hosts.get(host.name, {}).get(check.id, {}))
    return merged


def script_of(check: Check, family: str, thresholds: Mapping[str, Any] | None = None) -> str:
    """Return ``check``'s script for ``family``, preceded (Linux) by the shell variables its ``script_vars``
    derives from ``thresholds`` (the check's defaults when None)."""
    body = getattr(check, family)
    if family != "linux" or check.script_vars is None:
        return body
    values = check.script_vars(dict(check.thresholds if thresholds is None else thresholds))
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items()) + body


def host_script(checks: Sequence[Check], family: str,
                settings: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """Return the one script gathering every check's facts on a host, each section ending with a marker.

    ``settings``: check id → that host's thresholds (each check's defaults for a check left out)."""
    parts = []
    for check in checks:
        body = script_of(check, family, (settings or {}).get(check.id))
        if family == "linux":
            parts.append(f"( {body}\n)\nprintf '\\n@@itref:{check.id}:%s@@\\n' \"$?\"\n")
        else:
            parts.append(
                f"$itrefOk = 0\ntry {{ & {{\n{body}\n}} | Out-String -Width 4096 | Write-Output }} "
                f"catch {{ $itrefOk = 1; Write-Output $_.Exception.Message }}\n"
                f"Write-Output \"`n@@itref:{check.id}:$itrefOk@@\"\n")
    return "".join(parts)


def split_sections(stdout: str) -> dict[str, tuple[int, str]]:
    """Return check id → (exit code, output) from a host script's output."""
    sections, start = {}, 0
    for m in MARK.finditer(stdout):
        sections[m.group("name")] = (int(m.group("rc")), stdout[start:m.start()].strip("\n"))
        start = m.end()
    return sections


def run_audit(ctx: RunContext, hosts: Sequence[HostSpec], checks: Sequence[Check], *, forks: int = 50,
              on_progress: ProgressCallback | None = None, timeout: float = 120) -> list[Finding]:
    """Return every finding of ``checks`` on ``hosts`` plus the host-less checks, hosts in parallel.

    A host that cannot be reached gives one UNKNOWN finding (its checks could not run); the others
    are audited as usual.
    """
    project = ctx.project
    findings: list[Finding] = []
    lock = threading.Lock()

    def applicable(host: HostSpec) -> list[Check]:
        family = platform(host)
        return [c for c in checks if getattr(c, family) and not _skipped(project, host.entity, c.id)]

    def work(conn: Connector, host: HostSpec) -> HostResult:
        family = platform(host)
        mine = applicable(host)
        if not mine:
            return HostResult(host.name, host.entity, Outcome.SKIPPED)
        settings = {c.id: thresholds_for(project, c, host, host.entity) for c in mine}
        script = host_script(mine, family, settings)
        command = Command.of(script if family == "windows" else ["sh", "-c", script], timeout=timeout)
        result = conn.run(command)
        sections = split_sections(result.stdout)
        found: list[Finding] = [Finding(REACHABLE, Severity.OK, _("reachable ({connection})").format(
            connection=host.connection), entity=host.entity, host=host.name)]
        for check in mine:
            rc, output = sections.get(check.id, (None, ""))
            if rc is None:
                found.append(check.finding(Facts(host, "", -1, {}), Severity.UNKNOWN, _(
                    "no answer from this check (the host script stopped: {reason})").format(
                    reason=(result.stderr.strip().splitlines() or [_("timeout") if result.timed_out else "?"])[-1])))
                continue
            facts = Facts(host, output, rc, settings[check.id])
            assert check.evaluate is not None
            try:
                found += check.evaluate(check, facts)
            except (ValueError, KeyError, IndexError) as exc:
                found.append(check.finding(facts, Severity.UNKNOWN, _("unreadable facts: {e}").format(e=exc)))
        with lock:
            findings.extend(found)
        return HostResult(host.name, host.entity, Outcome.OK)

    global_checks = [c for c in checks if c.run is not None]
    everyone = {h.name for h in project.hosts}
    entities = None if {h.name for h in hosts} >= everyone else {h.entity for h in hosts}
    with ThreadPoolExecutor(max_workers=max(1, len(global_checks))) as pool:
        futures = [pool.submit(_run_global, c, ctx, entities) for c in global_checks]
        report = execute(ctx, list(hosts), work, forks=forks, on_progress=on_progress)
        for fut in futures:
            findings.extend(fut.result())
    for r in report.results:
        if r.failed:
            findings.append(Finding(REACHABLE, Severity.UNKNOWN, _("could not be audited: {error}").format(
                error=r.error or _("unreachable")), _("Nothing is known about a machine that cannot be reached."),
                _("Check that it is on and on the network, and that its access in the inventory is right."),
                entity=r.entity, host=r.host))
    return findings


def _run_global(check: Check, ctx: RunContext, entities: set[str] | None) -> list[Finding]:
    assert check.run is not None
    try:
        return check.run(check, ctx, dict(check.thresholds), entities)
    except Exception as exc:  # one failing family must not lose the whole audit
        return [Finding(check.id, Severity.UNKNOWN, _("the check failed: {kind}: {e}").format(
            kind=type(exc).__name__, e=exc))]

