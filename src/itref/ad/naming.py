"""Login names from people's names: lowercase ASCII, a template rule, and a collision rule.

Rule placeholders: ``{first}``, ``{last}``, ``{first_initial}``, ``{last_initial}``.
Transliteration drops accents and apostrophes, keeps hyphens and dots, removes spaces:
``Émilie Lefèvre-D'Hondt`` with ``{first_initial}{last}`` gives ``elefevre-dhondt``.
Collision rule: when the login is taken, append 2, then 3, and so on (``elefevre-dhondt2``),
shortening the name so the whole stays within AD's 20-character sAMAccountName limit.

A login given as it is (an import's ``login`` column, ``--login``) is checked against what Windows refuses in a
sAMAccountName (:func:`login_problems`), and the user principal name it gives against the UPN syntax
(:func:`upn_problems`), before anything is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from itref.core.text import first_control, printable
from itref.i18n import _

MAX_LOGIN = 20
_SPECIAL = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
ALLOWED = ("first", "last", "first_initial", "last_initial")
FORBIDDEN_IN_LOGIN = '"/\\[]:;|=,+*?<>@'
"""Characters Windows refuses in a sAMAccountName, and ``@``, which would break the UPN ``login@suffix``."""
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


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
    login = login[:MAX_LOGIN].rstrip("-.")  # cut at 20 characters, never ending with a dot (Windows refuses it)
    if not login:
        raise ValueError(_("the login rule '{rule}' gives an empty name for '{first} {last}'").format(
            rule=rule, first=printable(first), last=printable(last)))
    return login


def login_problems(login: str) -> list[str]:
    """Return why ``login`` cannot be the sAMAccountName of an account (empty when it can): empty, longer than
    20 characters, holding a space, a control character or one of ``" / \\ [ ] : ; | = , + * ? < > @``, or
    ending with a dot."""
    shown = printable(login)
    if not login:
        return [_("the login is empty")]
    problems = []
    if len(login) > MAX_LOGIN:
        problems.append(_("the login '{login}' is {n} characters long; a Windows login has at most {max} "
                          "characters").format(
            login=shown, n=len(login), max=MAX_LOGIN))
    control = first_control(login)
    if control is not None:
        problems.append(_("the login '{login}' holds a control character ({char})").format(
            login=shown, char=control[1]))
    elif any(ch.isspace() for ch in login):
        problems.append(_("the login '{login}' holds a space").format(login=shown))
    bad = sorted({ch for ch in login if ch in FORBIDDEN_IN_LOGIN}, key=FORBIDDEN_IN_LOGIN.index)
    if bad:
        problems.append(_("the login '{login}' holds {chars}, which a Windows login cannot hold").format(
            login=shown, chars=" ".join(f"'{ch}'" for ch in bad)))
    if login.endswith("."):
        problems.append(_("the login '{login}' ends with a dot, which Windows refuses").format(login=shown))
    return problems


def upn_problems(upn: str) -> list[str]:
    """Return why ``upn`` is not a valid user principal name ``NAME@DNS.SUFFIX`` (empty when it is): one ``@``,
    a name without spaces, control characters, leading, trailing or doubled dots, and a DNS suffix."""
    name, sep, suffix = upn.rpartition("@")
    labels = suffix.split(".")
    wrong = (not sep or not name or "@" in name or first_control(upn) is not None
             or any(ch.isspace() for ch in upn) or name.startswith(".") or name.endswith(".") or ".." in name
             or len(upn) > 1024 or len(suffix) > 253 or not all(_DNS_LABEL.match(label) for label in labels))
    if not wrong:
        return []
    return [_("'{upn}' is not a valid user principal name (NAME@DNS.SUFFIX: no space, no control character, "
              "no dot at either end of the name nor two in a row)").format(upn=printable(upn))]


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
