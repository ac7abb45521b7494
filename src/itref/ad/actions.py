"""The AD actions a playbook's ``ad:`` step (or a scheduled change) may ask for, the parameters each needs
(``playbook validate`` checks them before any routine runs) and the plan each makes (``runner.ad_step`` and
``ad.scheduled`` apply it)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from itref.core.errors import UsageError
from itref.i18n import _

if TYPE_CHECKING:
    from itref.ad.client import DirectoryClient
    from itref.ad.plan import Plan
    from itref.config.project import Project

ACTIONS = ("user create", "user offboard", "user disable", "user enable", "user unlock", "user reset-password",
           "user set", "user move", "group add", "group remove")
NEEDS = {"user create": ("template", "first", "last"), "user offboard": ("login", "reason"),
         "user disable": ("login",), "user enable": ("login",), "user unlock": ("login",),
         "user reset-password": ("login",), "user set": ("login", "values"), "user move": ("login", "ou"),
         "group add": ("group", "logins"), "group remove": ("group", "logins")}
"""The parameters each action needs."""


def _need(params: dict[str, Any], *names: str) -> list[Any]:
    """Return the values of ``names`` in ``params``. Raises UsageError naming those missing."""
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        raise UsageError(_("the ad step needs: {names}").format(names=", ".join(missing)))
    return [params[n] for n in names]


def build_plan(client: DirectoryClient, project: Project, entity: str, action: str, params: dict[str, Any], *,
               today: datetime | None = None) -> Plan:
    """Return the plan for an ``ad`` step (reads only); ``today`` is the day an offboarding is dated (now by
    default). Raises UsageError for an unknown action."""
    from itref.ad import accounts, offboard

    if action == "user create":
        template, first, last = _need(params, *NEEDS[action])
        ref = template if "/" in str(template) else f"{entity}/{template}"
        extra = {k: str(v) for k, v in (params.get("attributes") or {}).items()}
        return accounts.plan_create(client, project, ref, str(first), str(last), extra, login=params.get("login"))
    if action == "user offboard":
        login, reason = _need(params, *NEEDS[action])
        return offboard.plan_offboard(client, project, str(login), str(reason), today=today)[0]
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
