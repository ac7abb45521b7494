"""The last ``itref hosts check`` result of each host, kept in the state folder for the handover pack:
one JSON file per host under ``<state dir>/hosts-check/`` (``_directory.json`` for the directory)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from itref.hostcheck.model import Report

FOLDER = "hosts-check"
DIRECTORY_FILE = "_directory.json"
"""Cannot clash with a host: host names start with a letter or a digit."""


def folder(state: Path | None = None) -> Path:
    """Return the folder of the last results (``state``: itref's state folder by default)."""
    if state is None:
        from itref.journal import state_dir

        state = state_dir()
    return state / FOLDER


def _write(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def save(report: Report, state: Path | None = None) -> Path:
    """Record each host's result of ``report`` (and the directory's), replacing the previous one; return the folder.

    Raises OSError when the state folder cannot be written.
    """
    target = folder(state)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    checked = report.checked.isoformat(timespec="seconds")
    for host in report.hosts:
        _write(target / f"{host.host}.json", {"checked": checked, **host.as_dict()})
    if report.directory is not None:
        _write(target / DIRECTORY_FILE, {"checked": checked, "findings": [f.as_dict() for f in report.directory]})
    return target


@dataclass(frozen=True)
class LastCheck:
    """A host's last check: when, its system, its clock, and its problems as (severity, message, fix)."""

    host: str
    checked: datetime
    os: str | None
    clock_offset: float | None
    worst: str
    problems: list[tuple[str, str, str]]


def load(host: str, state: Path | None = None) -> LastCheck | None:
    """Return the last recorded check of ``host``, or None when there is none (or it cannot be read)."""
    path = folder(state) / f"{host}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LastCheck(host, datetime.fromisoformat(data["checked"]), data.get("os"), data.get("clock_offset"),
                         str(data.get("worst") or "ok"),
                         [(str(f["severity"]), str(f["message"]), str(f.get("fix") or ""))
                          for f in data.get("findings", []) if f.get("severity") in ("warning", "unknown", "critical")])
    except (OSError, ValueError, KeyError, TypeError):
        return None


