"""Waivers: a person accepts a finding for a while, with a reason. Once the date passes, the finding fails
again. Each waiver is one YAML file of the state folder (``waivers/<check>[@host][+subject].yaml``), signed by
the person who decided it, so a reviewer sees the decision and its reason in a diff; every change is journaled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from itref.core.findings import Finding, Severity
from itref.i18n import _
from itref.state.documents import Documents
from itref.state.folder import StateFolder, slug
from itref.state.operator import display_name
from itref.state.records import now_text

KIND = "waivers"


@dataclass(frozen=True)
class Waiver:
    """Accept ``check`` (on ``host``, or on every host when None; about ``subject`` only, when given) until the
    end of ``until``, for ``reason``; decided by ``by`` (the person; None when unknown) on ``created``."""

    check: str
    host: str | None
    until: str
    reason: str
    by: str | None
    created: str
    subject: str | None = None
    account: str | None = None
    machine: str | None = None

    @property
    def who(self) -> str:
        """Return who decided it, for people."""
        return display_name(self.by, self.account) if (self.by or self.account) else "?"

    def covers(self, finding: Finding, today: date) -> bool:
        """Return True if this waiver applies to ``finding`` today."""
        return (finding.check == self.check and (self.host is None or finding.host == self.host)
                and (self.subject is None or finding.subject == self.subject)
                and date.fromisoformat(self.until) >= today)

    def expired(self, today: date) -> bool:
        """Return True once the waiver's last day has passed."""
        return date.fromisoformat(self.until) < today

    def as_document(self) -> dict[str, Any]:
        """Return the waiver as its YAML document (empty fields left out)."""
        data = {"check": self.check, "host": self.host, "subject": self.subject, "until": self.until,
                "reason": self.reason, "by": self.by, "account": self.account, "machine": self.machine,
                "created": self.created}
        return {k: v for k, v in data.items() if v is not None}


def document_name(check: str, host: str | None, subject: str | None = None) -> str:
    """Return the name of the file holding the waiver of ``check`` on ``host`` about ``subject``."""
    name = slug(check) + (f"@{slug(host)}" if host else "")
    if subject:
        name += "+" + hashlib.sha256(subject.encode("utf-8")).hexdigest()[:8]
    return name


class Waivers:
    """The waivers of a state folder: read, add, remove, and apply to findings."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state
        self.docs = Documents(state, KIND)

    @property
    def problems(self) -> list[Any]:
        """Return the waiver files the last :meth:`load` could not read (file:line: why)."""
        return self.docs.problems

    def load(self) -> list[Waiver]:
        """Return every readable waiver, expired ones included (unreadable files: see :attr:`problems`)."""
        out = []
        for name, data in self.docs.all():
            try:
                waiver = Waiver(check=str(data["check"]), host=data.get("host"), until=str(data["until"]),
                                reason=str(data.get("reason") or ""), by=data.get("by"),
                                created=str(data.get("created") or ""), subject=data.get("subject"),
                                account=data.get("account"), machine=data.get("machine"))
                date.fromisoformat(waiver.until)
            except (KeyError, TypeError, ValueError):
                self.docs.refuse(name, 1, _("not a waiver: it needs 'check:' and 'until:' (a date like 2027-03-31)"))
                continue
            out.append(waiver)
        return out

    def add(self, check: str, host: str | None, until: date, reason: str, subject: str | None = None) -> Waiver:
        """Record a waiver (replacing one for the same check, host and subject) and return it. Raises
        StateError."""
        op = self.state.operator
        waiver = Waiver(check, host, until.isoformat(), reason, op.name, now_text(), subject, op.account, op.machine)
        self.docs.write(document_name(check, host, subject), waiver.as_document())
        return waiver

    def get(self, check: str, host: str | None, subject: str | None = None) -> Waiver | None:
        """Return the readable waiver for ``check``, ``host`` and ``subject``, or None."""
        name = document_name(check, host, subject)
        return next((w for w in self.load() if document_name(w.check, w.host, w.subject) == name), None)

    def remove(self, check: str, host: str | None, subject: str | None = None) -> bool:
        """Remove the waiver for ``check``, ``host`` and ``subject``; return whether one existed."""
        try:
            return self.docs.remove(document_name(check, host, subject))
        except ValueError:  # a name no waiver can have (too long)
            return False

    def apply(self, findings: list[Finding], today: date | None = None) -> list[Finding]:
        """Return ``findings`` with the waiver attached to each finding a valid waiver covers."""
        today = today or date.today()
        waivers = [w for w in self.load() if not w.expired(today)]
        out = []
        for f in findings:
            match = next((w for w in waivers if w.covers(f, today)), None)
            out.append(replace(f, waiver={"reason": match.reason, "until": match.until, "by": match.who})
                       if match and f.severity.rank >= Severity.WARNING.rank else f)
        return out
