"""What ``itref status`` says: items (one line each, with the command to continue), grouped by entity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from itref.core.findings import Severity

KINDS = ("audit", "finding", "certificate", "backup", "routine", "run", "change", "waiver", "schedule", "state")
"""Kinds of item, in the order an entity's lines are shown."""


@dataclass(frozen=True)
class Item:
    """One thing a person may have to act on, in one translated line, and the command that continues it.

    ``when`` is the moment that matters (a due date, an expiry, the last run); ``data`` holds the facts behind
    the line for ``--format json`` (plain JSON values).
    """

    kind: str
    severity: Severity
    text: str
    command: str
    entity: str | None = None
    when: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the item as JSON-ready data."""
        return {"kind": self.kind, "severity": self.severity.value, "entity": self.entity, "text": self.text,
                "command": self.command, "when": self.when.isoformat(timespec="seconds") if self.when else None,
                "data": self.data}


@dataclass
class EntityStatus:
    """The items of one entity (``name`` None: the directory, the waivers of every host, this machine)."""

    name: str | None
    title: str
    items: list[Item] = field(default_factory=list)


@dataclass
class Status:
    """Everything ``itref status`` found, entity by entity, at ``now``."""

    organisation: str
    now: datetime
    operator: str
    entities: list[EntityStatus]
    general: EntityStatus

    def items(self) -> list[Item]:
        """Return every item, entity by entity, then the general ones."""
        return [i for e in self.entities for i in e.items] + list(self.general.items)

    @property
    def worst(self) -> Severity:
        """Return the worst severity among the items (OK when none)."""
        return max((i.severity for i in self.items()), key=lambda s: s.rank, default=Severity.OK)

    def of_kind(self, *kinds: str) -> list[Item]:
        """Return the items of these kinds, entity by entity."""
        return [i for i in self.items() if i.kind in kinds]

    def as_dict(self) -> dict[str, Any]:
        """Return the status as JSON-ready data."""
        return {"organisation": self.organisation, "now": self.now.isoformat(timespec="seconds"),
                "operator": self.operator, "worst": self.worst.value,
                "entities": [{"name": e.name, "title": e.title, "items": [i.as_dict() for i in e.items]}
                             for e in [*self.entities, self.general]]}
