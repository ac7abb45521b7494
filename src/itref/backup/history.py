"""Backup history in the project's state folder: each check's figures, each verify and each restore drill.

Records are appended to ``backups/YYYY-MM/<writer>.jsonl`` (see :mod:`itref.state.records`), one JSON line
each with its ``type`` (check, verify or drill), so the stand-in's clone and the referent's merge without a
conflict and both see every record. Size drift and "no new backup since" are computed from these records.

What only this machine needs, the evidence a later check may reuse without opening a repository again
(fingerprint, configuration, facts), is kept apart in this machine's cache folder, never in the shared state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itref.backup.base import Facts
from itref.state.folder import StateFolder, slug
from itref.state.records import RecordStream, now_text, parse_time

KIND = "backups"
TYPES = ("check", "verify", "drill")


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


@dataclass(frozen=True)
class Outcome:
    """A recorded verify or drill: when, whether it passed, what it said, and (drills) the files restored."""

    time: datetime
    ok: bool
    detail: str
    files: list[str]
    operator: str | None = None
    account: str | None = None
    status: str = "ok"
    """ok, warning (it proved nothing: not a pass, not a failure) or failed."""


@dataclass(frozen=True)
class CheckRecord:
    """A recorded check: when, its status, the newest backup it saw and why it could not see one."""

    time: datetime
    status: str
    snapshot_time: datetime | None
    size: int | None
    files: int | None
    count: int | None
    problem: str | None


class History:
    """Read and write the backup history of a state folder (reading never creates anything)."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state
        self.stream = RecordStream(state, KIND)

    def _latest(self, kind: str, entity: str, backup: str) -> Iterator[dict[str, Any]]:
        """Yield the records of one type about one backup, newest first."""
        json_text = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731 - as the records write them
        needles = (f'"type": {json_text(kind)}', f'"backup": {json_text(backup)}', f'"entity": {json_text(entity)}')
        for record in self.stream.newest_first(contains=needles):
            if record.get("type") == kind and record.get("backup") == backup and record.get("entity") == entity:
                yield record

    def _append(self, kind: str, entity: str, backup: str, fields: dict[str, Any]) -> None:
        self.stream.append({"type": kind, "time": now_text(), "entity": entity, "backup": backup, **fields,
                            **self.state.operator.fields()})

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Kept for callers grouping many calls: records are appended one by one, each whole."""
        yield

    # ------------------------------------------------------------------ checks

    def record_check(self, entity: str, backup: str, kind: str, status: str, facts: Facts, *,
                     config: str | None = None, opened: datetime | None = None) -> None:
        """Store one check's figures in the shared history; and on this machine, for a repository read
        successfully, its fingerprint, configuration key, when the tool really read it (``opened``: now, or the
        time of the check whose evidence was reused) and the facts found. Raises StateError."""
        self._append("check", entity, backup, {
            "kind": kind, "status": status, "snapshot_id": facts.latest_id,
            "snapshot_time": facts.latest.isoformat() if facts.latest else None, "size": facts.size,
            "files": facts.files, "count": facts.count, "problem": facts.problem})
        fp = facts.fingerprint
        evidence = self._evidence_file(entity, backup)
        if facts.problem is None and fp is not None and not fp.locked and config is not None:
            from itref.core.files import write_record

            write_record(evidence, json.dumps({
                "fingerprint": fp.digest, "config": config,
                "opened": (opened or datetime.now(UTC)).isoformat(timespec="seconds"),
                "facts": facts_json(facts)}))
        else:
            evidence.unlink(missing_ok=True)

    def _evidence_file(self, entity: str, backup: str) -> Any:
        return self.state.cache_dir("backup-evidence") / f"{slug(entity)}--{slug(backup)}.json"

    def cached(self, entity: str, backup: str) -> Cached | None:
        """Return this machine's evidence of the last check of a backup when it read an unlocked repository
        successfully, else None."""
        path = self._evidence_file(entity, backup)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Cached(data["fingerprint"], data["config"], datetime.fromisoformat(data["opened"]),
                          facts_from_json(data["facts"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def last_check(self, entity: str, backup: str) -> CheckRecord | None:
        """Return the latest check of a backup, or None."""
        for r in self._latest("check", entity, backup):
            when = parse_time(r.get("time"))
            if when is not None:
                return CheckRecord(when, str(r.get("status") or ""), parse_time(r.get("snapshot_time")),
                                   r.get("size"), r.get("files"), r.get("count"), r.get("problem"))
        return None

    def previous_snapshot(self, entity: str, backup: str, current_id: str | None) -> Previous | None:
        """Return the most recent recorded snapshot other than ``current_id``, or None."""
        for r in self._latest("check", entity, backup):
            sid = r.get("snapshot_id")
            if sid is not None and sid != current_id:
                return Previous(sid, parse_time(r.get("snapshot_time")), r.get("size"))
        return None

    # ------------------------------------------------------------------ verifies and drills

    def record_verify(self, entity: str, backup: str, ok: bool, detail: str, *, status: str | None = None) -> None:
        """Store one integrity check (``status``: ok, warning or failed; from ``ok`` when not given). Raises
        StateError."""
        self._append("verify", entity, backup, {"ok": ok, "detail": detail,
                                                 "status": status or ("ok" if ok else "failed")})

    def record_drill(self, entity: str, backup: str, ok: bool, files: list[str], detail: str, *,
                     status: str | None = None) -> None:
        """Store one restore drill (``status``: ok, warning or failed; from ``ok`` when not given). Raises
        StateError."""
        self._append("drill", entity, backup, {"ok": ok, "files": files, "detail": detail,
                                                "status": status or ("ok" if ok else "failed")})

    def outcomes(self, kind: str, entity: str, backup: str) -> Iterator[Outcome]:
        """Yield the verifies or drills (``kind``: verify or drill) of a backup, newest first."""
        assert kind in ("verify", "drill")
        for r in self._latest(kind, entity, backup):
            when = parse_time(r.get("time"))
            if when is not None:
                ok = bool(r.get("ok"))
                yield Outcome(when, ok, str(r.get("detail") or ""), list(r.get("files") or []),
                              r.get("operator"), r.get("account"), str(r.get("status") or ("ok" if ok else "failed")))

    def unresolved_failure(self, kind: str, entity: str, backup: str) -> tuple[datetime, str] | None:
        """Return (time, detail) of the last failed verify or drill (``kind``) of a backup when none passed since,
        else None (a warning, which tested nothing, neither clears nor makes a failure)."""
        for o in self.outcomes(kind, entity, backup):
            if o.ok:
                return None
            if o.status == "failed":
                return o.time, o.detail
        return None

    def last(self, kind: str, entity: str, backup: str) -> Outcome | None:
        """Return the last verify or drill (``kind``) of a backup, successful or not, or None."""
        return next(self.outcomes(kind, entity, backup), None)

    def last_success(self, kind: str, entity: str, backup: str) -> datetime | None:
        """Return when the last successful verify or drill (``kind``) of a backup happened, or None."""
        return next((o.time for o in self.outcomes(kind, entity, backup) if o.ok), None)
