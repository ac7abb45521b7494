"""Directory changes as data: a plan is computed by reading only, then applied change by change.

Each applied change is journaled (never with a password). If creating an account fails after the
object was added (e.g. the password is refused), the half-made account is deleted again, so a
failed create leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from itref.ad.errors import DirectoryError
from itref.i18n import _

if TYPE_CHECKING:
    from itref.ad.client import DirectoryClient
    from itref.secrets import Secret

ChangeKind = Literal["create", "modify", "password", "add-member", "remove-member", "move", "delete"]


@dataclass(frozen=True)
class Change:
    """One directory write. ``attributes`` are the new values, ``before`` the current ones (for the diff);
    ``target`` is the group DN (member changes) or the new parent OU (move). A ``password`` change with
    ``attributes`` sets them in the same LDAP modify, right after the password (see :func:`fuse_password`)."""

    kind: ChangeKind
    dn: str
    attributes: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    object_class: tuple[str, ...] = ()


@dataclass
class Plan:
    """What a command would do: a title for people, the login concerned, and ordered changes."""

    title: str
    login: str
    changes: list[Change] = field(default_factory=list)
    password: Secret | None = None
    notes: list[str] = field(default_factory=list)
    snapshot: Any = None
    """What must be kept before applying (an offboarding's :class:`~itref.ad.offboard.Snapshot`), or None."""

    @property
    def empty(self) -> bool:
        """Return True when there is nothing to change (the directory is already as asked)."""
        return not self.changes


@dataclass(frozen=True)
class Applied:
    """A change that was made, and the DN it ended on (a move changes the DN)."""

    change: Change
    dn: str


def fuse_password(plan: Plan) -> Plan:
    """Return ``plan`` with each password change followed by a change of the same account's attributes
    made one change: the password first, then the attributes, in one atomic LDAP modify (one round trip
    instead of two; the DC applies both or neither, so the account is never enabled without its password)."""
    changes: list[Change] = []
    for change in plan.changes:
        last = changes[-1] if changes else None
        if (change.kind == "modify" and last is not None and last.kind == "password" and last.dn == change.dn
                and not last.attributes):
            changes[-1] = Change("password", last.dn, dict(change.attributes), dict(change.before))
        else:
            changes.append(change)
    return Plan(plan.title, plan.login, changes, plan.password, list(plan.notes))


def split_memberships(plan: Plan) -> tuple[Plan, list[str]]:
    """Return ``plan`` without its add-member changes of the account it creates or finishes, and the DNs
    of those groups, so that many accounts can join a group in one modify (:meth:`DirectoryClient.add_members`)."""
    groups = [c.target for c in plan.changes if c.kind == "add-member"]
    rest = [c for c in plan.changes if c.kind != "add-member"]
    return Plan(plan.title, plan.login, rest, plan.password, list(plan.notes)), groups


def apply(client: DirectoryClient, plan: Plan, on_change: Callable[[Change, str], None] | None = None, *,
          before: Callable[[Change], None] | None = None) -> list[Applied]:
    """Perform ``plan`` in order; return what was done. ``on_change`` is called after each change (journal),
    ``before`` just before each one (e.g. to keep a password before it is set).

    Raises DirectoryError at the first refused change; a create whose later steps fail is rolled back.
    """
    done: list[Applied] = []
    renamed: dict[str, str] = {}
    created: str | None = None
    try:
        for change in plan.changes:
            dn = renamed.get(change.dn, change.dn)
            if before is not None:
                before(change)
            new_dn = _perform(client, change, dn, plan.password)
            if change.kind == "create":
                created = new_dn
            if new_dn != dn:
                renamed[change.dn] = new_dn
            done.append(Applied(change, new_dn))
            if on_change is not None:
                on_change(change, new_dn)
    except DirectoryError:
        if created is not None:
            delete_created(client, created, on_change)
        raise
    return done


def delete_created(client: DirectoryClient, dn: str, on_change: Callable[[Change, str], None] | None) -> None:
    """Delete the account ``dn`` that a failed creation left half-made, journaling it through ``on_change``;
    when the DC refuses, the account stays (for a rerun to find) and nothing is journaled."""
    try:
        client.delete(dn)
    except DirectoryError:
        return
    if on_change is not None:
        on_change(Change("delete", dn), dn)


def _perform(client: DirectoryClient, change: Change, dn: str, password: Secret | None) -> str:
    if change.kind == "create":
        client.add(dn, change.object_class, change.attributes)
    elif change.kind == "modify":
        client.replace(dn, change.attributes)
    elif change.kind == "password":
        if password is None:
            raise DirectoryError(_("no password to set for {dn}").format(dn=dn))
        client.set_password(dn, password, change.attributes or None)
    elif change.kind == "add-member":
        client.add_member(change.target, dn)
    elif change.kind == "remove-member":
        client.remove_member(change.target, dn)
    elif change.kind == "move":
        return client.move(dn, change.target)
    elif change.kind == "delete":
        client.delete(dn)
    return dn
