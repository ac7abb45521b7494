"""The ``itref audit`` capability: lock, run the checks, apply waivers, compare with history, record."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from itref.audit.base import Check
from itref.audit.engine import run_audit
from itref.audit.history import AuditHistory, Diff
from itref.audit.lock import AuditLock
from itref.audit.waivers import Waivers
from itref.connectors.base import HostSpec
from itref.context import RunContext
from itref.core.audits import AuditReport
from itref.core.executor import ProgressCallback
from itref.journal import VIA_ENV, JournalRecord


def audit(ctx: RunContext, hosts: Sequence[HostSpec], checks: Sequence[Check], *, since: str | None = None,
          lock_wait: float = 300, on_progress: ProgressCallback | None = None,
          record: bool = True) -> tuple[AuditReport, Diff]:
    """Run an audit and return its report and what changed since the previous run (or run ``since``).

    Raises AuditBusy when another audit keeps the lock longer than ``lock_wait`` seconds.
    """
    history = AuditHistory(ctx.state)
    with AuditLock(ctx.state.cache_dir() / "audit.lock", lock_wait):
        started = datetime.now(UTC)
        clock = time.monotonic()
        findings = run_audit(ctx, hosts, checks, forks=ctx.project.inventory.defaults.forks,
                             on_progress=on_progress)
        findings = Waivers(ctx.state).apply(findings)
        scope = ",".join(sorted(h.name for h in hosts)) + "|" + ",".join(sorted(c.id for c in checks))
        marked, diff = history.compare(findings, since, scope)
        report = AuditReport(ctx.run_id, ctx.project.inventory.organisation, started, time.monotonic() - clock,
                             marked, {n: e.title for n, e in ctx.project.inventory.entities.items()},
                             diff.resolved, diff.since)
        if record:
            history.record(ctx.run_id, marked, report.worst, scope, via=os.environ.get(VIA_ENV))
            ctx.journal.append(JournalRecord(
                action="audit", target=f"{len(hosts)} host(s), {len(checks)} check(s)", outcome=report.worst.value,
                duration=round(report.duration, 3), run_id=ctx.run_id,
                detail=f"{len(diff.new)} new, {len(diff.regressed)} regressed, {len(diff.resolved)} resolved"))
    return report, diff
