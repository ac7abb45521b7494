"""Routine steps that act on Active Directory (``ad:`` steps), through the same plans as ``itref ad``."""

from __future__ import annotations

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


def build_plan(client: DirectoryClient, ctx: RunContext, entity: str, action: str, params: dict[str, Any]) -> Plan:
    """Return the plan for an ``ad`` step (reads only). Raises UsageError for an unknown action."""
    from itref.ad import accounts, offboard

    if action == "user create":
        template, first, last = _need(params, *NEEDS[action])
        ref = template if "/" in str(template) else f"{entity}/{template}"
        extra = {k: str(v) for k, v in (params.get("attributes") or {}).items()}
        return accounts.plan_create(client, ctx.project, ref, str(first), str(last), extra, login=params.get("login"))
    if action == "user offboard":
        login, reason = _need(params, *NEEDS[action])
        return offboard.plan_offboard(client, ctx.project, str(login), str(reason))[0]
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


def ad_plan_text(ctx: RunContext, entity: str, action: str, params: dict[str, Any],
                 password_to: str | Path | None = None) -> str:
    """Return the step's AD plan as diff text (read-only connection); a sentence if it cannot be planned.
    ``password_to``: where a new password will be written (None: shown once on the terminal)."""
    from itref.core.errors import ItrefError
    from itref.report.ad import plan_text

    try:
        client = ctx.directory(read_only=True)
    except ItrefError as exc:
        return _("{action} (cannot be previewed: {reason})").format(action=action, reason=exc.message)
    try:
        return plan_text(build_plan(client, ctx, entity, action, params), password_to).plain.rstrip()
    except ItrefError as exc:
        return _("{action} (cannot be previewed: {reason})").format(action=action, reason=exc.message)
    finally:
        client.close()


def ad_step(ctx: RunContext, entity: str, fs: FlatStep, params: dict[str, Any], ui: Interaction) -> StepRecord:
    """Plan and apply an ``ad`` step, journal each change, hand out a new password through ``ui``."""
    from itref.ad.plan import apply
    from itref.ad.record import change_recorder, keep_snapshot
    from itref.runner.routine import StepRecord

    assert fs.step.ad is not None
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
