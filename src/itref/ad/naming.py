"""Login names from people's names: lowercase ASCII, a template rule, and a collision rule.

Rule placeholders: ``{first}``, ``{last}``, ``{first_initial}``, ``{last_initial}``.
Transliteration drops accents and apostrophes, keeps hyphens and dots, removes spaces:
``Émilie Lefèvre-D'Hondt`` with ``{first_initial}{last}`` gives ``elefevre-dhondt``.
Collision rule: when the login is taken, append 2, then 3, and so on (``elefevre-dhondt2``),
shortening the name so the whole stays within AD's 20-character sAMAccountName limit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from itref.i18n import _

MAX_LOGIN = 20
_SPECIAL = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
ALLOWED = ("first", "last", "first_initial", "last_initial")


def ascii_name(text: str) -> str:
    """Return ``text`` as lowercase ASCII letters, digits, '-' and '.', accents and apostrophes dropped."""
    lowered = text.strip().lower()
    lowered = "".join(_SPECIAL.get(ch, ch) for ch in lowered)
    decomposed = unicodedata.normalize("NFKD", lowered)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = re.sub(r"['\u2019\u2018`´\s]+", "", plain)
    plain = re.sub(r"[^a-z0-9.-]", "", plain)
    return re.sub(r"[-.]{2,}", "-", plain).strip("-.")


def check_rule(rule: str) -> None:
    """Raise ValueError when ``rule`` uses an unknown placeholder."""
    for name in _PLACEHOLDER.findall(rule):
        if name not in ALLOWED:
            raise ValueError(_("unknown placeholder {{{name}}} in the login rule (use {allowed})").format(
                name=name, allowed=", ".join("{" + a + "}" for a in ALLOWED)))


def render_login(rule: str, first: str, last: str) -> str:
    """Return the login the ``rule`` gives for ``first`` ``last`` (before any collision suffix).

    Raises ValueError when the result is empty (e.g. a name made only of symbols).
    """
    check_rule(rule)
    parts = {"first": ascii_name(first), "last": ascii_name(last)}
    parts["first_initial"] = parts["first"][:1]
    parts["last_initial"] = parts["last"][:1]
    login = ascii_name(_PLACEHOLDER.sub(lambda m: parts[m.group(1)], rule))
    if not login:
        raise ValueError(_("the login rule '{rule}' gives an empty name for '{first} {last}'").format(
            rule=rule, first=first, last=last))
    return login[:MAX_LOGIN]


def unique_login(base: str, taken: Callable[[str], bool]) -> str:
    """Return ``base``, or ``base`` + 2, 3... (shortened to fit 20 characters), whichever is free first."""
    if not taken(base):
        return base
    for n in range(2, 1000):
        suffix = str(n)
        candidate = base[: MAX_LOGIN - len(suffix)].rstrip("-.") + suffix
        if not taken(candidate):
            return candidate
    raise ValueError(_("no free login for {base}").format(base=base))


def render_pattern(pattern: str, first: str, last: str, login: str) -> str:
    """Return a mail or path pattern (``{first}.{last}@x``, ``\\\\srv\\home\\{login}``) filled in."""
    values = {"first": ascii_name(first), "last": ascii_name(last), "login": login,
              "first_initial": ascii_name(first)[:1], "last_initial": ascii_name(last)[:1]}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)
