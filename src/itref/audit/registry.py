"""The one place checks are registered. Built-in families are modules under ``itref.audit.checks``;
third-party ones are modules named by the ``itref.checks`` entry-point group, each calling
:func:`register` when imported."""

from __future__ import annotations

import fnmatch
import importlib

from itref.audit.base import Check
from itref.core.errors import UsageError
from itref.core.findings import Topic
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


def _reachable() -> Topic:
    return Topic(
        "audit.host.reachable", _("Host reachable for the audit"),
        _("Nothing is known about a machine the audit cannot reach: its disks, services and updates go unchecked."),
        _("Each audit opens one connection to each host (SSH, WinRM, or this machine) and runs one script there. "
          "OK when the host answered; UNKNOWN, with the reason (refused, timeout, host key, password), when it "
          "did not: its other checks could then not run."),
        _("Check that the machine is on and on the network, that its address, port, user and password in the "
          "inventory are right, and that its SSH host key is known (itref hosts trust HOST)."),
        ("itref run --limit HOST -- hostname", "itref hosts trust HOST", "itref inventory show"))


def topics() -> dict[str, Topic]:
    """Return the explanation of every id a finding can carry: each check's own id, the ids its findings carry
    when they have their own (``ad.*``, ``backup.*``), and ``audit.host.reachable``; sorted by id."""
    found: dict[str, Topic] = {}
    for check in all_checks():
        found[check.id] = check.topic()
        for sub in (check.topics() if check.topics is not None else ()):
            found[sub.id] = sub
    reachable = _reachable()
    found[reachable.id] = reachable
    from itref.registries import extra_topics

    for topic in extra_topics():  # itref hosts check's problems
        found.setdefault(topic.id, topic)
    return {k: found[k] for k in sorted(found)}


def explain(finding_id: str) -> Topic:
    """Return the explanation of ``finding_id`` (a check id or the id a finding carries). Raises UsageError naming
    close ids when none has it."""
    known = topics()
    if finding_id not in known:
        import difflib

        close = difflib.get_close_matches(finding_id, list(known), n=3)
        raise UsageError(_("unknown check '{id}'").format(id=finding_id)
                         + (" " + _("(did you mean {ids}?)").format(ids=", ".join(close)) if close else ""))
    return known[finding_id]
