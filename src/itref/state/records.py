"""Append-only record streams of the state folder (the journal, the backup history).

A stream is a folder of month folders, each holding one JSON-lines file per writer:
``<kind>/2026-12/jdupont@pc-referent.3fa2c1.jsonl``. A record is never rewritten. Each process appends only
to its own writer's file (whole lines, under a lock), so two people, two machines or two clones of the project
never touch the same file, and merging two clones with git only adds files or lines at the end of files
nobody else wrote. Reading merges every writer's files of the months asked for, in time order; the month
folders let a reader skip everything older than what it needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itref.state.folder import StateFolder

_MONTH_LEN = len("2026-12")


def month_of(when: datetime) -> str:
    """Return the month folder (UTC) of a record made at ``when``: ``YYYY-MM``."""
    return when.astimezone(UTC).strftime("%Y-%m")


def parse_time(text: Any) -> datetime | None:
    """Return a record's ``time`` as an aware datetime (UTC when it carries no offset), or None."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def now_text() -> str:
    """Return the current time as records write it (local time with its offset, to the second)."""
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


@dataclass
class Damage:
    """Lines a read skipped because they could not be understood (file and line numbers, for people)."""

    places: list[tuple[Path, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.places)


class RecordStream:
    """One append-only stream (``journal`` or ``backups``) of a state folder."""

    def __init__(self, folder: StateFolder, kind: str) -> None:
        self.folder = folder
        self.kind = kind
        self.damage = Damage()
        """What the last read had to skip."""
        self._lines: dict[Path, list[str]] = {}
        """Each file's lines as read once by this stream (a command reads a file once, however many questions
        it asks); a file this stream appends to is read again."""

    @property
    def path(self) -> Path:
        """Return the stream's folder."""
        return self.folder.sub(self.kind)

    def append(self, record: dict[str, Any]) -> None:
        """Add ``record`` (a JSON-ready dict with a ``time``) to this writer's file of the record's month, whole or
        not at all; secret values are masked first. Raises StateError (disk full, no permission)."""
        from itref.core.files import append_whole
        from itref.core.masking import mask

        when = parse_time(record.get("time")) or datetime.now(UTC)
        folder = self.folder.ensure(self.kind, month_of(when))
        line = mask(json.dumps(record, ensure_ascii=False, sort_keys=True)) + "\n"
        path = folder / f"{self.folder.writer}.jsonl"
        append_whole(path, line.encode("utf-8"), mode=self.folder.file_mode)
        self._lines.pop(path, None)

    def preflight(self) -> None:
        """Make sure a record can be written now (folder usable, this writer's file open for appending, some
        room on the disk), so that work on hosts is not done first and left unrecorded. Raises StateError."""
        import errno
        import os
        import shutil

        from itref.core.files import no_room

        folder = self.folder.ensure(self.kind, month_of(datetime.now(UTC)))
        path = folder / f"{self.folder.writer}.jsonl"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         self.folder.file_mode)
            os.close(fd)
            if shutil.disk_usage(folder).free < 64 * 1024:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            raise no_room(path, exc) from None

    def months(self) -> list[str]:
        """Return the month folders of the stream, oldest first."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if len(p.name) == _MONTH_LEN and p.is_dir())

    def files(self, since: datetime | None = None) -> list[Path]:
        """Return the stream's files holding records of ``since``'s month or later (all of them when None)."""
        first = month_of(since) if since is not None else ""
        found: list[Path] = []
        for month in self.months():
            if month >= first:
                found += sorted((self.path / month).glob("*.jsonl"))
        return found

    def read(self, since: datetime | None = None, *, contains: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Return the records made at ``since`` or later (all when None), oldest first; ``contains`` keeps only
        lines holding each of these texts (a quick filter before parsing). Damaged lines are skipped (see
        :attr:`damage`)."""
        self.folder.check()
        self.damage = Damage()
        contains = tuple(contains)
        found: list[tuple[datetime, int, dict[str, Any]]] = []
        for path in self.files(since):
            found += self._parse(path, since, contains, len(found))
        found.sort(key=lambda item: (item[0], item[1]))
        return [record for _when, _n, record in found]

    def newest_first(self, *, contains: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
        """Yield records newest first, one month at a time, so a reader looking for the latest of something
        stops early. ``contains`` filters lines before parsing, as in :meth:`read`."""
        self.folder.check()
        self.damage = Damage()
        contains = tuple(contains)
        for month in reversed(self.months()):
            found: list[tuple[datetime, int, dict[str, Any]]] = []
            for path in sorted((self.path / month).glob("*.jsonl")):
                found += self._parse(path, None, contains, len(found))
            found.sort(key=lambda item: (item[0], item[1]), reverse=True)
            for _when, _n, record in found:
                yield record

    def _parse(self, path: Path, since: datetime | None, contains: Iterable[str],
               start: int) -> list[tuple[datetime, int, dict[str, Any]]]:
        out: list[tuple[datetime, int, dict[str, Any]]] = []
        lines = self._lines.get(path)
        if lines is None:
            try:
                with path.open("r", encoding="utf-8", errors="replace") as fh:
                    lines = self._lines[path] = fh.readlines()
            except OSError:
                self.damage.places.append((path, 0))
                return out
        wanted = tuple(contains)
        for number, line in enumerate(lines, 1):
            if not line.strip() or not all(text in line for text in wanted):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                self.damage.places.append((path, number))
                continue
            when = parse_time(record.get("time")) if isinstance(record, dict) else None
            if when is None:
                self.damage.places.append((path, number))
                continue
            if since is None or when >= since:
                out.append((when, start + len(out), record))
        return out
