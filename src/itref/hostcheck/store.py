"""The last ``itref hosts check`` result of each host, kept in the project's state folder for the handover pack
(and whoever takes over): one JSON file per host under ``hosts-check/`` (``_directory.json`` for the directory),
replaced at each check."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itref.hostcheck.model import Report

if TYPE_CHECKING:
    from itref.state.folder import StateFolder

FOLDER = "hosts-check"
DIRECTORY_FILE = "_directory.json"
"""Cannot clash with a host: host names start with a letter or a digit."""


def folder(state: Path) -> Path:
    """Return the folder of the last results in the state folder ``state``."""
    return state / FOLDER


def save(report: Report, state: StateFolder) -> Path:
    """Record each host's result of ``report`` (and the directory's), replacing the previous one, each file whole
    (secret values masked); return the folder. Raises StateError when the state folder cannot take them."""
    from itref.core.files import write_record
    from itref.core.masking import mask

    def write(path: Path, data: dict[str, Any]) -> None:
        write_record(path, mask(json.dumps(data, ensure_ascii=False, indent=1)), mode=state.file_mode)

    target = state.ensure(FOLDER)
    checked = report.checked.isoformat(timespec="seconds")
    for host in report.hosts:
        write(target / f"{host.host}.json", {"checked": checked, **host.as_dict()})
    if report.directory is not None:
        write(target / DIRECTORY_FILE, {"checked": checked, "findings": [f.as_dict() for f in report.directory]})
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


def load(host: str, state: Path) -> LastCheck | None:
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


