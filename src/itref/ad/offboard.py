"""Staged, reversible departures: snapshot → disable → leave groups → park in the departed OU.

The snapshot (OU, groups, the attributes offboarding changes) is written to the project's state folder
(``departed/<login>.yaml``, shared with whoever takes over) before anything changes, and recorded in the
journal; ``restore`` puts every one of them back, from any clone of the project. ``purge`` deletes parked
accounts once their retention has passed, from a plan shown first, and their snapshots with them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itref.ad.accounts import require_user
from itref.ad.client import DirectoryClient, parent_dn
from itref.ad.plan import Change, Plan
from itref.ad.values import UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT
from itref.core.errors import UsageError
from itref.i18n import _
from itref.state.documents import Documents

if TYPE_CHECKING:
    from itref.config.project import Project
    from itref.state.folder import StateFolder

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


class Snapshots:
    """The offboarding snapshots of a state folder: one YAML document per account, kept until ``ad purge``
    deletes the account (a restored account's snapshot says when and by whom it was restored)."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state
        self.docs = Documents(state, "departed")

    @staticmethod
    def name(login: str) -> str:
        """Return the document name of ``login``'s snapshot."""
        return login.lower()

    def path(self, login: str) -> Path:
        """Return where the snapshot of ``login`` is kept."""
        return self.docs.file(self.name(login))

    def save(self, snap: Snapshot, signer: dict[str, str | None] | None = None) -> Path:
        """Write ``snap`` signed by the operator (or by ``signer``: the person who scheduled the offboarding)
        and return its file. Raises StateError."""
        return self.docs.write(self.name(snap.login), {**asdict(snap), **(signer or self.state.operator.fields())})

    def get(self, login: str) -> dict[str, Any] | None:
        """Return the stored snapshot document of ``login`` (with who offboarded and restored), or None."""
        try:
            return self.docs.read(self.name(login))
        except ValueError:  # not a possible login: no snapshot either
            return None

    def load(self, login: str) -> Snapshot:
        """Return the snapshot to restore ``login`` from. Raises UsageError when the account was not offboarded
        by itref (in this project), or was restored already."""
        data = self.get(login)
        if data is None:
            raise UsageError(_("no offboarding snapshot for '{login}' in {path}: it was not offboarded by itref in "
                               "this project").format(login=login, path=self.docs.path))
        restored = data.get("restored")
        if isinstance(restored, dict):
            raise UsageError(_("'{login}' was already restored on {date} by {who}").format(
                login=login, date=restored.get("time", "?"), who=restored.get("by") or "?"))
        known = {f.name for f in fields(Snapshot)}
        return Snapshot(**{k: v for k, v in data.items() if k in known})

    def mark_restored(self, login: str) -> None:
        """Record in ``login``'s snapshot that it was restored, when and by whom. Raises StateError."""
        from itref.state.records import now_text

        data = self.get(login)
        if data is not None:
            data["restored"] = {"time": now_text(), "by": self.state.operator.display()}
            self.docs.write(self.name(login), data)

    def remove(self, login: str) -> None:
        """Forget ``login``'s snapshot (its account was deleted)."""
        self.docs.remove(self.name(login))


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
    plan.snapshot = snap
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
    snapshots = Snapshots(project.state)
    plan = Plan(_("Delete accounts departed more than {days} days ago").format(days=older_than.days), "")
    parked = {e.departed_ou.lower(): (e.departed_ou, name) for name, e in project.inventory.entities.items()
              if e.departed_ou}
    for ou, owner in parked.values():  # entities may share one departed OU: each account once
        for user in client.search("(&(objectCategory=person)(objectClass=user))",
                                  ["sAMAccountName", "whenChanged"], base=ou, scope="LEVEL"):
            login = user.text("sAMAccountName") or ""
            snap = snapshots.get(login) if login else None
            left = (datetime.fromisoformat(str(snap["date"])).replace(tzinfo=UTC) if snap and snap.get("date")
                    else user.gentime("whenChanged"))
            if left is not None and now - left > older_than:
                plan.changes.append(Change("delete", user.dn, before={
                    "left": left.date().isoformat(), "entity": snap.get("entity", owner) if snap else owner,
                    "login": login}))
    return plan
