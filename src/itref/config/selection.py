"""Host selection for ``--limit``: names, globs, ``entity:NAME``, ``tag:NAME``, ``,`` for union, ``!`` to exclude."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Sequence
from typing import TYPE_CHECKING

from itref.core.errors import UsageError
from itref.i18n import _

if TYPE_CHECKING:
    from itref.connectors.base import HostSpec


class SelectionError(UsageError):
    """A --limit expression names something unknown or selects no host."""


def select(hosts: Sequence[HostSpec], expression: str | None) -> list[HostSpec]:
    """Return the hosts matched by ``expression``, in inventory order (all hosts when it is empty).

    Every positive term must match at least one host, and so must the whole expression.
    Raises SelectionError otherwise, naming the term and suggesting a close name.
    """
    if not expression or not expression.strip():
        return list(hosts)
    terms = [t.strip() for t in expression.split(",") if t.strip()]
    include = [t for t in terms if not t.startswith("!")]
    exclude = [t[1:].strip() for t in terms if t.startswith("!")]
    chosen: set[str] = set() if include else {h.name for h in hosts}
    for term in include:
        matched = _match(hosts, term)
        if not matched:
            raise SelectionError(_no_match(hosts, term))
        chosen |= matched
    for term in exclude:
        chosen -= _match(hosts, term, strict=True)
    result = [h for h in hosts if h.name in chosen]
    if not result:
        raise SelectionError(_("--limit '{expr}' selects no host").format(expr=expression))
    return result


def _match(hosts: Sequence[HostSpec], term: str, strict: bool = False) -> set[str]:
    kind, _sep, value = term.partition(":") if term.startswith(("entity:", "tag:")) else ("", "", term)
    if kind == "entity":
        found = {h.name for h in hosts if h.entity == value}
        if not found and value not in {h.entity for h in hosts}:
            raise SelectionError(_("unknown entity '{name}' in --limit").format(name=value)
                                 + _hint(value, {h.entity for h in hosts}))
        return found
    if kind == "tag":
        found = {h.name for h in hosts if value in h.tags}
        if not found:
            raise SelectionError(_("no host has the tag '{name}'").format(name=value)
                                 + _hint(value, {t for h in hosts for t in h.tags}))
        return found
    found = {h.name for h in hosts if fnmatch.fnmatchcase(h.name, term)}
    if strict and not found:
        raise SelectionError(_no_match(hosts, term))
    return found


def _hint(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return " " + _("(did you mean '{hint}'?)").format(hint=close[0]) if close else ""


def _no_match(hosts: Sequence[HostSpec], term: str) -> str:
    return _("'{term}' matches no host").format(term=term) + _hint(term, {h.name for h in hosts})
