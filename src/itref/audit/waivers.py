"""Waivers: a person accepts a finding for a while, with a reason. Once the date passes, the
finding fails again. Kept in ``<state dir>/waivers.json``; every change is journaled."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from itref.core.findings import Finding
from itref.journal import operator, state_dir


@dataclass(frozen=True)
class Waiver:
    """Accept ``check`` (on ``host``, or on every host when None) until the end of ``until``."""

    check: str
    host: str | None
    until: str
    reason: str
    by: str
    created: str

    def covers(self, finding: Finding, today: date) -> bool:
        """Return True if this waiver applies to ``finding`` today."""
        return (finding.check == self.check and (self.host is None or finding.host == self.host)
                and date.fromisoformat(self.until) >= today)

    def expired(self, today: date) -> bool:
        """Return True once the waiver's last day has passed."""
        return date.fromisoformat(self.until) < today


class Waivers:
    """The waivers file: read, add, remove, and apply to findings."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "waivers.json"

    def load(self) -> list[Waiver]:
        """Return every waiver, expired ones included."""
        if not self.path.exists():
            return []
        return [Waiver(**w) for w in json.loads(self.path.read_text(encoding="utf-8") or "[]")]

    def _write(self, waivers: list[Waiver]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps([asdict(w) for w in waivers], ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(self.path)

    def add(self, check: str, host: str | None, until: date, reason: str) -> Waiver:
        """Record a waiver (replacing one for the same check and host) and return it."""
        waiver = Waiver(check, host, until.isoformat(), reason, operator(), date.today().isoformat())
        with self._locked():
            kept = [w for w in self.load() if (w.check, w.host) != (check, host)]
            self._write([*kept, waiver])
        return waiver

    def remove(self, check: str, host: str | None) -> bool:
        """Remove the waiver for ``check`` and ``host``; return whether one existed."""
        with self._locked():
            current = self.load()
            kept = [w for w in current if (w.check, w.host) != (check, host)]
            self._write(kept)
        return len(kept) != len(current)

    def apply(self, findings: list[Finding], today: date | None = None) -> list[Finding]:
        """Return ``findings`` with the waiver attached to each finding a valid waiver covers."""
        from dataclasses import replace

        today = today or date.today()
        waivers = [w for w in self.load() if not w.expired(today)]
        out = []
        for f in findings:
            match = next((w for w in waivers if w.covers(f, today)), None)
            out.append(replace(f, waiver={"reason": match.reason, "until": match.until, "by": match.by})
                       if match and f.severity.rank >= 2 else f)
        return out

    def _locked(self) -> _Lock:
        return _Lock(self.path.with_suffix(".lock"))


class _Lock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
