"""Where a lab keeps its things, and its state file (``DIR/lab.json``), read and written atomically.

``DIR`` (what ``itref lab up --dir`` names) holds what the person uses and keeps: ``inventory.yaml``,
``playbooks/``, ``secrets/`` (the lab-only file store), ``keys/`` and ``known_hosts``, the DC's data (``dc/``)
and ``logs/``.  What the lab's hosts must read as their unprivileged user (repositories, their disks, the stand-in
tools) lives in a runtime folder under ``/var/tmp`` that ``itref lab down`` removes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "lab.json"
LOCK_FILE = "lab.lock"  # held by the lab's supervisor for its whole life: the lab runs if and only if it is held
LAB_USER = "itref-lab"
RUNTIME_ROOT = Path("/var/tmp/itref-lab")


def lab_name(directory: Path) -> str:
    """Return the lab's unique short name, derived from its folder's absolute path (``lab-1a2b3c``)."""
    return "lab-" + hashlib.sha256(str(directory.absolute()).encode()).hexdigest()[:6]


@dataclass(frozen=True)
class LabPaths:
    """The paths of one lab."""

    root: Path

    @property
    def name(self) -> str:
        return lab_name(self.root)

    @property
    def state(self) -> Path:
        return self.root / STATE_FILE

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yaml"

    @property
    def playbooks(self) -> Path:
        return self.root / "playbooks"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def dc(self) -> Path:
        return self.root / "dc"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def runtime(self) -> Path:
        """Return the folder the lab's hosts read (repositories, disks, stand-in tools); removed by ``down``."""
        return RUNTIME_ROOT / self.name

    def host_dir(self, host: str) -> Path:
        return self.runtime / "hosts" / host

    @property
    def repos(self) -> Path:
        return self.runtime / "repos"

    @property
    def sources(self) -> Path:
        return self.runtime / "sources"

    @property
    def bin(self) -> Path:
        return self.runtime / "bin"

    @property
    def certs(self) -> Path:
        return self.runtime / "certs"


def read_state(paths: LabPaths) -> dict[str, Any] | None:
    """Return the lab's state (``lab.json``), or None when there is none or it is unreadable."""
    try:
        data = json.loads(paths.state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(paths: LabPaths, state: dict[str, Any]) -> None:
    """Write ``state`` to ``lab.json`` atomically (a reader never sees half a file); return None."""
    paths.root.mkdir(parents=True, exist_ok=True)
    tmp = paths.state.with_name(f".{STATE_FILE}.{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, paths.state)


def pid_alive(pid: int | None) -> bool:
    """Return True when process ``pid`` exists and is not a zombie."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def lock_held(paths: LabPaths) -> bool:
    """Return True while a supervisor holds the lab's lock (the lab runs or is starting), False otherwise.

    A pid in ``lab.json`` may have been reused by another process since (after a reboot, say); the lock cannot:
    it goes away with the process that holds it.
    """
    import fcntl

    try:
        fd = os.open(paths.lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def process_mentions(pid: int | None, text: str) -> bool:
    """Return True when process ``pid`` is alive and its command line contains ``text``, or it runs in folder
    ``text`` (samba rewrites its command line into a title, but runs in its own folder): it is the lab's own."""
    if not pid or not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if text in fh.read().replace(b"\0", b" ").decode(errors="replace"):
                return True
        return os.readlink(f"/proc/{pid}/cwd") == text
    except OSError:
        return False
