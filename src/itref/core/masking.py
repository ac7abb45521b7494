"""Masking: every secret value revealed in this process is replaced by ``***`` in any text that leaves it.

:class:`itref.secrets.Secret` remembers each value it wraps here; output, errors, the journal and the state
folder go through :func:`mask`.
"""

from __future__ import annotations

import threading

MASK = "***"
_revealed: set[str] = set()
_lock = threading.Lock()


def remember(value: str) -> None:
    """Have ``value`` masked from now on (values shorter than 3 characters are not: they would mask too much)."""
    if len(value) >= 3:
        with _lock:
            _revealed.add(value)


def forget() -> None:
    """Forget every value remembered so far: the start of a new run in a process that runs several (the test
    suite runs itref in-process, test after test; one test's secrets must not mask another's ids)."""
    with _lock:
        _revealed.clear()


def mask(text: str) -> str:
    """Return ``text`` with every secret value revealed so far replaced by ``***``."""
    if not text:
        return text
    with _lock:
        values = sorted(_revealed, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text
