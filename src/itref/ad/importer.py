"""Bulk onboarding from an HR export (CSV): check every row first, then create row by row.

Encoding (UTF-8 or Windows-1252) and separator (``;``, ``,`` or tab) are detected. The file is read as a
stream, never whole: :func:`check_file` reads it once (at most :data:`MAX_BYTES` bytes and :data:`MAX_ROWS`
rows), keeping a private copy, and reports every bad row with its line number before the directory is touched;
:func:`checked_rows` then gives the rows one by one from that copy. A row is bad when the directory would refuse it or
it makes no sense: see :func:`~itref.ad.accounts.person_problems` (control characters, a name longer than 64
characters, a login Windows refuses, a wrong UPN, an attribute too long), a header repeated as a row, the same
person or the same login twice. Re-running the same file creates nothing twice: a row whose person already
exists (same ``employee_id``, or same first and last name in the template's OU) is skipped, and an account left
half-made by an interruption (still disabled, no password ever set, or enabled in the template's OU but not yet
in all its groups) is finished instead.

The directory is read once for the whole file (:class:`~itref.ad.index.DirectoryIndex`); a new account
then costs two writes (creation, then password and enabling in one modify), and the group additions are
sent per :data:`CHUNK` rows, many accounts per modify.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from itref.ad.accounts import (
    USER_ATTRIBUTES,
    DirectoryView,
    LiveView,
    ad_attribute,
    person_problems,
    plan_create,
    template,
)
from itref.ad.client import DirectoryClient, Entry, escape_filter, parent_dn
from itref.ad.errors import DirectoryError
from itref.ad.index import INDEX_ATTRIBUTES, DirectoryIndex, norm_dn
from itref.ad.naming import ascii_name
from itref.ad.passwords import generate
from itref.ad.plan import Change, Plan, apply, delete_created, fuse_password, split_memberships
from itref.ad.values import UAC_ACCOUNTDISABLE
from itref.core.errors import ConfigError, ConfigIssue, ConnectionFailed, ItrefError
from itref.core.status import ExitStatus
from itref.core.text import printable
from itref.i18n import _, format_number, format_size

if TYPE_CHECKING:
    from itref.config.project import Project
    from itref.config.schema import AccountTemplate
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
MAX_BYTES = 10_000_000
"""Largest file an import reads (10 MB): a bigger one is refused in one sentence before anything else."""
MAX_ROWS = 20_000
"""Most rows an import takes: the row after the last one allowed is refused in one sentence."""
MAX_LISTED = 100
"""Most bad rows listed one by one; the others are counted."""
_CHUNK_BYTES = 1 << 16


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


RowStatus = Literal["created", "exists", "completed", "failed", "partial"]


@dataclass(frozen=True)
class RowResult:
    """What happened to one row (``partial``: an interruption left it half-done; a rerun finishes it)."""

    row: Row
    status: RowStatus
    login: str = ""
    message: str = ""


def _key(header: str) -> str:
    return ascii_name(header).replace("_", "").replace(".", "")


@dataclass
class Export:
    """An HR export checked whole by :func:`check_file`, kept as a private copy (an unnamed temporary file) that
    :func:`checked_rows` reads again: what is imported is what was checked, even if the file changes meanwhile. Close it
    (or use it in a ``with``) to drop the copy."""

    name: str
    encoding: str
    delimiter: str
    width: int
    roles: dict[int, str]
    default_template: str | None
    count: int
    copy: IO[bytes]

    def close(self) -> None:
        """Drop the private copy."""
        self.copy.close()

    def __enter__(self) -> Export:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _too_big(name: str) -> ConfigError:
    return ConfigError([ConfigIssue(name, 1, 1, "", _(
        "the file is larger than {size}, the most an import reads ({rows} rows at most): split it into smaller "
        "files").format(size=format_size(MAX_BYTES), rows=format_number(MAX_ROWS, grouping=True)))])


def _copy(path: Path, name: str, copy: IO[bytes]) -> str:
    """Copy at most :data:`MAX_BYTES` of ``path`` into ``copy``; return its encoding (``utf-8-sig`` or ``cp1252``).

    Raises ConfigError when the file cannot be read or is too big (a regular file is measured before it is read).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, total = True, 0
    try:
        with open(path, "rb") as source:
            info = os.fstat(source.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size > MAX_BYTES:
                raise _too_big(name)
            while chunk := source.read(_CHUNK_BYTES):
                total += len(chunk)
                if total > MAX_BYTES:  # a pipe or a device that never ends is read no further than that
                    raise _too_big(name)
                copy.write(chunk)
                if utf8:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, 1, 1, "", _("cannot read the file: {reason}").format(
            reason=exc.strerror or exc))]) from None
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return "utf-8-sig" if utf8 else "cp1252"


@contextlib.contextmanager
def _text(copy: IO[bytes], encoding: str) -> Iterator[io.TextIOWrapper]:
    """Yield the copy as text from its start (csv needs ``newline=""``); the copy stays open afterwards."""
    copy.seek(0)
    text = io.TextIOWrapper(copy, encoding=encoding, errors="replace", newline="")  # type: ignore[type-var]
    try:
        yield text
    finally:
        text.detach()


def _header(header: list[str], name: str, default_template: str | None) -> tuple[dict[int, str], list[ConfigIssue]]:
    """Return column position → role, and the header's problems (unknown or repeated columns, required ones)."""
    issues: list[ConfigIssue] = []

    def bad(message: str) -> None:
        issues.append(ConfigIssue(name, 1, 1, "", printable(message)))

    roles: dict[int, str] = {}
    where: dict[str, int] = {}
    for i, title in enumerate(header):
        key = _key(title)
        role = next((r for r, aliases in COLUMNS.items() if key in aliases), None) or (
            f"attr:{ATTRIBUTE_COLUMNS[key]}" if key in ATTRIBUTE_COLUMNS else None)
        if role is None:
            if key or title.strip():
                bad(_("unknown column '{col}' (known: {known})").format(
                    col=title, known=", ".join([*COLUMNS, *sorted(set(ATTRIBUTE_COLUMNS.values()))])))
            continue
        if role in where:
            bad(_("the column '{col}' is given twice (columns {first} and {second}: '{a}' and '{b}'); keep one").format(
                col=role.removeprefix("attr:"), first=where[role] + 1, second=i + 1, a=header[where[role]], b=title))
            continue
        where[role] = i
        roles[i] = role
    for needed in ("first", "last"):
        if needed not in roles.values():
            bad(_("the header has no '{col}' column (e.g. {aliases})").format(
                col=needed, aliases="/".join(COLUMNS[needed][:3])))
    if "template" not in roles.values() and not default_template:
        bad(_("no 'template' column: add one, or give --template ENTITY/ROLE"))
    return roles, issues


def _records(reader: Iterator[list[str]], line_num: Callable[[], int]) -> Iterator[tuple[int, list[str] | None]]:
    """Yield (line where the record starts, its fields) for each non-blank record; (line, None) once for broken
    quoting, which ends the file."""
    last = line_num()
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield last + 1, None
            return
        start, last = last + 1, line_num()
        if any(v.strip() for v in values):
            yield start, values


def _check_row(project: Project, cells: dict[str, str], default_template: str | None) -> list[str]:
    """Return the problems of one row (already located by the caller)."""
    problems: list[str] = []
    if _key(cells.get("first", "")) in COLUMNS["first"] and _key(cells.get("last", "")) in COLUMNS["last"]:
        return [_("this line repeats the header (two exports pasted together?): it is not a person")]
    ref = cells.get("template") or default_template or ""
    tmpl: AccountTemplate | None
    try:
        _entity, _role, tmpl = template(project, ref)
    except ItrefError as exc:
        problems.append(exc.message)
        tmpl = None
    extra = {ad_attribute(role[5:]): v for role, v in cells.items() if role.startswith("attr:") and v}
    if cells.get("employee_id"):
        extra["employeeID"] = cells["employee_id"]
    problems += person_problems(tmpl, cells.get("first", ""), cells.get("last", ""), cells.get("login") or None,
                                extra)
    return problems


def _parse(layout: tuple[dict[int, str], int], reader: Iterator[list[str]], line_num: Callable[[], int],
           project: Project, default_template: str | None, *, check_duplicates: bool,
           ) -> Iterator[tuple[int, Row | list[str]]]:
    """Yield (line, Row) for each good row and (line, problems) for each bad one, in file order."""
    roles, width = layout
    seen: dict[tuple[str, ...], int] = {}
    logins: dict[str, int] = {}
    for line, values in _records(reader, line_num):
        if values is None:
            yield line, [_("broken CSV quoting (a quote is not closed, or a field is too long)")]
            return
        if len(values) != width:
            yield line, [_("{n} fields where the header has {m}").format(n=len(values), m=width)]
            continue
        cells = {role: values[i].strip() for i, role in roles.items()}
        problems = _check_row(project, cells, default_template)
        ref = cells.get("template") or default_template or ""
        login = cells.get("login") or None
        if check_duplicates and not problems:
            key = (("id", cells["employee_id"].lower()) if cells.get("employee_id")
                   else ("name", cells["first"].lower(), cells["last"].lower(), ref))
            if key in seen:
                problems.append(_("same person as line {line}").format(line=seen[key]))
            seen.setdefault(key, line)
            if login is not None:
                if login.lower() in logins:
                    problems.append(_("the login '{login}' is also on line {line}").format(
                        login=login, line=logins[login.lower()]))
                logins.setdefault(login.lower(), line)
        if problems:
            yield line, problems
            continue
        attrs = {role[5:]: v for role, v in cells.items() if role.startswith("attr:") and v}
        yield line, Row(line, cells["first"], cells["last"], ref, login, cells.get("employee_id") or None, attrs)


def check_file(path: Path, project: Project, default_template: str | None, display: str | None = None) -> Export:
    """Read and check the whole CSV ``path`` as a stream; return it as an :class:`Export` whose rows are all good.

    Raises ConfigError listing the bad rows as ``FILE:LINE:1: ...`` (the first :data:`MAX_LISTED`, the others
    counted), or one sentence for a file beyond :data:`MAX_BYTES` or :data:`MAX_ROWS`; nothing is kept then.
    """
    name = display or str(path)
    copy = tempfile.TemporaryFile(prefix="itref-import-")  # noqa: SIM115 (handed over in the Export, closed by it)
    try:
        encoding = _copy(path, name, copy)
        with _text(copy, encoding) as text:
            first_line = text.readline()
            delimiter = max((";", ",", "\t"), key=first_line.count)
        with _text(copy, encoding) as text:
            reader = csv.reader(text, delimiter=delimiter)
            try:
                header = next(reader)
            except (StopIteration, csv.Error):
                raise ConfigError([ConfigIssue(name, 1, 1, "", _("the file is empty or has no header line"))]) from None
            roles, issues = _header(header, name, default_template)
            if issues:
                raise ConfigError(issues)
            count, bad, more = 0, 0, None
            for line, found in _parse((roles, len(header)), reader, lambda: reader.line_num, project,
                                      default_template, check_duplicates=True):
                count += 1
                if count > MAX_ROWS:
                    raise ConfigError([ConfigIssue(name, line, 1, "", _(
                        "more than {rows} rows: an import takes at most {rows}; split the file").format(
                        rows=format_number(MAX_ROWS, grouping=True)))])
                if isinstance(found, Row):
                    continue
                bad += 1
                if bad <= MAX_LISTED:
                    issues.append(ConfigIssue(name, line, 1, "", printable("; ".join(found))))
                elif more is None:
                    more = line
        if more is not None:
            issues.append(ConfigIssue(name, more, 1, "", _(
                "{n} more bad rows from this line on (only the first {listed} are listed)").format(
                n=bad - MAX_LISTED, listed=MAX_LISTED)))
        if issues:
            raise ConfigError(issues)
    except BaseException:
        copy.close()
        raise
    return Export(name, encoding, delimiter, len(header), roles, default_template, count, copy)


def checked_rows(export: Export, project: Project) -> Iterator[Row]:
    """Yield the rows of a checked export one by one, in file order, from its private copy."""
    with _text(export.copy, export.encoding) as text:
        reader = csv.reader(text, delimiter=export.delimiter)
        next(reader)
        for _line, found in _parse((export.roles, export.width), reader, lambda: reader.line_num, project,
                                   export.default_template, check_duplicates=False):
            if not isinstance(found, Row):  # the copy is private: it is the file that was checked
                raise AssertionError(f"row {_line} of a checked export is bad: {found}")
            yield found


def read_rows(path: Path, project: Project, default_template: str | None, display: str | None = None) -> list[Row]:
    """Return every row of the CSV as a :class:`Row` (:func:`check_file`, then :func:`checked_rows`, in a list).

    Raises ConfigError listing every bad row as ``FILE:LINE:1: ...`` (nothing is returned then).
    """
    with check_file(path, project, default_template, display) as export:
        return list(checked_rows(export, project))


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


def load_index(client: DirectoryClient, project: Project, rows: Iterable[Row] | None = None) -> DirectoryIndex:
    """Return what importing ``rows`` (by default: any row of any template) needs to know about the directory,
    read with one paged search."""
    if rows is None:
        ous = [t.ou for book in project.playbooks.values() for t in book.accounts.templates.values()]
    else:
        ous = [template(project, r.template)[2].ou for r in rows]
    return DirectoryIndex.load(client, ous)


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


def _flush(client: DirectoryClient, pending: _Pending, results: dict[int, RowResult],
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


def preview_rows(client: DirectoryClient, project: Project, rows: Iterable[Row],
                 index: DirectoryIndex | None = None) -> Iterator[RowPreview]:
    """Yield what importing ``rows`` would do, row by row as each is planned, reading the directory once (unless
    ``index`` is given) and writing nothing.

    Two rows of the file never get the same login (each planned account is remembered, as a real run does).
    A row a real run would fail (a group or OU missing, a login taken) is a ``fails`` preview. Raises
    ConnectionFailed when the DC cannot be read.
    """
    if index is None:
        index = load_index(client, project)
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
            yield RowPreview(row, "fails", login, error=exc.message)
            continue
        yield RowPreview(row, action, login, missing, plan)


def _created_entry(plan: Plan, dn: str, groups: list[str]) -> Entry:
    """Return the index entry of the account ``plan`` has just created at ``dn``, as it will be once enabled
    and in its ``groups`` (only what the index reads of an account: thousands of rows may be remembered)."""
    wanted = {a.lower() for a in INDEX_ATTRIBUTES}
    raw: dict[str, list[bytes]] = {}
    for change in plan.changes:
        if change.kind in ("create", "password", "modify"):
            raw.update({k: [str(v).encode()] for k, v in change.attributes.items() if k.lower() in wanted})
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


class ImportStopped(ItrefError):
    """An import stopped halfway: the DC was lost (status UNREACHABLE) or Ctrl-C was pressed (INTERRUPTED).

    ``results`` are the rows done or half-done that were not yielded yet (``partial``: an account made but not
    yet in its groups, or made but not given its password), ``line`` where it stopped; a rerun of the same
    file finishes the job.
    """

    def __init__(self, cause: BaseException, results: list[RowResult], line: int) -> None:
        super().__init__(cause.message if isinstance(cause, ItrefError) else _("interrupted (Ctrl-C)"))
        self.status = cause.status if isinstance(cause, ItrefError) else ExitStatus.INTERRUPTED
        self.results = results
        self.line = line


def _stopped(waiting: dict[int, RowResult], pending: _Pending, current: Row | None,
             made: dict[str, str]) -> list[RowResult]:
    """Return what the rows of an interrupted chunk reached: done, or ``partial`` (and why)."""
    out = []
    for pos in sorted(waiting):
        result = waiting[pos]
        if pos in pending.rows and result.status in ("created", "completed"):
            why = (_("created, not yet in its groups: a rerun adds it to them") if result.status == "created"
                   else _("finished, not yet in all its groups: a rerun adds it to them"))
            result = RowResult(result.row, "partial", result.login, why)
        out.append(result)
    if current is not None and "create" in made:
        out.append(RowResult(current, "partial", made["create"], _(
            "created, no password yet (still disabled; the password written for it was not set): a rerun finishes "
            "it")))
    return out


def import_stream(client: DirectoryClient, project: Project, rows: Iterable[Row], *,
                  on_password: Callable[[str, Secret], None],
                  on_change: Callable[[Change, str], None] | None = None,
                  on_row: Callable[[RowResult], None] | None = None,
                  index: DirectoryIndex | None = None, chunk: int = CHUNK) -> Iterator[RowResult]:
    """Create each row's account unless it exists; yield one final result per row, in file order, as soon as
    its chunk's group additions are sent.

    The directory is read once (:func:`load_index`), then each new account costs two writes: its creation
    (disabled) and one modify setting its password and enabling it. Group additions are sent every
    ``chunk`` rows, one modify per group for all the accounts of the chunk. ``on_password(login, secret)``
    is called just before an account gets its password (the caller writes it to the passwords file, so an
    interruption cannot lose it), ``on_row`` once a row's account is made (its groups may follow with its
    chunk). A row refused by the directory is recorded as failed and the next rows go on; a lost connection
    or Ctrl-C stops the import with :class:`ImportStopped` saying what the rows not yielded yet reached, and
    running it again finishes the job: accounts never given their password are finished, accounts not yet in
    their groups are added to them.
    """
    if index is None:
        index = load_index(client, project)
    pending = _Pending()
    waiting: dict[int, RowResult] = {}
    current: Row | None = None
    last_line = 0
    made: dict[str, str] = {}

    def note(change: Change, dn: str) -> None:  # what the row in progress has written
        if change.kind == "create":
            made["create"] = str(change.attributes.get("sAMAccountName", ""))
        if on_change is not None:
            on_change(change, dn)

    try:
        for position, row in enumerate(rows):
            current, last_line = row, row.line
            made.clear()
            user = find(index, project, row)
            try:
                try:
                    result, dn, groups, plan = _settle(client, project, row, user, index, on_password, note)
                except DirectoryError as exc:
                    if user is not None or not exc.already_used:
                        raise
                    # created by someone else since the index was read (or an object it does not list): ask the DC
                    user = existing(client, project, row)
                    result, dn, groups, plan = _settle(client, project, row, user, LiveView(client), on_password,
                                                       note)
                if plan is not None and result.status == "created":
                    index.add(_created_entry(plan, dn, groups))
            except ConnectionFailed:
                raise  # the DC is gone: stop here; a rerun finishes the job
            except ItrefError as exc:
                result, dn, groups = RowResult(row, "failed", "", exc.message), "", []
            current = None
            waiting[position] = result
            pending.add(position, dn, groups, created=result.status == "created")
            if on_row is not None:
                on_row(result)
            if len(waiting) >= chunk:
                _flush(client, pending, waiting, on_change)
                yield from _drain(waiting)
        _flush(client, pending, waiting, on_change)
        yield from _drain(waiting)
    except (ConnectionFailed, KeyboardInterrupt) as exc:
        raise ImportStopped(exc, _stopped(waiting, pending, current, made), last_line) from None


def _drain(waiting: dict[int, RowResult]) -> Iterator[RowResult]:
    """Yield the results of ``waiting`` in file order, each forgotten as it is handed out (an interruption
    while the caller shows one leaves the others in ``waiting``, to be reported)."""
    while waiting:
        yield waiting.pop(min(waiting))


def import_rows(client: DirectoryClient, project: Project, rows: Iterable[Row], *,
                on_password: Callable[[str, Secret], None],
                on_change: Callable[[Change, str], None] | None = None,
                on_row: Callable[[RowResult], None] | None = None,
                index: DirectoryIndex | None = None, chunk: int = CHUNK) -> list[RowResult]:
    """Return the results of :func:`import_stream` as one list (raises :class:`ImportStopped` the same way)."""
    return list(import_stream(client, project, rows, on_password=on_password, on_change=on_change, on_row=on_row,
                              index=index, chunk=chunk))
