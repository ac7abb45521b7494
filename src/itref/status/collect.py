"""Collect what needs a person: from the project's state folder and the inventory only (and this machine's
crontab, read locally). No host, directory or repository is contacted; no secret is resolved.

Each part reads through the module that writes its records (:mod:`itref.audit.history`,
:mod:`itref.backup.history`, :mod:`itref.runner.routine`, :mod:`itref.ad.scheduled`, :mod:`itref.audit.waivers`,
:mod:`itref.journal`), and only as far back as the question needs: the latest audit runs, each backup's newest
records, the journal since the earliest moment a schedule fired.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from itref.core.findings import Severity, status_word
from itref.i18n import _, format_date, format_datetime, ngettext
from itref.status.model import KINDS, EntityStatus, Item, Status

if TYPE_CHECKING:
    from itref.audit.history import AuditHistory, Past, RunInfo
    from itref.config.project import Project
    from itref.config.schema import Backup

WAIVER_DAYS = 14
"""Waivers ending within this many days are listed."""
CERTIFICATE_DAYS = 30
"""Certificates expiring within this many days are listed."""
CERTIFICATE_CRITICAL_DAYS = 7
"""Certificates expiring within this many days (or expired) are critical."""
CRON_GRACE = timedelta(hours=2)
"""How long after a scheduled moment a cron run may take before its silence is suspicious."""
CERT_CHECK = "network.tls.expiry"


def drill_every(backup: Backup) -> timedelta | None:
    """Return how often ``backup`` must be restore-tested (its playbook's ``drill.every``), or None when it has no
    drill policy. The one place the status reads the drill policy from."""
    from itref.core.units import parse_duration

    return parse_duration(backup.drill.every) if backup.drill is not None else None


def collect(project: Project, now: datetime, *, entities: list[str] | None = None,
            crontab: Callable[[], str] | None = None, ahead: timedelta = timedelta(0),
            kinds: Collection[str] = KINDS) -> Status:
    """Return what needs a person at ``now`` for ``entities`` (all when None). ``crontab`` returns this machine's
    crontab text (None: say nothing about this machine); ``ahead`` also lists routines and changes due within
    that time (the handover pack's "due this week"); only items of ``kinds`` are looked for (the pack, which says
    the rest its own way, asks for routines, runs and changes). Raises StateError when the state folder cannot be
    read."""
    reader = _Reader(project, now)
    names = list(project.inventory.entities) if entities is None else entities
    out = []
    for name in names:
        entity = EntityStatus(name, project.inventory.entities[name].title)
        if "audit" in kinds:
            entity.items += reader.audit(name)
        if "backup" in kinds:
            entity.items += reader.backups(name)
        if "routine" in kinds:
            entity.items += reader.routines(name, ahead)
        out.append(entity)
    general = EntityStatus(None, _("Directory, every host, this machine"))
    if "audit" in kinds and entities is None and project.inventory.directory is not None:
        general.items += reader.audit(None)  # the findings about no entity are the directory's
    by_name = {e.name: e for e in out}
    found = [*(reader.runs() if "run" in kinds else []), *(reader.changes(ahead) if "change" in kinds else []),
             *(reader.waivers() if "waiver" in kinds else [])]
    for item in found:
        if item.entity in by_name:
            by_name[item.entity].items.append(item)
        elif entities is None:  # about no entity (or one the inventory no longer has)
            general.items.append(item)
    if crontab is not None and entities is None and "schedule" in kinds:
        general.items += reader.machine(crontab)
    if "state" in kinds:
        general.items += reader.unreadable()  # what the lines above could not read, so did not show
    for e in [*out, general]:
        e.items = [i for i in e.items if i.kind in kinds]  # an audit's new findings and certificates come with it
        e.items.sort(key=lambda i: KINDS.index(i.kind))
    return Status(project.inventory.organisation, now, project.state.operator.display(), out, general)


def _who(fields: dict[str, Any]) -> str:
    """Return who made a record, for people, with "(cron)" when cron started it."""
    from itref.state.operator import display_name

    who = display_name(fields.get("operator"), fields.get("account")) if (
        fields.get("operator") or fields.get("account")) else "?"
    return _("cron ({who})").format(who=who) if fields.get("via") == "cron" else who


def _local_day(moment: datetime) -> date:
    return moment.astimezone().date()


class _Reader:
    """Answers from the state folder, each read once."""

    def __init__(self, project: Project, now: datetime) -> None:
        self.project = project
        self.now = now
        self.state = project.state
        self._audits: AuditHistory | None = None
        self._headers: dict[str, dict[str, Any]] = {}
        self._findings: dict[str, dict[str, Past]] = {}
        self._finished_cache: dict[str, datetime] | None = None

    # ------------------------------------------------------------------ audits

    @property
    def audits(self) -> AuditHistory:
        if self._audits is None:
            from itref.audit.history import AuditHistory

            self._audits = AuditHistory(self.state)
        return self._audits

    def _header(self, run: RunInfo) -> dict[str, Any]:
        if run.run_id not in self._headers:
            self._headers[run.run_id] = self.audits.header(run)
        return self._headers[run.run_id]

    def _findings_of(self, run_id: str) -> dict[str, Past]:
        if run_id not in self._findings:
            self._findings[run_id] = self.audits.findings_of(run_id, skip_ok=True)
        return self._findings[run_id]

    def _last_two(self, entity: str | None) -> tuple[RunInfo | None, RunInfo | None]:
        """Return the latest audit run about ``entity`` and the one before it (about no entity when None)."""
        wanted = entity if entity is not None else ""
        found: list[RunInfo] = []
        for run in reversed(self.audits.runs()):
            if run.time > self.now:
                continue
            if wanted in (self._header(run).get("entities") or []):
                found.append(run)
                if len(found) == 2:
                    break
        return (found[0] if found else None), (found[1] if len(found) > 1 else None)

    def audit(self, entity: str | None) -> list[Item]:
        """Return the last audit's summary, its new problems and expiring certificates (and, for an entity whose
        audit is scheduled, whether the schedule was kept)."""
        last, previous = self._last_two(entity)
        scope = f" --limit entity:{entity}" if entity else ""
        items: list[Item] = []
        book = self.project.playbooks.get(entity) if entity else None
        if last is None:
            if entity is None or not any(h.entity == entity for h in self.project.hosts):
                return items
            items.append(Item("audit", Severity.WARNING, _("Never audited."), f"itref audit{scope}", entity))
            return items
        header = self._header(last)
        when = self.audits.time_of(last.run_id) or last.time
        now_keys = {k: p for k, p in self._findings_of(last.run_id).items() if p.entity == entity}
        before = ({k: p for k, p in self._findings_of(previous.run_id).items() if p.entity == entity}
                  if previous else {})
        failing = [p for p in now_keys.values() if p.failing]
        new = [p for p in failing if previous is not None and not (before.get(p.key) and before[p.key].failing)]
        worst = max((p.severity for p in failing), key=lambda s: s.rank, default=Severity.OK)
        text = _("Last audit {when} by {who}: {problems}").format(
            when=format_datetime(when), who=_who(header),
            problems=ngettext("{n} open problem", "{n} open problems", len(failing)).format(n=len(failing)))
        if previous is not None:
            text += ", " + ngettext("{n} new since the previous one", "{n} new since the previous one",
                                    len(new)).format(n=len(new))
        waived = sum(1 for p in now_keys.values() if p.waived)
        if waived:
            text += ", " + ngettext("{n} waived", "{n} waived", waived).format(n=waived)
        items.append(Item("audit", worst, text + ".", f"itref audit{scope}", entity, when,
                          {"run": last.run_id, "open": len(failing), "new": len(new), "waived": waived,
                           "by": _who(header)}))
        schedule = book.audits.schedule if book is not None else None
        if schedule:
            from itref.cron import previous_fire

            fired = previous_fire(schedule, self.now)
            if fired is not None and when < fired:
                items.append(Item("audit", Severity.WARNING, _("The scheduled audit ({schedule}) did not run on "
                                                               "{when}.").format(schedule=schedule,
                                                                                 when=format_datetime(fired)),
                                  f"itref audit{scope}", entity, fired, {"schedule": schedule}))
        for p in sorted(new, key=lambda p: (-p.severity.rank, p.host or "", p.check)):
            if p.check == CERT_CHECK and p.expires:
                continue  # said below, with its date
            where = f"{p.host}: " if p.host else ""
            items.append(Item("finding", p.severity, _("New: {where}{message}").format(where=where,
                                                                                        message=p.message),
                              f"itref audit explain {p.check}", entity, when,
                              {"check": p.check, "host": p.host, "subject": p.subject}))
        items += self._certificates(now_keys.values(), entity, when)
        return items

    def _certificates(self, findings: Any, entity: str | None, audited: datetime) -> list[Item]:
        from itref.state.records import parse_time

        items = []
        for p in findings:
            expires = parse_time(p.expires) if p.check == CERT_CHECK and p.expires else None
            if expires is None or p.waived:
                continue
            days = (expires - self.now).days
            if days > CERTIFICATE_DAYS:
                continue
            name = p.subject or p.host or "?"
            if expires <= self.now:
                text = _("The certificate of {name} EXPIRED on {date}.").format(name=name, date=format_date(expires))
            else:
                text = ngettext("The certificate of {name} expires on {date} (in {n} day).",
                                "The certificate of {name} expires on {date} (in {n} days).", days).format(
                    name=name, date=format_date(expires), n=days)
            severity = Severity.CRITICAL if days <= CERTIFICATE_CRITICAL_DAYS else Severity.WARNING
            items.append(Item("certificate", severity, text + " " + _("(audit of {when})").format(
                when=format_date(audited)), f"itref audit --checks {CERT_CHECK}", entity, expires,
                {"subject": p.subject, "expires": p.expires, "days": days}))
        return items

    # ------------------------------------------------------------------ backups

    def backups(self, entity: str) -> list[Item]:
        """Return one line per backup of the entity: age of the last backup, last verify, last drill vs policy."""
        book = self.project.playbooks.get(entity)
        if book is None or not book.backups:
            return []
        from itref.backup.history import History

        history = History(self.state)
        return [self._backup(history, entity, b) for b in book.backups]

    def _backup(self, history: Any, entity: str, b: Backup) -> Item:
        from itref.core.humanize import ago
        from itref.core.units import parse_duration

        now = self.now
        severity = Severity.OK
        parts: list[str] = []
        command = f"itref backup check --entity {entity} {b.name}"

        def worse(level: Severity) -> None:
            nonlocal severity
            if level.rank > severity.rank:
                severity = level

        check = history.last_check(entity, b.name)
        if check is None:
            worse(Severity.WARNING)
            parts.append(_("never checked"))
        else:
            level = Severity(check.status) if check.status in {s.value for s in Severity} else Severity.UNKNOWN
            worse(level)
            if check.snapshot_time is not None:
                age = now - check.snapshot_time
                parts.append(_("last backup {ago}").format(ago=ago(age)))
                if b.max_age and age > parse_duration(b.max_age):
                    worse(Severity.CRITICAL)
                    parts[-1] += " " + _("(max {max})").format(max=b.max_age)
            elif check.problem:
                parts.append(_("no backup readable ({problem})").format(problem=check.problem))
            parts.append(_("checked {ago}: {status}").format(ago=ago(now - check.time), status=status_word(level)))
        if b.kind in ("restic", "borg"):
            verify = history.last("verify", entity, b.name)
            if verify is None:
                parts.append(_("never verified"))
            else:
                parts.append(_("verified {ago}").format(ago=ago(now - verify.time)) + (
                    "" if verify.ok else " " + _("(FAILED)")))
                if not verify.ok:
                    worse(Severity.CRITICAL)
                    command = f"itref backup verify --entity {entity} {b.name}"
            if b.verify_schedule:
                from itref.cron import previous_fire

                fired = previous_fire(b.verify_schedule, now)
                if fired is not None and (verify is None or verify.time < fired) and now - fired > CRON_GRACE:
                    worse(Severity.WARNING)
                    parts.append(_("verify due since {when}").format(when=format_datetime(fired)))
                    command = f"itref backup verify --entity {entity} {b.name}"
        every = drill_every(b)
        good = history.last_success("drill", entity, b.name) if (every is not None or b.kind in ("restic", "borg")) \
            else None
        if every is not None or b.kind in ("restic", "borg"):
            parts.append(_("last good restore drill {ago}").format(ago=ago(now - good)) if good else
                         _("never restore-tested"))
        overdue = every is not None and (good is None or now - good > every)
        if every is not None:
            parts[-1] += " " + ngettext("(due every {n} day)", "(due every {n} days)", every.days).format(n=every.days)
        if overdue:
            worse(Severity.WARNING)
            parts[-1] += " — " + _("OVERDUE")
            if severity is Severity.WARNING:
                command = f"itref backup drill --entity {entity} {b.name}"
        text = f"{b.name} ({b.kind}): " + "; ".join(parts) + "."
        return Item("backup", severity, text, command, entity, check.time if check else None,
                    {"backup": b.name, "last_check": check.time.isoformat() if check else None,
                     "status": check.status if check else None,
                     "last_backup": check.snapshot_time.isoformat() if check and check.snapshot_time else None,
                     "last_good_drill": good.isoformat() if good else None, "drill_overdue": overdue})

    # ------------------------------------------------------------------ routines

    def _finished(self) -> dict[str, datetime]:
        """Return routine → when it last finished, whoever ran it and however, as far back as the earliest moment
        a scheduled routine of the project last fired (the journal is read once, from that month on)."""
        if self._finished_cache is not None:
            return self._finished_cache
        from itref.cron import previous_fire
        from itref.journal import Journal
        from itref.state.records import parse_time

        fired = []
        for book in self.project.playbooks.values():
            for routine in book.routines.values():
                try:
                    moment = previous_fire(routine.schedule, self.now) if routine.schedule else None
                except ValueError:
                    moment = None
                if moment is not None:
                    fired.append(moment)
        last: dict[str, datetime] = {}
        self._finished_cache = last
        if not fired:
            return last
        for record in Journal(self.state).stream.read(min(fired), contains=('"action": "routine finish"',)):
            when = parse_time(record.get("time"))
            target = record.get("target")
            if record.get("action") == "routine finish" and isinstance(target, str) and when and when <= self.now:
                last[target] = max(when, last.get(target, when))
        return last

    def routines(self, entity: str, ahead: timedelta) -> list[Item]:
        """Return the entity's scheduled routines that are due (fired today and not finished since), overdue
        (fired on an earlier day), and with ``ahead``, those firing within that time."""
        book = self.project.playbooks.get(entity)
        if book is None:
            return []
        from itref.cron import CronSchedule

        scheduled = []
        for name, routine in book.routines.items():
            if not routine.schedule:
                continue
            try:
                cron = CronSchedule.parse(routine.schedule)
            except ValueError:
                continue
            scheduled.append((name, routine.schedule, cron.previous(self.now), cron.next(self.now)))
        if not scheduled:
            return []
        finished = self._finished()
        items = []
        for name, schedule, previous, following in scheduled:
            target = f"{entity}/{name}"
            command = f"itref playbook run {target} --guided"
            done = finished.get(target)
            data = {"routine": target, "schedule": schedule, "fired": previous.isoformat() if previous else None,
                    "last_finished": done.isoformat() if done else None}
            if previous is not None and (done is None or done < previous):
                if _local_day(previous) == _local_day(self.now):
                    items.append(Item("routine", Severity.INFO, _("Routine {routine} is due today ({schedule}, "
                                                                  "since {time}).").format(
                        routine=target, schedule=schedule, time=format_datetime(previous)), command, entity, previous,
                        {**data, "state": "due"}))
                else:
                    items.append(Item("routine", Severity.WARNING, _("Routine {routine} is overdue: due on {when} "
                                                                     "({schedule}), not finished since.").format(
                        routine=target, schedule=schedule, when=format_datetime(previous)), command, entity,
                        previous, {**data, "state": "overdue"}))
            elif following is not None and following - self.now <= ahead:
                items.append(Item("routine", Severity.INFO, _("Routine {routine} is due on {when} ({schedule}).")
                                  .format(routine=target, when=format_datetime(following), schedule=schedule),
                                  command, entity, following, {**data, "state": "upcoming"}))
        return items

    # ------------------------------------------------------------------ unfinished runs

    def runs(self) -> list[Item]:
        """Return one line per unfinished routine run: who, when, at which step, waiting for what."""
        from itref.runner.routine import saved_runs
        from itref.runner.runs import view

        items = []
        for run in saved_runs(self.state, open_only=True):
            v = view(self.project, run)
            text = _("Unfinished run {id} of {routine}, started {when} by {who}, stopped at {where}; it waits for "
                     "{waits}.").format(id=v.run_id, routine=v.routine, who=v.who, where=v.where,
                                        waits=v.waits.rstrip(". "),
                                        when=format_datetime(v.started) if v.started else run.started)
            command = (f"itref playbook resume {v.run_id}" if v.total else
                       f"itref playbook cancel {v.run_id} --reason ...")
            items.append(Item("run", Severity.WARNING, text, command, v.entity, v.started, v.as_dict()))
        return items

    # ------------------------------------------------------------------ scheduled changes

    def changes(self, ahead: timedelta) -> list[Item]:
        """Return the scheduled directory changes still open: waiting (the next ones due), late, held, failed."""
        from itref.ad.scheduled import ScheduledChanges, describe

        items = []
        for c in ScheduledChanges(self.state).list():
            what = describe(c.action, c.params)
            data = {"change": c.id, "action": c.action, "params": c.params, "at": c.at, "status": c.status,
                    "by": c.who, "problem": c.problem}
            if c.status == "held":
                text = _("Change {id} ({what}, due {when}) was NOT applied: {why}. It waits for a person.").format(
                    id=c.id, what=what, when=format_datetime(c.when), why=(c.problem or "?").rstrip(". "))
                items.append(Item("change", Severity.CRITICAL, text, f"itref pending show {c.id}", c.entity, c.when,
                                  data))
            elif c.status == "failed":
                text = _("Change {id} ({what}, due {when}) FAILED while it was applied: {why}.").format(
                    id=c.id, what=what, when=format_datetime(c.when), why=(c.problem or "?").rstrip(". "))
                items.append(Item("change", Severity.CRITICAL, text, f"itref pending show {c.id}", c.entity, c.when,
                                  data))
            elif c.when <= self.now:
                text = _("Change {id} ({what}) was due on {when} and is not applied yet").format(
                    id=c.id, what=what, when=format_datetime(c.when))
                text += (": " + c.problem.rstrip(". ") if c.problem else "") + "."
                items.append(Item("change", Severity.WARNING, text, "itref schedule run", c.entity, c.when, data))
            else:
                text = _("Change {id} scheduled for {when}: {what} (by {who}).").format(
                    id=c.id, when=format_datetime(c.when), what=what, who=c.who)
                items.append(Item("change", Severity.INFO, text, f"itref pending show {c.id}", c.entity, c.when,
                                  {**data, "upcoming": c.when - self.now <= ahead}))
        return items

    # ------------------------------------------------------------------ waivers

    def waivers(self) -> list[Item]:
        """Return the waivers that end within :data:`WAIVER_DAYS` days."""
        from itref.audit.waivers import Waivers

        today = _local_day(self.now)
        items = []
        for w in Waivers(self.state).load():
            end = date.fromisoformat(w.until)
            left = (end - today).days
            if left < 0 or left > WAIVER_DAYS:
                continue
            host = self.project.host(w.host) if w.host else None
            where = _(" on {host}").format(host=w.host) if w.host else ""
            text = ngettext("The waiver of {check}{where} ends on {date} (in {n} day): {reason} (by {who}).",
                            "The waiver of {check}{where} ends on {date} (in {n} days): {reason} (by {who}).",
                            left).format(check=w.check, where=where, date=format_date(end), n=left,
                                         reason=w.reason, who=w.who)
            items.append(Item("waiver", Severity.WARNING, text, f"itref audit explain {w.check}",
                              host.entity if host else None, None,
                              {"check": w.check, "host": w.host, "until": w.until, "reason": w.reason}))
        return items

    # ------------------------------------------------------------------ unreadable state files

    def unreadable(self) -> list[Item]:
        """Return one warning per state file (waiver, routine run, scheduled change) the other lines could not
        read: a merge done by hand may have broken one, and what it held is then missing from this screen."""
        return [Item("state", Severity.WARNING, _("This state file cannot be read, so it is left out here: "
                                                  "{problem}.").format(problem=problem), "itref state check", None,
                     None, {"file": path}) for path, problem in sorted(self.state.unreadable.items())]

    # ------------------------------------------------------------------ this machine

    def machine(self, crontab: Callable[[], str]) -> list[Item]:
        """Return whether this machine runs itref's schedule for this project, and its last cron run."""
        from itref.core.errors import ItrefError
        from itref.cron import previous_fire
        from itref.schedule import PENDING_WHAT, installed, inventory_key, planned_entries

        wanted = planned_entries(self.project, command=["itref"])
        try:
            text = crontab()
        except ItrefError as exc:
            if not wanted:
                return []
            return [Item("schedule", Severity.WARNING, _("This machine cannot run itref's schedule: {reason}.").format(
                reason=exc.message), "itref schedule install", None)]
        found = installed(text, inventory_key(self.project.inventory_path))
        if not wanted and not found:
            return [Item("schedule", Severity.OK, _("Nothing is scheduled in the playbooks (no audits.schedule, "
                                                    "routine schedule or verify_schedule)."), "itref schedule list",
                         None)]
        if not found:
            return [Item("schedule", Severity.WARNING, ngettext(
                "This machine does not run itref's schedule for this project ({n} entry in the playbooks).",
                "This machine does not run itref's schedule for this project ({n} entries in the playbooks).",
                len(wanted)).format(n=len(wanted)), "itref schedule install", None, None,
                {"installed": 0, "wanted": len(wanted)})]
        items = []
        differs = sorted((e.what, e.schedule) for e in wanted) != sorted((e.what, e.schedule) for e in found)
        last = self._last_cron()
        since = ([previous_fire(e.schedule, self.now) for e in found if e.what != PENDING_WHAT])
        expected = max((m for m in since if m is not None), default=None)
        installed_at = self._installed_at()
        if installed_at is None or (expected is not None and expected < installed_at):
            expected = None  # nothing was due since the lines went in (or nobody knows when they did)
        text = ngettext("This machine runs itref's schedule for this project ({n} entry)",
                        "This machine runs itref's schedule for this project ({n} entries)", len(found)).format(
            n=len(found))
        severity = Severity.OK
        if last is None:
            text += "; " + _("no cron run is recorded yet")
        else:
            text += "; " + _("last cron run {when}: {action} {target} → {outcome}").format(
                when=format_datetime(last["when"]), action=str(last["action"] or "").split(" ")[0],
                target=last["target"], outcome=last["outcome"])
            if last["outcome"] in ("failed", "error", "stopped"):
                severity = Severity.WARNING
        if expected is not None and self.now - expected > CRON_GRACE and (last is None or last["when"] < expected):
            severity = Severity.WARNING
            text += "; " + _("nothing ran for the entry due {when}: is cron running?").format(
                when=format_datetime(expected))
        items.append(Item("schedule", severity, text + ".", "itref journal --since 2d", None,
                          last["when"] if last else None,
                          {"installed": len(found), "wanted": len(wanted), "last_cron": {
                              k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in last.items()}
                           if last else None}))
        if differs:
            items.append(Item("schedule", Severity.WARNING, _("The installed cron entries differ from the playbooks' "
                                                              "schedules."), "itref schedule install", None))
        return items

    def _installed_at(self) -> datetime | None:
        """Return when itref's cron lines were last written on this machine (from the journal), or None."""
        from itref.journal import Journal
        from itref.state.records import parse_time

        machine = self.state.operator.machine
        for record in Journal(self.state).stream.newest_first(contains=('"action": "schedule install"',)):
            when = parse_time(record.get("time"))
            if record.get("action") == "schedule install" and record.get("machine") == machine and when is not None \
                    and when <= self.now:
                return when
        return None

    def _last_cron(self) -> dict[str, Any] | None:
        """Return the newest run cron started (its first action, target and worst outcome), or None."""
        from itref.journal import Journal
        from itref.state.records import parse_time

        run_id = None
        found: dict[str, Any] | None = None
        bad = ("failed", "error", "stopped")
        for record in Journal(self.state).stream.newest_first(contains=('"via": "cron"',)):
            when = parse_time(record.get("time"))
            if record.get("via") != "cron" or when is None or when > self.now:
                continue
            if found is None:
                run_id = record.get("run_id")
                found = {"when": when, "action": record.get("action"), "target": record.get("target"),
                         "outcome": record.get("outcome"), "run": run_id}
                if not run_id:
                    break
                continue
            if record.get("run_id") != run_id:
                break
            found["action"], found["target"] = record.get("action"), record.get("target")  # its first record
            if record.get("outcome") in bad:
                found["outcome"] = record.get("outcome")
        return found


def to_json(status: Status) -> str:
    """Return the status as indented JSON text."""
    return json.dumps(status.as_dict(), ensure_ascii=False, indent=2)
