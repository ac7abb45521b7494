"""What a check is: an id, plain-language texts, default thresholds, and a body per platform.

A host check contributes a small script (POSIX sh for Linux, PowerShell for Windows) to the one
script sent to each host; its ``evaluate`` function then turns that script's output into findings
on the itref side. Checks without a host (network, directory, backups) implement ``run`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from itref.core.findings import Finding, Severity, Topic

if TYPE_CHECKING:
    from itref.connectors.base import HostSpec
    from itref.context import RunContext


@dataclass(frozen=True)
class Facts:
    """One check's raw output on one host, with what the evaluation needs to know."""

    host: HostSpec
    output: str
    rc: int
    thresholds: dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One audit check. ``linux``/``windows`` hold the fact-gathering script for that platform;
    ``evaluate`` reads the facts; ``run`` is for checks that need no host script."""

    id: str
    title: str
    why: str
    fix: str
    thresholds: dict[str, Any] = field(default_factory=dict)
    linux: str | None = None
    windows: str | None = None
    evaluate: Callable[[Check, Facts], list[Finding]] | None = None
    run: Callable[[Check, RunContext, dict[str, Any], set[str] | None], list[Finding]] | None = None
    """For host-less checks: ``run(check, ctx, thresholds, entities)``; ``entities`` limits the check to
    those entities (None: all of them)."""
    script_vars: Callable[[dict[str, Any]], dict[str, str]] | None = None
    """Shell variables the host script sets before this check's body, from the host's thresholds (settings the
    host needs, such as how long an answer may be reused); names must be valid shell identifiers."""
    how: str = ""
    """How it is measured, in words (a host check without it is described from its platform and thresholds)."""
    commands: tuple[str, ...] = ()
    """Commands that show or fix what it finds."""
    topics: Callable[[], tuple[Topic, ...]] | None = None
    """For a family whose findings carry their own ids (``directory``: ``ad.stale-accounts``...): those ids'
    explanations (a function, so that only ``explain`` and the catalogue pay for building them)."""

    def topic(self) -> Topic:
        """Return this check's own explanation: its texts, how it is measured, and the commands to use."""
        from itref.i18n import _

        how = self.how
        if not how:
            where = ", ".join(self.platforms())
            how = _("Measured on each {platforms} host, in the one script the audit sends to it (one connection), "
                    "then judged by itref against the thresholds.").format(platforms=where)
        commands = self.commands or (f"itref audit --checks {self.id}", f"itref audit explain {self.id}")
        return Topic(self.id, self.title, self.why, how, self.fix, commands)

    def platforms(self) -> list[str]:
        """Return the platforms this check has a body for (linux, windows) or ['global']."""
        found = [p for p in ("linux", "windows") if getattr(self, p)]
        return found or ["global"]

    def finding(self, facts: Facts | None, severity: Severity, message: str, *, subject: str | None = None,
                evidence: dict[str, Any] | None = None, entity: str | None = None) -> Finding:
        """Return a finding of this check with its why and how-to-fix texts."""
        host = facts.host if facts else None
        return Finding(self.id, severity, message, self.why if severity.rank >= Severity.WARNING.rank else "",
                       self.fix if severity.rank >= Severity.WARNING.rank else "",
                       entity=entity or (host.entity if host else None), host=host.name if host else None,
                       subject=subject, evidence=evidence or {})


def level(value: float, warn: float, crit: float, *, higher_is_worse: bool = True) -> Severity:
    """Return OK, WARNING or CRITICAL for ``value`` against two thresholds."""
    if higher_is_worse:
        return Severity.CRITICAL if value >= crit else Severity.WARNING if value >= warn else Severity.OK
    return Severity.CRITICAL if value <= crit else Severity.WARNING if value <= warn else Severity.OK
