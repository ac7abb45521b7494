"""What the configuration asks of each host: the tools its audit checks and backups run, sudo for the routine
steps that use it, administrator rights on Windows. Read from the project only; nothing is contacted here."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.project import Project
    from itref.connectors.base import HostSpec

VEEAM_MODULE = "Veeam PowerShell"
"""The name under which the Veeam module (or the older snap-in) is asked for."""

CHECK_TOOLS: dict[str, tuple[str, ...]] = {
    "linux.systemd.failed": ("systemctl",),
    "linux.updates": ("apt-get", "dnf"),
    "linux.time.sync": ("timedatectl",),
}
"""Audit check → the programs it reads its facts with (any one of them is enough). Checks not listed read
/proc or run df, which every Linux has."""

BACKUP_TOOLS: dict[str, str] = {"restic": "restic", "borg": "borg", "wbadmin": "wbadmin", "veeam": VEEAM_MODULE}
"""Backup kind → what must be installed on the host its check runs on."""


@dataclass(frozen=True)
class Tool:
    """A program (one of ``names``) that something configured needs on a host, and for what (``purpose``)."""

    names: tuple[str, ...]
    purpose: str
    backup: bool
    """True when a backup check needs it (it then fails without it); False for an audit check (it then says
    'not applicable')."""


@dataclass
class Needs:
    """Everything a host must offer for what the playbooks configure on it."""

    tools: list[Tool] = field(default_factory=list)
    sudo_for: list[str] = field(default_factory=list)
    """The routine steps (``entity/routine step N``) that run on this host with ``sudo: true``."""
    admin_for: list[str] = field(default_factory=list)
    """What needs a Windows administrator (the audit's Windows checks, wbadmin)."""

    def probe_names(self) -> list[str]:
        """Return every program name to look for on the host, once each."""
        return list(dict.fromkeys(n for t in self.tools for n in t.names))


def platform(host: HostSpec) -> str:
    """Return ``windows`` or ``linux`` for a host, as the audit decides it."""
    from itref.audit.engine import platform as audit_platform

    return audit_platform(host)


def host_needs(project: Project, host: HostSpec) -> Needs:
    """Return what ``host`` must offer: tools of its audit checks and backups, sudo, Windows administrator."""
    from itref.audit.registry import all_checks
    from itref.config.selection import select
    from itref.core.errors import UsageError

    needs = Needs()
    family = platform(host)
    book = project.playbooks.get(host.entity)
    skip = book.audits.skip if book is not None else []
    applicable = [c for c in all_checks() if getattr(c, family)
                  and not any(fnmatch.fnmatchcase(c.id, pattern) for pattern in skip)]
    if family == "linux":
        for check in applicable:
            if check.id in CHECK_TOOLS:
                needs.tools.append(Tool(CHECK_TOOLS[check.id], _("the audit check {id}").format(id=check.id), False))
    elif applicable:
        needs.admin_for.append(_("the audit's Windows checks"))
    for entity, playbook in project.playbooks.items():
        for backup in playbook.backups:
            if backup.host != host.name:
                continue
            tool = BACKUP_TOOLS.get(backup.kind)
            if tool is not None:
                needs.tools.append(Tool((tool,), _("the backup {entity}/{name}").format(entity=entity,
                                                                                        name=backup.name), True))
            if backup.kind == "wbadmin":
                needs.admin_for.append(_("the backup {entity}/{name} (wbadmin)").format(entity=entity,
                                                                                         name=backup.name))
        for rname, routine in playbook.routines.items():
            for number, step in enumerate(routine.steps, 1):
                if step.run is None or not step.run.sudo:
                    continue
                try:
                    chosen = select(project.hosts, step.run.limit or f"entity:{entity}")
                except UsageError:
                    continue
                if host in chosen:
                    needs.sudo_for.append(_("{entity}/{routine} step {n}").format(entity=entity, routine=rname,
                                                                                   n=number))
    needs.tools = _merged(needs.tools)
    return needs


def _merged(tools: list[Tool]) -> list[Tool]:
    """Return ``tools`` with the needs of one program joined (two restic backups on a host: one need, both named)."""
    joined: dict[tuple[str, ...], Tool] = {}
    for tool in tools:
        seen = joined.get(tool.names)
        joined[tool.names] = tool if seen is None else Tool(
            tool.names, f"{seen.purpose}, {tool.purpose}", seen.backup or tool.backup)
    return list(joined.values())
