"""Which backups itref can verify and restore-test, and the restore-drill policy: how often, and what fixes it.

One place answers "is this backup's restore test overdue, and what does a person run to do it?", so that
``itref backup check`` (and the audit) and the handover pack say the same thing.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from itref.core.units import parse_duration

if TYPE_CHECKING:
    from itref.config.project import Project
    from itref.config.schema import Backup
    from itref.connectors.base import HostSpec

DEFAULT_DRILL_EVERY = "92d"
"""How often a backup must be restore-tested when its playbook says nothing (``drill.every``): one quarter."""
REPOSITORY_KINDS = ("restic", "borg")
"""Kinds whose repository itref reads back (verify) and restores files from (drill), on any POSIX host."""


def on_windows(host: HostSpec) -> bool:
    """Return True when ``host`` is a Windows host (reached over WinRM, or tagged windows and not linux)."""
    return host.connection == "winrm" or ("windows" in host.tags and "linux" not in host.tags)


def testable(backup: Backup, host: HostSpec) -> bool:
    """Return True when itref can verify and restore-test ``backup`` checked on ``host``: restic and borg
    repositories, and ``files`` drops on a Linux/POSIX host (each dump read back with gzip, zstd, tar, unzip,
    pg_restore...). wbadmin and Veeam are restore-tested with their own tools, and so are dumps on Windows hosts."""
    if backup.kind in REPOSITORY_KINDS:
        return True
    return backup.kind == "files" and not on_windows(host)


def drill_every(backup: Backup) -> str:
    """Return the backup's drill interval as written (``drill.every``, the default when ``drill:`` is left out)."""
    return backup.drill.every if backup.drill is not None else DEFAULT_DRILL_EVERY


def drill_routine(project: Project, entity: str, backup: Backup) -> str | None:
    """Return ``ENTITY/ROUTINE`` of the entity's routine that restore-tests ``backup`` (a ``backup: {action:
    drill}`` step naming it, or naming no backup at all), None when its playbook has none."""
    book = project.playbooks.get(entity)
    if book is None:
        return None
    for name, routine in book.routines.items():
        for step in routine.steps:
            if step.backup is not None and step.backup.action == "drill" and (
                    not step.backup.names or backup.name in step.backup.names):
                return f"{entity}/{name}"
    return None


def drill_command(project: Project, entity: str, backup: Backup) -> str:
    """Return what a person runs to restore-test ``backup``: its entity's drill routine, guided, when there is one,
    else ``itref backup drill NAME``."""
    routine = drill_routine(project, entity, backup)
    if routine is not None:
        return f"itref playbook run {routine} --guided"
    return f"itref backup drill --entity {shlex.quote(entity)} {shlex.quote(backup.name)}"


@dataclass(frozen=True)
class DrillDue:
    """Where a backup stands against its drill policy."""

    every: timedelta
    every_text: str
    """The interval as written in the playbook (or the default), e.g. ``92d``."""
    last_good: datetime | None
    """When the last successful restore test happened (None: never)."""
    overdue: bool
    """Never restore-tested, or the last successful test is older than ``every``."""
    command: str
    """What fixes it (see :func:`drill_command`)."""


def drill_due(project: Project, entity: str, backup: Backup, host: HostSpec, last_good: datetime | None,
              now: datetime) -> DrillDue | None:
    """Return where ``backup`` stands against its drill policy, None when itref cannot restore-test it (see
    :func:`testable`): there is then no policy itref can enforce."""
    if not testable(backup, host):
        return None
    text = drill_every(backup)
    every = parse_duration(text)
    overdue = last_good is None or now - last_good > every
    return DrillDue(every, text, last_good, overdue, drill_command(project, entity, backup))
