"""Directory changes scheduled for a date: an offboarding on the last evening, an account enabled on the first
morning.

When a change is scheduled, its plan is computed (reading only), shown and confirmed, and stored in the project's
state folder as one YAML document (``scheduled/<id>.yaml``): the action and its parameters (never a password),
the plan as it was shown, the date, and who scheduled it. ``itref schedule run`` (from cron, every few minutes
while changes are pending) takes each change whose date has come, computes its plan again and compares it with
the one that was confirmed. The same plan is applied, journaled in the name of the person who scheduled it
("applied by the schedule at TIME"); a different one (the account was moved, renamed, deleted, joined a group
meanwhile) is *not* applied: the change is held, with both plans, until a person looks at it.

Reading the documents needs neither the directory nor ldap3 (``itref status`` lists them offline).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itref.core.errors import UsageError
from itref.i18n import _
from itref.state.documents import Documents
from itref.state.operator import display_name
from itref.state.records import now_text, parse_time

if TYPE_CHECKING:
    from itref.ad.client import DirectoryClient
    from itref.ad.plan import Change, Plan
    from itref.context import RunContext
    from itref.state.folder import StateFolder

KIND = "scheduled"
OPEN = ("pending", "held", "failed")
"""States in which a change still needs the schedule or a person."""
SCHEDULABLE = ("user offboard", "user enable", "user disable", "user unlock", "user set", "user move", "group add",
               "group remove")
"""Actions that may wait for a date (a creation is made at once, disabled, and its enabling waits; a password
reset cannot wait: nobody would be there to hand the password out)."""
_OPEN_TEXT = re.compile(r"^status: (pending|held|failed)$", re.M)


def parse_at(text: str, now: datetime) -> datetime:
    """Return the moment ``text`` names (``2026-12-04 18:00``, ``2026-12-04T18:00``, or a day alone, meaning its
    first minute), in local time unless it gives its offset. Raises UsageError when it is not a date or is not
    after ``now``."""
    cleaned = " ".join(str(text).split())
    try:
        when = datetime.fromisoformat(cleaned)
    except ValueError:
        raise UsageError(_("'{text}' is not a date and time; write it as 2026-12-04 18:00").format(
            text=text)) from None
    when = when.astimezone() if when.tzinfo is None else when
    if when <= now:
        raise UsageError(_("{when} is already past: a change can only wait for a later moment (or be made "
                           "now)").format(when=when.strftime("%Y-%m-%d %H:%M")))
    return when


def plan_data(plan: Plan) -> list[dict[str, Any]]:
    """Return the changes of ``plan`` as stored and compared: kind, DN, new and former values, target (values as
    text, attributes sorted; never a password, which is not part of a change)."""
    def text(values: dict[str, Any]) -> dict[str, Any]:
        return {k: (None if v is None else [str(x) for x in v] if isinstance(v, list | tuple) else str(v))
                for k, v in sorted(values.items())}

    return [{"kind": c.kind, "dn": c.dn, "attributes": text(c.attributes), "before": text(c.before),
             "target": c.target or None} for c in plan.changes]


def same_plan(stored: list[dict[str, Any]], current: list[dict[str, Any]]) -> bool:
    """Return True when two stored plans make the same changes (DNs compared without regard to case)."""
    def key(changes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(c.get("kind"), str(c.get("dn") or "").lower(), c.get("attributes") or {}, c.get("before") or {},
                 str(c.get("target") or "").lower()) for c in changes]

    return key(stored) == key(current)


def split_create(plan: Plan) -> tuple[Plan, Change | None]:
    """Return a creation plan without the change that enables the account (the account is made disabled, given
    its password, groups and "change at next logon"), and that enabling change (None when there is none)."""
    from itref.ad.plan import Change, Plan
    from itref.ad.values import UAC_ACCOUNTDISABLE

    changes: list[Change] = []
    enable: Change | None = None
    for c in plan.changes:
        uac = c.attributes.get("userAccountControl") if c.kind == "modify" else None
        if enable is None and uac is not None and not int(str(uac)) & UAC_ACCOUNTDISABLE:
            enable = Change("modify", c.dn, {"userAccountControl": uac},
                            {"userAccountControl": c.before.get("userAccountControl")})
            rest = {k: v for k, v in c.attributes.items() if k != "userAccountControl"}
            if rest:
                changes.append(Change("modify", c.dn, rest))
        else:
            changes.append(c)
    return Plan(plan.title, plan.login, changes, plan.password, list(plan.notes)), enable


@dataclass
class ScheduledChange:
    """A directory change waiting for its date, or what became of it.

    ``status``: ``pending`` (waits for ``at``), ``applied``, ``held`` (its plan changed meanwhile: a person must
    look), ``failed`` (the directory refused it while it was being applied), ``cancelled``.
    """

    id: str
    action: str
    params: dict[str, Any]
    at: str
    entity: str | None
    title: str
    plan: list[dict[str, Any]]
    language: str = "en"
    status: str = "pending"
    origin: str = ""
    """What scheduled it: a command, or a routine run."""
    created: str = field(default_factory=now_text)
    operator: str | None = None
    account: str | None = None
    machine: str | None = None
    tried: str | None = None
    """When the schedule last looked at it."""
    problem: str | None = None
    """Why the last look did not apply it (the directory could not be reached; its plan changed...)."""
    new_plan: list[dict[str, Any]] | None = None
    """Held: the plan as it would be now."""
    done: str | None = None
    """When it was applied, held, failed or cancelled."""
    done_by: str | None = None
    """Who cancelled it, or what applied it."""

    @property
    def when(self) -> datetime:
        """Return the moment the change is due, as an aware datetime."""
        when = parse_time(self.at)
        assert when is not None
        return when

    @property
    def who(self) -> str:
        """Return who scheduled it, for people."""
        return display_name(self.operator, self.account)

    @property
    def login(self) -> str:
        """Return the account (or group) the change is about."""
        return str(self.params.get("login") or self.params.get("group") or "")

    @property
    def subject(self) -> str:
        """Return what the journal records it as: the action and the account ("user offboard jdupont")."""
        return f"{self.action} {self.login}"

    @property
    def is_open(self) -> bool:
        """Return True while the change needs the schedule or a person."""
        return self.status in OPEN

    def signer(self) -> dict[str, str | None]:
        """Return the signature fields of the person who scheduled it (journal records use them)."""
        return {"operator": self.operator, "account": self.account, "machine": self.machine}


class ScheduledChanges:
    """The scheduled changes of a state folder (reading never creates anything)."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state
        self.docs = Documents(state, KIND)

    def save(self, change: ScheduledChange) -> None:
        """Write ``change`` whole. Raises StateError."""
        self.docs.write(change.id, asdict(change))

    def add(self, change: ScheduledChange) -> ScheduledChange:
        """Store a new change, signed by this process's operator, and return it. Raises StateError."""
        op = self.state.operator
        change.operator, change.account, change.machine = op.name, op.account, op.machine
        self.save(change)
        return change

    def get(self, change_id: str) -> ScheduledChange | None:
        """Return the change ``change_id``, or None when there is none."""
        try:
            data = self.docs.read(change_id)
        except ValueError:  # not a possible id
            return None
        return _from_data(data) if data is not None else None

    def list(self, *, everything: bool = False) -> list[ScheduledChange]:
        """Return the open changes (every change when ``everything``), by date."""
        found = []
        for name, data in self.docs.all(keep=None if everything else _OPEN_TEXT.search, memo="open"):
            change = _from_data(data)
            if change is None:
                self.docs.refuse(name, 1, _("not a scheduled change: a field it needs is missing or of the wrong "
                                            "kind"))
            elif everything or change.is_open:
                found.append(change)
        return sorted(found, key=lambda c: (c.when, c.id))

    def due(self, now: datetime) -> list[ScheduledChange]:
        """Return the pending changes whose date has come, oldest first."""
        return [c for c in self.list() if c.status == "pending" and c.when <= now]

    def cancel(self, change_id: str, reason: str) -> ScheduledChange:
        """Cancel the open change ``change_id`` and return it. Raises UsageError when there is none, or when it was
        applied or cancelled already; StateError."""
        change = self.get(change_id)
        if change is None:
            raise UsageError(_("no scheduled change '{id}' (see itref pending list)").format(id=change_id))
        if not change.is_open:
            raise UsageError(_("the scheduled change {id} is {status} already").format(
                id=change_id, status=status_word(change.status)))
        change.status, change.done, change.done_by = "cancelled", now_text(), self.state.operator.display()
        change.problem = reason
        self.save(change)
        return change


def status_word(status: str) -> str:
    """Return a scheduled change's status in words."""
    return {"pending": _("pending"), "applied": _("applied"), "held": _("held for a person"),
            "failed": _("failed"), "cancelled": _("cancelled")}.get(status, status)


def _from_data(data: dict[str, Any]) -> ScheduledChange | None:
    from itref.state.documents import check_types

    known = {f.name for f in fields(ScheduledChange)}
    try:
        change = ScheduledChange(**{k: v for k, v in data.items() if k in known})
        check_types(change)
        change.when  # noqa: B018 - a change without a readable date is no change
    except (TypeError, ValueError, AssertionError):
        return None
    return change


def new_id() -> str:
    """Return a short id for a new scheduled change."""
    import secrets

    return secrets.token_hex(4)


# --------------------------------------------------------------------------- scheduling


def describe(action: str, params: dict[str, Any]) -> str:
    """Return a scheduled action in words ("offboard jdupont")."""
    login = params.get("login") or params.get("group") or ""
    return {"user offboard": _("offboard {login}"), "user enable": _("enable {login}"),
            "user disable": _("disable {login}"), "user unlock": _("unlock {login}"),
            "user set": _("change attributes of {login}"), "user move": _("move {login}"),
            "group add": _("add members to {login}"), "group remove": _("remove members from {login}"),
            }.get(action, action + " {login}").format(login=login)


def prepare(action: str, params: dict[str, Any], at: datetime, entity: str | None, plan: Plan,
            origin: str) -> ScheduledChange:
    """Return the change to store for ``plan`` (computed for ``action`` with ``params`` as of ``at``), not yet
    stored. Raises UsageError for an action that cannot wait for a date, or parameters holding a secret."""
    if action not in SCHEDULABLE:
        raise UsageError(_("'{action}' cannot be scheduled for a date (these can: {known}, and user create)").format(
            action=action, known=", ".join(SCHEDULABLE)))
    refs = {"secret", "env", "file", "keepass", "prompt"}
    if any(isinstance(v, dict) and len(v) == 1 and set(v) <= refs for v in params.values()):
        raise UsageError(_("a scheduled change keeps its parameters in the shared state: none may be a secret"))
    from itref.i18n import language

    return ScheduledChange(new_id(), action, dict(params), at.isoformat(timespec="seconds"), entity, plan.title,
                           plan_data(plan), language(), origin=origin)


# --------------------------------------------------------------------------- applying


@dataclass(frozen=True)
class Outcome:
    """What the schedule did with one due change: ``applied``, ``held`` (its plan changed), ``failed`` (the
    directory refused it halfway) or ``waiting`` (the directory could not be reached: tried again next time)."""

    change: ScheduledChange
    result: str
    message: str


def plan_now(client: DirectoryClient, ctx: RunContext, change: ScheduledChange) -> tuple[Plan, Any]:
    """Return the plan of ``change`` computed again now (as of its date, in the language it was shown in), and
    for an offboarding the snapshot to keep before applying it (else None). Raises ItrefError."""
    from itref.ad.actions import build_plan
    from itref.i18n import use_language

    with use_language(change.language):
        if change.action == "user offboard":
            from itref.ad.offboard import plan_offboard

            return plan_offboard(client, ctx.project, str(change.params.get("login") or ""),
                                 str(change.params.get("reason") or ""), today=change.when)
        return build_plan(client, ctx.project, change.entity or "", change.action, change.params), None


def _only_one(ctx: RunContext) -> Any:
    """Return a context yielding True while this process alone applies the project's changes on this machine
    (False: another does)."""
    from itref.core.files import held_alone

    return held_alone(ctx.state.cache_dir() / "schedule.lock")


def run_due(ctx: RunContext, now: datetime, open_client: Callable[[], DirectoryClient]) -> list[Outcome] | None:
    """Apply every pending change due at ``now`` whose plan is still the one confirmed; hold the others. Return
    what became of each (None when another ``itref schedule run`` of this machine is at it). Raises StateError;
    an unreachable directory leaves the changes pending (outcome ``waiting``)."""
    from itref.core.errors import ConnectionFailed, ItrefError, SecretError

    store = ScheduledChanges(ctx.state)
    outcomes: list[Outcome] = []
    with _only_one(ctx) as alone:
        if not alone:
            return None
        due = store.due(now)
        if not due:
            return outcomes
        try:
            client = open_client()
        except (ConnectionFailed, SecretError) as exc:
            for change in due:
                change.tried, change.problem = now_text(), exc.message
                store.save(change)
                outcomes.append(Outcome(change, "waiting", exc.message))
            return outcomes
        try:
            for change in due:
                fresh = store.get(change.id)  # a person may have cancelled it a moment ago
                if fresh is None or fresh.status != "pending":
                    continue
                try:
                    outcomes.append(_apply_one(ctx, client, fresh, now))
                except ConnectionFailed as exc:
                    fresh.tried, fresh.problem = now_text(), exc.message
                    store.save(fresh)
                    outcomes.append(Outcome(fresh, "waiting", exc.message))
                except ItrefError as exc:  # planning refused: the account is gone, moved out of its entity...
                    outcomes.append(_hold(ctx, fresh, exc.message, None))
        finally:
            client.close()
    return outcomes


def _apply_one(ctx: RunContext, client: DirectoryClient, change: ScheduledChange, now: datetime) -> Outcome:
    from itref.ad.errors import DirectoryError
    from itref.ad.plan import apply
    from itref.journal import JournalRecord

    plan, snapshot = plan_now(client, ctx, change)
    current = plan_data(plan)
    if not same_plan(change.plan, current):
        return _hold(ctx, change, _("the directory changed since it was scheduled: the plan is no longer the one "
                                    "that was confirmed"), current)
    applied_at = now_text()
    detail = _("applied by the schedule at {time}; scheduled by {who} on {date} (change {id})").format(
        time=applied_at, who=change.who, date=change.created[:16].replace("T", " "), id=change.id)

    from itref.ad.record import change_recorder, keep_snapshot

    store = ScheduledChanges(ctx.state)
    if snapshot is not None:
        keep_snapshot(ctx, snapshot, via="schedule", signer=change.signer())
    try:
        apply(client, plan, change_recorder(ctx, change.entity, client.host, note=detail, via="schedule",
                                            signer=change.signer()))
    except DirectoryError as exc:
        change.status, change.tried, change.done, change.problem = "failed", applied_at, applied_at, exc.message
        change.done_by = "schedule"
        store.save(change)
        ctx.journal.append(JournalRecord(action="ad scheduled", target=change.subject,
                                         outcome="failed", entity=change.entity, detail=exc.message,
                                         run_id=ctx.run_id, via="schedule", **change.signer()))
        return Outcome(change, "failed", exc.message)
    change.status, change.tried, change.done, change.done_by, change.problem = (
        "applied", applied_at, applied_at, "schedule", None)
    store.save(change)
    ctx.journal.append(JournalRecord(action="ad scheduled", target=change.subject,
                                     outcome="applied", entity=change.entity, detail=detail, run_id=ctx.run_id,
                                     via="schedule", **change.signer()))
    return Outcome(change, "applied", detail)


def _hold(ctx: RunContext, change: ScheduledChange, reason: str, current: list[dict[str, Any]] | None) -> Outcome:
    """Keep ``change`` unapplied for a person to look at; journal why. Returns the outcome."""
    from itref.journal import JournalRecord

    change.status, change.tried, change.done, change.problem = "held", now_text(), now_text(), reason
    change.new_plan, change.done_by = current, "schedule"
    ScheduledChanges(ctx.state).save(change)
    ctx.journal.append(JournalRecord(action="ad scheduled", target=change.subject,
                                     outcome="held", entity=change.entity, detail=reason, run_id=ctx.run_id,
                                     via="schedule", **change.signer()))
    return Outcome(change, "held", reason)
