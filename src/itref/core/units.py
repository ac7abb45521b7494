"""Durations (``26h``, ``90d``) and sizes (``1MB``, ``1.5 GiB``) as written in the YAML files."""

from __future__ import annotations

import re
from datetime import timedelta

from itref.i18n import _

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([kmgtp]?i?b?|[kmgtp]?o)\s*$", re.IGNORECASE)
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_duration(text: str | int | float) -> timedelta:
    """Return the timedelta for ``text`` (``30s``, ``15m``, ``26h``, ``90d``, ``2w``; a bare number is seconds).

    Raises ValueError with a readable message when the text is not a duration.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(seconds=text)
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(_("'{text}' is not a duration; write e.g. 30s, 15m, 26h, 90d or 2w").format(text=text))
    return timedelta(seconds=float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()])


def parse_size(text: str | int) -> int:
    """Return the number of bytes for ``text`` (``1MB`` = 10**6, ``1MiB`` = 2**20, ``1,5 Go``; a bare number is bytes).

    Raises ValueError with a readable message when the text is not a size.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(_("'{text}' is not a size; write e.g. 500KB, 1MB, 1.5GB or 2GiB").format(text=text))
    number = float(m.group(1).replace(",", "."))
    unit = m.group(2).lower()
    base = 1024 if "i" in unit else 1000
    power = _SIZE_POWERS[unit[:1] if unit[:1] in "kmgtp" else ""]
    return int(number * base**power)
