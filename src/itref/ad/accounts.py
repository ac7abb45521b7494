"""Plans for account operations: create from a template, reset, unlock, enable/disable, move, set,
group membership. Each function only reads the directory and returns a :class:`Plan`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from itref.ad.client import DirectoryClient, Entry, PasswordPolicy, escape_filter, escape_rdn, parent_dn
from itref.ad.errors import DirectoryError
from itref.ad.naming import login_problems, render_login, render_pattern, unique_login, upn_problems
from itref.ad.passwords import generate
from itref.ad.plan import Change, Plan
from itref.ad.values import UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT, to_filetime
from itref.core.errors import UsageError
from itref.core.text import first_control, printable
from itref.core.units import parse_duration
from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.project import Project
    from itref.config.schema import AccountTemplate

USER_CLASSES = ("top", "person", "organizationalPerson", "user")
FRIENDLY = {"office": "physicalDeliveryOfficeName", "telephone": "telephoneNumber", "phone": "telephoneNumber",
            "employee_id": "employeeID", "employeeid": "employeeID", "matricule": "employeeID",
            "mobile": "mobile", "title": "title", "department": "department", "company": "company",
            "description": "description", "manager": "manager", "city": "l", "street": "streetAddress"}
USER_ATTRIBUTES = ("sAMAccountName", "userPrincipalName", "givenName", "sn", "displayName", "mail", "description",
                   "department", "company", "title", "physicalDeliveryOfficeName", "telephoneNumber", "employeeID",
                   "userAccountControl", "memberOf", "pwdLastSet", "lastLogonTimestamp", "accountExpires",
                   "lockoutTime", "whenCreated", "homeDirectory", "homeDrive", "profilePath", "objectSid")

MAX_CN = 64
"""Longest account name (CN, ``First Last``) Windows takes (its schema's rangeUpper; Samba takes longer ones)."""
RANGE_UPPER = {"givenName": 64, "sn": 64, "displayName": 256, "department": 64, "title": 128, "company": 64,
               "physicalDeliveryOfficeName": 128, "telephoneNumber": 64, "mobile": 64, "description": 1024,
               "l": 128, "streetAddress": 1024, "employeeID": 16, "mail": 256}
"""Longest value of the attributes an account is given, from the Active Directory schema (rangeUpper)."""


def ad_attribute(name: str) -> str:
    """Return the AD attribute name for a friendly name (``office`` → ``physicalDeliveryOfficeName``)."""
    return FRIENDLY.get(name.lower(), name)


def template(project: Project, ref: str) -> tuple[str, str, AccountTemplate]:
    """Return (entity, role, template) for ``ENTITY/ROLE``. Raises UsageError naming what exists."""
    entity, _sep, role = ref.partition("/")
    book = project.playbooks.get(entity)
    templates = book.accounts.templates if book else {}
    if not role or role not in templates:
        known = [f"{e}/{r}" for e, b in project.playbooks.items() for r in b.accounts.templates]
        raise UsageError(_("unknown account template '{ref}' (templates: {known})").format(
            ref=ref, known=", ".join(known) or _("none; add accounts.templates to a playbook")))
    return entity, role, templates[role]


def person_problems(tmpl: AccountTemplate | None, first: str, last: str, login: str | None = None,
                    extra: dict[str, str] | None = None) -> list[str]:
    """Return why an account for ``first last`` (``login`` given as it is, or made by the template's rule) with
    the ``extra`` attributes (AD names) cannot be written, or makes no sense; empty when it can.

    Checked, without asking the directory: no control character in any value, names not empty, the account
    name (CN) at most 64 characters, the login (see :func:`~itref.ad.naming.login_problems`), the user principal
    name ``login@upn_suffix``, and each attribute within the schema's length. Without a template (``None``: an
    unknown one, reported by the caller) the rule, the UPN and the template's attributes are not checked.
    """
    problems: list[str] = []
    attributes = {**(tmpl.attributes if tmpl is not None else {}), **(extra or {})}
    values = [(_("the first name"), first), (_("the last name"), last),
              *((_("the attribute {name}").format(name=key), str(value)) for key, value in attributes.items())]
    for what, value in values:
        control = first_control(value)
        if control is not None and control[1] == "\\ufffd":
            problems.append(_("{what} '{value}' holds a byte that is not text (the file is neither UTF-8 nor "
                              "Windows-1252 there), at position {pos}").format(
                what=what, value=printable(value), pos=control[0]))
        elif control is not None:
            problems.append(_("{what} '{value}' holds a control character ({char}) at position {pos}").format(
                what=what, value=printable(value), char=control[1], pos=control[0]))
    if not first.strip():
        problems.append(_("the first name is empty"))
    if not last.strip():
        problems.append(_("the last name is empty"))
    display = f"{first.strip()} {last.strip()}"
    if len(display) > MAX_CN:
        problems.append(_("'{name}' is {n} characters long; an account's name (CN) has at most {max}").format(
            name=printable(display), n=len(display), max=MAX_CN))
    chosen = login
    if login is not None:
        problems += login_problems(login)
    elif tmpl is not None and first.strip() and last.strip():
        try:
            chosen = render_login(tmpl.username, first, last)
        except ValueError as exc:
            problems.append(str(exc))
    if chosen and tmpl is not None and tmpl.upn_suffix and not (login is not None and login_problems(login)):
        problems += upn_problems(f"{chosen}@{tmpl.upn_suffix}")
    for key, value in attributes.items():
        limit = RANGE_UPPER.get(ad_attribute(key))
        if limit is not None and len(str(value)) > limit:
            problems.append(_("{attribute} '{value}' is {n} characters long; the directory takes at most {max} "
                              "characters").format(attribute=ad_attribute(key), value=printable(str(value)),
                                                   n=len(str(value)), max=limit))
    return problems


def login_taken(client: DirectoryClient, login: str, upn: str | None = None) -> bool:
    """Return True when any object already uses ``login`` as sAMAccountName (or ``upn`` as userPrincipalName)."""
    sam = f"(sAMAccountName={escape_filter(login)})"
    return client.exists(f"(|{sam}(userPrincipalName={escape_filter(upn)}))" if upn else sam)


class DirectoryView(Protocol):
    """What planning an account creation needs to know about the directory (reads only)."""

    def taken(self, login: str, upn: str | None) -> bool:
        """Return True when ``login`` (sAMAccountName) or ``upn`` (userPrincipalName) is used by any object."""
        ...

    def exists(self, dn: str) -> bool:
        """Return True when an object ``dn`` exists."""
        ...

    def group_dns(self, names: list[str]) -> dict[str, str]:
        """Return name → DN for each group. Raises DirectoryError listing every missing group."""
        ...

    def password_policy(self) -> PasswordPolicy:
        """Return the domain's password policy."""
        ...


class LiveView:
    """A :class:`DirectoryView` asking the DC each question (one search each): for single commands."""

    def __init__(self, client: DirectoryClient) -> None:
        self.client = client

    def taken(self, login: str, upn: str | None) -> bool:
        """Return True when ``login`` or ``upn`` is used by any object (one search)."""
        return login_taken(self.client, login, upn)

    def exists(self, dn: str) -> bool:
        """Return True when ``dn`` exists (one search)."""
        return self.client.get(dn, ["objectClass"]) is not None

    def group_dns(self, names: list[str]) -> dict[str, str]:
        """Return name → DN for each group (each group searched once per session)."""
        return group_dns(self.client, names)

    def password_policy(self) -> PasswordPolicy:
        """Return the domain's password policy (read once per session)."""
        return self.client.password_policy()


def require_user(client: DirectoryClient, login: str) -> Entry:
    """Return the user ``login``. Raises UsageError when there is none."""
    entry = client.find_user(login, USER_ATTRIBUTES)
    if entry is None:
        raise UsageError(_("no account '{login}' in the directory").format(login=login))
    return entry


def group_dns(client: DirectoryClient, names: list[str]) -> dict[str, str]:
    """Return name → DN for each group. Raises DirectoryError listing every missing group."""
    found, missing = {}, []
    for name in names:
        entry = client.find_group(name, fresh=False)
        if entry is None:
            missing.append(name)
        else:
            found[name] = entry.dn
    if missing:
        raise DirectoryError(_("these groups do not exist in the directory: {groups}").format(
            groups=", ".join(missing)))
    return found


def plan_create(client: DirectoryClient, project: Project, ref: str, first: str, last: str,
                extra: dict[str, str] | None = None, *, login: str | None = None,
                now: datetime | None = None, view: DirectoryView | None = None) -> Plan:
    """Return the plan creating ``first last`` from the template ``ref`` (ENTITY/ROLE).

    The account is created disabled, gets a generated password meeting the domain policy, is then
    enabled and added to the template's groups. Raises UsageError / DirectoryError before any change
    when the template, its OU or a group is missing, or a value cannot be written (:func:`person_problems`:
    control characters, a name longer than 64 characters, a login Windows refuses...). The directory is read
    through ``view`` (by default one search per question; an import passes what it read once for all its rows).
    """
    first, last = first.strip(), last.strip()
    if not first or not last:
        raise UsageError(_("a first name and a last name are needed"))
    entity, role, tmpl = template(project, ref)
    problems = person_problems(tmpl, first, last, login, extra)
    if problems:
        raise UsageError("; ".join(problems))
    look: DirectoryView = view or LiveView(client)
    base = login if login is not None else render_login(tmpl.username, first, last)

    def upn(candidate: str) -> str | None:
        return f"{candidate}@{tmpl.upn_suffix}" if tmpl.upn_suffix else None

    if login and look.taken(login, upn(login)):
        raise UsageError(_("the login '{login}' is already used").format(login=login))
    chosen = unique_login(base, lambda candidate: look.taken(candidate, upn(candidate)))
    if not look.exists(tmpl.ou):
        raise DirectoryError(_("the template's OU does not exist: {ou}").format(ou=tmpl.ou))
    groups = look.group_dns(list(tmpl.groups))
    display = f"{first} {last}"
    dn = f"CN={escape_rdn(display)},{tmpl.ou}"
    if look.exists(dn):  # a homonym in the same OU: keep both readable (the name shortened to fit 64 characters)
        suffix = f" ({chosen})"
        dn = f"CN={escape_rdn(display[:MAX_CN - len(suffix)].rstrip() + suffix)},{tmpl.ou}"
    attrs: dict[str, object] = {
        "sAMAccountName": chosen, "givenName": first, "sn": last, "displayName": display,
        "userAccountControl": str(UAC_NORMAL_ACCOUNT | UAC_ACCOUNTDISABLE),
    }
    if tmpl.upn_suffix:
        attrs["userPrincipalName"] = upn(chosen)
    if tmpl.mail:
        attrs["mail"] = render_pattern(tmpl.mail, first, last, chosen)
    for key, pattern in (("homeDirectory", tmpl.home_directory), ("profilePath", tmpl.profile_path)):
        if pattern:
            attrs[key] = render_pattern(pattern, first, last, chosen)
    if tmpl.home_drive:
        attrs["homeDrive"] = tmpl.home_drive
    if tmpl.description:
        attrs["description"] = tmpl.description
    if tmpl.expires_after:
        when = (now or datetime.now(UTC)) + parse_duration(tmpl.expires_after)
        attrs["accountExpires"] = str(to_filetime(when))
    for key, value in {**tmpl.attributes, **(extra or {})}.items():
        if value not in (None, ""):
            attrs[ad_attribute(key)] = str(value)
    enable: dict[str, object] = {"userAccountControl": str(UAC_NORMAL_ACCOUNT)}
    if tmpl.must_change_password:
        enable["pwdLastSet"] = "0"
    plan = Plan(_("Create the account {login} for {name} ({ref})").format(login=chosen, name=display, ref=ref),
                chosen)
    plan.changes.append(Change("create", dn, attrs, object_class=USER_CLASSES))
    plan.changes.append(Change("password", dn))
    plan.changes.append(Change("modify", dn, enable, {"userAccountControl": attrs["userAccountControl"]}))
    plan.changes += [Change("add-member", dn, target=gdn) for gdn in groups.values()]
    plan.password = generate(look.password_policy(), forbidden=[chosen, first, last])
    if chosen != base:
        plan.notes.append(_("'{base}' is taken: the login is {login}").format(base=base, login=chosen))
    plan.notes.append(_("entity {entity}, role {role}").format(entity=entity, role=role))
    return plan


def plan_reset_password(client: DirectoryClient, login: str, *, must_change: bool = True) -> Plan:
    """Return the plan giving ``login`` a new generated password (to change at next logon by default)."""
    user = require_user(client, login)
    plan = Plan(_("Reset the password of {login}").format(login=login), login, [Change("password", user.dn)])
    if must_change:
        plan.changes.append(Change("modify", user.dn, {"pwdLastSet": "0"}))
    first, last = user.text("givenName") or "", user.text("sn") or ""
    plan.password = generate(client.password_policy(), forbidden=[login, first, last])
    return plan


def _uac(user: Entry) -> int:
    return user.int("userAccountControl") or UAC_NORMAL_ACCOUNT


def plan_enable(client: DirectoryClient, login: str, *, enable: bool) -> Plan:
    """Return the plan enabling or disabling ``login`` (empty when it already is)."""
    user = require_user(client, login)
    uac = _uac(user)
    new = uac & ~UAC_ACCOUNTDISABLE if enable else uac | UAC_ACCOUNTDISABLE
    title = _("Enable {login}") if enable else _("Disable {login}")
    plan = Plan(title.format(login=login), login)
    if new != uac:
        plan.changes.append(Change("modify", user.dn, {"userAccountControl": str(new)},
                                   {"userAccountControl": str(uac)}))
    return plan


def plan_unlock(client: DirectoryClient, login: str) -> Plan:
    """Return the plan clearing the lockout of ``login`` (empty when it is not locked)."""
    user = require_user(client, login)
    plan = Plan(_("Unlock {login}").format(login=login), login)
    if (user.int("lockoutTime") or 0) != 0:
        plan.changes.append(Change("modify", user.dn, {"lockoutTime": "0"}, {"lockoutTime": user.text("lockoutTime")}))
    return plan


def plan_move(client: DirectoryClient, login: str, ou: str) -> Plan:
    """Return the plan moving ``login`` into ``ou`` (empty when it is already there)."""
    user = require_user(client, login)
    if client.get(ou, ["objectClass"]) is None:
        raise DirectoryError(_("the OU does not exist: {ou}").format(ou=ou))
    plan = Plan(_("Move {login} to {ou}").format(login=login, ou=ou), login)
    if parent_dn(user.dn).lower() != ou.lower():
        plan.changes.append(Change("move", user.dn, before={"ou": parent_dn(user.dn)}, target=ou))
    return plan


def plan_set(client: DirectoryClient, login: str, values: dict[str, str]) -> Plan:
    """Return the plan setting attributes on ``login`` (an empty value clears it); unchanged ones are left out."""
    user = require_user(client, login)
    names = {ad_attribute(k): v for k, v in values.items()}
    current = client.get(user.dn, list(names)) or user
    changed = {k: v for k, v in names.items() if (current.text(k) or "") != v}
    plan = Plan(_("Change attributes of {login}").format(login=login), login)
    if changed:
        plan.changes.append(Change("modify", user.dn, changed, {k: current.text(k) for k in changed}))
    return plan


def plan_membership(client: DirectoryClient, group: str, logins: list[str], *, add: bool) -> Plan:
    """Return the plan adding (or removing) ``logins`` to (from) ``group``; members already so are skipped."""
    entry = client.find_group(group)
    if entry is None:
        raise UsageError(_("no group '{group}' in the directory").format(group=group))
    members = {m.lower() for m in entry.texts("member")}
    title = _("Add to {group}: {logins}") if add else _("Remove from {group}: {logins}")
    plan = Plan(title.format(group=group, logins=", ".join(logins)), ",".join(logins))
    for login in logins:
        user = require_user(client, login)
        if (user.dn.lower() in members) != add:
            plan.changes.append(Change("add-member" if add else "remove-member", user.dn, target=entry.dn))
    return plan
