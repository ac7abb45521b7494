"""Bulk onboarding from an HR export (CSV): validate every row first, then create row by row.

Encoding (UTF-8 or Windows-1252) and separator (``;``, ``,`` or tab) are detected. Every bad row is
reported with its line number before the directory is touched. Re-running the same file creates
nothing twice: a row whose person already exists (same ``employee_id``, or same first and last
name in the template's OU) is skipped, and an account left half-made by an interruption (still
disabled, no password ever set, or enabled in the template's OU but not yet in all its groups) is
finished instead.

The directory is read once for the whole file (:class:`~itref.ad.index.DirectoryIndex`); a new account
then costs two writes (creation, then password and enabling in one modify), and the group additions are
sent per :data:`CHUNK` rows, many accounts per modify.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from itref.ad.accounts import USER_ATTRIBUTES, DirectoryView, LiveView, ad_attribute, plan_create, template
from itref.ad.client import DirectoryClient, Entry, escape_filter, parent_dn
from itref.ad.errors import DirectoryError
from itref.ad.index import DirectoryIndex, norm_dn
from itref.ad.naming import ascii_name, render_login
from itref.ad.passwords import generate
from itref.ad.plan import Change, Plan, apply, delete_created, fuse_password, split_memberships
from itref.ad.values import UAC_ACCOUNTDISABLE
from itref.core.errors import ConfigError, ConfigIssue, ConnectionFailed, ItrefError
from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.project import Project
    from itref.secrets import Secret

COLUMNS = {
    "first": ("first", "firstname", "prenom", "givenname"),
    "last": ("last", "lastname", "nom", "sn", "surname", "nomdefamille"),
    "template": ("template", "modele", "role", "profil"),
    "login": ("login", "username", "samaccountname", "identifiant"),
    "employee_id": ("employeeid", "matricule", "employee-id", "id"),
}
ATTRIBUTE_COLUMNS = {"department": "department", "service": "department", "title": "title", "fonction": "title",
                     "office": "office", "bureau": "office", "telephone": "telephone", "phone": "telephone",
                     "mobile": "mobile", "gsm": "mobile", "company": "company", "societe": "company",
                     "description": "description", "city": "city", "ville": "city"}


@dataclass(frozen=True)
class Row:
    """One valid person to create, with the file line it came from."""

    line: int
    first: str
    last: str
    template: str
    login: str | None = None
    employee_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


RowStatus = Literal["created", "exists", "completed", "failed"]


@dataclass(frozen=True)
class RowResult:
    """What happened to one row."""

    row: Row
    status: RowStatus
    login: str = ""
    message: str = ""


def _key(header: str) -> str:
    return ascii_name(header).replace("_", "").replace(".", "")


def decode(raw: bytes) -> str:
    """Return the text of a CSV export: UTF-8 (with or without BOM), else Windows-1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_rows(path: Path, project: Project, default_template: str | None, display: str | None = None) -> list[Row]:
    """Return every row of the CSV as a :class:`Row`.

    Raises ConfigError listing every bad row as ``FILE:LINE:1: ...`` (nothing is returned then).
    """
    name = display or str(path)
    try:
        text = decode(path.read_bytes())
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, 1, 1, "", _("cannot read the file: {reason}").format(
            reason=exc.strerror or exc))]) from None
    first_line = text.splitlines()[0] if text.strip() else ""
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    issues: list[ConfigIssue] = []

    def bad(line: int, message: str) -> None:
        issues.append(ConfigIssue(name, line, 1, "", message))

    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ConfigError([ConfigIssue(name, 1, 1, "", _("the file is empty or has no header line"))]) from None
    roles: dict[int, str] = {}
    for i, title in enumerate(header):
        key = _key(title)
        role = next((r for r, aliases in COLUMNS.items() if key in aliases), None) or (
            f"attr:{ATTRIBUTE_COLUMNS[key]}" if key in ATTRIBUTE_COLUMNS else None)
        if role is None:
            if key:
                bad(1, _("unknown column '{col}' (known: {known})").format(
                    col=title, known=", ".join([*COLUMNS, *sorted(set(ATTRIBUTE_COLUMNS.values()))])))
            continue
        roles[i] = role
    for needed in ("first", "last"):
        if needed not in roles.values():
            bad(1, _("the header has no '{col}' column (e.g. {aliases})").format(
                col=needed, aliases="/".join(COLUMNS[needed][:3])))
    if "template" not in roles.values() and not default_template:
        bad(1, _("no 'template' column: add one, or give --template ENTITY/ROLE"))
    if issues:
        raise ConfigError(issues)
    rows: list[Row] = []
    seen: dict[tuple[str, ...], int] = {}
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            bad(reader.line_num, _("broken CSV quoting: {reason}").format(reason=exc))
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            bad(line, _("{n} fields where the header has {m}").format(n=len(values), m=len(header)))
            continue
        cells = {role: values[i].strip() for i, role in roles.items()}
        ref = cells.get("template") or default_template or ""
        problems = []
        if not cells.get("first"):
            problems.append(_("the first name is empty"))
        if not cells.get("last"):
            problems.append(_("the last name is empty"))
        try:
            _entity, _role, tmpl = template(project, ref)
        except ItrefError as exc:
            problems.append(exc.message)
            tmpl = None
        if tmpl is not None and cells.get("first") and cells.get("last") and not cells.get("login"):
            try:
                render_login(tmpl.username, cells["first"], cells["last"])
            except ValueError as exc:
                problems.append(str(exc))
        key = (("id", cells["employee_id"]) if cells.get("employee_id")
               else ("name", cells.get("first", "").lower(), cells.get("last", "").lower(), ref))
        if key in seen:
            problems.append(_("same person as line {line}").format(line=seen[key]))
        seen.setdefault(key, line)
        if problems:
            bad(line, "; ".join(problems))
            continue
        attrs = {role[5:]: v for role, v in cells.items() if role.startswith("attr:") and v}
        rows.append(Row(line, cells["first"], cells["last"], ref, cells.get("login") or None,
                        cells.get("employee_id") or None, attrs))
    if issues:
        raise ConfigError(issues)
    return rows


def existing(client: DirectoryClient, project: Project, row: Row) -> Entry | None:
    """Return the account this row already made (same employee id, or same names in the template's OU),
    asking the DC (one search); :func:`import_rows` asks a :class:`DirectoryIndex` read once instead."""
    if row.employee_id:
        found = client.search(f"(&(objectClass=user)(employeeID={escape_filter(row.employee_id)}))",
                              IMPORT_ATTRIBUTES)
    else:
        _entity, _role, tmpl = template(project, row.template)
        found = client.search(f"(&(objectClass=user)(givenName={escape_filter(row.first)})"
                              f"(sn={escape_filter(row.last)}))", IMPORT_ATTRIBUTES, base=tmpl.ou)
    return found[0] if found else None


def load_index(client: DirectoryClient, project: Project, rows: list[Row]) -> DirectoryIndex:
    """Return what importing ``rows`` needs to know about the directory, read with one paged search."""
    return DirectoryIndex.load(client, [template(project, r.template)[2].ou for r in rows])


def find(index: DirectoryIndex, project: Project, row: Row) -> Entry | None:
    """Return the account this row already made, from ``index`` (same employee id, or names in the OU)."""
    if row.employee_id:
        return index.by_employee_id(row.employee_id)
    return index.by_names(row.first, row.last, template(project, row.template)[2].ou)


def plan_finish(client: DirectoryClient, project: Project, row: Row, user: Entry,
                view: DirectoryView | None = None) -> Plan:
    """Return the plan finishing an account an interrupted run left disabled without a password."""
    _entity, _role, tmpl = template(project, row.template)
    look: DirectoryView = view or LiveView(client)
    login = user.text("sAMAccountName") or ""
    uac = user.int("userAccountControl") or 0
    enable: dict[str, object] = {"userAccountControl": str(uac & ~UAC_ACCOUNTDISABLE)}
    if tmpl.must_change_password:
        enable["pwdLastSet"] = "0"
    plan = Plan(_("Finish the account {login} (line {line})").format(login=login, line=row.line), login,
                [Change("password", user.dn), Change("modify", user.dn, enable)])
    plan.changes += [Change("add-member", user.dn, target=gdn) for gdn in missing_groups(look, tmpl.groups, user)]
    plan.password = generate(look.password_policy(), forbidden=[login, row.first, row.last])
    return plan


def missing_groups(view: DirectoryView, groups: list[str], user: Entry) -> list[str]:
    """Return the DNs of the ``groups`` that ``user`` is not a member of. Raises DirectoryError for a missing group."""
    member_of = {g.lower() for g in user.texts("memberOf")}
    return [dn for dn in view.group_dns(list(groups)).values() if dn.lower() not in member_of]


IMPORT_ATTRIBUTES = (*USER_ATTRIBUTES, "msDS-KeyVersionNumber")
"""What the import reads of an account: msDS-KeyVersionNumber (constructed: 1 until a first password is set, then
one more at each password set) tells an account the import created and never finished from one finished with
"must change password" (pwdLastSet 0 too) and disabled since."""


def incomplete(user: Entry) -> bool:
    """Return True for an account created but never finished: disabled, and never given a password."""
    never_set = (user.int("msDS-KeyVersionNumber") or 0) <= 1 and not user.int("pwdLastSet")
    return bool((user.int("userAccountControl") or 0) & UAC_ACCOUNTDISABLE) and never_set


RowAction = Literal["create", "finish", "groups", "exists"]


def decide(view: DirectoryView, project: Project, row: Row, user: Entry | None) -> tuple[RowAction, list[str]]:
    """Return what a row needs, and the DNs of the template's groups its account is not in yet.

    ``create``: no account yet; ``finish``: still in the template's OU, created but never given its password
    (interrupted run); ``groups``: enabled, still in the template's OU, but not yet in all the template's groups
    (a run interrupted before its group additions; also puts back a template group someone removed by hand,
    which ``--dry-run`` shows); ``exists``: nothing to do, or moved out of the template's OU (offboarded), or
    disabled after it was finished: left alone.
    """
    if user is None:
        return "create", []
    _entity, _role, tmpl = template(project, row.template)
    if norm_dn(parent_dn(user.dn)) != norm_dn(tmpl.ou):
        return "exists", []  # moved since (offboarded, say): the account is someone's business now, not this file's
    if incomplete(user):
        return "finish", []
    if (user.int("userAccountControl") or 0) & UAC_ACCOUNTDISABLE:
        return "exists", []  # disabled by someone after it was finished: left alone
    try:
        missing = missing_groups(view, tmpl.groups, user)
    except DirectoryError:
        return "exists", []
    return ("groups", missing) if missing else ("exists", [])


CHUNK = 100
"""Rows whose group additions are sent together (one modify per group per chunk)."""
MAX_MEMBERS = 500
"""Most members added to a group in one modify."""


@dataclass
class _Pending:
    """Group additions not sent yet: group DN → [(member DN, row position)], and the accounts made by this run."""

    members: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    created: dict[int, str] = field(default_factory=dict)
    rows: set[int] = field(default_factory=set)

    def add(self, position: int, member: str, groups: list[str], *, created: bool) -> None:
        for group in groups:
            listed = self.members.setdefault(group, [])
            if all(dn != member for dn, _pos in listed):
                listed.append((member, position))
        if groups:
            self.rows.add(position)
            if created:
                self.created[position] = member


def _flush(client: DirectoryClient, pending: _Pending, results: list[RowResult],
           on_change: Callable[[Change, str], None] | None) -> None:
    """Add the pending members, many per modify; an account a group refuses fails its row (and is deleted
    again when this run created it, as a failed create leaves nothing behind)."""
    refused: dict[int, str] = {}
    for group, members in pending.members.items():
        for start in range(0, len(members), MAX_MEMBERS):
            part = [(dn, pos) for dn, pos in members[start:start + MAX_MEMBERS] if pos not in refused]
            try:
                client.add_members(group, [dn for dn, _pos in part])
                done = part
            except ConnectionFailed:
                raise
            except DirectoryError:  # one of them is refused: find which, one by one
                done = []
                for dn, pos in part:
                    try:
                        client.add_member(group, dn)
                        done.append((dn, pos))
                    except ConnectionFailed:
                        raise
                    except DirectoryError as exc:
                        refused[pos] = exc.message
            if on_change is not None:
                for dn, _pos in done:
                    on_change(Change("add-member", dn, target=group), dn)
    for pos, message in refused.items():
        made = pending.created.get(pos)
        if made is not None:
            delete_created(client, made, on_change)
        results[pos] = RowResult(results[pos].row, "failed", "" if made else results[pos].login, message)
    pending.members.clear()
    pending.created.clear()
    pending.rows.clear()


def plan_row_create(client: DirectoryClient, project: Project, row: Row, view: DirectoryView) -> Plan:
    """Return the plan creating the account of ``row`` (its template, its extra columns, its employee id)."""
    extra = {ad_attribute(k): v for k, v in row.attributes.items()}
    if row.employee_id:
        extra["employeeID"] = row.employee_id
    return plan_create(client, project, row.template, row.first, row.last, extra, login=row.login, view=view)


@dataclass(frozen=True)
class RowPreview:
    """What a dry run shows of one row: what a real run would do, the account concerned, the template groups
    it would join (``groups``), and for ``create`` / ``finish`` the whole plan (OU, attributes, groups)."""

    row: Row
    action: RowAction | Literal["fails"]
    login: str = ""
    missing: list[str] = field(default_factory=list)
    plan: Plan | None = None
    error: str = ""


def preview_rows(client: DirectoryClient, project: Project, rows: list[Row]) -> list[RowPreview]:
    """Return what importing ``rows`` would do, row by row, reading the directory once and writing nothing.

    Two rows of the file never get the same login (each planned account is remembered, as a real run does).
    A row a real run would fail (a group or OU missing) is a ``fails`` preview. Raises ConnectionFailed when
    the DC cannot be read.
    """
    index = load_index(client, project, rows)
    previews: list[RowPreview] = []
    for row in rows:
        user = find(index, project, row)
        login = (user.text("sAMAccountName") or "") if user is not None else ""
        try:
            action, missing = decide(index, project, row, user)
            plan = None
            if action == "create":
                plan = plan_row_create(client, project, row, index)
                created = next(c for c in plan.changes if c.kind == "create")
                index.add(_created_entry(plan, created.dn, split_memberships(plan)[1]))  # as a real run does
                login = plan.login
            elif action == "finish":
                assert user is not None
                plan = plan_finish(client, project, row, user, index)
        except ConnectionFailed:
            raise
        except ItrefError as exc:
            previews.append(RowPreview(row, "fails", login, error=exc.message))
            continue
        previews.append(RowPreview(row, action, login, missing, plan))
    return previews


def _created_entry(plan: Plan, dn: str, groups: list[str]) -> Entry:
    """Return the index entry of the account ``plan`` has just created at ``dn``, as it will be once enabled
    and in its ``groups``."""
    raw: dict[str, list[bytes]] = {}
    for change in plan.changes:
        if change.kind in ("create", "password", "modify"):
            raw.update({k: [str(v).encode()] for k, v in change.attributes.items()})
        if change.kind == "create":
            raw["objectClass"] = [c.encode() for c in change.object_class]
    raw["memberOf"] = [g.encode() for g in groups]
    return Entry(dn, raw)


def _settle(client: DirectoryClient, project: Project, row: Row, user: Entry | None, view: DirectoryView,
            on_password: Callable[[str, Secret], None],
            on_change: Callable[[Change, str], None] | None) -> tuple[RowResult, str, list[str], Plan | None]:
    """Make the directory writes one row needs except its group additions; return its result, the account's
    DN, the groups it still has to join and the plan applied (None when nothing was written)."""
    action, missing = decide(view, project, row, user)
    login = (user.text("sAMAccountName") or "") if user is not None else ""
    if action == "exists":
        return RowResult(row, "exists", login, _("already exists")), "", [], None
    if action == "groups":
        assert user is not None
        return RowResult(row, "completed", login), user.dn, missing, None
    if action == "finish":
        assert user is not None
        plan, status = plan_finish(client, project, row, user, view), "completed"
    else:
        plan, status = plan_row_create(client, project, row, view), "created"
    plan, groups = split_memberships(fuse_password(plan))
    password = plan.password
    assert password is not None

    def keep(change: Change) -> None:
        if change.kind == "password":  # kept before it is set: an interruption cannot lose it
            on_password(plan.login, password)

    applied = apply(client, plan, on_change, before=keep)
    return RowResult(row, status, plan.login), applied[0].dn, groups, plan  # type: ignore[arg-type]


def import_rows(client: DirectoryClient, project: Project, rows: list[Row], *,
                on_password: Callable[[str, Secret], None],
                on_change: Callable[[Change, str], None] | None = None,
                on_row: Callable[[RowResult], None] | None = None,
                index: DirectoryIndex | None = None, chunk: int = CHUNK) -> list[RowResult]:
    """Create each row's account unless it exists; return one result per row.

    The directory is read once (:func:`load_index`), then each new account costs two writes: its creation
    (disabled) and one modify setting its password and enabling it. Group additions are sent every
    ``chunk`` rows, one modify per group for all the accounts of the chunk. ``on_password(login, secret)``
    is called just before an account gets its password (the caller writes it to the passwords file, so an
    interruption cannot lose it), ``on_row`` once a row's account is made (its groups may follow with its
    chunk). A row refused by the directory is recorded as failed and the next rows go on; a lost connection
    stops the import (ConnectionFailed), and running it again finishes the job: accounts never given their
    password are finished, accounts not yet in their groups are added to them.
    """
    if index is None:
        index = load_index(client, project, rows)
    results: list[RowResult] = []
    pending = _Pending()
    for position, row in enumerate(rows):
        user = find(index, project, row)
        try:
            try:
                result, dn, groups, plan = _settle(client, project, row, user, index, on_password, on_change)
            except DirectoryError as exc:
                if user is not None or not exc.already_used:
                    raise
                # created by someone else since the index was read (or an object it does not list): ask the DC
                user = existing(client, project, row)
                result, dn, groups, plan = _settle(client, project, row, user, LiveView(client), on_password,
                                                   on_change)
            if plan is not None and result.status == "created":
                index.add(_created_entry(plan, dn, groups))
        except ConnectionFailed:
            raise  # the DC is gone: stop here; a rerun finishes the job
        except ItrefError as exc:
            result, dn, groups = RowResult(row, "failed", "", exc.message), "", []
        results.append(result)
        pending.add(position, dn, groups, created=result.status == "created")
        if on_row is not None:
            on_row(result)
        if len(pending.rows) >= chunk:
            _flush(client, pending, results, on_change)
    _flush(client, pending, results, on_change)
    return results
