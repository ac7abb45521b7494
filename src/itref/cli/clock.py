"""The moment a command takes as "now": the clock, or the hidden ``--now`` option the tests pass (so that a change
scheduled for 18:00 is applied "at 18:00" without waiting, and a routine's schedule is judged on a chosen day)."""

from __future__ import annotations

from datetime import UTC, datetime

from itref.i18n import _

NOW_HELP = "For tests: take this moment (ISO 8601, local time unless it says) as now."
"""Help of the hidden ``--now`` options (never shown: not translated)."""


def moment(text: str | None) -> datetime:
    """Return the moment ``text`` names (local time when it gives no offset), or the current time when None.
    Raises UsageError for a text that is not a date and time."""
    if text is None:
        return datetime.now(UTC).astimezone()
    from itref.core.errors import UsageError

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(_("--now '{text}' is not a date and time (2026-12-04T18:00)").format(text=text)) from None
    return when.astimezone() if when.tzinfo is None else when
