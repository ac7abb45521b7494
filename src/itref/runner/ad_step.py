"""Routine steps that act on Active Directory (``ad:`` steps), through the same plans as ``itref ad``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from itref.ad.actions import build_plan
from itref.i18n import _

if TYPE_CHECKING:
    from pathlib import Path

    from itref.context import RunContext
    from itref.runner.routine import FlatStep, Interaction, StepRecord



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
        plan = build_plan(client, ctx.project, entity, action, params, today=when)
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
        plan = build_plan(client, ctx.project, entity, fs.step.ad.action, params)
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

            created = build_plan(client, ctx.project, entity, action, params)
            now_plan, _enable = split_create(created)

            def record(change: Any, dn: str) -> None:
                ctx.journal.append(JournalRecord(action="ad", target=f"{change.kind} {dn}", outcome="changed",
                                                 entity=entity, host=client.host, run_id=ctx.run_id))

            apply(client, now_plan, record)
            change = prepare("user enable", {"login": created.login}, when, entity,
                             plan_enable(client, created.login, enable=True), origin)
        else:
            change = prepare(action, params, when, entity, build_plan(client, ctx.project, entity, action, params,
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
