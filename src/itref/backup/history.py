"""Backup history in SQLite (state folder): each check's figures, each verify and each restore drill.

Size drift and "no new backup since" are computed from these records, not guessed. Concurrent
itref runs are safe (SQLite locking, WAL journal, busy timeout).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from itref.backup.base import Facts
from itref.core.statedb import open_state_db
from itref.journal import state_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS checks (
  time TEXT NOT NULL, backup TEXT NOT NULL, entity TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
  snapshot_id TEXT, snapshot_time TEXT, size INTEGER, files INTEGER, count INTEGER, problem TEXT);
CREATE INDEX IF NOT EXISTS checks_backup ON checks (entity, backup, time);
CREATE TABLE IF NOT EXISTS verifies (
  time TEXT NOT NULL, backup TEXT NOT NULL, entity TEXT NOT NULL, ok INTEGER NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS drills (
  time TEXT NOT NULL, backup TEXT NOT NULL, entity TEXT NOT NULL, ok INTEGER NOT NULL, files TEXT, detail TEXT);
"""
CACHE_COLUMNS = {"fingerprint": "TEXT", "config": "TEXT", "opened": "TEXT", "facts": "TEXT"}
STATUS_COLUMN = {"status": "TEXT"}
"""Added to ``verifies`` and ``drills``: ok, warning (nothing proved: not a pass) or failed (older rows: NULL)."""
"""Columns added for the repository fingerprint cache (older databases get them on first use): the repository's
fingerprint and configuration key when it was read, when the tool really read it, and the facts found."""


@dataclass(frozen=True)
class Cached:
    """The last check of a backup, when it read the repository successfully: what it can lend to the next one."""

    fingerprint: str
    config: str
    opened: datetime
    facts: Facts


def facts_json(facts: Facts) -> str:
    """Return the facts a later check may reuse, as JSON."""
    return json.dumps({"latest": facts.latest.isoformat() if facts.latest else None, "latest_id": facts.latest_id,
                       "size": facts.size, "files": facts.files, "count": facts.count, "hostname": facts.hostname,
                       "paths": list(facts.paths), "result": facts.result})


def facts_from_json(text: str) -> Facts:
    """Return the facts stored by :func:`facts_json`."""
    data = json.loads(text)
    return Facts(latest=datetime.fromisoformat(data["latest"]) if data.get("latest") else None,
                 latest_id=data.get("latest_id"), size=data.get("size"), files=data.get("files"),
                 count=data.get("count"), hostname=data.get("hostname"), paths=tuple(data.get("paths") or ()),
                 result=data.get("result"))


@dataclass(frozen=True)
class Previous:
    """The last recorded snapshot that differs from the current one."""

    snapshot_id: str | None
    snapshot_time: datetime | None
    size: int | None


class History:
    """Read and write the backup history database."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "backups.sqlite"
        self._shared: sqlite3.Connection | None = None

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        with open_state_db(self.path, SCHEMA, added_columns={"checks": CACHE_COLUMNS, "verifies": STATUS_COLUMN,
                                                                 "drills": STATUS_COLUMN}) as db:
            yield db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if self._shared is not None:
            yield self._shared
            return
        with self._open() as db:
            yield db

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run every call made inside on one connection, committed once at the end (one open, one fsync,
        instead of one per call). For the thread that opened it only."""
        if self._shared is not None:
            yield
            return
        with self._open() as db:
            self._shared = db
            try:
                yield
            finally:
                self._shared = None

    def record_check(self, entity: str, backup: str, kind: str, status: str, facts: Facts, *,
                     config: str | None = None, opened: datetime | None = None) -> None:
        """Store one check's figures; with the repository's fingerprint (if any), its configuration key and when
        the tool really read it (``opened``: now, or the time of the check whose evidence was reused)."""
        fp = facts.fingerprint
        with self._db() as db:
            db.execute(
                "INSERT INTO checks (time, backup, entity, kind, status, snapshot_id, snapshot_time, size, files, "
                "count, problem, fingerprint, config, opened, facts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
                    _now(), backup, entity, kind, status, facts.latest_id,
                    facts.latest.isoformat() if facts.latest else None, facts.size, facts.files, facts.count,
                    facts.problem, fp.digest if fp and not fp.locked else None, config,
                    (opened or datetime.now(UTC)).isoformat(timespec="seconds"),
                    facts_json(facts) if facts.problem is None else None))

    def cached(self, entity: str, backup: str) -> Cached | None:
        """Return the last check of a backup when it read an unlocked repository successfully, else None."""
        with self._db() as db:
            row = db.execute("SELECT fingerprint, config, opened, facts, problem FROM checks WHERE entity=? AND "
                             "backup=? ORDER BY rowid DESC LIMIT 1", (entity, backup)).fetchone()
        if row is None or row[4] is not None or not all(row[:4]):
            return None
        try:
            return Cached(row[0], row[1], datetime.fromisoformat(row[2]), facts_from_json(row[3]))
        except (ValueError, KeyError, TypeError):
            return None

    def previous_snapshot(self, entity: str, backup: str, current_id: str | None) -> Previous | None:
        """Return the most recent recorded snapshot other than ``current_id``, or None."""
        with self._db() as db:
            row = db.execute(
                "SELECT snapshot_id, snapshot_time, size FROM checks WHERE entity=? AND backup=? AND snapshot_id "
                "IS NOT NULL AND snapshot_id IS NOT ? ORDER BY time DESC, rowid DESC LIMIT 1",
                (entity, backup, current_id)).fetchone()
        if row is None:
            return None
        return Previous(row[0], datetime.fromisoformat(row[1]) if row[1] else None, row[2])

    def record_verify(self, entity: str, backup: str, ok: bool, detail: str, *, status: str | None = None) -> None:
        """Store one integrity check (``status``: ok, warning or failed; from ``ok`` when not given)."""
        with self._db() as db:
            db.execute("INSERT INTO verifies (time, backup, entity, ok, detail, status) VALUES (?,?,?,?,?,?)",
                       (_now(), backup, entity, int(ok), detail, status or ("ok" if ok else "failed")))

    def record_drill(self, entity: str, backup: str, ok: bool, files: list[str], detail: str, *,
                     status: str | None = None) -> None:
        """Store one restore drill (``status``: ok, warning or failed; from ``ok`` when not given)."""
        with self._db() as db:
            db.execute("INSERT INTO drills (time, backup, entity, ok, files, detail, status) VALUES (?,?,?,?,?,?,?)",
                       (_now(), backup, entity, int(ok), "\n".join(files), detail,
                        status or ("ok" if ok else "failed")))

    def last_success(self, table: str, entity: str, backup: str) -> datetime | None:
        """Return when the last successful verify or drill (``table``) of a backup happened."""
        assert table in ("verifies", "drills")
        with self._db() as db:
            row = db.execute(f"SELECT max(time) FROM {table} WHERE entity=? AND backup=? AND ok=1",
                             (entity, backup)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def unresolved_failure(self, table: str, entity: str, backup: str) -> tuple[datetime, str] | None:
        """Return (time, detail) of the last failed verify or drill (``table``) of a backup when none passed since,
        else None (a warning, which tested nothing, neither clears nor makes a failure)."""
        assert table in ("verifies", "drills")
        with self._db() as db:
            row = db.execute(
                f"SELECT time, detail FROM {table} WHERE entity=? AND backup=? AND (status='failed' OR (status IS "
                f"NULL AND ok=0)) AND time >= coalesce((SELECT max(time) FROM {table} WHERE entity=? AND backup=? "
                "AND ok=1), '') ORDER BY time DESC, rowid DESC LIMIT 1", (entity, backup, entity, backup)).fetchone()
        return (datetime.fromisoformat(row[0]), row[1] or "") if row else None

    def last(self, table: str, entity: str, backup: str) -> tuple[datetime, bool, str] | None:
        """Return (time, ok, detail) of the last verify or drill, successful or not."""
        assert table in ("verifies", "drills")
        with self._db() as db:
            row = db.execute(f"SELECT time, ok, detail FROM {table} WHERE entity=? AND backup=? "
                             "ORDER BY time DESC, rowid DESC LIMIT 1", (entity, backup)).fetchone()
        return (datetime.fromisoformat(row[0]), bool(row[1]), row[2] or "") if row else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
