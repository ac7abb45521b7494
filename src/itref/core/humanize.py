"""Durations, ages and sizes in words people read ("3 days ago", "1.5 GB")."""

from __future__ import annotations

from datetime import timedelta

from itref.i18n import _, format_size, ngettext


def duration(delta: timedelta) -> str:
    """Return ``delta`` as "45 min", "5 h", "3 days" (rounded down to the largest unit)."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        n = seconds // 60
        return ngettext("{n} minute", "{n} minutes", n).format(n=n)
    if seconds < 2 * 86400:
        n = seconds // 3600
        return ngettext("{n} hour", "{n} hours", n).format(n=n)
    n = seconds // 86400
    return ngettext("{n} day", "{n} days", n).format(n=n)


def ago(delta: timedelta) -> str:
    """Return "3 days ago" for a past ``delta``."""
    return _("{duration} ago").format(duration=duration(delta))


def size(n: int | None) -> str:
    """Return a byte count as "512 B", "1.5 MB", "2.3 GB" (powers of 1000; "1,5 Mo" in French)."""
    return format_size(n)
