"""Routine steps that act on Active Directory (``ad:`` steps), through the same plans as ``itref ad``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from itref.ad.actions import ACTIONS, NEEDS
from itref.core.errors import UsageError
from itref.i18n import _

if TYPE_CHECKING:
    from pathlib import Path

    from itref.ad.client import DirectoryClient
    from itref.ad.plan import Plan
    from itref.context import RunContext
    from itref.runner.routine import FlatStep, Interaction, StepRecord



def _need(params: dict[str, Any], *names: str) -> list[Any]:
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        raise UsageError(_("the ad step needs: {names}").format(names=", ".join(missing)))
    return [params[n] for n in names]


def build_plan(client: DirectoryClient, ctx: RunContext, entity: str, action: str, params: dict[str, Any], *,
               today: datetime | None = None) -> Plan:
    """Return the plan for an ``ad`` step (reads only); ``today`` is the day an offboarding is dated (now by
    default). Raises UsageError for an unknown action."""
    from itref.ad import accounts, offboard

    if action == "user create":
        template, first, last = _need(params, *NEEDS[action])
        ref = template if "/" in str(template) else f"{entity}/{template}"
        extra = {k: str(v) for k, v in (params.get("attributes") or {}).items()}
        return accounts.plan_create(client, ctx.project, ref, str(first), str(last), extra, login=params.get("login"))
    if action == "user offboard":
        login, reason = _need(params, *NEEDS[action])
        return offboard.plan_offboard(client, ctx.project, str(login), str(reason), today=today)[0]
    if action in ("user disable", "user enable"):
        return accounts.plan_enable(client, str(_need(params, "login")[0]), enable=action == "user enable")
    if action == "user unlock":
        return accounts.plan_unlock(client, str(_need(params, "login")[0]))
    if action == "user reset-password":
        return accounts.plan_reset_password(client, str(_need(params, "login")[0]))
    if action == "user set":
        login, values = _need(params, *NEEDS[action])
        return accounts.plan_set(client, str(login), {k: str(v) for k, v in dict(values).items()})
    if action == "user move":
        login, ou = _need(params, *NEEDS[action])
        return accounts.plan_move(client, str(login), str(ou))
    if action in ("group add", "group remove"):
        group, logins = _need(params, *NEEDS[action])
        names = [logins] if isinstance(logins, str) else [str(x) for x in logins]
        return accounts.plan_membership(client, str(group), names, add=action == "group add")
    raise UsageError(_("unknown ad action '{action}' (known: {known})").format(action=action, known=", ".join(ACTIONS)))


def _when(at: str | None) -> datetime | None:
    """Return the moment an ``at:`` names (None without one). Raises UsageError when it is no date or is past."""
    if not at:
        return None
    from datetime import UTC

    from itref.ad.scheduled import parse_at

    return parse_at(at, datetime.now(UTC))


def ad_plan_text(ctx: RunContext, entity: str, action: str, params: dict[str, Any],
                 password_to: str | Path | None = None, *, at: str | None = None) -> str:
    """Return the step's AD plan as diff text (read-only connection), with the date it waits for when ``at`` is
    given; a sentence if it cannot be planned. ``password_to``: where a new password will be written (None: shown
    once on the terminal)."""
    from itref.core.errors import ItrefError
    from itref.i18n import format_datetime
    from itref.report.ad import plan_text

    try:
        when = _when(at)
        client = ctx.directory(read_only=True)
    except ItrefError as exc:
        return _("{action} (cannot be previewed: {reason})").format(action=action, reason=exc.message)
    try:
        plan = build_plan(client, ctx, entity, action, params, today=when)
        if when is None:
            return plan_text(plan, password_to).plain.rstrip()
        on = _("On {when} (nothing changes before):").format(when=format_datetime(when))
        if action == "user create":
            from itref.ad.plan import Plan
            from itref.ad.scheduled import split_create

            now_plan, enable = split_create(plan)
            later = Plan(_("Enable {login}").format(login=plan.login), plan.login, [enable] if enable else [])
            now_text = plan_text(now_plan, password_to).plain.rstrip()
            return "\n".join([_("Now:"), now_text, on, plan_text(later).plain.rstrip()])
        return "\n".join([on, plan_text(plan, password_to).plain.rstrip()])
    except ItrefError as exc:
        return _("{action} (cannot be previewed: {reason})").format(action=action, reason=exc.message)
    finally:
        client.close()


def ad_step(ctx: RunContext, entity: str, fs: FlatStep, params: dict[str, Any], ui: Interaction, *,
            at: str | None = None) -> StepRecord:
    """Plan and apply an ``ad`` step, journal each change, hand out a new password through ``ui``; with ``at``,
    store the change for that date instead (a creation is made now, disabled, and enabled then)."""
    from itref.ad.plan import apply
    from itref.ad.record import change_recorder, keep_snapshot
    from itref.runner.routine import StepRecord

    assert fs.step.ad is not None
    when = _when(at)
    if when is not None:
        return _scheduled_step(ctx, entity, fs, params, ui, when)
    client = ctx.directory(read_only=False)
    try:
        plan = build_plan(client, ctx, entity, fs.step.ad.action, params)
        if plan.empty:
            return StepRecord(fs.number, "ok", _("nothing to change"))
        if plan.snapshot is not None:  # an offboarding: how the account was, kept before anything changes
            keep_snapshot(ctx, plan.snapshot)
        apply(client, plan, change_recorder(ctx, entity, client.host))
    finally:
        client.close()
    if plan.password is not None:
        ui.secret(_("initial password of {login}").format(login=plan.login), plan.password.reveal())
    return StepRecord(fs.number, "ok", plan.title)


def _scheduled_step(ctx: RunContext, entity: str, fs: FlatStep, params: dict[str, Any], ui: Interaction,
                    when: datetime) -> StepRecord:
    """Store an ``ad`` step's change for ``when`` (a creation: make the account now, disabled, and store its
    enabling); journal it. Returns the step's record."""
    from itref.ad.plan import apply
    from itref.ad.scheduled import ScheduledChanges, prepare, split_create
    from itref.i18n import format_datetime
    from itref.journal import JournalRecord
    from itref.runner.routine import StepRecord

    assert fs.step.ad is not None
    action = fs.step.ad.action
    origin = _("routine {routine} (run {run})").format(routine=fs.routine, run=ctx.run_id)
    created = None
    client = ctx.directory(read_only=action != "user create")
    try:
        if action == "user create":
            from itref.ad.accounts import plan_enable

            created = build_plan(client, ctx, entity, action, params)
            now_plan, _enable = split_create(created)

            def record(change: Any, dn: str) -> None:
                ctx.journal.append(JournalRecord(action="ad", target=f"{change.kind} {dn}", outcome="changed",
                                                 entity=entity, host=client.host, run_id=ctx.run_id))

            apply(client, now_plan, record)
            change = prepare("user enable", {"login": created.login}, when, entity,
                             plan_enable(client, created.login, enable=True), origin)
        else:
            change = prepare(action, params, when, entity, build_plan(client, ctx, entity, action, params,
                                                                       today=when), origin)
    finally:
        client.close()
    ScheduledChanges(ctx.state).add(change)
    ctx.journal.append(JournalRecord(action="ad schedule", target=change.subject,
                                     outcome="scheduled", entity=entity, run_id=ctx.run_id,
                                     detail=_("change {id} for {at}").format(id=change.id, at=change.at)))
    if created is not None and created.password is not None:
        ui.secret(_("initial password of {login}").format(login=created.login), created.password.reveal())
    if created is not None:
        return StepRecord(fs.number, "ok", _("account {login} created now, disabled; it is enabled on {when} "
                                             "(change {id}, itref pending list)").format(
            login=created.login, when=format_datetime(when), id=change.id))
    return StepRecord(fs.number, "ok", _("scheduled for {when} as change {id} (itref pending list)").format(
        when=format_datetime(when), id=change.id))
