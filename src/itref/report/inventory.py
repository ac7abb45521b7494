"""Render the inventory and playbooks for people (Rich tree) and machines (JSON)."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from rich.tree import Tree

from itref.config.project import Project
from itref.config.schema import Playbook
from itref.connectors.base import HostSpec
from itref.i18n import _, ngettext


def inventory_tree(project: Project) -> Tree:
    """Return a tree: organisation → entities (title, OU) → hosts (connection, address, tags)."""
    inv = project.inventory
    root = Tree(Text(inv.organisation, style="bold"))
    for name, entity in inv.entities.items():
        label = Text.assemble((name, "bold cyan"), f" — {entity.title}")
        if entity.ou:
            label.append(f"  [{entity.ou}]", style="dim")
        branch = root.add(label)
        for contact in entity.contacts:
            bits = [b for b in (contact.name, contact.email, contact.phone) if b]
            branch.add(Text(_("contact: ") + ", ".join(bits), style="dim"))
        for host in [h for h in project.hosts if h.entity == name]:
            where = host.address if host.connection != "local" else _("this machine")
            line = Text.assemble((host.name, "bold"), f"  {host.connection} → {where}")
            port = _set_port(host)
            if port:
                line.append(f":{port}")
            if host.tags:
                line.append("  " + " ".join(f"#{t}" for t in host.tags), style="green")
            branch.add(line)
    return root


def _set_port(host: HostSpec) -> int | None:
    """Return the port the inventory sets for ``host``, None when it is its connection kind's default."""
    port = getattr(host.settings, "port", None)
    if port is None:
        return None
    field = type(host.settings).model_fields.get("port")
    return None if field is not None and port == field.default else port


def inventory_dict(project: Project) -> dict[str, Any]:
    """Return the inventory as plain data (secret references described, never resolved)."""
    inv = project.inventory
    return {
        "organisation": inv.organisation,
        "entities": {
            name: {
                "title": e.title, "ou": e.ou, "contacts": [c.model_dump(exclude_none=True) for c in e.contacts],
                "hosts": {
                    h.name: {"connection": h.connection, "address": h.address, "port": _set_port(h),
                             "user": getattr(h.settings, "user", None), "tags": list(h.tags)}
                    for h in project.hosts if h.entity == name},
            } for name, e in inv.entities.items()},
        "secrets": {name: ref.describe() for name, ref in inv.secrets.items()},
        "playbooks": sorted(project.playbooks),
    }


def summary(project: Project) -> str:
    """Return a one-line count of entities, hosts and playbooks."""
    n_e, n_h, n_p = len(project.inventory.entities), len(project.hosts), len(project.playbooks)
    return ", ".join([ngettext("{n} entity", "{n} entities", n_e).format(n=n_e),
                      ngettext("{n} host", "{n} hosts", n_h).format(n=n_h),
                      ngettext("{n} playbook", "{n} playbooks", n_p).format(n=n_p)])


def playbook_tree(book: Playbook, routine: str | None = None) -> Tree:
    """Return a tree of one playbook: routines with numbered steps, templates, backups, notes."""
    root = Tree(Text.assemble((book.entity, "bold cyan"), f" — {book.title}" if book.title else ""))
    routines = {routine: book.routines[routine]} if routine else book.routines
    if routines:
        branch = root.add(Text(_("Routines"), style="bold"))
        for name, r in routines.items():
            node = branch.add(Text.assemble((name, "bold"), f" — {r.description}",
                                            (f"  ({r.schedule})" if r.schedule else "", "dim")))
            for i, step in enumerate(r.steps, 1):
                node.add(Text(f"{i}. [{step.kind}] {step.description}"))
    if routine:
        return root
    if book.accounts.templates:
        branch = root.add(Text(_("Account templates"), style="bold"))
        for name, t in book.accounts.templates.items():
            branch.add(Text(f"{name}: {t.ou} — {', '.join(t.groups) or '-'}"))
    if book.backups:
        branch = root.add(Text(_("Backups"), style="bold"))
        for b in book.backups:
            where = b.repository or b.path or b.job or ""
            branch.add(Text(f"{b.name} ({b.kind}) {b.host or _('this machine')}: {where}"))
    if book.handover.notes:
        branch = root.add(Text(_("Handover notes"), style="bold"))
        for note in book.handover.notes:
            branch.add(Text(note))
    return root


def to_json(data: Any) -> str:
    """Return ``data`` as indented JSON (dates and paths as text)."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
