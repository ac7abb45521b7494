"""Moving in: copy the state an earlier itref kept per user (``~/.local/state/itref``: one journal file,
``waivers.json``, ``ad-departed/``, ``routines/``, two SQLite histories) into the project's state folder.

Idempotent: every moved record gets an id derived from what it was, and what the project folder already has
is skipped, so running it twice (or after the old itref wrote more) moves only what is new. The old files are
left as they were (read only).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itref.state.folder import STATE_ENV, StateFolder, legacy_dir, slug
from itref.state.records import RecordStream, month_of, parse_time

OLD_FILES = ("journal.jsonl", "waivers.json", "audits.sqlite", "backups.sqlite")
OLD_FOLDERS = (("ad-departed", "*.json"), ("routines", "*.json"))
NEW_PARTS = (("journal", "*/*.jsonl"), ("audits", "*/*.jsonl"), ("backups", "*/*.jsonl"), ("waivers", "*.yaml"),
             ("departed", "*.yaml"), ("routines", "*.yaml"))


@dataclass
class Moved:
    """What one kind of record became: how many were moved, how many the project folder had already."""

    kind: str
    moved: int = 0
    present: int = 0


def has_old_state(folder: Path) -> bool:
    """Return True when ``folder`` holds state in the layout of earlier itref versions."""
    if any((folder / name).is_file() for name in OLD_FILES):
        return True
    return any(next((folder / sub).glob(pattern), None) is not None for sub, pattern in OLD_FOLDERS
               if (folder / sub).is_dir())


def has_records(state: StateFolder) -> bool:
    """Return True when the project's state folder already holds records (of any kind)."""
    return any(next(state.sub(sub).glob(pattern), None) is not None for sub, pattern in NEW_PARTS
               if state.sub(sub).is_dir())


def default_source(state: StateFolder) -> Path:
    """Return where old state is looked for: the folder ``$ITREF_STATE_DIR`` names (earlier versions wrote their
    files straight into it), else the per-user folder ``~/.local/state/itref``."""
    import os

    return state.path if os.environ.get(STATE_ENV) else legacy_dir()


def needs_migration(state: StateFolder) -> Path | None:
    """Return the folder of old state that should be moved into the (still empty) project state, or None."""
    source = default_source(state)
    if source.is_dir() and has_old_state(source) and not has_records(state):
        return source
    return None


def _legacy_operator(text: Any) -> dict[str, Any]:
    """Return the operator fields of an old ``user@machine`` signature (root names no person)."""
    user, _sep, machine = str(text or "").partition("@")
    return {"operator": user if user and user != "root" else None, "account": user or None,
            "machine": machine or None}


def _id(*parts: Any) -> str:
    return "legacy-" + hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:16]


class _Appender:
    """Appends moved records to the project's streams under one writer name per old folder, skipping ids the
    project folder already holds."""

    def __init__(self, state: StateFolder, kind: str, source: Path) -> None:
        self.stream = RecordStream(state, kind)
        self.writer = "moved-" + slug(source.name) + "." + hashlib.sha256(str(source).encode()).hexdigest()[:6]
        self.known = {str(r.get("id")) for r in self.stream.read() if r.get("id")}

    def add(self, record: dict[str, Any], moved: Moved) -> None:
        if record["id"] in self.known:
            moved.present += 1
            return
        from itref.core.files import append_whole
        from itref.core.masking import mask

        when = parse_time(record.get("time")) or datetime.now(UTC)
        folder = self.stream.folder.ensure(self.stream.kind, month_of(when))
        line = mask(json.dumps(record, ensure_ascii=False, sort_keys=True)) + "\n"
        append_whole(folder / f"{self.writer}.jsonl", line.encode("utf-8"), mode=self.stream.folder.file_mode)
        self.known.add(record["id"])
        moved.moved += 1


def _rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> Iterator[sqlite3.Row]:
    if not path.is_file():
        return
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        yield from db.execute(sql, params)
    except sqlite3.Error:
        return
    finally:
        db.close()


def migrate(source: Path, state: StateFolder) -> list[Moved]:
    """Move the old state of ``source`` into ``state``; return what was moved, kind by kind.

    Raises StateError when the project folder cannot take the records.
    """
    return [_journal(source, state), _waivers(source, state), _snapshots(source, state), _routines(source, state),
            _audits(source, state), _backups(source, state)]


def _journal(source: Path, state: StateFolder) -> Moved:
    moved = Moved("journal")
    path = source / "journal.jsonl"
    if not path.is_file():
        return moved
    out = _Appender(state, "journal", source)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if not isinstance(data, dict) or parse_time(data.get("time")) is None:
            continue
        record = {**data, **_legacy_operator(data.get("operator")), "id": _id("journal", line)}
        out.add({k: v for k, v in record.items() if v is not None}, moved)
    return moved


def _waivers(source: Path, state: StateFolder) -> Moved:
    from itref.audit.waivers import Waiver, Waivers, document_name

    moved = Moved("waivers")
    path = source / "waivers.json"
    if not path.is_file():
        return moved
    try:
        items = json.loads(path.read_text(encoding="utf-8") or "[]")
    except ValueError:
        return moved
    target = Waivers(state)
    for item in items if isinstance(items, list) else []:
        try:
            who = _legacy_operator(item.get("by"))
            waiver = Waiver(str(item["check"]), item.get("host"), str(item["until"]), str(item.get("reason") or ""),
                            who["operator"], str(item.get("created") or ""), None, who["account"], who["machine"])
        except (KeyError, TypeError, AttributeError):
            continue
        name = document_name(waiver.check, waiver.host)
        if target.docs.file(name).exists():
            moved.present += 1
            continue
        target.docs.write(name, waiver.as_document())
        moved.moved += 1
    return moved


def _snapshots(source: Path, state: StateFolder) -> Moved:
    from itref.ad.offboard import Snapshots

    moved = Moved("departed")
    folder = source / "ad-departed"
    if not folder.is_dir():
        return moved
    target = Snapshots(state)
    for path in sorted(folder.glob("*.json")):
        restored = path.name.endswith(".restored.json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            login = str(data["login"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if target.get(login) is not None:
            moved.present += 1
            continue
        if restored:
            data["restored"] = {"time": datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(
                timespec="seconds"), "by": None}
        target.docs.write(target.name(login), data)
        moved.moved += 1
    return moved


def _routines(source: Path, state: StateFolder) -> Moved:
    from itref.state.documents import Documents

    moved = Moved("routines")
    folder = source / "routines"
    if not folder.is_dir():
        return moved
    target = Documents(state, "routines")
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            run_id = str(data["run_id"])
            target.file(run_id)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if target.file(run_id).exists():
            moved.present += 1
            continue
        target.write(run_id, data)
        moved.moved += 1
    return moved


def _audits(source: Path, state: StateFolder) -> Moved:
    from itref.audit.history import AuditHistory
    from itref.core.findings import Finding, Severity

    moved = Moved("audits")
    db = source / "audits.sqlite"
    history = AuditHistory(state)
    runs = list(_rows(db, "SELECT run_id, time, worst, scope FROM runs ORDER BY time, rowid"))
    for run in runs:
        if history.find(run["run_id"]) is not None:
            moved.present += 1
            continue
        findings = [Finding(r["check_id"], Severity(r["severity"]), r["message"], entity=r["entity"], host=r["host"],
                            subject=r["subject"], waiver={"reason": "", "until": "", "by": ""} if r["waived"] else None)
                    for r in _rows(db, "SELECT * FROM findings WHERE run_id = ?", (run["run_id"],))]
        when = parse_time(run["time"]) or datetime.now(UTC)
        history.record(run["run_id"], findings, Severity(run["worst"]), run["scope"] or "", when=when)
        moved.moved += 1
    return moved


def _backups(source: Path, state: StateFolder) -> Moved:
    moved = Moved("backups")
    db = source / "backups.sqlite"
    if not db.is_file():
        return moved
    out = _Appender(state, "backups", source)
    for row in _rows(db, "SELECT rowid, * FROM checks"):
        out.add({"type": "check", "id": _id("check", row["rowid"], row["time"]), "time": row["time"],
                 "entity": row["entity"], "backup": row["backup"], "kind": row["kind"], "status": row["status"],
                 "snapshot_id": row["snapshot_id"], "snapshot_time": row["snapshot_time"], "size": row["size"],
                 "files": row["files"], "count": row["count"], "problem": row["problem"]}, moved)
    for row in _rows(db, "SELECT rowid, * FROM verifies"):
        out.add({"type": "verify", "id": _id("verify", row["rowid"], row["time"]), "time": row["time"],
                 "entity": row["entity"], "backup": row["backup"], "ok": bool(row["ok"]),
                 "detail": row["detail"] or ""}, moved)
    for row in _rows(db, "SELECT rowid, * FROM drills"):
        out.add({"type": "drill", "id": _id("drill", row["rowid"], row["time"]), "time": row["time"],
                 "entity": row["entity"], "backup": row["backup"], "ok": bool(row["ok"]),
                 "files": [f for f in (row["files"] or "").split("\n") if f], "detail": row["detail"] or ""}, moved)
    return moved
