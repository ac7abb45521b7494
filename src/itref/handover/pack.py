"""The handover pack's data: everything about an entity, collected into plain dataclasses.

Collecting only reads: the validated project and its shared state folder (the backup and audit histories and
the journal, through their own modules; nothing is created). No secret is ever resolved: a secret appears as
*where it lives* (variable, file, KeePass entry, prompt), never as its value.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from itref.backup.history import CheckRecord  # the pack shows a backup's last check as the history records it
from itref.status.model import Item

if TYPE_CHECKING:
    from pathlib import Path

    from itref.config.project import Project
    from itref.config.schema import Backup, Playbook, SecretRef, Step
    from itref.connectors.base import HostSpec

SECTIONS = ("entity", "notes", "hosts", "secrets", "routines", "backups", "accounts", "audit", "journal")
"""The main sections of an entity's page, in order; a section's number is its position + 1."""

JOURNAL_LIMIT = 30
"""How many journal records (the most recent) an entity's page shows."""
ACTIVITY_DAYS = 30
"""The pack's index lists who did what over this many days."""
DUE_DAYS = 7
"""The pack's "due this week" looks this many days ahead."""


def section_number(key: str) -> int:
    """Return the number of the main section ``key`` of an entity page (see :data:`SECTIONS`)."""
    return SECTIONS.index(key) + 1


# --------------------------------------------------------------------------- the data model

@dataclass(frozen=True)
class ContactInfo:
    """Someone to call: from the inventory (the entity's people) or the playbook (suppliers, helpdesk)."""

    name: str
    role: str | None
    email: str | None
    phone: str | None
    source: str
    """``inventory`` or ``playbook``."""


@dataclass(frozen=True)
class SecretStore:
    """Where a secret value lives; never the value. ``kind`` is env, file, keepass, prompt or missing."""

    kind: str
    name: str | None = None
    """The name of the inventory's ``secrets`` entry this store was found through, if any."""
    env: str | None = None
    file: str | None = None
    database: str | None = None
    entry: str | None = None
    keyfile: str | None = None
    attribute: str | None = None
    master: SecretStore | None = None
    """keepass: where the database's master password lives, when one is needed."""
    prompt: str | None = None
    """prompt: the question asked on the terminal (empty when none was written)."""
    missing: str | None = None
    """missing: the name of a named secret the inventory does not define."""


@dataclass(frozen=True)
class SecretUse:
    """What needs a secret: ``what`` is host, backup, directory, email, webhook or ad-step."""

    what: str
    name: str
    field: str
    entity: str | None = None


@dataclass
class SecretInfo:
    """One secret: its name in the inventory's ``secrets`` table (None for an inline reference), its store,
    and what uses it."""

    name: str | None
    store: SecretStore
    used_by: list[SecretUse] = field(default_factory=list)


@dataclass(frozen=True)
class HostInfo:
    """A machine and how it is reached (connection settings merged with the inventory's defaults)."""

    name: str
    address: str
    connection: str
    port: int | None
    user: str | None
    tags: list[str]
    description: str | None
    via: list[str]
    """Jump hosts, the first one reached first (empty when the host is reached directly)."""
    identity: str | None = None
    known_hosts: str | None = None
    password: SecretStore | None = None
    sudo_password: SecretStore | None = None
    transport: str | None = None
    scheme: str | None = None
    ca_file: str | None = None
    cert_validation: bool | None = None
    reach: str | None = None
    """A command a person can type to reach the host by hand (ssh, PowerShell), None for this machine."""
    last_check: HostCheckInfo | None = None
    """The last ``itref hosts check`` of this host, None when it was never checked."""


@dataclass(frozen=True)
class HostCheckInfo:
    """A host's last ``itref hosts check``: when, its system, and its problems (severity, message, what to do)."""

    checked: datetime
    os: str | None
    clock_offset: float | None
    problems: list[tuple[str, str, str]]


@dataclass(frozen=True)
class IncludeRef:
    """The routine a step includes, and where the pack describes it."""

    entity: str
    routine: str
    number: str | None
    """Its number in that entity's page (e.g. '5.2'); None when that routine does not exist."""
    description: str | None
    same_entity: bool


@dataclass(frozen=True)
class CheckRef:
    """An audit check named by a step: an id or a glob, with the check's title when it is one known id."""

    id: str
    title: str | None


@dataclass(frozen=True)
class StepInfo:
    """One numbered step of a routine, with what its kind needs to be explained in words."""

    number: int
    kind: str
    description: str
    why: str | None
    if_fails: str | None
    when: str | None
    on_failure: str
    id: str | None
    command: str | None = None
    """run: the command as one would type it on its hosts (an argument list is shell-quoted, or PowerShell-quoted
    when every host of the step is a Windows host)."""
    argv: list[str] = field(default_factory=list)
    """run: the argument list as written in the playbook (empty for a shell line)."""
    shell: bool = False
    sudo: bool = False
    hosts: list[str] = field(default_factory=list)
    """run, audit, copy: the hosts the step works on (the entity's hosts by default)."""
    limit: str | None = None
    instruction: str | None = None
    include: IncludeRef | None = None
    ad_action: str | None = None
    ad_params: dict[str, str] = field(default_factory=dict)
    backup_action: str | None = None
    backups: list[str] = field(default_factory=list)
    checks: list[CheckRef] = field(default_factory=list)
    src: str | None = None
    dest: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class AskInfo:
    """A value the routine asks for when it starts."""

    name: str
    prompt: str
    type: str
    choices: list[str]
    default: str | None


@dataclass(frozen=True)
class RoutineInfo:
    """A routine as numbered instructions."""

    name: str
    number: str
    description: str
    why: str | None
    schedule: str | None
    asks: list[AskInfo]
    steps: list[StepInfo]


@dataclass(frozen=True)
class TemplateInfo:
    """How the accounts of one role are made."""

    name: str
    ou: str
    groups: list[str]
    username: str
    upn_suffix: str | None
    mail: str | None
    must_change_password: bool
    expires_after: str | None
    home_directory: str | None
    home_drive: str | None
    description: str | None


@dataclass(frozen=True)
class RunRecord:
    """The last verify or restore drill of a backup."""

    time: datetime
    ok: bool
    detail: str
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BackupInfo:
    """A backup, what it holds and where, and what the history says about it."""

    name: str
    kind: str
    host: str | None
    description: str | None
    repository: str | None
    path: str | None
    pattern: str | None
    job: str | None
    password: SecretStore | None
    max_age: str | None
    min_size: str | None
    verify_schedule: str | None
    drill_every: str | None
    drill_files: list[str]
    drill_random: int
    last_check: CheckRecord | None
    last_verify: RunRecord | None
    last_drill: RunRecord | None
    last_good_drill: datetime | None
    testable: bool = False
    """itref can verify and restore-test it (restic, borg, dumps on a Linux host)."""
    drill_overdue: bool = False
    """Never restore-tested, or not within ``drill_every`` (the same rule as ``itref backup check``)."""
    drill_command: str | None = None
    """What restore-tests it: its entity's drill routine, or ``itref backup drill``; None when itref cannot."""


@dataclass(frozen=True)
class FindingInfo:
    """An open (failing, not waived) finding of the entity's last audit, with how to fix it."""

    check: str
    title: str | None
    severity: str
    host: str | None
    subject: str | None
    message: str
    why: str
    fix: str


@dataclass(frozen=True)
class AuditInfo:
    """The entity's last audit: when, its open findings (worst first) and how many were waived."""

    run_id: str
    time: datetime
    findings: list[FindingInfo]
    waived: int


@dataclass(frozen=True)
class JournalEntry:
    """One journal record."""

    time: datetime
    operator: str
    action: str
    target: str
    outcome: str
    host: str | None
    rc: int | None
    detail: str | None


@dataclass
class EntityPack:
    """Everything about one entity."""

    name: str
    title: str
    description: str | None
    ou: str | None
    departed_ou: str | None
    has_playbook: bool
    playbook_title: str | None
    contacts: list[ContactInfo]
    hosts: list[HostInfo]
    other_hosts: dict[str, str]
    """Hosts of other entities this entity's routines and backups work on: host → its entity."""
    secrets: list[SecretInfo]
    routines: list[RoutineInfo]
    templates: list[TemplateInfo]
    backups: list[BackupInfo]
    audit_schedule: str | None
    audit: AuditInfo | None
    notes: list[str]
    journal: list[JournalEntry]
    """The most recent records, newest first (at most :data:`JOURNAL_LIMIT`)."""
    journal_total: int

    @property
    def open_problems(self) -> int:
        """Return how many findings of the entity's last audit are still open."""
        return len(self.audit.findings) if self.audit else 0


@dataclass(frozen=True)
class DirectoryInfo:
    """The Active Directory connection (its password as a store, never a value)."""

    url: str
    base_dn: str
    bind_user: str
    bind_password: SecretStore
    ca_file: str | None
    start_tls: bool


@dataclass(frozen=True)
class NotificationInfo:
    """Who is told when an unattended audit finds something (webhook addresses shortened: they act as
    passwords)."""

    email_to: list[str]
    email_server: str | None
    webhook: str | None
    digest: str


@dataclass(frozen=True)
class OperatorEntry:
    """A person of the inventory's ``operators`` list."""

    name: str
    role: str
    email: str | None
    phone: str | None


@dataclass
class ActivityInfo:
    """What one person did over the last days: how many actions of each kind, and when last."""

    who: str
    role: str | None
    actions: dict[str, int]
    entities: list[str]
    last: datetime
    total: int


@dataclass
class Pack:
    """The whole handover pack: the organisation and every entity asked for."""

    organisation: str
    generated: datetime
    operator: str
    version: str
    language: str
    inventory: str
    playbooks: str
    state_dir: str
    entities: list[EntityPack]
    secrets: list[SecretInfo]
    """Every named secret of the inventory (and inline ones), with what uses each."""
    directory: DirectoryInfo | None
    notifications: NotificationInfo | None
    other_findings: list[FindingInfo]
    """Open findings of the last audit tied to no entity (e.g. the directory)."""
    operators: list[OperatorEntry] = field(default_factory=list)
    """The people the inventory lists (referent, stand-ins, suppliers)."""
    activity: list[ActivityInfo] = field(default_factory=list)
    """Who did what over the last :data:`ACTIVITY_DAYS` days, from the shared journal, busiest first."""
    due_this_week: list[Item] = field(default_factory=list)
    """Routines due, late or coming within :data:`DUE_DAYS` days, and directory changes due in that time: the
    lines ``itref status`` shows (made by the same code)."""
    unfinished: list[Item] = field(default_factory=list)
    """Routine runs left half-done, as ``itref status`` shows them."""
    scheduled: list[Item] = field(default_factory=list)
    """Directory changes scheduled for a date (waiting, late, held for a person), as ``itref status`` shows them."""
    schedule: list[Item] = field(default_factory=list)
    """Whether the machine that made the pack runs itref's schedule (``itref status``'s line; a warning when the
    playbooks schedule something and no crontab line of this project is installed)."""
    waivers: list[WaiverInfo] = field(default_factory=list)
    """Every waiver in force: a finding accepted until a date, with the reason and who decided it."""


@dataclass(frozen=True)
class WaiverInfo:
    """A waiver in force, for the pack."""

    check: str
    host: str | None
    subject: str | None
    until: str
    reason: str
    who: str


# --------------------------------------------------------------------------- collecting

def collect(project: Project, entities: list[str] | None = None, *, now: datetime | None = None) -> Pack:
    """Return the pack for ``entities`` (every entity when None), reading the histories and the journal
    of the project's state folder.

    Raises UsageError when an entity is unknown.
    """
    from itref import __version__
    from itref.core.errors import UsageError
    from itref.i18n import _

    inv = project.inventory
    names = list(inv.entities) if entities is None else entities
    for name in names:
        if name not in inv.entities:
            raise UsageError(_("unknown entity '{name}' (entities: {known})").format(
                name=name, known=", ".join(inv.entities)))
    folder = project.state.path
    histories = _Histories(project)
    uses = _secret_uses(project)
    packs = [_entity(project, name, uses, histories) for name in names]
    directory = None
    if inv.directory is not None:
        d = inv.directory
        directory = DirectoryInfo(hide_credentials(d.url), d.base_dn, d.bind_user, _store(project, d.bind_password),
                                  d.ca_file, d.start_tls)
    notifications = None
    if inv.notifications is not None:
        n = inv.notifications
        notifications = NotificationInfo(list(n.email.to) if n.email else [], n.email.smtp if n.email else None,
                                         shorten_webhook(n.webhook.url) if n.webhook else None, n.digest)
    last = histories.last_run(None)
    other = histories.open_findings(last[0], None) if last else []
    generated = (now or datetime.now(UTC)).astimezone()
    from datetime import timedelta

    from itref.audit.waivers import Waivers
    from itref.schedule import crontab_store
    from itref.status.collect import collect as collect_status

    status = collect_status(project, generated, entities=names if entities is not None else None,
                            ahead=timedelta(days=DUE_DAYS), kinds=("routine", "run", "change", "schedule"),
                            crontab=crontab_store().read)
    changes = status.of_kind("change")
    today = generated.date()
    hosts_of = {h.name for e in packs for h in e.hosts}
    waivers = [WaiverInfo(w.check, w.host, w.subject, w.until, w.reason, w.who)
               for w in Waivers(project.state).load()
               if not w.expired(today) and (entities is None or w.host is None or w.host in hosts_of)]
    return Pack(
        organisation=inv.organisation, generated=generated, operator=histories.state.operator.display(),
        version=__version__, language=current_language(), inventory=str(project.inventory_path.resolve()),
        playbooks=str(project.playbooks_dir.resolve()), state_dir=str(folder), entities=packs,
        secrets=_group(project, uses, lambda u: True, all_named=True),
        directory=directory, notifications=notifications, other_findings=other,
        operators=[OperatorEntry(o.name, o.role, o.email, o.phone) for o in inv.operators],
        activity=histories.activity(generated, names if entities is not None else None),
        due_this_week=[*status.of_kind("routine"), *(c for c in changes if c.data.get("status") == "pending" and (
            c.when is None or c.when <= generated + timedelta(days=DUE_DAYS)))],
        unfinished=status.of_kind("run"), scheduled=changes, schedule=status.of_kind("schedule"), waivers=waivers)


def current_language() -> str:
    """Return the language the texts are shown in (``fr``, or ``en`` when no catalogue is used)."""
    from itref.i18n import language

    return language()


def _entity(project: Project, name: str, uses: list[tuple[SecretUse, SecretRef]],
            histories: _Histories) -> EntityPack:
    entity = project.inventory.entities[name]
    book = project.playbooks.get(name)
    contacts = [ContactInfo(c.name, c.role, c.email, c.phone, "inventory") for c in entity.contacts]
    if book is not None:
        contacts += [ContactInfo(c.name, c.role, c.email, c.phone, "playbook") for c in book.contacts]
    hosts = [_with_last_check(_host(project, h), histories.state.path) for h in project.hosts if h.entity == name]
    uses_ad = bool(entity.ou or (book and (book.accounts.templates or
                                             any(s.ad for r in book.routines.values() for s in r.steps))))
    secrets = _group(project, uses, lambda u: u.entity == name or (u.what == "directory" and uses_ad))
    routines = [_routine(project, name, i, rname, book) for i, rname in enumerate(book.routines, 1)] if book else []
    templates = [TemplateInfo(tname, t.ou, list(t.groups), t.username, t.upn_suffix, t.mail, t.must_change_password,
                              t.expires_after, t.home_directory, t.home_drive, t.description)
                 for tname, t in (book.accounts.templates.items() if book else [])]
    backups = [_backup(project, name, b, histories) for b in (book.backups if book else [])]
    used = [h for r in routines for s in r.steps for h in s.hosts] + [b.host for b in backups if b.host]
    other_hosts = {h: spec.entity for h in dict.fromkeys(used)
                   if (spec := project.host(h)) is not None and spec.entity != name}
    last = histories.last_run(name)
    audit = None
    if last is not None:
        run_id, time = last
        audit = AuditInfo(run_id, time, histories.open_findings(run_id, name), histories.waived(run_id, name))
    journal = [JournalEntry(r.when, r.who, r.action, r.target, r.outcome, r.host, r.rc, r.detail)
               for r in reversed(histories.journal.latest(entity=name, limit=JOURNAL_LIMIT))]
    return EntityPack(
        name=name, title=entity.title, description=entity.description, ou=entity.ou, departed_ou=entity.departed_ou,
        has_playbook=book is not None, playbook_title=book.title if book else None, contacts=contacts, hosts=hosts,
        other_hosts=other_hosts, secrets=secrets, routines=routines, templates=templates, backups=backups,
        audit_schedule=book.audits.schedule if book else None, audit=audit,
        notes=list(book.handover.notes) if book else [], journal=journal,
        journal_total=histories.journal.count(entity=name))


# --------------------------------------------------------------------------- hosts

def _host(project: Project, spec: HostSpec) -> HostInfo:
    """Return how ``spec`` is reached, from its connection kind's settings and the connector's own command line."""
    from itref.connectors import connectors

    settings = spec.settings

    def get(name: str) -> Any:  # each connection kind has its own fields
        return getattr(settings, name, None)

    chain: list[str] = []
    jump = spec.jump
    while jump is not None and jump.name not in chain and jump.name != spec.name:
        chain.insert(0, jump.name)
        jump = jump.jump
    port = get("effective_port") or get("port")
    known_hosts = get("known_hosts")
    return HostInfo(spec.name, spec.address, spec.connection, port, get("user"), list(spec.tags), spec.description,
                    chain, identity=get("identity"),
                    known_hosts=known_hosts if known_hosts != "~/.ssh/known_hosts" else None,
                    password=_store_or_none(project, get("password")),
                    sudo_password=_store_or_none(project, get("sudo_password")), transport=get("transport"),
                    scheme=get("scheme"), ca_file=get("ca_file"),
                    cert_validation=False if get("cert_validation") is False else None,
                    reach=connectors.get(spec.connection).manual_command(spec))


def _with_last_check(info: HostInfo, folder: Path) -> HostInfo:
    """Return ``info`` with the host's last ``itref hosts check`` from the state folder ``folder`` (if any)."""
    from dataclasses import replace

    from itref.hostcheck.store import load

    last = load(info.name, folder)
    if last is None:
        return info
    return replace(info, last_check=HostCheckInfo(last.checked, last.os, last.clock_offset, list(last.problems)))


# --------------------------------------------------------------------------- secrets

def _secret_uses(project: Project) -> list[tuple[SecretUse, SecretRef]]:
    """Return every place a secret reference is used, with the reference."""
    found: list[tuple[SecretUse, SecretRef]] = []
    for spec in project.hosts:
        for key in ("password", "sudo_password"):
            ref = getattr(spec.settings, key, None)
            if ref is not None:
                found.append((SecretUse("host", spec.name, key, spec.entity), ref))
    for entity, book in project.playbooks.items():
        for backup in book.backups:
            if backup.password is not None:
                found.append((SecretUse("backup", backup.name, "password", entity), backup.password))
        found += _ad_step_uses(book)
    inv = project.inventory
    if inv.directory is not None:
        found.append((SecretUse("directory", inv.directory.bind_user, "bind_password"), inv.directory.bind_password))
    if inv.notifications is not None:
        if inv.notifications.email and inv.notifications.email.password:
            found.append((SecretUse("email", inv.notifications.email.smtp, "password"),
                          inv.notifications.email.password))
        if inv.notifications.webhook and inv.notifications.webhook.token:
            found.append((SecretUse("webhook", shorten_webhook(inv.notifications.webhook.url), "token"),
                          inv.notifications.webhook.token))
    return found


def _ad_step_uses(book: Playbook) -> list[tuple[SecretUse, SecretRef]]:
    from itref.config.schema import SecretRef

    found = []
    for rname, routine in book.routines.items():
        for i, step in enumerate(routine.steps, 1):
            if step.ad is None:
                continue
            for key, value in step.ad.params.items():
                if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in SecretRef.model_fields:
                    try:
                        ref = SecretRef.model_validate(value)
                    except ValueError:
                        continue
                    found.append((SecretUse("ad-step", f"{rname} #{i}", key, book.entity), ref))
    return found


def _store(project: Project, ref: SecretRef) -> SecretStore:
    """Return where ``ref``'s value lives (a named secret is followed to its store)."""
    name = ref.secret
    if name is not None:
        named = project.inventory.secrets.get(name)
        if named is None or named.secret is not None:
            return SecretStore("missing", name=name, missing=name)
        ref = named
    if ref.env is not None:
        return SecretStore("env", name=name, env=ref.env)
    if ref.file is not None:
        return SecretStore("file", name=name, file=ref.file)
    if ref.keepass is not None:
        k = ref.keepass
        master = _store(project, k.password) if k.password is not None else None
        return SecretStore("keepass", name=name, database=k.database, entry=k.entry, keyfile=k.keyfile,
                           attribute=k.attribute, master=master)
    return SecretStore("prompt", name=name, prompt=ref.prompt if isinstance(ref.prompt, str) else "")


def _store_or_none(project: Project, ref: Any) -> SecretStore | None:
    return _store(project, ref) if ref is not None else None


def _group(project: Project, uses: list[tuple[SecretUse, SecretRef]], keep: Any, *,
           all_named: bool = False) -> list[SecretInfo]:
    """Return the secrets of the ``uses`` kept by ``keep``, one per named secret or per inline store."""
    by_key: dict[str, SecretInfo] = {}
    if all_named:
        from itref.config.schema import SecretRef

        for name in project.inventory.secrets:
            by_key["name:" + name] = SecretInfo(name, _store(project, SecretRef(secret=name)))
    for use, ref in uses:
        if not keep(use):
            continue
        key = "name:" + ref.secret if ref.secret is not None else "inline:" + repr(_store(project, ref))
        info = by_key.get(key)
        if info is None:
            info = by_key[key] = SecretInfo(ref.secret, _store(project, ref))
        if use not in info.used_by:
            info.used_by.append(use)
    return sorted(by_key.values(), key=lambda s: (s.name is None, s.name or "", s.store.kind))


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*:(?://)?)(?P<user>[^/@:\s]*):[^/@\s]*@")


def hide_credentials(text: str) -> str:
    """Return ``text`` with any password written inside a URL (``scheme://user:password@host``) hidden."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def shorten_webhook(url: str) -> str:
    """Return only the scheme and host of a webhook address: the rest often is the key that lets one post."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "…"
    return f"{parts.scheme}://{parts.hostname or ''}{port}/…"


# --------------------------------------------------------------------------- routines

def _routine(project: Project, entity: str, index: int, name: str, book: Playbook) -> RoutineInfo:
    routine = book.routines[name]
    asks = [AskInfo(n, a.prompt, a.type, list(a.choices or []), None if a.default is None else str(a.default))
            for n, a in routine.ask.items()]
    steps = [_step(project, entity, book, i, s) for i, s in enumerate(routine.steps, 1)]
    return RoutineInfo(name, f"{section_number('routines')}.{index}", routine.description, routine.why,
                       routine.schedule, asks, steps)


def routine_number(project: Project, entity: str, routine: str) -> str | None:
    """Return the number of routine ``entity/routine`` in its entity's page, or None if it does not exist."""
    book = project.playbooks.get(entity)
    if book is None or routine not in book.routines:
        return None
    return f"{section_number('routines')}.{list(book.routines).index(routine) + 1}"


def _hosts_of(project: Project, entity: str, limit: str | None) -> list[str]:
    from itref.config.selection import select
    from itref.core.errors import UsageError

    try:
        return [h.name for h in select(project.hosts, limit or f"entity:{entity}")]
    except UsageError:
        return []


def _step(project: Project, entity: str, book: Playbook, number: int, step: Step) -> StepInfo:
    base: dict[str, Any] = {"number": number, "kind": step.kind, "description": step.description, "why": step.why,
                            "if_fails": step.if_fails, "when": step.when, "on_failure": step.on_failure,
                            "id": step.id}
    if step.run is not None:
        run = step.run
        hosts = _hosts_of(project, entity, run.limit)
        if isinstance(run.command, str):
            command = run.command
        elif hosts and all((h := project.host(name)) is not None and h.connection == "winrm"
                           for name in hosts):
            from itref.connectors.quoting import powershell_join

            command = powershell_join(run.command)  # what itref sends, and what a person types in PowerShell
        else:
            command = shlex.join(run.command)
        return StepInfo(**base, command=command, shell=run.shell, sudo=run.sudo, limit=run.limit, hosts=hosts,
                        argv=[] if isinstance(run.command, str) else list(run.command))
    if step.manual is not None:
        text = step.manual if isinstance(step.manual, str) else step.manual.instruction
        return StepInfo(**base, instruction=text)
    if step.include is not None:
        target_entity, _sep, target = step.include.rpartition("/")
        target_entity = target_entity or entity
        target_book = project.playbooks.get(target_entity)
        target_routine = target_book.routines.get(target) if target_book else None
        ref = IncludeRef(target_entity, target, routine_number(project, target_entity, target),
                         target_routine.description if target_routine else None, target_entity == entity)
        return StepInfo(**base, include=ref)
    if step.ad is not None:
        params = {k: v for k, v in step.ad.params.items() if not isinstance(v, dict)}
        return StepInfo(**base, ad_action=step.ad.action, ad_params={k: str(v) for k, v in params.items()})
    if step.backup is not None:
        names = step.backup.names or [b.name for b in book.backups]
        return StepInfo(**base, backup_action=step.backup.action, backups=list(names))
    if step.audit is not None:
        return StepInfo(**base, checks=[_check_ref(c) for c in step.audit.checks or []], limit=step.audit.limit,
                        hosts=_hosts_of(project, entity, step.audit.limit))
    copy = step.copy_
    assert copy is not None
    return StepInfo(**base, src=copy.src, dest=copy.dest, mode=copy.mode, limit=copy.limit,
                    hosts=_hosts_of(project, entity, copy.limit))


def _check_ref(check_id: str) -> CheckRef:
    from itref.audit.registry import all_checks

    title = next((c.title for c in all_checks() if c.id == check_id), None)
    return CheckRef(check_id, title)


# --------------------------------------------------------------------------- backups and histories

def _backup(project: Project, entity: str, b: Backup, histories: _Histories, now: datetime | None = None
            ) -> BackupInfo:
    from itref.backup.check import local_host
    from itref.backup.policy import drill_due

    host = project.host(b.host) if b.host else None
    last_good = histories.last_good_drill(entity, b.name)
    due = drill_due(project, entity, b, host or local_host(entity), last_good, now or datetime.now(UTC))
    return BackupInfo(
        name=b.name, kind=b.kind, host=b.host, description=b.description,
        repository=hide_credentials(b.repository) if b.repository else None, path=b.path, pattern=b.pattern,
        job=b.job, password=_store_or_none(project, b.password), max_age=b.max_age, min_size=b.min_size,
        verify_schedule=b.verify_schedule, drill_every=due.every_text if due else None,
        drill_files=list(b.drill.files) if b.drill else [], drill_random=b.drill.random if b.drill else 0,
        last_check=histories.last_check(entity, b.name), last_verify=histories.last_run_of("verify", entity, b.name),
        last_drill=histories.last_run_of("drill", entity, b.name),
        last_good_drill=last_good, testable=due is not None, drill_overdue=bool(due and due.overdue),
        drill_command=due.command if due else None)


class _Histories:
    """Read-only answers from the project's state folder, through the audit and backup history modules and the
    journal (a missing folder reads as empty; nothing is ever created)."""

    def __init__(self, project: Project) -> None:
        from itref.audit.history import AuditHistory
        from itref.backup.history import History
        from itref.journal import Journal

        self.state = project.state
        self.audits = AuditHistory(self.state)
        self.backups = History(self.state)
        self.journal = Journal(self.state)
        self.roles = {o.name.casefold(): o.role for o in project.inventory.operators}

    def last_check(self, entity: str, backup: str) -> CheckRecord | None:
        return self.backups.last_check(entity, backup)

    def last_run_of(self, kind: str, entity: str, backup: str) -> RunRecord | None:
        o = self.backups.last(kind, entity, backup)
        return RunRecord(o.time, o.ok, o.detail, o.files) if o is not None else None

    def last_good_drill(self, entity: str, backup: str) -> datetime | None:
        return self.backups.last_success("drill", entity, backup)

    def last_run(self, entity: str | None) -> tuple[str, datetime] | None:
        """Return (run id, time) of the latest audit with a finding about ``entity`` (about no entity when
        None): an audit limited to other hosts says nothing about this entity."""
        run = self.audits.last_about(entity)
        if run is None:
            return None
        return run.run_id, self.audits.time_of(run.run_id) or run.time

    def open_findings(self, run_id: str, entity: str | None) -> list[FindingInfo]:
        from itref.audit.registry import topics
        from itref.core.findings import Severity

        checks = topics()
        found = []
        for past in self.audits.findings_of(run_id).values():
            if past.entity != entity or not past.failing:
                continue
            check = checks.get(past.check)
            found.append(FindingInfo(past.check, check.title if check else None, past.severity.value, past.host,
                                     past.subject, past.message, check.why if check else "",
                                     check.fix if check else ""))
        rank = {s.value: s.rank for s in Severity}
        return sorted(found, key=lambda f: (-rank[f.severity], f.host or "", f.check, f.subject or ""))

    def waived(self, run_id: str, entity: str | None) -> int:
        return sum(1 for p in self.audits.findings_of(run_id).values() if p.entity == entity and p.waived)

    def activity(self, now: datetime, entities: list[str] | None) -> list[ActivityInfo]:
        """Return who did what over the last :data:`ACTIVITY_DAYS` days (about ``entities`` when given)."""
        from datetime import timedelta

        since = now - timedelta(days=ACTIVITY_DAYS)
        people: dict[str, ActivityInfo] = {}
        for r in self.journal.records(since):
            if (entities is not None and r.entity is not None and r.entity not in entities):
                continue
            who = r.who + (f" ({r.via})" if r.via in ("cron", "schedule") else "")
            info = people.get(who)
            if info is None:
                info = people[who] = ActivityInfo(who, self.roles.get((r.operator or "").casefold()), {}, [], r.when,
                                                  0)
            info.actions[r.action] = info.actions.get(r.action, 0) + 1
            if r.entity and r.entity not in info.entities:
                info.entities.append(r.entity)
            info.last = max(info.last, r.when)
            info.total += 1
        return sorted(people.values(), key=lambda a: (-a.total, a.who))


# --------------------------------------------------------------------------- JSON

def to_data(pack: Pack) -> dict[str, Any]:
    """Return the pack as JSON-ready data (times as ISO 8601 text)."""
    return _plain(asdict(pack))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value
