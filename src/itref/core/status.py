"""The one exit-status enum of itref; ``docs/exit-codes.md`` documents each value."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes. The CLI maps exceptions and reports onto these in one place."""

    SUCCESS = 0
    """Everything asked for was done and every check passed."""
    FAILURE = 1
    """A task or check failed on at least one host (the others were still served)."""
    USAGE = 2
    """The command line is wrong: unknown option, bad --limit expression, missing argument."""
    INVALID_CONFIG = 3
    """The inventory or a playbook is invalid; every problem is printed as file:line:col."""
    UNREACHABLE = 4
    """A host or server could not be reached or refused us (network, host key, authentication)."""
    SECRET_UNAVAILABLE = 5
    """A secret reference could not be resolved (variable unset, file unreadable or too open...)."""
    CHECK_WARNING = 6
    """A check (audit, backup check, AD report) found something worth a look; nothing critical."""
    CHECK_CRITICAL = 7
    """A check found something critical (e.g. last night's backup is missing)."""
    CHECK_UNKNOWN = 8
    """A check could not be made (host unreachable, wrong password...) and nothing was critical."""
    STATE_UNUSABLE = 9
    """The project's state folder cannot be used: full, not writable, or readable by other accounts."""
    INTERNAL_ERROR = 70
    """A bug in itref; the message says how to get the details."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (SIGINT)."""
