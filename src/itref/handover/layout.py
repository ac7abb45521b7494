"""Lay a :class:`~itref.handover.pack.Pack` out as documents: what each section says, in words, in the
current language. Nothing here reads files or the network; the renderers then only format."""

from __future__ import annotations

from datetime import datetime

from itref.backup.history import CheckRecord
from itref.handover.doc import (
    Block,
    Bullets,
    Code,
    Fields,
    Inline,
    Line,
    Link,
    Page,
    Para,
    Section,
    Step,
    Steps,
    Strong,
    Subsection,
    Table,
)
from itref.handover.pack import (
    SECTIONS,
    BackupInfo,
    ContactInfo,
    EntityPack,
    FindingInfo,
    HostInfo,
    Pack,
    RoutineInfo,
    RunRecord,
    SecretInfo,
    SecretStore,
    SecretUse,
    StepInfo,
    section_number,
)
from itref.i18n import N_, _, format_date, format_datetime, ngettext
from itref.journal import action_word, detail_shown, outcome_word, shown
from itref.status.model import Item

# --------------------------------------------------------------------------- small words


def day(when: datetime | None) -> str:
    """Return a date as DD/MM/YYYY (local time)."""
    return format_date(when) if when else "—"


def moment(when: datetime | None) -> str:
    """Return a date and time as DD/MM/YYYY HH:MM (local time)."""
    return format_datetime(when) if when else "—"


def page_file(entity: str, ext: str) -> str:
    """Return the file name of an entity's page (an entity called 'index' must not replace the index)."""
    return f"entity-{entity}.{ext}" if entity.lower() == "index" else f"{entity}.{ext}"


def section_titles() -> dict[str, str]:
    """Return the title of each main section of an entity page."""
    return {
        "entity": _("Who and whom to call"),
        "notes": _("Handover notes"),
        "hosts": _("Machines and how to reach them"),
        "secrets": _("Where the passwords are kept"),
        "routines": _("Routines, step by step"),
        "backups": _("Backups"),
        "accounts": _("How accounts are made"),
        "audit": _("Open problems (last audit)"),
        "journal": _("Recent journal"),
    }


def status_word(status: str) -> str:
    """Return a check status as an upper-case word readable without colour."""
    return {"ok": _("OK"), "info": _("OK"), "warning": _("WARNING"), "critical": _("CRITICAL"),
            "unknown": _("UNKNOWN")}.get(status, status.upper())


def size(n: int | None) -> str:
    """Return a byte count in words people read (1.5 GB)."""
    from itref.core.humanize import size as human

    return human(n)


def _day_names() -> list[str]:
    return [_("Sunday"), _("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday")]


def _day_list(field: str) -> str | None:
    """Return cron's day-of-week field in words ('1-5' → 'Monday to Friday'), None when too clever."""
    names = _day_names()
    parts = []
    for piece in field.split(","):
        if piece.isdigit() and int(piece) <= 7:
            parts.append(names[int(piece) % 7])
        elif "-" in piece and all(p.isdigit() and int(p) <= 7 for p in piece.split("-", 1)):
            a, b = (int(p) % 7 for p in piece.split("-", 1))
            parts.append(_("{first} to {last}").format(first=names[a], last=names[b]))
        else:
            return None
    return ", ".join(parts)


def schedule_line(cron: str | None) -> Line:
    """Return a cron schedule in words followed by the cron text itself."""
    if not cron:
        return (_("by hand, when needed (no schedule)"),)
    words = schedule_words(cron)
    return (words, " (", Code(cron), ")") if words else (_("cron schedule") + " ", Code(cron))


def schedule_words(cron: str) -> str | None:
    """Return a cron schedule in words ('at 07:00, Monday to Friday'), None when it is too clever for words."""
    named = {"@hourly": _("every hour"), "@daily": _("every day at midnight"),
             "@weekly": _("every Sunday at midnight"), "@monthly": _("on the 1st of every month at midnight"),
             "@yearly": _("every 1st of January at midnight"), "@annually": _("every 1st of January at midnight"),
             "@reboot": _("when the machine starts")}
    if cron in named:
        return named[cron]
    fields = cron.split()
    if len(fields) != 5:
        return None
    minute, hour, dom, month, dow = fields
    words: list[str] = []
    if minute.isdigit() and hour.isdigit():
        words.append(_("at {time}").format(time=f"{int(hour):02d}:{int(minute):02d}"))
    elif minute.isdigit() and hour == "*":
        words.append(_("every hour at minute {m}").format(m=int(minute)))
    else:
        return None
    if dom == "*" and month == "*":
        if dow == "*":
            words.append(_("every day"))
        else:
            days = _day_list(dow)
            if days is None:
                return None
            words.append(days)
    elif dom.isdigit() and dow == "*":
        words.append(_("on day {d} of the month").format(d=int(dom)) if month == "*" else
                     _("on day {d} of month {m}").format(d=int(dom), m=month))
    else:
        return None
    return ", ".join(words)


def store_line(store: SecretStore) -> Line:
    """Return where a secret lives, in words (never its value)."""
    if store.kind == "env":
        return (_("environment variable") + " ", Code("$" + (store.env or "")))
    if store.kind == "file":
        return (_("file") + " ", Code(store.file or ""), " " + _("(readable by its owner only)"))
    if store.kind == "keepass":
        parts: list[Inline] = [_("KeePass database") + " ", Code(store.database or ""), ", " + _("entry") + " ",
                               Code(store.entry or "")]
        if store.attribute and store.attribute != "password":
            parts += [", " + _("field") + " ", Code(store.attribute)]
        if store.keyfile:
            parts += ["; " + _("opened with the key file") + " ", Code(store.keyfile)]
        if store.master is not None:
            parts += ["; " + _("its master password:") + " ", *store_line(store.master)]
        return tuple(parts)
    if store.kind == "prompt":
        if store.prompt:
            return (_("typed in when itref asks for it:") + f" « {store.prompt} »",)
        return (_("typed in when itref asks for it"),)
    return (_("unknown secret '{name}' (fix the inventory)").format(name=store.missing or ""),)


def named_store_line(store: SecretStore) -> Line:
    """Return a secret's store, led by its name in the inventory when it has one."""
    if store.name:
        return (Code(store.name), " — ", *store_line(store))
    return store_line(store)


def use_text(use: SecretUse) -> str:
    """Return what uses a secret, in words."""
    fields = {"password": _("password"), "sudo_password": _("sudo password"), "bind_password": _("password"),
              "token": _("token")}
    what = fields.get(use.field, use.field)
    if use.what == "host":
        return _("host {name} ({what})").format(name=use.name, what=what)
    if use.what == "backup":
        return _("backup {name} (repository password)").format(name=use.name)
    if use.what == "directory":
        return _("Active Directory (account {name})").format(name=use.name)
    if use.what == "email":
        return _("e-mail notifications (server {name})").format(name=use.name)
    if use.what == "webhook":
        return _("notification webhook {name} (token)").format(name=use.name)
    return _("routine step {name} (parameter {what})").format(name=use.name, what=use.field)


def contact_line(c: ContactInfo) -> Line:
    """Return a contact on one line: name (role): phone, e-mail."""
    parts: list[Inline] = [Strong(c.name)]
    if c.role:
        parts.append(f" ({c.role})")
    reach: list[Inline] = []
    if c.phone:
        reach.append(Link(c.phone, "tel:" + "".join(ch for ch in c.phone if ch.isdigit() or ch == "+")))
    if c.email:
        reach.append(Link(c.email, "mailto:" + c.email))
    if reach:
        parts.append(": ")
        for i, r in enumerate(reach):
            parts += ([", "] if i else []) + [r]
    return tuple(parts)


def _join(items: list[str], code: bool = True) -> Line:
    parts: list[Inline] = []
    for i, item in enumerate(items):
        if i:
            parts.append(", ")
        parts.append(Code(item) if code else item)
    return tuple(parts)


# --------------------------------------------------------------------------- routines


def _itref_run(step: StepInfo) -> str:
    import shlex

    limit = ",".join(step.hosts) if step.hosts else (step.limit or "")
    head = "itref run" + (" --shell" if step.shell else "") + (f" --limit {shlex.quote(limit)}" if limit else "")
    if step.shell:
        return f"{head} -- {shlex.quote(step.command or '')}"
    return f"{head} -- {shlex.join(step.argv) if step.argv else step.command}"


AD_VERBS = {
    "user create": N_("Create the account"),
    "user offboard": N_("Offboard the account (disabled, moved to the departed OU; reversible)"),
    "user restore": N_("Restore an offboarded account"),
    "user disable": N_("Disable the account"),
    "user enable": N_("Enable the account"),
    "user unlock": N_("Unlock the account"),
    "user reset-password": N_("Reset the account's password"),
    "user move": N_("Move the account to another OU"),
    "user set": N_("Change the account's attributes"),
    "group add": N_("Add accounts to a group"),
    "group remove": N_("Remove accounts from a group"),
}


def step_action(step: StepInfo, ext: str = "html") -> Line:
    """Return what to do for ``step``, as a sentence built from its kind."""
    hosts = _join(step.hosts) if step.hosts else (_("the hosts matching") + " ", Code(step.limit or ""))
    if step.kind == "run":
        command = f"sudo {step.command}" if step.sudo else step.command or ""
        parts: list[Inline] = [_("Run") + " ", Code(command), " " + _("on") + " ", *hosts]
        if step.shell:
            parts.append(" " + _("(one shell line: pipes and redirections included)"))
        parts.append(".")
        if not step.sudo:
            parts += [" " + _("With itref:") + " ", Code(_itref_run(step))]
        return tuple(parts)
    if step.kind == "manual":
        return (step.instruction or "",)
    if step.kind == "include" and step.include is not None:
        ref = step.include
        name = ref.routine if ref.same_entity else f"{ref.entity}/{ref.routine}"
        if ref.number is None:
            return (_("Do routine"), " ", Code(name), " " + _("(it is not in the playbooks: ask, or remove this "
                                                             "step)"))
        where = (_("see section {n}").format(n=ref.number) if ref.same_entity else
                 _("see section {n} of the pack of {entity}, file {file}").format(
                     n=ref.number, entity=ref.entity, file=page_file(ref.entity, ext)))
        about = f" — {ref.description}" if ref.description else ""
        return (_("Do routine") + " ", Code(name), f"{about} ({where}), " + _("then come back here."))
    if step.kind == "ad":
        action = step.ad_action or ""
        verb = _(AD_VERBS[action]) if action in AD_VERBS else _("Directory action '{action}'").format(action=action)
        parts = [verb]
        if step.ad_params:
            parts.append(" — ")
            for i, (k, v) in enumerate(step.ad_params.items()):
                parts += ([", "] if i else []) + [f"{k}: ", Code(v)]
        parts += [". " + _("With itref:") + " ", Code(f"itref ad {action} --dry-run"),
                  " " + _("(see its --help for the values), then again without --dry-run.")]
        return tuple(parts)
    if step.kind == "backup":
        names = _join(step.backups) if step.backups else (_("(this entity has no backup)"),)
        sentence = {
            "check": _("Check that the latest backup of {names} is there, recent and of a plausible size"),
            "verify": _("Read the repository of {names} back to prove it is intact"),
            "drill": _("Restore a sample of files from {names} and compare them with the originals"),
        }[step.backup_action or "check"]
        before, _sep, after = sentence.partition("{names}")
        command = f"itref backup {step.backup_action or 'check'} {' '.join(step.backups)}".strip()
        return (before, *names, after, " (" + _("see section {n}").format(n=section_number("backups")) + "). "
                + _("With itref:") + " ", Code(command))
    if step.kind == "audit":
        if step.checks:
            what: list[Inline] = []
            for i, c in enumerate(step.checks):
                what += ([", "] if i else []) + [Code(c.id)] + ([f" ({c.title})"] if c.title else [])
        else:
            what = [_("every check")]
        command = "itref audit" + (f" --checks {','.join(c.id for c in step.checks)}" if step.checks else "") + (
            f" --limit {','.join(step.hosts)}" if step.hosts else "")
        return (_("Audit") + " ", *what, " " + _("on") + " ", *hosts, ". " + _("With itref:") + " ", Code(command))
    mode = " " + _("(permissions {mode})").format(mode=step.mode) if step.mode else ""
    return (_("Copy the file") + " ", Code(step.src or ""), " " + _("to") + " ", Code(step.dest or ""),
            " " + _("on") + " ", *hosts, f"{mode}.")


def _failure_words(step: StepInfo) -> str:
    """Return what to do after a failed step: its own ``if_fails`` text, then stop, go on or decide."""
    if step.if_fails:
        then = {"stop": _("then stop the routine here."), "continue": _("then go on with the next step."),
                "ask": _("then decide whether to go on.")}.get(step.on_failure, "")
        return f"{step.if_fails} — {then}"
    return {"stop": _("Stop the routine here."), "continue": _("Go on with the next step."),
            "ask": _("Decide whether to go on.")}.get(step.on_failure, "")


def routine_subsection(r: RoutineInfo, entity: EntityPack, ext: str = "html") -> Subsection:
    """Return a routine as a subsection: when, why, what to have at hand, numbered steps, whom to call."""
    rows: list[tuple[str, Line]] = [
        (_("Name"), (Code(f"{entity.name}/{r.name}"), " — " + _("on screen:") + " ",
                     Code(f"itref playbook show {entity.name}/{r.name}"))),
        (_("When"), schedule_line(r.schedule)),
    ]
    if r.why:
        rows.append((_("Why"), (r.why,)))
    if r.asks:
        asked: list[Inline] = []
        for i, a in enumerate(r.asks):
            asked += (["; "] if i else []) + [Code(a.name), f": {a.prompt}"]
            if a.choices:
                asked.append(" (" + " / ".join(a.choices) + ")")
            if a.default is not None:
                asked.append(" — " + _("default: {value}").format(value=a.default))
        rows.append((_("Have at hand"), tuple(asked)))
    steps = []
    for s in r.steps:
        details: list[tuple[str, Line]] = []
        if s.when:
            details.append((_("Only if"), (s.when,)))
        if s.why:
            details.append((_("Why"), (s.why,)))
        details.append((_("If it fails"), (_failure_words(s),)))
        steps.append(Step(s.number, s.description, step_action(s, ext), tuple(details)))
    blocks: list[Block] = [Fields(tuple(rows)), Steps(tuple(steps))]
    if entity.contacts:
        blocks.append(Bullets(tuple(contact_line(c) for c in entity.contacts)))
        blocks.insert(2, Para((_("If a step fails and this page does not say what to do, call:"),), "note"))
    else:
        blocks.append(Para((_("No contact is recorded for this entity (see section {n}).").format(
            n=section_number("entity")),), "note"))
    return Subsection(r.number, f"{r.description}", f"routine-{r.name}", blocks)


# --------------------------------------------------------------------------- backups


def _check_line(c: CheckRecord | None) -> Line:
    if c is None:
        return (_("never checked: run") + " ", Code("itref backup check"))
    parts: list[Inline] = [moment(c.time), " — ", Strong(status_word(c.status))]
    if c.snapshot_time:
        parts.append(" — " + _("latest backup made on {when}").format(when=moment(c.snapshot_time)))
    figures = []
    if c.size is not None:
        figures.append(size(c.size))
    if c.files is not None:
        figures.append(ngettext("{n} file", "{n} files", c.files).format(n=c.files))
    if c.count is not None:
        figures.append(ngettext("{n} version kept", "{n} versions kept", c.count).format(n=c.count))
    if figures:
        parts.append(", " + ", ".join(figures))
    if c.problem:
        parts.append(" — " + _("problem: {problem}").format(problem=c.problem))
    return tuple(parts)


def _run_line(r: RunRecord | None, never: Line) -> Line:
    if r is None:
        return never
    parts: list[Inline] = [moment(r.time), " — ", Strong(_("OK") if r.ok else _("FAILED"))]
    if r.files:
        parts.append(" — " + ngettext("{n} file restored and compared", "{n} files restored and compared",
                                      len(r.files)).format(n=len(r.files)))
    if r.detail:
        parts.append(f" — {r.detail}")
    return tuple(parts)


def backup_subsection(number: str, b: BackupInfo, now: datetime) -> Subsection:
    """Return a backup: what and where, what is expected, and its last check, verify and restore drill."""
    rows: list[tuple[str, Line]] = []
    if b.description:
        rows.append((_("What"), (b.description,)))
    rows.append((_("Kind"), (Code(b.kind),)))
    rows.append((_("Checked from"), (Code(b.host),) if b.host else (_("the machine itref runs on"),)))
    if b.repository:
        rows.append((_("Repository"), (Code(b.repository),)))
    if b.path:
        rows.append((_("Folder"), (Code(b.path),) + ((" — " + _("files named") + " ", Code(b.pattern))
                                                      if b.pattern else ())))
    if b.job:
        rows.append((_("Job"), (Code(b.job),)))
    if b.password is not None:
        rows.append((_("Repository password"), named_store_line(b.password)))
    expected = []
    if b.max_age:
        expected.append(_("a new backup at least every {age}").format(age=b.max_age))
    if b.min_size:
        expected.append(_("at least {size}").format(size=b.min_size))
    if expected:
        rows.append((_("Expected"), ("; ".join(expected),)))
    if b.verify_schedule:
        rows.append((_("Integrity check"), schedule_line(b.verify_schedule)))
    rows.append((_("Last check"), _check_line(b.last_check)))
    if b.testable:
        rows.append((_("Last integrity check"), _run_line(b.last_verify, (
            _("never: run") + " ", Code(f"itref backup verify {b.name}")))))
    if b.testable and b.drill_command:
        drill = _run_line(b.last_drill, (Strong(_("never")), " — " + _(
            "a backup that was never restored is a hope, not a backup: run") + " ", Code(b.drill_command)))
    else:
        drill = _run_line(b.last_drill, (Strong(_("never")), " — " + _(
            "itref cannot restore-test this kind of backup: restore a file by hand with its own tool, at least "
            "once a quarter"),))
    if b.last_drill is not None and not b.last_drill.ok:
        drill += (" — " + _("last successful drill: {when}").format(when=day(b.last_good_drill) if b.last_good_drill
                                                                   else _("never")),)
    rows.append((_("Last restore drill"), drill))
    if b.drill_every:
        from itref.core.humanize import duration
        from itref.core.units import parse_duration

        plan = _("a restore drill every {every}").format(every=duration(parse_duration(b.drill_every)))
        if b.drill_files:
            plan += "; " + _("always restored: {files}").format(files=", ".join(b.drill_files))
        if b.drill_random:
            plan += "; " + ngettext("plus {n} file picked at random", "plus {n} files picked at random",
                                    b.drill_random).format(n=b.drill_random)
        line: Line = (plan,)
        if b.drill_overdue and b.drill_command:
            line += (" — ", Strong(_("OVERDUE")), " — " + _("run") + " ", Code(b.drill_command))
        rows.append((_("Drill plan"), line))
    return Subsection(number, f"{b.name} ({b.kind})", f"backup-{b.name}", [Fields(tuple(rows))])


# --------------------------------------------------------------------------- hosts


def connection_words(h: HostInfo) -> str:
    """Return how itref reaches a host, in words."""
    if h.connection == "local":
        return _("this machine (the one itref runs on)")
    if h.connection == "ssh":
        return _("SSH, port {port}").format(port=h.port)
    return _("WinRM over {scheme}, port {port}, {transport} authentication").format(
        scheme=(h.scheme or "https").upper(), port=h.port, transport=h.transport or "ntlm")


def host_subsection(number: str, h: HostInfo) -> Subsection:
    """Return a host: address, connection, user, tags, jump hosts, keys and password stores, and how to reach it."""
    rows: list[tuple[str, Line]] = []
    if h.description:
        rows.append((_("What it is"), (h.description,)))
    rows.append((_("Address"), (Code(h.address),)))
    rows.append((_("Connection"), (connection_words(h),)))
    if h.connection != "local":
        rows.append((_("User"), (Code(h.user),) if h.user else (_("the current user"),)))
    rows.append((_("Tags"), _join(h.tags) if h.tags else ("—",)))
    if h.via:
        rows.append((_("Through the jump host(s)"), _join(h.via)))
    if h.identity:
        rows.append((_("Key file"), (Code(h.identity),)))
    if h.known_hosts:
        rows.append((_("Known host keys"), (Code(h.known_hosts),)))
    if h.password is not None:
        rows.append((_("Password"), named_store_line(h.password)))
    if h.sudo_password is not None:
        rows.append((_("sudo password"), named_store_line(h.sudo_password)))
    if h.ca_file:
        rows.append((_("CA certificate"), (Code(h.ca_file),)))
    if h.cert_validation is False:
        rows.append((_("Certificate check"), (Strong(_("DISABLED (lab only)")),)))
    if h.reach:
        rows.append((_("To reach it by hand"), (Code(h.reach),)))
    if h.last_check is not None:
        rows.append((_("Last check"), last_check_line(h)))
    return Subsection(number, h.name, f"host-{h.name}", [Fields(tuple(rows))])


def last_check_line(h: HostInfo) -> Line:
    """Return the host's last ``itref hosts check``: when, its system, and each problem with what to do."""
    last = h.last_check
    assert last is not None
    parts: list[Inline] = [moment(last.checked)]
    if last.os:
        parts.append(f" ({last.os})")
    if not last.problems:
        return (*parts, ": " + _("no problem"), " (", Code("itref hosts check"), ")")
    parts.append(": " + ngettext("{n} problem", "{n} problems", len(last.problems)).format(n=len(last.problems)))
    for severity, message, fix in last.problems:
        parts += [" — ", Strong(f"[{status_word(severity)}]"), f" {message}. " + _("What to do: ") + fix]
    return tuple(parts)


# --------------------------------------------------------------------------- findings and journal


def finding_bullets(findings: list[FindingInfo]) -> Bullets:
    """Return open findings, one bullet each: severity, where, what, why, what to do."""
    items = []
    for f in findings:
        parts: list[Inline] = [Strong(f"[{status_word(f.severity)}]"), " "]
        if f.host:
            parts += [Code(f.host), ": "]
        parts.append(f.message)
        if f.why:
            parts.append(" — " + _("Why it matters: ") + f.why)
        if f.fix:
            parts.append(" — " + _("What to do: ") + f.fix)
        parts += [" — " + _("Details:") + " ", Code(f"itref audit explain {f.check}")]
        items.append(tuple(parts))
    return Bullets(tuple(items))


# --------------------------------------------------------------------------- an entity's page


def entity_document(pack: Pack, e: EntityPack, ext: str = "html") -> Page:
    """Return the page of entity ``e`` (``ext``: the extension of the pages it refers to)."""
    titles = section_titles()
    sections = {key: Section(section_number(key), titles[key], key) for key in SECTIONS}
    org = pack.organisation

    # 1. who
    s = sections["entity"]
    rows: list[tuple[str, Line]] = [(_("Entity"), (Strong(e.title), " (", Code(e.name), ")"))]
    if e.description:
        rows.append((_("What it is"), (e.description,)))
    if e.ou:
        rows.append((_("Its accounts (AD OU)"), (Code(e.ou),)))
    if e.departed_ou:
        rows.append((_("Accounts of people who left"), (Code(e.departed_ou),)))
    playbook = (Code(f"playbooks/{e.name}.yaml"),) if e.has_playbook else (
        _("none yet: routines, backups and notes go in") + " ", Code(f"playbooks/{e.name}.yaml"))
    rows.append((_("Playbook"), playbook))
    s.blocks.append(Fields(tuple(rows)))
    if e.contacts:
        s.blocks.append(Table((_("Name"), _("About"), _("Phone"), _("E-mail"), _("Listed in")), tuple(
            ((Strong(c.name),), (c.role or "",), (Link(c.phone, "tel:" + c.phone.replace(" ", "")),) if c.phone
             else ("",), (Link(c.email, "mailto:" + c.email),) if c.email else ("",),
             (_("inventory") if c.source == "inventory" else _("playbook"),))
            for c in e.contacts)))
    else:
        s.blocks.append(Para((_("No contact is recorded. Add them under") + " ",
                              Code(f"entities.{e.name}.contacts"), " " + _("in the inventory."),), "note"))

    # 2. notes
    s = sections["notes"]
    if e.notes:
        s.blocks.append(Para((_("What the IT referent wants you to know:"),)))
        s.blocks.append(Bullets(tuple((n,) for n in e.notes)))
    else:
        s.blocks.append(Para((_("No note yet. Write what a successor must know under") + " ",
                              Code("handover.notes"), " " + _("in") + " ", Code(f"playbooks/{e.name}.yaml"), "."),
                             "note"))

    # 3. hosts
    s = sections["hosts"]
    if e.hosts:
        s.blocks.append(Para((ngettext("{n} machine.", "{n} machines.", len(e.hosts)).format(n=len(e.hosts)) + " "
                              + _("To run a command on all of them:") + " ",
                              Code(f"itref run --limit entity:{e.name} -- hostname"))))
        s.subsections = [host_subsection(f"{s.number}.{i}", h) for i, h in enumerate(e.hosts, 1)]
    else:
        s.blocks.append(Para((_("No machine is listed for this entity."),), "muted"))
    if e.other_hosts:
        s.blocks.append(Para((_("Its routines and backups also use machines of other entities:") + " ", *[
            part for i, (h, owner) in enumerate(e.other_hosts.items()) for part in (
                ", " if i else "", Code(h), " (" + _("see the pack of {entity}, file {file}").format(
                    entity=owner, file=page_file(owner, ext)) + ")")]), "muted"))

    # 4. secrets
    s = sections["secrets"]
    s.blocks.append(Para((_("This list says where each password is kept, never the password itself."),)))
    if e.secrets:
        s.blocks.append(_secret_table(e.secrets))
    else:
        s.blocks.append(Para((_("This entity's machines and backups need no stored password."),), "muted"))

    # 5. routines
    s = sections["routines"]
    if e.routines:
        s.blocks.append(Para((_("Follow the steps in order; tick each one once done."),)))
        s.subsections = [routine_subsection(r, e, ext) for r in e.routines]
    else:
        s.blocks.append(Para((_("No routine is written down yet for this entity."),), "muted"))

    # 6. backups
    s = sections["backups"]
    if e.backups:
        s.blocks.append(Para((_("Every night's backup is checked with") + " ", Code("itref backup check"), "; "
                              + _("a restore drill proves the files can really be brought back."))))
        s.subsections = [backup_subsection(f"{s.number}.{i}", b, pack.generated) for i, b in enumerate(e.backups, 1)]
    else:
        s.blocks.append(Para((_("No backup of this entity is described in its playbook."),), "muted"))

    # 7. accounts
    s = sections["accounts"]
    if e.templates:
        for i, t in enumerate(e.templates, 1):
            trows: list[tuple[str, Line]] = []
            if t.description:
                trows.append((_("What"), (t.description,)))
            trows += [(_("Created in"), (Code(t.ou),)), (_("Groups"), _join(t.groups) if t.groups else ("—",)),
                      (_("Login rule"), (Code(t.username),))]
            if t.upn_suffix:
                trows.append((_("UPN suffix"), (Code(t.upn_suffix),)))
            if t.mail:
                trows.append((_("Mail"), (Code(t.mail),)))
            if t.home_directory:
                trows.append((_("Home folder"), (Code(t.home_directory),) + ((" (", Code(t.home_drive), ")")
                                                                              if t.home_drive else ())))
            if t.expires_after:
                trows.append((_("Expires after"), (t.expires_after,)))
            trows.append((_("Password"), (_("changed by the person at first logon") if t.must_change_password
                                          else _("set by you"),)))
            trows.append((_("To create one"), (Code(
                f"itref ad user create --template {e.name}/{t.name} --first FIRST --last LAST --dry-run"),)))
            s.subsections.append(Subsection(f"{s.number}.{i}", t.name, f"template-{t.name}", [Fields(tuple(trows))]))
    else:
        s.blocks.append(Para((_("No account template for this entity."),), "muted"))

    # 8. audit
    s = sections["audit"]
    if e.audit_schedule:
        s.blocks.append(Para((_("The audit of this entity runs:") + " ", *schedule_line(e.audit_schedule))))
    if e.audit is None:
        s.blocks.append(Para((_("No audit recorded for this entity yet: run") + " ", Code("itref audit"), "."),
                             "note"))
    else:
        a = e.audit
        line = _("Last audit: {when} (run {run}).").format(when=moment(a.time), run=a.run_id) + " " + ngettext(
            "{n} open problem.", "{n} open problems.", len(a.findings)).format(n=len(a.findings))
        if a.waived:
            line += " " + ngettext("{n} accepted for a while (waived): itref audit waivers.",
                                   "{n} accepted for a while (waived): itref audit waivers.", a.waived).format(
                n=a.waived)
        s.blocks.append(Para((line,)))
        if a.findings:
            s.blocks.append(finding_bullets(a.findings))

    # 9. journal
    s = sections["journal"]
    if e.journal:
        s.blocks.append(Para((_("The {shown} most recent of {total} records, newest first (all of them:").format(
            shown=len(e.journal), total=e.journal_total) + " ", Code(f"itref journal --entity {e.name}"), ")."),))
        s.blocks.append(Table((_("When"), _("Who"), _("Host"), _("Action"), _("What"), _("Result")), tuple(
            ((moment(j.time),), (j.operator,), (Code(j.host),) if j.host else ("",), (action_word(j.action),),
             (Code(shown(j.target)),), (outcome_word(j.outcome) + (f" (rc {j.rc})" if j.rc not in (None, 0) else "")
                                        + (f" — {detail_shown(j.action, j.detail)}" if j.detail else ""),))
            for j in e.journal)))
    else:
        s.blocks.append(Para((_("Nothing recorded in the journal for this entity yet."),), "muted"))

    intro: list[Block] = [
        Para((_("{org} — handover pack of {date}, made by {who} with itref {version}.").format(
            org=org, date=day(pack.generated), who=pack.operator, version=pack.version),), "muted"),
        Para((_("What this entity has, how to reach it, what to do regularly and whom to call. It holds no "
                "password: it says where each one is kept. Keep it as carefully as a key all the same."),)),
        Para((_("Summary:") + " " + summary(e),)),
    ]
    if e.notes:
        intro.append(Para((Strong(_("Read the handover notes first (section {n}).").format(
            n=section_number("notes"))),), "note"))
    return Page(title=_("{title} — IT handover").format(title=e.title), lang=pack.language,
                    running=f"{org} — {e.title} — {day(pack.generated)}", intro=intro,
                    contents_title=_("Contents"), sections=[sections[k] for k in SECTIONS])


def summary(e: EntityPack) -> str:
    """Return the one-line summary of an entity: hosts, routines, backups, open problems."""
    bits = [ngettext("{n} machine", "{n} machines", len(e.hosts)).format(n=len(e.hosts)),
            ngettext("{n} routine", "{n} routines", len(e.routines)).format(n=len(e.routines)),
            ngettext("{n} backup", "{n} backups", len(e.backups)).format(n=len(e.backups))]
    if e.audit is None:
        bits.append(_("never audited"))
    else:
        bits.append(ngettext("{n} open problem", "{n} open problems", e.open_problems).format(n=e.open_problems))
    return ", ".join(bits)


def _secret_table(secrets: list[SecretInfo]) -> Table:
    rows = []
    for s in secrets:
        uses = "; ".join(use_text(u) for u in s.used_by) or _("not used by anything listed")
        unnamed = _("(no name: the reference is written where it is used)")
        rows.append(((Code(s.name),) if s.name else (unnamed,), store_line(s.store), (uses,)))
    return Table((_("Name"), _("Where it is kept"), _("Needed for")), tuple(rows))


# --------------------------------------------------------------------------- the index

ROLES = {"referent": N_("IT referent"), "stand-in": N_("stand-in"), "supplier": N_("supplier")}


def _people_section(pack: Pack, number: int) -> Section:
    """Return the section naming the people of the project and what each did over the last days."""
    from itref.handover.pack import ACTIVITY_DAYS

    people = Section(number, _("People and what they did"), "people")
    if pack.operators:
        people.blocks.append(Table((_("Name"), _("Role"), _("E-mail"), _("Phone")), tuple(
            ((o.name,), (_(ROLES.get(o.role, o.role)),), (o.email or "",), (o.phone or "",))
            for o in pack.operators)))
    else:
        people.blocks.append(Para((_("The inventory lists nobody under operators: add the referent and the "
                                     "stand-ins (name, role, e-mail, phone)."),), "muted"))
    people.blocks.append(Para((Strong(ngettext("Who did what over the last {n} day", "Who did what over the last "
                                               "{n} days", ACTIVITY_DAYS).format(n=ACTIVITY_DAYS)),
                               " " + _("(from the shared journal)")),))
    if pack.activity:
        people.blocks.append(Table((_("Who"), _("What"), _("Entities"), _("Last")), tuple(
            ((a.who + (f" ({_(ROLES[a.role])})" if a.role in ROLES else ""),),
             ("; ".join(f"{action_word(action)} × {n}" for action, n in sorted(a.actions.items(),
                                                                    key=lambda x: (-x[1], x[0]))),),
             (", ".join(a.entities) or "—",), (moment(a.last),))
            for a in pack.activity)))
    else:
        people.blocks.append(Para((_("Nothing was recorded in that time."),), "muted"))
    return people


def status_bullets(items: list[Item], entities: dict[str, str]) -> Bullets:
    """Return ``itref status`` lines as bullets: the word, the entity, the sentence, the command to continue."""
    from itref.core.findings import status_label as label

    rows = []
    for i in items:
        who: list[Inline] = [f"{entities.get(i.entity, i.entity)} — "] if i.entity else []
        rows.append((Strong(f"[{label(i.severity)}]"), " ", *who, i.text, " — ", Code(i.command)))
    return Bullets(tuple(rows))


def _status_sections(pack: Pack, first: int) -> list[Section]:
    """Return the sections "due this week", "unfinished routines" and "scheduled changes", made of the lines
    ``itref status`` shows (the same code makes both)."""
    from itref.handover.pack import DUE_DAYS

    titles = {e.name: e.title for e in pack.entities}
    parts = [
        (_("Due this week"), "due", pack.due_this_week,
         ngettext("Routines due or late, and coming within {n} day; directory changes due in that time.",
                  "Routines due or late, and coming within {n} days; directory changes due in that time.",
                  DUE_DAYS).format(n=DUE_DAYS), _("Nothing scheduled is due this week.")),
        (_("Unfinished routines"), "unfinished", pack.unfinished,
         _("Routine runs someone started and did not finish: resume or cancel each."),
         _("No routine was left half-done.")),
        (_("Scheduled changes"), "scheduled", pack.scheduled,
         _("Directory changes confirmed for a date: itref schedule run makes them then, unless the directory changed "
           "meanwhile (they then wait for a person)."), _("No directory change is scheduled.")),
    ]
    out = []
    for n, (title, anchor, items, intro, empty) in enumerate(parts, first):
        section = Section(n, title, anchor)
        section.blocks.append(Para((intro, " " + _("On screen:") + " ", Code("itref status"))))
        if anchor == "scheduled":  # whether anything makes them: the machine that made this pack runs the schedule?
            items = [*(i for i in pack.schedule if i.severity.rank > 0), *items]
        section.blocks.append(status_bullets(items, titles) if items else Para((empty,), "muted"))
        out.append(section)
    waivers = Section(first + len(parts), _("Waivers in force"), "waivers")
    waivers.blocks.append(Para((_("Findings accepted until a date, with the reason and who decided: the audit shows "
                                  "them as waived until then."), " " + _("On screen:") + " ",
                                Code("itref audit waivers"))))
    if pack.waivers:
        waivers.blocks.append(Bullets(tuple(
            (Code(w.check + (f" ({w.subject})" if w.subject else "")), " " + (
                _("on {host}").format(host=w.host) if w.host else _("on every host")) + " — " + _(
                "until {date}: {reason} (decided by {who})").format(date=w.until, reason=w.reason, who=w.who),)
            for w in pack.waivers)))
    else:
        waivers.blocks.append(Para((_("No finding is waived."),), "muted"))
    out.append(waivers)
    return out


def index_document(pack: Pack, ext: str) -> Page:
    """Return the index page: one line per entity, where things are, the secrets, the directory."""
    entities = Section(1, _("Entities"), "entities")
    items = []
    for e in pack.entities:
        items.append((Strong(e.title), " (", Code(e.name), "): " + summary(e) + " — " + _("file") + " ",
                      Link(page_file(e.name, ext), page_file(e.name, ext))))
    entities.blocks.append(Bullets(tuple(items)))
    where = Section(2, _("Where things are"), "where")
    where.blocks.append(Fields((
        (_("Inventory (hosts, secrets, directory)"), (Code(pack.inventory),)),
        (_("Playbooks (routines, backups, notes)"), (Code(pack.playbooks),)),
        (_("Shared memory (journal, histories, waivers, departures, routine runs)"), (
            Code(pack.state_dir), " — " + _("keep it with the inventory, on the shared drive or in git"))),
        (_("To see it all on screen"), (Code("itref inventory show"), ", ", Code("itref playbook list"), ", ",
                                        Code("itref journal"), ", ", Code("itref state show"))),
        (_("To make this pack again"), (Code("itref handover --output FOLDER"),)),
    )))
    secrets = Section(3, _("Where the passwords are kept"), "secrets")
    secrets.blocks.append(Para((_("Names and places only, never a password."),)))
    if pack.secrets:
        secrets.blocks.append(_secret_table(pack.secrets))
    else:
        secrets.blocks.append(Para((_("The inventory names no secret."),), "muted"))
    directory = Section(4, _("Active Directory"), "directory")
    if pack.directory is not None:
        d = pack.directory
        directory.blocks.append(Fields((
            (_("Server"), (Code(d.url),) + ((" " + _("(StartTLS)"),) if d.start_tls else ())),
            (_("Domain root"), (Code(d.base_dn),)),
            (_("Service account"), (Code(d.bind_user),)),
            (_("Its password"), named_store_line(d.bind_password)),
            *([(_("CA certificate"), (Code(d.ca_file),))] if d.ca_file else []),
        )))
    else:
        directory.blocks.append(Para((_("No directory is configured in the inventory."),), "muted"))
    sections = [entities, where, secrets, directory, _people_section(pack, 5), *_status_sections(pack, 6)]
    if pack.notifications is not None:
        n = pack.notifications
        notify = Section(len(sections) + 1, _("Who is told when the audit finds something"), "notifications")
        rows: list[tuple[str, Line]] = []
        if n.email_to:
            rows.append((_("E-mail to"), _join(n.email_to, code=False) + ((" (" + _("server") + " ",
                                                                          Code(n.email_server), ")")
                                                                         if n.email_server else ())))
        if n.webhook:
            rows.append((_("Webhook"), (Code(n.webhook),)))
        rows.append((_("Summary sent"), ({"none": _("never"), "daily": _("every day"),
                                         "weekly": _("every week")}.get(n.digest, n.digest),)))
        notify.blocks.append(Fields(tuple(rows)))
        sections.append(notify)
    if pack.other_findings:
        from itref.core.findings import no_entity_heading

        other = Section(len(sections) + 1, _("Open problems: {heading}").format(
            heading=no_entity_heading(f.check for f in pack.other_findings)), "other-findings")
        other.blocks.append(finding_bullets(pack.other_findings))
        sections.append(other)
    intro: list[Block] = [
        Para((_("Handover pack of {date}, made by {who} with itref {version}.").format(
            date=day(pack.generated), who=pack.operator, version=pack.version),), "muted"),
        Para((_("One page per entity, as Markdown (.md) and as a web page to print (.html, A4). Each page says "
                "who the entity is and whom to call, its machines and how to reach them, where its passwords are "
                "kept (never the passwords), its routines step by step, its backups, its open problems and what "
                "was done recently."),)),
    ]
    return Page(title=_("{org} — IT handover pack").format(org=pack.organisation), lang=pack.language,
                    running=f"{pack.organisation} — {day(pack.generated)}", intro=intro,
                    contents_title=_("Contents"), sections=sections, page_breaks=False)

