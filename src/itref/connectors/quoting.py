"""Quoting arguments for the shell that will read them: POSIX sh or PowerShell.

Callers always pass argument lists; only these functions turn them into command lines.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Sequence

# PowerShell treats these as single quotes too, so each must be doubled inside a quoted string.
_PS_SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


def posix_join(argv: Sequence[str]) -> str:
    """Return ``argv`` as one POSIX shell line in which every argument stays one literal word."""
    return shlex.join(argv)


def powershell_quote(arg: str) -> str:
    """Return ``arg`` as a PowerShell single-quoted literal (no variable or subexpression expansion)."""
    out = arg
    for quote in _PS_SINGLE_QUOTES:
        out = out.replace(quote, quote * 2)
    return f"'{out}'"


def powershell_join(argv: Sequence[str]) -> str:
    """Return a PowerShell statement that calls ``argv[0]`` with the other items as literal arguments."""
    if not argv:
        raise ValueError("empty command")
    return "& " + " ".join(powershell_quote(a) for a in argv)


def powershell_encode(script: str) -> str:
    """Return ``script`` encoded for ``powershell -EncodedCommand`` (base64 of UTF-16LE)."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")
