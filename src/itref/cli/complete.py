"""Shell completion values read from the inventory: hosts, entity:/tag: selectors, entities, routines,
checks. Every function returns an empty list rather than fail (a broken inventory must not break the shell)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from itref.config.project import Project


def _project(ctx: Any) -> Project | None:
    root = ctx.find_root() if ctx is not None else None
    params = getattr(root, "params", {}) or {}
    path = params.get("inventory") or os.environ.get("ITREF_INVENTORY") or "inventory.yaml"
    try:
        from itref.config.project import load_project

        return load_project(Path(path), params.get("playbooks"))
    except Exception:  # completion must never raise into the shell
        return None


def _match(values: list[str], incomplete: str) -> list[str]:
    return [v for v in dict.fromkeys(values) if v.startswith(incomplete)]


def selectors(ctx: Any, incomplete: str) -> list[str]:
    """Complete a --limit expression: host names, entity:NAME, tag:NAME (after a comma or '!' too)."""
    project = _project(ctx)
    if project is None:
        return []
    head, sep, last = incomplete.rpartition(",")
    prefix = head + sep
    negate = "!" if last.startswith("!") else ""
    last = last[len(negate):]
    values = [h.name for h in project.hosts] + [f"entity:{e}" for e in project.inventory.entities] + \
        [f"tag:{t}" for h in project.hosts for t in h.tags]
    return [prefix + negate + v for v in _match(values, last)]


def hosts(ctx: Any, incomplete: str) -> list[str]:
    """Complete a host name."""
    project = _project(ctx)
    return _match([h.name for h in project.hosts], incomplete) if project else []


def entities(ctx: Any, incomplete: str) -> list[str]:
    """Complete an entity name."""
    project = _project(ctx)
    return _match(list(project.inventory.entities), incomplete) if project else []


def routines(ctx: Any, incomplete: str) -> list[str]:
    """Complete ENTITY/ROUTINE (or just ENTITY for playbook show)."""
    project = _project(ctx)
    if project is None:
        return []
    values = [f"{e}/{r}" for e, b in project.playbooks.items() for r in b.routines] + list(project.playbooks)
    return _match(values, incomplete)


def checks(ctx: Any, incomplete: str) -> list[str]:
    """Complete an audit check id."""
    try:
        from itref.audit.registry import all_checks

        return _match([c.id for c in all_checks()], incomplete)
    except Exception:
        return []
