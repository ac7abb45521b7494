"""``itref backup check``: collect every backup's facts in parallel, judge them, keep the history."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from itref.backup import kinds
from itref.backup.base import Facts
from itref.backup.history import Cached, History, Previous
from itref.backup.policy import drill_due
from itref.config.project import Project
from itref.config.schema import Backup
from itref.config.selection import select
from itref.connectors.base import Connector, HostSpec
from itref.context import RunContext
from itref.core.errors import UsageError
from itref.core.executor import execute
from itref.core.findings import Finding, Severity
from itref.core.humanize import ago, duration, size
from itref.core.results import HostResult, Outcome
from itref.core.units import parse_duration, parse_size
from itref.i18n import _
from itref.secrets import SecretResolver

LOCAL = "localhost"
DRILLABLE = ("restic", "borg")
PROBLEM_SEVERITY = {"missing": Severity.CRITICAL, "wrong-password": Severity.CRITICAL, "empty": Severity.CRITICAL,
                    "locked": Severity.UNKNOWN, "tool-missing": Severity.UNKNOWN, "unreachable": Severity.UNKNOWN,
                    "error": Severity.UNKNOWN}


@dataclass(frozen=True)
class Target:
    """One backup to check, with its entity and the host the check runs on."""

    backup: Backup
    entity: str
    host: HostSpec

    @property
    def where(self) -> str:
        """Return ``host:location`` as people say it."""
        location = self.backup.repository or self.backup.path or self.backup.job or ""
        return f"{self.host.name}:{location}" if location else self.host.name


def local_host(entity: str) -> HostSpec:
    """Return the host standing for 'this machine' when a backup names no host."""
    return HostSpec(LOCAL, entity, "local", LOCAL, (), None)


def targets(project: Project, *, limit: str | None = None, entity: str | None = None,
            names: list[str] | None = None) -> list[Target]:
    """Return the backups selected by host (--limit), entity and name, in playbook order.

    Raises UsageError when an entity or a name matches no backup.
    """
    if entity is not None and entity not in project.inventory.entities:
        raise UsageError(_("unknown entity '{entity}'").format(entity=entity))
    chosen_hosts = {h.name for h in select(project.hosts, limit)} if limit else None
    found = []
    for ent, book in project.playbooks.items():
        if entity is not None and ent != entity:
            continue
        for backup in book.backups:
            host = project.host(backup.host) if backup.host else local_host(ent)
            assert host is not None
            if chosen_hosts is not None and host.name not in chosen_hosts:
                continue
            if names and backup.name not in names:
                continue
            found.append(Target(backup, ent, host))
    if names:
        missing = set(names) - {t.backup.name for t in found}
        if missing:
            raise UsageError(_("no backup called {names} in the selection").format(names=", ".join(sorted(missing))))
    return found


def label(project: Project, target: Target) -> str:
    """Return how a backup is named to people: its ``name:`` in the playbook first, then its entity, kind and
    place (``sql-dumps — CPAS, files srv-app:/srv/dumps``)."""
    title = project.inventory.entities[target.entity].title
    return f"{target.backup.name} — {title}, {kinds.get(target.backup.kind).label} {target.where}"


def journal_checks(ctx: RunContext, chosen: list[Target], findings: list[Finding]) -> None:
    """Append one journal record per backup checked (``backup check``: where, status, the reason); return None."""
    from itref.journal import JournalRecord

    for t, f in zip(chosen, findings, strict=True):
        ctx.journal.append(JournalRecord(action="backup check", target=t.where, outcome=f.severity.value,
                                         host=t.host.name, entity=t.entity, detail=f.message, run_id=ctx.run_id))


def evaluate(project: Project, target: Target, facts: Facts, previous: Previous | None,
             last_drill: datetime | None, now: datetime,
             failed_verify: tuple[datetime, str] | None = None) -> Finding:
    """Return the finding for one backup: one status and a one-line reason a stand-in can act on.

    ``last_drill``: the last successful restore test (the drill policy: a backup itref can restore-test that was
    never tested, or not within ``drill.every``, is a WARNING naming the routine that does it). ``failed_verify``:
    (time, detail) of the last integrity check when it failed and none passed since: CRITICAL until one passes."""
    b = target.backup
    prefix = label(project, target) + ": "
    evidence: dict[str, object] = {
        "snapshot": facts.latest_id, "time": facts.latest.isoformat() if facts.latest else None,
        "size": facts.size, "files": facts.files, "count": facts.count, "hostname": facts.hostname,
        "last_drill": last_drill.isoformat() if last_drill else None, **facts.extra}
    reused = facts.extra.get("reused") is True
    opened = facts.extra.get("opened")
    reuse_note = ""
    if reused and isinstance(opened, str):
        reuse_note = "; " + _("unchanged since it was read {ago}").format(
            ago=ago(now - datetime.fromisoformat(opened)))

    def finding(severity: Severity, message: str, why: str = "", fix: str = "") -> Finding:
        return Finding(f"backup.{b.kind}", severity, prefix + message, why, fix, entity=target.entity,
                       host=target.host.name, subject=b.name, evidence=evidence)

    if facts.problem is not None:
        fixes = {"wrong-password": _("Check the secret referenced in the playbook against the repository's "
                                     "real password (keep both in the KeePass database)."),
                 "missing": _("Check the path and that the backup disk or NAS share is mounted."),
                 "empty": _("The backup job has never written anything: check that it runs."),
                 "locked": _("Wait for the running backup to end; if the lock stays, remove the stale lock."),
                 "tool-missing": _("Install the backup tool on the host."),
                 "unreachable": _("Check that the host is on and reachable.")}
        return finding(PROBLEM_SEVERITY[facts.problem], facts.detail,
                       _("A backup that cannot be read cannot be restored."), fixes.get(facts.problem, ""))
    assert facts.latest is not None
    age = now - facts.latest
    problems: list[tuple[Severity, str]] = []
    if facts.result and facts.result.lower() in ("failed", "warning"):
        problems.append((Severity.CRITICAL if facts.result.lower() == "failed" else Severity.WARNING,
                         _("last session ended with '{result}'").format(result=facts.result)))
    if b.max_age and age > parse_duration(b.max_age):
        problems.append((Severity.CRITICAL, _("last backup {ago} (max {max})").format(ago=ago(age), max=b.max_age)))
    if b.min_size and facts.size is not None and facts.size < parse_size(b.min_size):
        problems.append((Severity.CRITICAL, _("latest backup is {size}, below the minimum {min}").format(
            size=size(facts.size), min=b.min_size)))
    if b.size_change and previous and previous.size and facts.size is not None:
        allowed = float(b.size_change.strip("±+%")) / 100
        change = (facts.size - previous.size) / previous.size
        if abs(change) > allowed:
            problems.append((Severity.WARNING, _("size went from {old} to {new} ({pct:+.0f}%, allowed {allowed})")
                             .format(old=size(previous.size), new=size(facts.size), pct=change * 100,
                                     allowed=b.size_change)))
    if b.expected_hostname and facts.hostname and facts.hostname != b.expected_hostname:
        problems.append((Severity.WARNING, _("made by host {got}, expected {expected}").format(
            got=facts.hostname, expected=b.expected_hostname)))
    missing_paths = [p for p in b.expected_paths if facts.paths and p not in facts.paths]
    if missing_paths:
        problems.append((Severity.WARNING, _("does not contain {paths}").format(paths=", ".join(missing_paths))))
    fixes: list[str] = []
    if problems:
        fixes.append(_("Look at the backup job's log on {host}; restart it or call its supplier.").format(
            host=target.host.name))
    if failed_verify is not None:
        evidence["failed_verify"] = {"time": failed_verify[0].isoformat(), "detail": failed_verify[1]}
        problems.append((Severity.CRITICAL, _("the last integrity check ({when}) failed: {detail}").format(
            when=ago(now - failed_verify[0]), detail=failed_verify[1] or "?")))
        fixes.append(_("Repair the repository (or start a new one), then run 'itref backup verify {name}' until it "
                       "passes.").format(name=b.name))
    due = drill_due(project, target.entity, b, target.host, last_drill, now)
    drill_note = ""
    if due is not None:
        evidence["drill_every"] = due.every_text
        if due.overdue:
            problems.append((Severity.WARNING, _("never restore-tested (policy: every {every})").format(
                every=duration(due.every)) if last_drill is None else
                _("last successful restore test {ago} (policy: every {every})").format(
                    ago=ago(now - last_drill), every=duration(due.every))))
            fixes.append(_("Restore-test it: {command}").format(command=due.command))
        else:
            drill_note = "; " + _("last restore test {ago}").format(ago=ago(now - last_drill)) if last_drill else ""
    details = _("last backup {ago}").format(ago=ago(age)) + (f" ({facts.latest_id}, {size(facts.size)})"
                                                             if facts.size is not None else f" ({facts.latest_id})")
    if problems:
        severity = max((s for s, _m in problems), key=lambda s: s.rank)
        return finding(severity, "; ".join(m for _s, m in problems) + drill_note + reuse_note,
                       _("A backup that is old, shrunk, damaged or never restore-tested may not be there the day it "
                         "is needed."), " ".join(fixes))
    return finding(Severity.OK, details + drill_note + reuse_note)


def group_by_host(chosen: list[Target]) -> tuple[dict[str, list[Target]], dict[str, HostSpec]]:
    """Return the targets grouped by the host they are checked on, and those hosts by name."""
    by_host: dict[str, list[Target]] = defaultdict(list)
    hosts: dict[str, HostSpec] = {}
    for t in chosen:
        by_host[t.host.name].append(t)
        hosts[t.host.name] = t.host
    return by_host, hosts


def config_key(t: Target) -> str:
    """Return what must not change for a check's evidence to be reused: the kind, the host the check runs on,
    the repository, the password's reference (not its value) and whether the size is read."""
    b = t.backup
    data = [b.kind, t.host.name, t.host.connection, t.host.address, b.repository,
            b.password.model_dump(mode="json") if b.password else None, bool(b.min_size or b.size_change)]
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def reusable(t: Target, cached: Cached | None, now: datetime) -> Cached | None:
    """Return the cached check of ``t`` when its evidence may be lent to this check, judged without touching
    the repository: same configuration, read less than ``recheck_after`` ago."""
    if cached is None or cached.config != config_key(t):
        return None
    age = now - cached.opened
    limit = parse_duration(t.backup.recheck_after)
    return cached if timedelta(0) <= age < limit else None


def collect(conn: Connector, t: Target, secrets: SecretResolver, cached: Cached | None) -> Facts:
    """Return the facts of ``t``: those of the cached check when the repository's fingerprint, read without
    opening it, is the one recorded then and no lock is there; otherwise those of the backup tool."""
    kind = kinds.get(t.backup.kind)
    reader = getattr(kind, "fingerprint", None)
    if cached is not None and reader is not None:
        now_fp = reader(conn, t.backup)
        if now_fp is not None and not now_fp.locked and now_fp.digest == cached.fingerprint:
            return replace(cached.facts, fingerprint=now_fp,
                           extra={**cached.facts.extra, "reused": True, "opened": cached.opened.isoformat(),
                                  "fingerprint": now_fp.digest[:16]})
    facts = kind.collect(conn, t.backup, secrets)
    if reader is None or facts.problem is not None:
        return facts
    fp = facts.fingerprint
    return replace(facts, extra={**facts.extra, "reused": False, "opened": datetime.now(UTC).isoformat(
        timespec="seconds"), "fingerprint": fp.digest[:16] if fp and not fp.locked else None})


def side_by_side(conn: Connector) -> int:
    """Return how many backups of one host are checked at once: one at a time over WinRM (one shell), as many
    as this machine has CPUs when they run here (restic's key derivation and borg's start-up are CPU work:
    more at once only adds contention, about 7% more CPU with 8 at once on 2 CPUs), 8 on other hosts."""
    if conn.shell_family == "powershell":
        return 1
    if conn.kind == "local":
        return max(2, os.cpu_count() or 2)
    return 8


def check_backups(ctx: RunContext, chosen: list[Target], *, forks: int = 50,
                  history: History | None = None, now: datetime | None = None,
                  on_done: Callable[[Finding], None] | None = None, fresh: bool = False) -> list[Finding]:
    """Check every target in parallel (one connection per host, its backups side by side) and return
    one finding per backup, in the order of ``chosen``. Each result is stored in the history.

    A restic or borg repository whose fingerprint (its files' names, sizes and times, listed without opening it)
    is the one recorded by the last successful check, less than ``recheck_after`` ago and with the same
    configuration, is not opened again: that check's evidence is judged against now. ``fresh`` opens them all."""
    history = history or History(ctx.state)
    now = now or datetime.now(UTC)
    by_host, hosts = group_by_host(chosen)
    facts: dict[int, Facts] = {}
    lock = threading.Lock()
    cache: dict[int, Cached] = {}
    if not fresh:
        with history.batch():
            for t in chosen:
                if t.backup.kind in DRILLABLE:
                    hit = reusable(t, history.cached(t.entity, t.backup.name), now)
                    if hit is not None:
                        cache[id(t)] = hit

    def work(conn: Connector, host: HostSpec) -> HostResult:
        mine = by_host[host.name]

        def one(t: Target) -> None:
            result = collect(conn, t, ctx.secrets, cache.get(id(t)))
            with lock:
                facts[id(t)] = result

        parallel = min(side_by_side(conn), len(mine))
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(one, mine))
        return HostResult(host.name, host.entity, Outcome.OK)

    report = execute(ctx, list(hosts.values()), work, forks=forks)
    failures = {r.host: r for r in report.results if r.failed}
    findings = []
    with history.batch():
        for t in chosen:
            findings.append(judge(ctx, t, facts.get(id(t)), failures, history, now))
            if on_done is not None:
                on_done(findings[-1])
    return findings


def judge(ctx: RunContext, t: Target, f: Facts | None, failures: dict[str, HostResult], history: History,
          now: datetime) -> Finding:
    """Return (and record in the history) the finding for ``t`` from the facts collected, if any."""
    if f is None:
        error = failures.get(t.host.name)
        f = Facts(problem="unreachable", detail=error.error if error and error.error else _("not checked"))
    previous = history.previous_snapshot(t.entity, t.backup.name, f.latest_id) if f.latest_id else None
    finding = evaluate(ctx.project, t, f, previous, history.last_success("drill", t.entity, t.backup.name), now,
                       history.unresolved_failure("verify", t.entity, t.backup.name))
    opened = f.extra.get("opened")
    history.record_check(t.entity, t.backup.name, t.backup.kind, finding.severity.value, f, config=config_key(t),
                         opened=datetime.fromisoformat(opened) if isinstance(opened, str) else None)
    return finding
