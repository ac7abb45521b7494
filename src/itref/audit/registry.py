"""The one place checks are registered. Built-in families are modules under ``itref.audit.checks``;
third-party ones are modules named by the ``itref.checks`` entry-point group, each calling
:func:`register` when imported."""

from __future__ import annotations

import fnmatch
import importlib

from itref.audit.base import Check
from itref.core.errors import UsageError
from itref.i18n import _

BUILTIN_FAMILIES = ("linux", "windows", "network", "directory", "backups")
_checks: dict[str, Check] = {}
_loaded = False


def register(check: Check) -> Check:
    """Add ``check`` to the registry and return it. Raises ValueError for a duplicate id."""
    if check.id in _checks and _checks[check.id] is not check:
        raise ValueError(f"duplicate check id {check.id}")
    _checks[check.id] = check
    return check


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for family in BUILTIN_FAMILIES:
        importlib.import_module(f"itref.audit.checks.{family}")
    from importlib.metadata import entry_points

    for ep in entry_points(group="itref.checks"):
        ep.load()


def all_checks() -> list[Check]:
    """Return every registered check, sorted by id."""
    _load()
    return [_checks[k] for k in sorted(_checks)]


def get(check_id: str) -> Check:
    """Return the check ``check_id``. Raises UsageError naming close ids."""
    _load()
    if check_id not in _checks:
        import difflib

        close = difflib.get_close_matches(check_id, list(_checks), n=3)
        raise UsageError(_("unknown check '{id}'").format(id=check_id)
                         + (" " + _("(did you mean {ids}?)").format(ids=", ".join(close)) if close else ""))
    return _checks[check_id]


def select(patterns: list[str] | None) -> list[Check]:
    """Return the checks matching any of ``patterns`` (ids or globs); all checks when none is given.

    Raises UsageError when a pattern matches no check.
    """
    checks = all_checks()
    if not patterns:
        return checks
    chosen: list[Check] = []
    for pattern in patterns:
        matched = [c for c in checks if fnmatch.fnmatchcase(c.id, pattern)]
        if not matched:
            get(pattern)  # raises with a hint
        chosen += [c for c in matched if c not in chosen]
    return chosen
