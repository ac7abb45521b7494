"""The journal: an append-only record of everything itref ran or changed.

One JSON object per line in ``<state dir>/journal.jsonl``. Writers take an exclusive lock and
write each record with a single ``write`` on an ``O_APPEND`` descriptor, so two cron runs writing
at once never interleave. Secret values are masked before anything is written.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from itref.secrets import mask


def state_dir() -> Path:
    """Return itref's state folder: ``$ITREF_STATE_DIR``, else the XDG state dir (``~/.local/state/itref``)."""
    override = os.environ.get("ITREF_STATE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_state_dir

    return Path(user_state_dir("itref", appauthor=False))


def operator() -> str:
    """Return who is acting: ``user@machine`` (the sudo caller when run through sudo)."""
    user = os.environ.get("SUDO_USER") or _login()
    return f"{user}@{socket.gethostname()}"


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def new_run_id() -> str:
    """Return a short id grouping the records of one itref invocation."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class JournalRecord:
    """One action: what ran or changed where, by whom, how it ended. Never holds a secret value."""

    action: str
    target: str
    outcome: str
    host: str | None = None
    entity: str | None = None
    rc: int | None = None
    duration: float | None = None
    detail: str | None = None
    run_id: str = ""
    operator: str = field(default_factory=operator)
    time: str = field(default_factory=lambda: datetime.now(UTC).astimezone().isoformat(timespec="seconds"))

    @property
    def when(self) -> datetime:
        """Return the record's time as an aware datetime."""
        return datetime.fromisoformat(self.time)


class Journal:
    """Append to and read the journal file at ``path``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "journal.jsonl"
        self.damaged = 0
        """How many unreadable lines the last read skipped."""

    def append(self, record: JournalRecord) -> None:
        """Write one record atomically (exclusive lock, single write). Raises OSError if the disk refuses."""
        data = {k: v for k, v in asdict(record).items() if v is not None}
        line = (mask(json.dumps(data, ensure_ascii=False, sort_keys=True)) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a previous writer died mid-line: start a fresh line
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def records(self) -> Iterator[JournalRecord]:
        """Yield every readable record, oldest first; a damaged line is skipped (see :attr:`damaged`)."""
        self.damaged = 0
        if not self.path.exists():
            return
        known = set(JournalRecord.__dataclass_fields__)
        with self.path.open("r", encoding="utf-8", errors="replace") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
            lines = fh.readlines()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        for line in lines:
            try:
                data = json.loads(line)
                yield JournalRecord(**{k: v for k, v in data.items() if k in known})
            except (ValueError, TypeError):
                self.damaged += 1

    def query(self, *, since: datetime | None = None, entity: str | None = None,
              host: str | None = None) -> list[JournalRecord]:
        """Return the records matching every filter given, oldest first."""
        out = []
        for rec in self.records():
            if since is not None and rec.when < since:
                continue
            if entity is not None and rec.entity != entity:
                continue
            if host is not None and rec.host != host:
                continue
            out.append(rec)
        return out
