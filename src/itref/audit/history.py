"""Audit history (SQLite in the state folder): every run and its findings, to tell what is new,
what regressed, what is still failing and what was resolved since an earlier run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from itref.core.findings import Finding, Severity
from itref.core.statedb import open_state_db
from itref.journal import state_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, time TEXT NOT NULL, worst TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS findings (
  run_id TEXT NOT NULL, key TEXT NOT NULL, check_id TEXT NOT NULL, severity TEXT NOT NULL, entity TEXT,
  host TEXT, subject TEXT, message TEXT NOT NULL, waived INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS findings_run ON findings (run_id);
"""


@dataclass(frozen=True)
class Past:
    """A finding as it was in an earlier run."""

    key: str
    check: str
    severity: Severity
    entity: str | None
    host: str | None
    subject: str | None
    message: str
    waived: bool

    @property
    def failing(self) -> bool:
        """Return True when it counted as failing then."""
        return not self.waived and self.severity.rank >= Severity.WARNING.rank


@dataclass(frozen=True)
class Diff:
    """What changed between two runs."""

    new: list[Finding]
    regressed: list[Finding]
    still: list[Finding]
    resolved: list[Past]
    since: str | None


class AuditHistory:
    """Read and write the audit history database."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "audits.sqlite"

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with open_state_db(self.path, SCHEMA, added_columns={"runs": {"scope": "TEXT NOT NULL DEFAULT ''"}},
                           timeout=60) as db:
            yield db

    def runs(self, scope: str | None = None) -> list[tuple[str, str, str]]:
        """Return (run id, time, worst severity) of every run (of ``scope`` when given), oldest first."""
        with self._db() as db:
            if scope is None:
                return list(db.execute("SELECT run_id, time, worst FROM runs ORDER BY time, rowid"))
            return list(db.execute("SELECT run_id, time, worst FROM runs WHERE scope=? ORDER BY time, rowid",
                                   (scope,)))

    def findings_of(self, run_id: str) -> dict[str, Past]:
        """Return the findings of ``run_id`` by key."""
        with self._db() as db:
            rows = db.execute("SELECT key, check_id, severity, entity, host, subject, message, waived FROM findings "
                              "WHERE run_id=?", (run_id,)).fetchall()
        return {r[0]: Past(r[0], r[1], Severity(r[2]), r[3], r[4], r[5], r[6], bool(r[7])) for r in rows}

    def previous_run(self, before: str | None = None, scope: str | None = None) -> str | None:
        """Return the id of the latest run of ``scope`` (before run ``before`` when given), or None."""
        ids = [r[0] for r in self.runs(scope)]
        if before is not None and before in ids:
            ids = ids[: ids.index(before)]
        return ids[-1] if ids else None

    def record(self, run_id: str, findings: list[Finding], worst: Severity, scope: str = "") -> None:
        """Store a run (with its scope: which hosts and checks it covered) and its findings."""
        with self._db() as db:
            db.execute("INSERT INTO runs (run_id, time, worst, scope) VALUES (?,?,?,?)",
                       (run_id, datetime.now(UTC).isoformat(), worst.value, scope))
            db.executemany("INSERT INTO findings VALUES (?,?,?,?,?,?,?,?,?)", [
                (run_id, f.key, f.check, f.severity.value, f.entity, f.host, f.subject, f.message,
                 int(f.waiver is not None)) for f in findings])

    def compare(self, findings: list[Finding], since: str | None, scope: str = "") -> tuple[list[Finding], Diff]:
        """Return ``findings`` marked with their change since run ``since`` (else the latest run of the same
        ``scope``, so audits of different entities never undo each other's news), and the diff."""
        base = since or self.previous_run(scope=scope)
        before = self.findings_of(base) if base else {}
        marked, new, regressed, still = [], [], [], []
        for f in findings:
            past = before.get(f.key)
            if not f.failing:
                change = "improved" if past is not None and past.failing else ("unchanged" if past else "new")
            elif past is None or not past.failing:
                change = "new"
                new.append(f)
            elif f.effective.rank > past.severity.rank:
                change = "regressed"
                regressed.append(f)
            else:
                change = "unchanged"
                still.append(f)
            marked.append(replace(f, change=change if base else None))
        now_keys = {f.key for f in findings if f.failing}
        resolved = [p for p in before.values() if p.failing and p.key not in now_keys]
        if not base:
            new, regressed = [f for f in findings if f.failing], []
        return marked, Diff(new, regressed, still, resolved, base)
