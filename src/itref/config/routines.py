"""Cross-checks of the playbooks that the schema alone cannot make: what would make a routine fail halfway, or
an account template fail at its first use, is an error when the files are loaded, located as file:line:col.

Checked here, for every routine as it runs (includes expanded, as :func:`itref.runner.routine.flatten` does):

- ``include``: ``NAME`` (this entity) or ``ENTITY/NAME`` must exist; includes must not go round in a circle
  (a routine including itself, a → b → a, across entities too);
- step ``id``: unique within a routine;
- ``when``: ``[not] STEP_ID ok|failed|skipped|stopped``, about a step that comes before it in the routine as it
  runs (an unknown or later step would make the condition silently never hold);
- ``{name}`` placeholders in a ``run`` command, a ``manual`` instruction and ``ad`` parameters: declared in the
  routine's ``ask:`` or ``vars:`` (an included routine is run with the parameters of the routine including it);
- ``ask`` ``pattern``: a valid regular expression;
- ``ad`` steps: a known action with the parameters it needs; ``backup`` steps: backups of the entity; ``audit``
  steps: check ids or globs that match a check;
- account templates: the login rule's placeholders, the UPN suffix, and an OU inside the directory's base DN.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from itref.config.schema import Inventory, Playbook, Routine, Step
from itref.config.yamlfile import Document, Loc
from itref.core.errors import ConfigIssue
from itref.i18n import _

PLACEHOLDER = re.compile(r"\{(\w+)\}")
"""A parameter in a step's text, as :func:`itref.runner.routine.substitute` replaces it."""
STATUSES = ("ok", "failed", "skipped", "stopped")
"""What a ``when`` condition can ask about an earlier step."""

Key = tuple[str, str]
"""(entity, routine name)."""


@dataclass(frozen=True)
class _Flat:
    """A step of a routine as it runs: its own routine and position, and the include step of the routine being
    run that brought it (None for the routine's own steps)."""

    key: Key
    index: int
    step: Step
    via: int | None


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return " " + _("(did you mean '{hint}'?)").format(hint=close[0]) if close else ""


class _Checker:
    def __init__(self, books: dict[str, Playbook], docs: dict[str, Document], inventory: Inventory,
                 refused: set[str]) -> None:
        self.books, self.docs, self.inventory, self.refused = books, docs, inventory, refused
        self.issues: list[ConfigIssue] = []
        self._seen: set[tuple[str, int, int, str]] = set()

    def issue(self, entity: str, loc: Loc, message: str) -> None:
        """Record ``message`` at ``loc`` of the playbook of ``entity`` (once, however often it is found)."""
        found = self.docs[entity].issue(loc, message)
        mark = (found.file, found.line, found.column, found.message)
        if mark not in self._seen:  # a routine included by several others is reported once
            self._seen.add(mark)
            self.issues.append(found)

    def at(self, key: Key, loc: Loc, message: str) -> None:
        """Record ``message`` at ``loc`` inside the routine ``key``."""
        self.issue(key[0], ("routines", key[1], *loc), message)

    def routine(self, key: Key) -> Routine | None:
        book = self.books.get(key[0])
        return book.routines.get(key[1]) if book is not None else None

    def target(self, key: Key, include: str) -> Key:
        entity, _sep, name = include.rpartition("/")
        return (entity or key[0], name)

    # ---------------------------------------------------------------- includes

    def includes(self) -> None:
        for key in self.keys():
            routine = self.routine(key)
            assert routine is not None
            for i, step in enumerate(routine.steps):
                if step.include is None:
                    continue
                target = self.target(key, step.include)
                if self.routine(target) is None and target[0] in self.refused:
                    continue  # its playbook has errors of its own, reported: its routines are not known
                if self.routine(target) is None:
                    known = (sorted(f"{e}/{n}" for e, b in self.books.items() for n in b.routines)
                             if "/" in step.include else sorted(self.books[key[0]].routines))
                    self.at(key, ("steps", i, "include"), _("unknown routine '{name}'").format(name=step.include)
                            + _did_you_mean(step.include, known))
                    continue
                chain = self.path(target, key)
                if chain is not None:
                    message = (_("a routine cannot include itself") if target == key else
                               _("routines include each other in a circle: {chain}").format(
                                   chain=" → ".join(f"{e}/{n}" for e, n in [key, *chain])))
                    self.at(key, ("steps", i, "include"), message)

    def keys(self) -> Iterator[Key]:
        for entity, book in self.books.items():
            for name in book.routines:
                yield entity, name

    def path(self, start: Key, goal: Key) -> list[Key] | None:
        """Return the routines from ``start`` to ``goal`` following includes (None when ``goal`` is not reached)."""
        todo: list[list[Key]] = [[start]]
        seen = {start}
        while todo:
            chain = todo.pop(0)
            if chain[-1] == goal:
                return chain
            routine = self.routine(chain[-1])
            for step in routine.steps if routine is not None else []:
                if step.include is not None:
                    nxt = self.target(chain[-1], step.include)
                    if nxt not in seen and self.routine(nxt) is not None:
                        seen.add(nxt)
                        todo.append([*chain, nxt])
        return None

    def flatten(self, key: Key) -> tuple[list[_Flat], bool]:
        """Return the routine's steps as it runs, and whether that is all of them: an unknown include, or one
        going round in a circle (both reported on their own), is left out."""
        out: list[_Flat] = []
        complete = True

        def walk(current: Key, via: int | None, stack: tuple[Key, ...]) -> None:
            nonlocal complete
            routine = self.routine(current)
            if routine is None or current in stack:
                complete = False
                return
            for i, step in enumerate(routine.steps):
                if step.include is not None:
                    walk(self.target(current, step.include), i if via is None else via, (*stack, current))
                else:
                    out.append(_Flat(current, i, step, via))

        walk(key, None, ())
        return out, complete

    # ---------------------------------------------------------------- steps

    def ids(self) -> None:
        for key in self.keys():
            routine = self.routine(key)
            assert routine is not None
            first: dict[str, int] = {}
            for i, step in enumerate(routine.steps):
                if step.id is None:
                    continue
                if step.id in first:
                    self.at(key, ("steps", i, "id"), _(
                        "two steps of this routine have the id '{id}' (steps {a} and {b}); a 'when' could not tell "
                        "them apart").format(id=step.id, a=first[step.id] + 1, b=i + 1))
                first.setdefault(step.id, i)

    def conditions(self, key: Key, steps: list[_Flat], complete: bool) -> None:
        """Check every ``when`` of the routine ``key`` as it runs (``steps``; not ``complete`` when an include
        could not be followed: a step id may then be in the part left out)."""
        for n, flat in enumerate(steps):
            when = flat.step.when
            if when is None:
                continue
            loc: Loc = ("steps", flat.index, "when")
            words = when.split()
            if words[:1] == ["not"]:
                words = words[1:]
            if len(words) != 2 or words[1] not in STATUSES:
                self.at(flat.key, loc, _(
                    "cannot read the condition 'when: {when}' (write 'STEP_ID failed', or ok, skipped, stopped; "
                    "'not' may come first)").format(when=when))
                continue
            before = {s.step.id for s in steps[:n] if s.step.id}
            after = {s.step.id for s in steps[n:] if s.step.id}
            alone = "" if flat.key == key else " " + _("(when {routine} runs)").format(routine="/".join(key))
            if words[0] in after and words[0] not in before:
                self.at(flat.key, loc, _("'when' refers to the step '{id}', which comes after this one: the "
                                            "condition could never hold").format(id=words[0]) + alone)
            elif words[0] not in before and complete:
                self.at(flat.key, loc, _("unknown step '{id}' in 'when' (the steps before this one with an id: "
                                            "{known})").format(id=words[0], known=", ".join(sorted(before)) or "-")
                           + _did_you_mean(words[0], sorted(before)) + alone)

    def parameters(self, key: Key, routine: Routine, steps: list[_Flat]) -> None:
        """Check that every ``{name}`` the routine ``key`` substitutes is declared in its ``ask:`` or ``vars:``."""
        declared = sorted({*routine.vars, *routine.ask})
        for flat in steps:
            for loc, name in _placeholders(flat.step):
                if name in declared:
                    continue
                if flat.via is None:
                    self.at(key, ("steps", flat.index, *loc), _(
                        "{{{name}}} is not a parameter of this routine: declare it under ask: or vars: (declared: "
                        "{declared})").format(name=name, declared=", ".join(declared) or "-")
                        + _did_you_mean(name, declared))
                else:
                    self.at(key, ("steps", flat.via, "include"), _(
                        "the included routine {routine} uses {{{name}}}, which this routine does not declare under "
                        "ask: or vars: (an included routine gets the parameters of the one that includes it)").format(
                        routine="/".join(flat.key), name=name))

    def actions(self, key: Key, steps: list[_Flat]) -> None:
        """Check the ``ad`` and ``backup`` steps of the routine ``key`` as it runs (with its entity)."""
        from itref.ad.actions import NEEDS

        book = self.books[key[0]]
        backups = [b.name for b in book.backups]
        for flat in steps:
            step = flat.step
            if step.ad is not None:
                here: Loc = ("steps", flat.index, "ad")
                if step.ad.action not in NEEDS:
                    self.at(flat.key, (*here, "action"), _("unknown ad action '{action}' (known: {known})").format(
                        action=step.ad.action, known=", ".join(NEEDS)) + _did_you_mean(step.ad.action, list(NEEDS)))
                else:
                    missing = [n for n in NEEDS[step.ad.action] if step.ad.params.get(n) in (None, "")]
                    if missing:
                        self.at(flat.key, (*here, "params"), _("the ad step '{action}' needs: {names}").format(
                            action=step.ad.action, names=", ".join(missing)))
                    ref = step.ad.params.get("template")
                    if step.ad.action == "user create" and isinstance(ref, str) and not PLACEHOLDER.search(ref):
                        entity, _sep, role = ref.rpartition("/")
                        book_of = self.books.get(entity or key[0])
                        if book_of is None or role not in book_of.accounts.templates:
                            known = [f"{e}/{r}" for e, b in self.books.items() for r in b.accounts.templates]
                            self.at(flat.key, (*here, "params", "template"), _(
                                "unknown account template '{ref}' (templates: {known})").format(
                                ref=ref, known=", ".join(known) or "-"))
            if step.audit is not None and step.audit.checks:
                self.audit_checks(flat.key, ("steps", flat.index, "audit", "checks"), step.audit.checks)
            if step.backup is not None and step.backup.names:
                unknown = [n for n in step.backup.names if n not in backups]
                if unknown:
                    alone = "" if flat.key == key else " " + _("(when {routine} runs)").format(routine="/".join(key))
                    self.at(flat.key, ("steps", flat.index, "backup", "names"), _(
                        "no backup called {names} in the playbook of {entity} (its backups: {known})").format(
                        names=", ".join(unknown), entity=key[0], known=", ".join(backups) or "-") + alone)

    def audit_checks(self, key: Key, loc: Loc, patterns: list[str]) -> None:
        """Check that each audit step pattern names at least one check (the registry is loaded only then)."""
        import fnmatch

        from itref.registries import audit_check_ids

        ids = audit_check_ids()
        for i, pattern in enumerate(patterns):
            if not any(fnmatch.fnmatchcase(c, pattern) for c in ids):
                self.at(key, (*loc, i), _("no audit check matches '{pattern}'").format(pattern=pattern)
                        + _did_you_mean(pattern, ids))

    def asks(self) -> None:
        for key in self.keys():
            routine = self.routine(key)
            assert routine is not None
            for name, spec in routine.ask.items():
                if spec.pattern is None:
                    continue
                try:
                    re.compile(spec.pattern)
                except re.error as exc:
                    self.at(key, ("ask", name, "pattern"), _(
                        "'{pattern}' is not a valid regular expression ({reason})").format(
                        pattern=spec.pattern, reason=exc))

    # ---------------------------------------------------------------- account templates

    def templates(self) -> None:
        from itref.ad.client import split_dn
        from itref.ad.naming import check_rule, upn_problems

        directory = self.inventory.directory
        base = [p.lower() for p in split_dn(directory.base_dn)] if directory is not None else None
        for entity, book in self.books.items():
            for role, tmpl in book.accounts.templates.items():
                here: Loc = ("accounts", "templates", role)
                try:
                    check_rule(tmpl.username)
                except ValueError as exc:
                    self.issue(entity, (*here, "username"), str(exc))
                if tmpl.upn_suffix and upn_problems(f"x@{tmpl.upn_suffix}"):
                    self.issue(entity, (*here, "upn_suffix"), _(
                        "'{suffix}' is not a DNS suffix for user principal names (e.g. exemple.example)").format(
                        suffix=tmpl.upn_suffix))
                if base is not None:
                    assert directory is not None
                    ou = [p.lower() for p in split_dn(tmpl.ou)]
                    if len(ou) <= len(base) or ou[-len(base):] != base:
                        self.issue(entity, (*here, "ou"), _(
                            "the OU {ou} is not inside the directory's base DN {base} (inventory directory.base_dn): "
                            "no account could be created there").format(ou=tmpl.ou, base=directory.base_dn))

    def run(self) -> list[ConfigIssue]:
        self.includes()
        self.ids()
        self.asks()
        self.templates()
        for key in self.keys():
            steps, complete = self.flatten(key)
            routine = self.routine(key)
            assert routine is not None
            self.conditions(key, steps, complete)
            self.parameters(key, routine, steps)
            self.actions(key, steps)
        return self.issues


def _placeholders(step: Step) -> list[tuple[Loc, str]]:
    """Return (location inside the step, name) of every ``{name}`` the runner substitutes in ``step``."""
    found: list[tuple[Loc, str]] = []

    def walk(value: Any, loc: Loc) -> None:
        if isinstance(value, str):
            found.extend((loc, m.group(1)) for m in PLACEHOLDER.finditer(value))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, (*loc, i))
        elif isinstance(value, dict):
            for k, item in value.items():
                walk(item, (*loc, k))

    if step.run is not None:
        walk(step.run.command, ("run", "command"))
    if isinstance(step.manual, str):
        walk(step.manual, ("manual",))
    elif step.manual is not None:
        walk(step.manual.instruction, ("manual", "instruction"))
    if step.ad is not None:
        walk(step.ad.params, ("ad", "params"))
    return found


def check_routines(books: dict[str, Playbook], docs: dict[str, Document], inventory: Inventory,
                   refused: set[str] | None = None) -> list[ConfigIssue]:
    """Return every problem of the playbooks' routines and account templates that the schema cannot see (see the
    module docstring), each located in its file; ``docs`` are the playbooks' documents by entity, ``refused`` the
    entities whose playbook the schema refused (an include into one of them is not reported as unknown)."""
    return _Checker(books, docs, inventory, refused or set()).run()
