"""Bulk onboarding from an HR export (CSV): validate every row first, then create row by row.

Encoding (UTF-8 or Windows-1252) and separator (``;``, ``,`` or tab) are detected. Every bad row is
reported with its line number before the directory is touched. Re-running the same file creates
nothing twice: a row whose person already exists (same ``employee_id``, or same first and last
name in the template's OU) is skipped, and an account left half-made by an interruption (still
disabled, no password ever set) is finished instead.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from itref.ad.accounts import USER_ATTRIBUTES, ad_attribute, plan_create, template
from itref.ad.client import DirectoryClient, Entry, escape_filter
from itref.ad.errors import DirectoryError
from itref.ad.naming import ascii_name, render_login
from itref.ad.passwords import generate
from itref.ad.plan import Change, Plan, apply
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
    """Return the account this row already made (same employee id, or same names in the template's OU)."""
    if row.employee_id:
        found = client.search(f"(&(objectClass=user)(employeeID={escape_filter(row.employee_id)}))", USER_ATTRIBUTES)
    else:
        _entity, _role, tmpl = template(project, row.template)
        found = client.search(f"(&(objectClass=user)(givenName={escape_filter(row.first)})"
                              f"(sn={escape_filter(row.last)}))", USER_ATTRIBUTES, base=tmpl.ou)
    return found[0] if found else None


def plan_finish(client: DirectoryClient, project: Project, row: Row, user: Entry) -> Plan:
    """Return the plan finishing an account an interrupted run left disabled without a password."""
    _entity, _role, tmpl = template(project, row.template)
    login = user.text("sAMAccountName") or ""
    uac = user.int("userAccountControl") or 0
    enable: dict[str, object] = {"userAccountControl": str(uac & ~UAC_ACCOUNTDISABLE)}
    if tmpl.must_change_password:
        enable["pwdLastSet"] = "0"
    plan = Plan(_("Finish the account {login} (line {line})").format(login=login, line=row.line), login,
                [Change("password", user.dn), Change("modify", user.dn, enable)])
    member_of = {g.lower() for g in user.texts("memberOf")}
    for group in tmpl.groups:
        entry = client.find_group(group, fresh=False)
        if entry is None:
            raise DirectoryError(_("these groups do not exist in the directory: {groups}").format(groups=group))
        if entry.dn.lower() not in member_of:
            plan.changes.append(Change("add-member", user.dn, target=entry.dn))
    plan.password = generate(client.password_policy(), forbidden=[login, row.first, row.last])
    return plan


def incomplete(user: Entry) -> bool:
    """Return True for an account created but never finished: disabled and no password ever set."""
    return bool((user.int("userAccountControl") or 0) & UAC_ACCOUNTDISABLE) and not user.int("pwdLastSet")


def import_rows(client: DirectoryClient, project: Project, rows: list[Row], *,
                on_password: Callable[[str, Secret], None],
                on_change: Callable[[Change, str], None] | None = None,
                on_row: Callable[[RowResult], None] | None = None) -> list[RowResult]:
    """Create each row's account unless it exists; return one result per row.

    ``on_password(login, secret)`` is called just before an account gets its password (the caller
    writes it to the passwords file, so an interruption cannot lose it), ``on_row`` after each row.
    A row refused by the directory is recorded as failed and the next rows go on; a lost connection
    stops the import (ConnectionFailed), and running it again finishes the job.
    """
    results: list[RowResult] = []
    for row in rows:
        user = existing(client, project, row)
        try:
            if user is not None and not incomplete(user):
                result = RowResult(row, "exists", user.text("sAMAccountName") or "", _("already exists"))
            else:
                if user is not None:
                    plan, status = plan_finish(client, project, row, user), "completed"
                else:
                    extra = {ad_attribute(k): v for k, v in row.attributes.items()}
                    if row.employee_id:
                        extra["employeeID"] = row.employee_id
                    plan = plan_create(client, project, row.template, row.first, row.last, extra, login=row.login)
                    status = "created"
                assert plan.password is not None
                on_password(plan.login, plan.password)  # kept before it is set: an interruption cannot lose it

                apply(client, plan, on_change)
                result = RowResult(row, status, plan.login)  # type: ignore[arg-type]
        except ConnectionFailed:
            raise  # the DC is gone: stop here; a rerun finishes the job
        except ItrefError as exc:
            result = RowResult(row, "failed", "", exc.message)
        results.append(result)
        if on_row is not None:
            on_row(result)
    return results
