"""The itref error hierarchy. Each error carries the exit status it maps to.

Messages are for people: they are already translated and never contain a secret value.
"""

from __future__ import annotations

from typing import NamedTuple

from itref.core.status import ExitStatus


class ItrefError(Exception):
    """Base of every error itref reports to a person instead of a traceback."""

    status: ExitStatus = ExitStatus.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def lines(self) -> list[str]:
        """Return the lines to print on stderr for this error."""
        return [self.message]


class UsageError(ItrefError):
    """The command line asks for something impossible (e.g. a --limit that matches nothing)."""

    status = ExitStatus.USAGE


class ConfigIssue(NamedTuple):
    """One problem in a YAML file, located as precisely as the file allows."""

    file: str
    line: int
    column: int
    where: str
    message: str

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}:{self.line}:{self.column}:{where} {self.message}"


class ConfigError(ItrefError):
    """The inventory or a playbook is invalid; holds every problem found, not just the first."""

    status = ExitStatus.INVALID_CONFIG

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column))
        super().__init__("\n".join(str(i) for i in self.issues))

    def lines(self) -> list[str]:
        return [str(i) for i in self.issues]


class SecretError(ItrefError):
    """A secret reference could not be turned into its value."""

    status = ExitStatus.SECRET_UNAVAILABLE


class ConnectionFailed(ItrefError):
    """A host or server could not be reached (DNS, refused, timeout, TLS)."""

    status = ExitStatus.UNREACHABLE


class AuthenticationFailed(ConnectionFailed):
    """The host answered but refused our credentials."""


class HostKeyRejected(ConnectionFailed):
    """The host's SSH key is unknown or changed; we refuse to talk to it."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run on hosts; ``lines`` say where the commands were stopped and where they could not be.

    A KeyboardInterrupt, so that nothing catching ItrefError (a routine step) mistakes it for a failure.
    """

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.summary = lines

    def lines(self) -> list[str]:
        """Return the lines to print on stderr."""
        return self.summary


class CommandTimeout(ItrefError):
    """A command did not finish within its timeout and was stopped."""

    status = ExitStatus.FAILURE


class StateError(ItrefError):
    """The project's state folder (journal, histories, waivers...) cannot be read or written as it must be:
    full, not writable, readable by other accounts, or a record in it is damaged beyond use."""

    status = ExitStatus.STATE_UNUSABLE


class NothingToTest(ItrefError):
    """A verify or restore drill was asked of a selection that holds nothing itref can test: that is not a pass."""

    status = ExitStatus.CHECK_UNKNOWN
