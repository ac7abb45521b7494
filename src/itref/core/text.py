"""Untrusted text made safe to show on a terminal.

A CSV cell, a name read from the directory or a value from a playbook may hold terminal control sequences
(``ESC [2J`` clears the screen, ``ESC ]0;...BEL`` retitles the window, U+202E reverses the text that follows).
:func:`printable` writes each control character as an escape (``\\x1b``, ``\\u202e``) so the person sees
it instead of the terminal obeying it; every place that prints such data goes through it.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd]")
"""C0 and C1 control characters (ESC, BEL, NUL, newline, tab, DEL, CSI...), the line and paragraph separators,
the bidirectional overrides and isolates, and U+FFFD (what an undecodable byte became)."""
_LEFT_BY_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""The control characters ``json.dumps(ensure_ascii=False)`` writes as they are."""
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """Return ``text`` with every control character written as an escape (``\\x1b``, ``\\n``, ``\\u202e``);
    any other text is returned as it is."""
    return _CONTROL.sub(lambda m: _escape(m.group()), text)


def first_control(text: str) -> tuple[int, str] | None:
    """Return (1-based position, escape) of the first control character of ``text``, or None when it has none."""
    found = _CONTROL.search(text)
    return None if found is None else (found.start() + 1, _escape(found.group()))


def json_safe(text: str) -> str:
    """Return JSON ``text`` with the control characters ``json.dumps`` leaves as they are (DEL, C1 controls,
    U+2028, the bidirectional controls) written as ``\\uXXXX`` escapes: the same data, safe on a terminal.
    (Outside strings JSON holds only ASCII punctuation and white space, so every such character is inside a
    string; ``json.dumps`` has already escaped the C0 controls.)"""
    return _LEFT_BY_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
