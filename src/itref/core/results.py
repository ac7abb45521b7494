"""Result objects: what a command, a host and a whole run produced. Renderers only read these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from itref.core.status import ExitStatus


class Outcome(StrEnum):
    """How a task ended on one host."""

    OK = "ok"
    CHANGED = "changed"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class CommandResult:
    """The outcome of one command on one host.

    ``rc`` is the exit code (``None`` when the command never completed, e.g. on a timeout).
    A command stopped by itref (``timed_out``, or ``interrupted`` by Ctrl-C) has had every process it started
    on the host stopped, unless ``stop_error`` says why that could not be done.
    """

    rc: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    interrupted: bool = False
    stop_error: str | None = None

    @property
    def ok(self) -> bool:
        """Return True when the command completed with exit code 0."""
        return self.rc == 0 and not self.timed_out and not self.interrupted


@dataclass(frozen=True)
class HostResult:
    """What one task did on one host: its outcome, the command result if any, and a message."""

    host: str
    entity: str
    outcome: Outcome
    result: CommandResult | None = None
    error: str | None = None
    duration: float = 0.0

    @property
    def failed(self) -> bool:
        """Return True when the task failed or the host could not be reached."""
        return self.outcome in (Outcome.FAILED, Outcome.UNREACHABLE)

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict: host, entity, outcome, rc, stdout, stderr, duration, error."""
        r = self.result
        return {
            "host": self.host,
            "entity": self.entity,
            "outcome": self.outcome.value,
            "rc": r.rc if r else None,
            "stdout": r.stdout if r else "",
            "stderr": r.stderr if r else "",
            "duration": round(self.duration, 3),
            "error": self.error,
        }


@dataclass
class RunReport:
    """Every host's result for one run, in inventory order."""

    results: list[HostResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Problems that did not change any host's outcome (e.g. the journal could not be written)."""
    unrecorded: bool = False
    """The work was done but the state folder refused its journal records (full disk...)."""

    def add(self, result: HostResult) -> None:
        """Record one host's result."""
        self.results.append(result)

    def extend(self, results: Iterable[HostResult]) -> None:
        """Record several hosts' results."""
        self.results.extend(results)

    @property
    def failed_hosts(self) -> list[str]:
        """Return the names of hosts whose task failed or that were unreachable."""
        return [r.host for r in self.results if r.failed]

    def exit_status(self) -> ExitStatus:
        """Return SUCCESS when every host succeeded, UNREACHABLE when the only failures are
        unreachable hosts, FAILURE otherwise; STATE_UNUSABLE when the journal could not record the run."""
        if self.unrecorded:
            return ExitStatus.STATE_UNUSABLE
        outcomes = {r.outcome for r in self.results}
        if Outcome.FAILED in outcomes:
            return ExitStatus.FAILURE
        if Outcome.UNREACHABLE in outcomes:
            return ExitStatus.UNREACHABLE
        return ExitStatus.SUCCESS
