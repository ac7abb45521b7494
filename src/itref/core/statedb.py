"""The SQLite databases itref keeps in its state folder (audit and backup history): one way to open them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path


@contextmanager
def open_state_db(path: Path, schema: str, *, added_columns: Mapping[str, Mapping[str, str]] | None = None,
                  timeout: float = 30) -> Iterator[sqlite3.Connection]:
    """Yield a connection to the database ``path`` (its folder made private, WAL journal, ``schema`` applied);
    commit when the block ends without an error, and close it in every case.

    ``added_columns`` maps a table to the columns (name → SQL type) later itref versions added to it: a database
    written by an earlier itref gets them, and two itref processes adding one at the same time do not fail.
    Raises sqlite3.Error when the database cannot be opened or written.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = sqlite3.connect(path, timeout=timeout)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
        for table, columns in (added_columns or {}).items():
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for column, sql_type in columns.items():
                if column not in have:
                    with suppress(sqlite3.OperationalError):  # another itref added it meanwhile
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
        yield db
        db.commit()
    finally:
        db.close()
