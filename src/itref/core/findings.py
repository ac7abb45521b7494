"""Findings: what a check found, in plain words, with why it matters and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from itref.core.status import ExitStatus


class Severity(StrEnum):
    """How bad a finding is, from harmless to unknown (could not be checked)."""

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Return an order where a larger number is worse (unknown sits between warning and critical)."""
        return {"ok": 0, "info": 1, "warning": 2, "unknown": 3, "critical": 4}[self.value]


@dataclass(frozen=True)
class Finding:
    """One result of one check about one subject (an account, a host, a backup)."""

    check: str
    severity: Severity
    message: str
    why: str = ""
    fix: str = ""
    entity: str | None = None
    host: str | None = None
    subject: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    waiver: dict[str, str] | None = None
    """When a person accepted this finding for a while: reason, until, by (it then counts as OK)."""
    change: str | None = None
    """Compared with the previous audit: new, regressed, unchanged or improved (None when unknown)."""

    @property
    def key(self) -> str:
        """Return what identifies this finding from one run to the next."""
        return f"{self.check}|{self.entity or ''}|{self.host or ''}|{self.subject or ''}"

    @property
    def effective(self) -> Severity:
        """Return the severity that counts: OK while a waiver covers the finding."""
        return Severity.OK if self.waiver else self.severity

    @property
    def failing(self) -> bool:
        """Return True for an unwaived warning, unknown or critical finding."""
        return self.effective.rank >= Severity.WARNING.rank

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"check": self.check, "severity": self.severity.value, "entity": self.entity, "host": self.host,
                "subject": self.subject, "message": self.message, "why": self.why, "fix": self.fix,
                "evidence": self.evidence, "waiver": self.waiver, "change": self.change}


def severity_label(severity: Severity) -> str:
    """Return the translated, upper-case word for ``severity`` (OK, WARNING, CRITICAL...), as every output says it."""
    from itref.i18n import _

    return {Severity.OK: _("OK"), Severity.INFO: _("INFO"), Severity.WARNING: _("WARNING"),
            Severity.CRITICAL: _("CRITICAL"), Severity.UNKNOWN: _("UNKNOWN")}[severity]


def status_word(severity: Severity) -> str:
    """Return a severity as the upper-case word people read in a status line (INFO reads OK)."""
    return severity_label(Severity.OK if severity is Severity.INFO else severity)


def status_label(severity: Severity) -> str:
    """Return the word shown in front of a status line: an INFO line is something to do (TO DO), not a fault."""
    from itref.i18n import _

    return _("TO DO") if severity is Severity.INFO else status_word(severity)


@dataclass(frozen=True)
class Topic:
    """What one kind of finding means, for ``itref audit explain ID``: every check id a finding can carry has one
    (the audit checks' own, and the ids the directory, backup and reachability findings carry)."""

    id: str
    title: str
    why: str
    """Why it matters."""
    how: str
    """How it is measured."""
    fix: str
    """What to do."""
    commands: tuple[str, ...] = ()
    """Commands that show or fix it."""
    family: str | None = None
    """The audit check that produces it when that check has another id (``directory`` for ``ad.*``)."""


def no_entity_heading(check_ids: Iterable[str]) -> str:
    """Return the heading of findings tied to no entity: "Active Directory (whole domain)" when they all come from
    the directory (``ad.*``, ``directory``), "All entities (shared)" otherwise."""
    from itref.i18n import _

    ids = list(check_ids)
    if ids and all(i.startswith("ad.") or i == "directory" for i in ids):
        return _("Active Directory (whole domain)")
    return _("All entities (shared)")


def exit_status(severity: Severity) -> ExitStatus:
    """Return the exit status for the worst severity of a check run (OK and INFO are success)."""
    return {Severity.OK: ExitStatus.SUCCESS, Severity.INFO: ExitStatus.SUCCESS,
            Severity.WARNING: ExitStatus.CHECK_WARNING, Severity.UNKNOWN: ExitStatus.CHECK_UNKNOWN,
            Severity.CRITICAL: ExitStatus.CHECK_CRITICAL}[severity]


def worst(findings: list[Finding]) -> Severity:
    """Return the worst severity that counts among ``findings`` (waived ones count as OK; OK when none)."""
    return max((f.effective for f in findings), key=lambda s: s.rank, default=Severity.OK)
