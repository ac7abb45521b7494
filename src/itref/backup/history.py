"""Backup history in SQLite (state folder): each check's figures, each verify and each restore drill.

Size drift and "no new backup since" are computed from these records, not guessed. Concurrent
itref runs are safe (SQLite locking, WAL journal, busy timeout).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from itref.backup.base import Facts
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
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            yield db
            db.commit()
        finally:
            db.close()

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

    def record_check(self, entity: str, backup: str, kind: str, status: str, facts: Facts) -> None:
        """Store one check's figures."""
        with self._db() as db:
            db.execute("INSERT INTO checks VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
                _now(), backup, entity, kind, status, facts.latest_id,
                facts.latest.isoformat() if facts.latest else None, facts.size, facts.files, facts.count,
                facts.problem))

    def previous_snapshot(self, entity: str, backup: str, current_id: str | None) -> Previous | None:
        """Return the most recent recorded snapshot other than ``current_id``, or None."""
        with self._db() as db:
            row = db.execute(
                "SELECT snapshot_id, snapshot_time, size FROM checks WHERE entity=? AND backup=? AND snapshot_id "
                "IS NOT NULL AND snapshot_id IS NOT ? ORDER BY time DESC LIMIT 1", (entity, backup, current_id)
            ).fetchone()
        if row is None:
            return None
        return Previous(row[0], datetime.fromisoformat(row[1]) if row[1] else None, row[2])

    def record_verify(self, entity: str, backup: str, ok: bool, detail: str) -> None:
        """Store one integrity check."""
        with self._db() as db:
            db.execute("INSERT INTO verifies VALUES (?,?,?,?,?)", (_now(), backup, entity, int(ok), detail))

    def record_drill(self, entity: str, backup: str, ok: bool, files: list[str], detail: str) -> None:
        """Store one restore drill."""
        with self._db() as db:
            db.execute("INSERT INTO drills VALUES (?,?,?,?,?,?)",
                       (_now(), backup, entity, int(ok), "\n".join(files), detail))

    def last_success(self, table: str, entity: str, backup: str) -> datetime | None:
        """Return when the last successful verify or drill (``table``) of a backup happened."""
        assert table in ("verifies", "drills")
        with self._db() as db:
            row = db.execute(f"SELECT max(time) FROM {table} WHERE entity=? AND backup=? AND ok=1",
                             (entity, backup)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def last(self, table: str, entity: str, backup: str) -> tuple[datetime, bool, str] | None:
        """Return (time, ok, detail) of the last verify or drill, successful or not."""
        assert table in ("verifies", "drills")
        with self._db() as db:
            row = db.execute(f"SELECT time, ok, detail FROM {table} WHERE entity=? AND backup=? "
                             "ORDER BY time DESC LIMIT 1", (entity, backup)).fetchone()
        return (datetime.fromisoformat(row[0]), bool(row[1]), row[2] or "") if row else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
