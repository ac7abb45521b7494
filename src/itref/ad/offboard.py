"""Staged, reversible departures: snapshot → disable → leave groups → park in the departed OU.

The snapshot (OU, groups, the attributes offboarding changes) is written to the state folder
before anything changes, and recorded in the journal; ``restore`` puts every one of them back.
``purge`` deletes parked accounts once their retention has passed, from a plan shown first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from itref.ad.accounts import require_user
from itref.ad.client import DirectoryClient, parent_dn
from itref.ad.plan import Change, Plan
from itref.ad.values import UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT
from itref.core.errors import UsageError
from itref.i18n import _
from itref.journal import state_dir

if TYPE_CHECKING:
    from itref.config.project import Project

RESTORED_ATTRIBUTES = ("description", "userAccountControl")


@dataclass
class Snapshot:
    """How an account was before it was offboarded."""

    login: str
    dn: str
    ou: str
    groups: list[str]
    attributes: dict[str, str | None]
    entity: str
    reason: str
    date: str = field(default_factory=lambda: datetime.now(UTC).date().isoformat())


def snapshot_dir() -> Path:
    """Return the folder holding offboarding snapshots."""
    return state_dir() / "ad-departed"


def snapshot_path(login: str) -> Path:
    """Return where the snapshot of ``login`` is kept."""
    return snapshot_dir() / f"{login.lower()}.json"


def save_snapshot(snap: Snapshot) -> Path:
    """Write ``snap`` (mode 0600) and return its path."""
    path = snapshot_path(snap.login)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(snap), ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def load_snapshot(login: str) -> Snapshot:
    """Return the snapshot of ``login``. Raises UsageError when the account was not offboarded by itref."""
    path = snapshot_path(login)
    if not path.is_file():
        raise UsageError(_("no offboarding snapshot for '{login}' ({path}): it was not offboarded by itref").format(
            login=login, path=path))
    return Snapshot(**json.loads(path.read_text(encoding="utf-8")))


def entity_of(project: Project, dn: str) -> str | None:
    """Return the entity whose OU contains ``dn`` (the deepest one), or None."""
    best: tuple[int, str] | None = None
    for name, entity in project.inventory.entities.items():
        if entity.ou and dn.lower().endswith("," + entity.ou.lower()) and (best is None or len(entity.ou) > best[0]):
            best = (len(entity.ou), name)
    return best[1] if best else None


def departed_ou(project: Project, entity: str) -> str:
    """Return the OU where ``entity`` parks accounts of people who left. Raises UsageError if none is set."""
    ent = project.inventory.entities[entity]
    if not ent.departed_ou:
        raise UsageError(_("entity '{entity}' has no departed_ou in the inventory: add one, e.g. "
                           "departed_ou: OU=Departed,{ou}").format(entity=entity, ou=ent.ou or "DC=..."))
    return ent.departed_ou


def plan_offboard(client: DirectoryClient, project: Project, login: str, reason: str,
                  today: datetime | None = None) -> tuple[Plan, Snapshot]:
    """Return the offboarding plan for ``login`` and the snapshot to save before applying it."""
    user = require_user(client, login)
    entity = entity_of(project, user.dn)
    if entity is None:
        raise UsageError(_("{login} is in {ou}, which belongs to no entity's OU in the inventory").format(
            login=login, ou=parent_dn(user.dn)))
    target = departed_ou(project, entity)
    if parent_dn(user.dn).lower() == target.lower():
        raise UsageError(_("{login} is already in the departed OU {ou}").format(login=login, ou=target))
    snap = Snapshot(login=user.text("sAMAccountName") or login, dn=user.dn, ou=parent_dn(user.dn),
                    groups=user.texts("memberOf"), entity=entity, reason=reason,
                    attributes={a: user.text(a) for a in RESTORED_ATTRIBUTES})
    day = (today or datetime.now(UTC)).date().isoformat()
    uac = user.int("userAccountControl") or UAC_NORMAL_ACCOUNT
    plan = Plan(_("Offboard {login} ({entity}): {reason}").format(login=login, entity=entity, reason=reason), login)
    plan.changes.append(Change("modify", user.dn, {
        "userAccountControl": str(uac | UAC_ACCOUNTDISABLE),
        "description": _("Departed {date}: {reason}").format(date=day, reason=reason)},
        dict(snap.attributes)))
    plan.changes += [Change("remove-member", user.dn, target=g) for g in snap.groups]
    plan.changes.append(Change("move", user.dn, before={"ou": snap.ou}, target=target))
    return plan, snap


def plan_restore(client: DirectoryClient, snap: Snapshot) -> Plan:
    """Return the plan putting the account back exactly as in ``snap`` (OU, groups, attributes)."""
    user = require_user(client, snap.login)
    plan = Plan(_("Restore {login} as it was before {date}").format(login=snap.login, date=snap.date), snap.login)
    if parent_dn(user.dn).lower() != snap.ou.lower():
        plan.changes.append(Change("move", user.dn, before={"ou": parent_dn(user.dn)}, target=snap.ou))
    current = {g.lower() for g in user.texts("memberOf")}
    plan.changes += [Change("add-member", user.dn, target=g) for g in snap.groups if g.lower() not in current]
    changed = {k: v for k, v in snap.attributes.items() if user.text(k) != v}
    if changed:
        plan.changes.append(Change("modify", user.dn, changed, {k: user.text(k) for k in changed}))
    return plan


def plan_purge(client: DirectoryClient, project: Project, older_than: timedelta,
               now: datetime | None = None) -> Plan:
    """Return the plan deleting parked accounts whose departure is older than ``older_than``.

    The departure date is the snapshot's; without a snapshot, the account's last change (whenChanged).
    """
    now = now or datetime.now(UTC)
    plan = Plan(_("Delete accounts departed more than {days} days ago").format(days=older_than.days), "")
    parked = {e.departed_ou.lower(): (e.departed_ou, name) for name, e in project.inventory.entities.items()
              if e.departed_ou}
    for ou, owner in parked.values():  # entities may share one departed OU: each account once
        for user in client.search("(&(objectCategory=person)(objectClass=user))",
                                  ["sAMAccountName", "whenChanged"], base=ou, scope="LEVEL"):
            login = user.text("sAMAccountName") or ""
            path = snapshot_path(login)
            snap = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
            left = (datetime.fromisoformat(snap["date"]).replace(tzinfo=UTC) if snap
                    else user.gentime("whenChanged"))
            if left is not None and now - left > older_than:
                plan.changes.append(Change("delete", user.dn, before={
                    "left": left.date().isoformat(), "entity": snap["entity"] if snap else owner}))
    return plan
