"""Load the inventory and every playbook, validate them, and cross-check their references.

All problems of all files are collected and raised together as one :class:`ConfigError`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itref.config import yamlfile
from itref.config.schema import Inventory, Playbook
from itref.config.validate import validate
from itref.config.yamlfile import Document, Loc
from itref.connectors.base import HostSpec
from itref.core.errors import ConfigError, ConfigIssue
from itref.i18n import _

if TYPE_CHECKING:
    from itref.state.folder import StateFolder


@dataclass
class Project:
    """The validated inventory and playbooks, with their files for later error messages."""

    inventory: Inventory
    inventory_path: Path
    playbooks_dir: Path
    playbooks: dict[str, Playbook]
    playbook_files: dict[str, Path]
    hosts: list[HostSpec]

    def host(self, name: str) -> HostSpec | None:
        """Return the host called ``name``, or None."""
        return next((h for h in self.hosts if h.name == name), None)

    @cached_property
    def state(self) -> StateFolder:
        """Return the project's state folder (journal, histories, waivers...), beside the inventory unless the
        inventory's ``state:`` or ``$ITREF_STATE_DIR`` says otherwise. Nothing is created until a record is."""
        from itref.state.folder import StateFolder, locate

        inv = self.inventory
        return StateFolder(locate(self.inventory_path, inv.state), group=inv.state_group,
                           project_dir=self.inventory_path.absolute().parent)


def display_path(path: Path) -> str:
    """Return ``path`` relative to the working directory when it is below it (for error lines)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_project(inventory_path: Path, playbooks_dir: Path | None = None, *, playbooks: bool = True) -> Project:
    """Load, validate and cross-check the inventory and (unless ``playbooks=False``) the playbooks.

    Returns the project. Raises ConfigError listing every problem found in every file.
    """
    issues: list[ConfigIssue] = []
    doc, found = yamlfile.load(inventory_path, display_path(inventory_path))
    issues += found
    inventory: Inventory | None = None
    if doc is not None and not found:
        model, found = validate(Inventory, doc)
        issues += found
        inventory = model  # type: ignore[assignment]
    pdir = playbooks_dir or inventory_path.parent / "playbooks"
    if playbooks_dir is not None and not playbooks_dir.is_dir():
        issues.append(ConfigIssue(display_path(playbooks_dir), 1, 1, "", _("playbooks folder not found")))
    hosts: list[HostSpec] = []
    if inventory is not None and doc is not None:
        issues += _check_inventory(inventory, doc)
        hosts = _host_specs(inventory)
    books: dict[str, Playbook] = {}
    files: dict[str, Path] = {}
    docs: dict[str, Document] = {}
    refused: set[str] = set()  # entities whose playbook the schema refused: their routines are not known
    if playbooks and pdir.is_dir():
        for path in sorted([*pdir.glob("*.yaml"), *pdir.glob("*.yml")]):
            pdoc, found = yamlfile.load(path, display_path(path))
            issues += found
            if pdoc is None or found:
                continue
            if not isinstance(pdoc.data, dict):
                issues.append(pdoc.issue((), _("a playbook must be a mapping that starts with 'entity: NAME'")))
                continue
            book, found = validate(Playbook, pdoc)
            issues += found
            if book is None:
                refused.add(str(pdoc.data.get("entity")))
                continue
            assert isinstance(book, Playbook)
            if inventory is not None:
                issues += _check_playbook(book, pdoc, inventory, hosts)
            if book.entity in books:
                issues.append(pdoc.issue(("entity",), _("entity '{e}' already has a playbook: {f}").format(
                    e=book.entity, f=display_path(files[book.entity]))))
                continue
            books[book.entity] = book
            files[book.entity] = path
            docs[book.entity] = pdoc
    if inventory is not None:
        from itref.config.routines import check_routines

        issues += check_routines(books, docs, inventory, refused)
    if issues or inventory is None:
        raise ConfigError(issues)
    return Project(inventory, inventory_path, pdir, books, files, hosts)


def _secret_uses(data: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """Return (location, name) of every ``{secret: NAME}`` reference in raw YAML data."""
    found: list[tuple[Loc, str]] = []
    if isinstance(data, dict):
        if isinstance(data.get("secret"), str):
            found.append(((*loc, "secret"), data["secret"]))
        for key, value in data.items():
            found += _secret_uses(value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _secret_uses(value, (*loc, i))
    return found


def _check_secret_names(doc: Document, known: dict[str, Any], skip: Loc = ()) -> list[ConfigIssue]:
    issues = []
    for loc, name in _secret_uses(doc.data):
        if skip and loc[: len(skip)] == skip:
            continue
        if name not in known:
            issues.append(doc.issue(loc, _unknown(_("secret"), name, known)))
    return issues


def _unknown(kind: str, name: str, known: Any) -> str:
    import difflib

    message = _("unknown {kind} '{name}'").format(kind=kind, name=name)
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        message += " " + _("(did you mean '{hint}'?)").format(hint=close[0])
    return message


def _check_inventory(inv: Inventory, doc: Document) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for name, ref in inv.secrets.items():
        if ref.secret is not None:
            issues.append(doc.issue(("secrets", name, "secret"), _(
                "a named secret must say where it lives (env, file, keepass or prompt), not name another secret")))
    issues += _check_secret_names(doc, inv.secrets, ("secrets",))
    owner: dict[str, str] = {}
    for ename, entity in inv.entities.items():
        for hname in entity.hosts:
            if hname in owner:
                issues.append(doc.issue(("entities", ename, "hosts", hname), _(
                    "host '{host}' is already defined in entity '{other}'; host names must be unique").format(
                    host=hname, other=owner[hname]), at_key=True))
            else:
                owner[hname] = ename
    for ename, entity in inv.entities.items():
        for hname, host in entity.hosts.items():
            via = getattr(host, "via", None)
            if via is not None and via not in owner:
                loc = ("entities", ename, "hosts", hname, "via")
                issues.append(doc.issue(loc, _unknown(_("host"), via, owner)))
    via = getattr(getattr(inv.defaults, "ssh", None), "via", None)
    if via is not None and via not in owner:
        issues.append(doc.issue(("defaults", "ssh", "via"), _unknown(_("host"), via, owner)))
    hosts = {h: e.hosts[h] for e in inv.entities.values() for h in e.hosts}
    for ename, entity in inv.entities.items():
        for hname, host in entity.hosts.items():
            chain, current = [hname], getattr(host, "via", None)
            while current in hosts and current not in chain:
                chain.append(current)
                current = getattr(hosts[current], "via", None)
            if current in chain:
                issues.append(doc.issue(("entities", ename, "hosts", hname, "via"), _(
                    "jump hosts go round in a circle: {chain}").format(chain=" → ".join([*chain, current]))))
    return issues


def _check_playbook(book: Playbook, doc: Document, inv: Inventory, hosts: list[HostSpec]) -> list[ConfigIssue]:
    from itref.config.selection import SelectionError, select

    issues = _check_secret_names(doc, inv.secrets)
    if book.entity not in inv.entities:
        issues.append(doc.issue(("entity",), _unknown(_("entity"), book.entity, inv.entities)))
    names = {h.name for h in hosts}
    for i, backup in enumerate(book.backups):
        if backup.host is not None and backup.host not in names:
            issues.append(doc.issue(("backups", i, "host"), _unknown(_("host"), backup.host, names)))
    seen_backups: set[str] = set()
    for i, backup in enumerate(book.backups):
        if backup.name in seen_backups:
            issues.append(doc.issue(("backups", i, "name"), _("two backups are called '{name}'").format(
                name=backup.name)))
        seen_backups.add(backup.name)
    for rname, routine in book.routines.items():  # includes, conditions, parameters: config/routines.py
        for i, step in enumerate(routine.steps):
            here = ("routines", rname, "steps", i)
            limit = (step.run.limit if step.run else step.audit.limit if step.audit else
                     step.copy_.limit if step.copy_ else None)
            if limit:
                try:
                    select(hosts, limit)
                except SelectionError as exc:
                    kind = step.kind
                    issues.append(doc.issue((*here, kind, "limit"), exc.message))
    return issues


def _host_specs(inv: Inventory) -> list[HostSpec]:
    """Return every host of the inventory with its connection kind's settings (the host's own values over
    ``defaults.<connection>`` over the kind's defaults) and its jump host, in inventory order."""
    from itref.connectors import connectors

    specs = []
    for ename, entity in inv.entities.items():
        for hname, host in entity.hosts.items():
            kind = host.connection
            defaults = getattr(inv.defaults, kind, None)
            values = defaults.model_dump(exclude_none=True) if defaults is not None else {}
            values.update(host.model_dump(exclude_none=True, exclude={"address", "connection", "description",
                                                                      "tags"}))
            settings = connectors.get(kind).Settings.model_validate(values)
            specs.append(HostSpec(name=hname, entity=ename, connection=kind, address=host.address or hname,
                                  tags=tuple(host.tags), description=host.description, settings=settings,
                                  timeout=inv.defaults.timeout))
    by_name = {s.name: s for s in specs}
    resolved: dict[str, HostSpec] = {}

    def with_jump(spec: HostSpec, seen: tuple[str, ...] = ()) -> HostSpec:
        if spec.name in resolved:
            return resolved[spec.name]
        via = getattr(spec.settings, "via", None)
        jump = by_name.get(via) if isinstance(via, str) else None
        if jump is not None and jump.name != spec.name and jump.name not in seen:
            spec = replace(spec, jump=with_jump(jump, (*seen, spec.name)))
        resolved[spec.name] = spec
        return spec

    return [with_jump(s) for s in specs]
