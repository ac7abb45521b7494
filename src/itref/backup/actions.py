"""``itref backup verify`` and ``itref backup drill``: the heavier checks, recorded in the history."""

from __future__ import annotations

import secrets as _random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from itref.backup import kinds
from itref.backup.check import Target, group_by_host
from itref.backup.history import History
from itref.connectors.base import Connector, HostSpec
from itref.context import RunContext
from itref.core.errors import ItrefError
from itref.core.executor import execute
from itref.core.results import HostResult, Outcome
from itref.i18n import _
from itref.journal import JournalRecord


@dataclass(frozen=True)
class ActionResult:
    """What a verify or drill of one backup gave."""

    target: Target
    ok: bool
    detail: str
    files: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()
    warning: bool = False
    """Neither a pass nor a failure: nothing could be proved (see :attr:`status`)."""

    @property
    def status(self) -> str:
        """Return ``ok``, ``warning`` (nothing proved: not a pass) or ``failed``."""
        return "ok" if self.ok else "warning" if self.warning else "failed"


def _run(ctx: RunContext, chosen: list[Target], action: Callable[[Connector, Target], ActionResult],
         forks: int) -> list[ActionResult]:
    by_host, hosts = group_by_host(chosen)
    done: dict[int, ActionResult] = {}

    def work(conn: Connector, host: HostSpec) -> HostResult:
        for t in by_host[host.name]:  # heavy: one at a time per host
            try:
                done[id(t)] = action(conn, t)
            except ItrefError as exc:
                done[id(t)] = ActionResult(t, False, exc.message)
        return HostResult(host.name, host.entity, Outcome.OK)

    report = execute(ctx, list(hosts.values()), work, forks=forks)
    errors = {r.host: r.error or "" for r in report.results if r.failed}
    return [done.get(id(t)) or ActionResult(t, False, errors.get(t.host.name, _("not run"))) for t in chosen]


def verify_backups(ctx: RunContext, chosen: list[Target], *, forks: int = 50,
                   history: History | None = None) -> list[ActionResult]:
    """Check the integrity of each repository (restic check / borg check); record and journal each."""
    history = history or History(ctx.state)

    def action(conn: Connector, t: Target) -> ActionResult:
        outcome = kinds.get(t.backup.kind).verify(conn, t.backup, ctx.secrets)
        return ActionResult(t, outcome.ok, outcome.detail, warning=outcome.warning)

    results = _run(ctx, chosen, action, forks)
    for r in results:
        history.record_verify(r.target.entity, r.target.backup.name, r.ok, r.detail, status=r.status)
        ctx.journal.append(JournalRecord(action="backup verify", target=r.target.where,
                                         outcome=r.status, host=r.target.host.name,
                                         entity=r.target.entity, detail=r.detail, run_id=ctx.run_id))
    return results


def drill_backups(ctx: RunContext, chosen: list[Target], *, files: list[str] | None = None,
                  random_count: int | None = None, forks: int = 50,
                  history: History | None = None) -> list[ActionResult]:
    """Restore a sample of each backup into a temporary folder on its host, compare it with the source (a dump:
    read it back as what it is), remove it, and record the drill (date, files, result) in the history and the
    journal. A drill that restored files but proved nothing about them is a warning, not a pass."""
    history = history or History(ctx.state)

    def action(conn: Connector, t: Target) -> ActionResult:
        fixed = list(files) if files else (list(t.backup.drill.files) if t.backup.drill else [])
        count = random_count if random_count is not None else (t.backup.drill.random if t.backup.drill else 3)
        workdir = PurePosixPath(f"/tmp/itref-drill-{_random.token_hex(6)}")
        outcome = kinds.get(t.backup.kind).drill(conn, t.backup, ctx.secrets, fixed, count, workdir)
        detail = outcome.detail or _("{n} file(s) restored and identical to the source").format(
            n=len(outcome.files) - len(outcome.unverified))
        return ActionResult(t, outcome.ok, detail, outcome.files, outcome.mismatched, outcome.unverified,
                            warning=outcome.warning)

    results = _run(ctx, chosen, action, forks)
    for r in results:
        history.record_drill(r.target.entity, r.target.backup.name, r.ok, list(r.files), r.detail, status=r.status)
        ctx.journal.append(JournalRecord(action="backup drill", target=r.target.where,
                                         outcome=r.status, host=r.target.host.name,
                                         entity=r.target.entity, detail=r.detail, run_id=ctx.run_id))
    return results
