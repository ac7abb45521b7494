"""What ``itref hosts check`` found: per host (its system, its clock, its problems) and for the directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from itref.core.findings import Finding, Severity, worst

CLOCK_LIMIT = 300.0
"""Seconds of clock difference past which Kerberos refuses logons and backups are misdated (AD's default skew)."""

DIRECTORY = "directory"
"""The subject name of the directory's findings (it is no host of the inventory)."""


@dataclass
class HostCheck:
    """One host's result: how it is reached, its system, its clock, and every problem found (empty when well)."""

    host: str
    entity: str
    connection: str
    address: str
    findings: list[Finding] = field(default_factory=list)
    os: str | None = None
    """The system's name and version as it says it (``Debian GNU/Linux 12 (bookworm)``,
    ``Microsoft Windows Server 2019 Standard 10.0.17763``); None when the host could not be opened."""
    clock_offset: float | None = None
    """Seconds the host's clock is ahead of this machine's (negative: behind); None when not measured."""
    account: str | None = None
    """Who itref is on the host (``itref-lab``, ``srv01\\itref``)."""
    duration: float = 0.0

    @property
    def worst(self) -> Severity:
        """Return the worst severity among the findings (OK when none)."""
        return worst(self.findings)

    @property
    def problems(self) -> list[Finding]:
        """Return the findings that count as problems (warning, unknown, critical)."""
        return [f for f in self.findings if f.failing]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"host": self.host, "entity": self.entity, "connection": self.connection, "address": self.address,
                "os": self.os, "clock_offset": None if self.clock_offset is None else round(self.clock_offset, 3),
                "account": self.account, "worst": self.worst.value, "duration": round(self.duration, 3),
                "findings": [f.as_dict() for f in self.findings]}


@dataclass
class Report:
    """Every host's result, in the inventory's order, and the directory's findings (None: no directory)."""

    hosts: list[HostCheck]
    directory: list[Finding] | None
    checked: datetime
    duration: float = 0.0

    @property
    def findings(self) -> list[Finding]:
        """Return every finding: the hosts' in order, then the directory's."""
        return [f for h in self.hosts for f in h.findings] + list(self.directory or [])

    @property
    def problems(self) -> list[Finding]:
        """Return the findings that count as problems."""
        return [f for f in self.findings if f.failing]

    @property
    def worst(self) -> Severity:
        """Return the worst severity of the whole check (OK when nothing was found)."""
        return worst(self.findings)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"checked": self.checked.isoformat(timespec="seconds"), "duration": round(self.duration, 3),
                "worst": self.worst.value, "problems": len(self.problems),
                "hosts": [h.as_dict() for h in self.hosts],
                "directory": None if self.directory is None else [f.as_dict() for f in self.directory]}


def problem(check: str, severity: Severity, message: str, fix: str, *, host: str | None = None,
            entity: str | None = None, subject: str | None = None, **evidence: Any) -> Finding:
    """Return a finding of ``itref hosts check`` (``check`` such as ``hosts.login``) with what to do."""
    return Finding(check, severity, message, fix=fix, entity=entity, host=host, subject=subject,
                   evidence={k: v for k, v in evidence.items() if v is not None})
