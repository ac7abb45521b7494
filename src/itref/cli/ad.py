"""``itref ad``: Active Directory accounts and groups, from templates, with a preview of every change."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from itref.cli.state import CliState, state
from itref.core.status import ExitStatus
from itref.i18n import _, ngettext

if TYPE_CHECKING:
    from itref.ad.client import DirectoryClient
    from itref.ad.importer import Export
    from itref.ad.plan import Plan
    from itref.ad.scheduled import ScheduledChange
    from itref.context import RunContext
    from itref.secrets import Secret

app = typer.Typer(help=_("Active Directory: accounts, groups, departures and hygiene report."),
                  no_args_is_help=True, rich_markup_mode=None)
user_app = typer.Typer(help=_("Create, change, offboard and restore user accounts."), no_args_is_help=True,
                       rich_markup_mode=None)
group_app = typer.Typer(help=_("Group membership."), no_args_is_help=True, rich_markup_mode=None)
app.add_typer(user_app, name="user")
app.add_typer(group_app, name="group")

DryRun = Annotated[bool, typer.Option("--dry-run", "-n", help=_("Show the changes as a diff; change nothing."))]
Yes = Annotated[bool, typer.Option("--yes", "-y", help=_("Apply without asking for confirmation."))]
At = Annotated[str | None, typer.Option("--at", metavar="DATE", help=_(
    "Do it at this date and time, e.g. '2026-12-04 18:00' (local time): the plan is shown and confirmed now, "
    "and itref schedule run applies it then."))]
PasswordFile = Annotated[Path | None, typer.Option(
    "--password-file", help=_("Write the new password alone into this file (mode 0600) instead of showing it."))]


def _client(st: CliState, *, read_only: bool) -> tuple[RunContext, DirectoryClient]:
    ctx = st.context()
    return ctx, ctx.directory(read_only=read_only)


def _check_password_destination(path: Path | None) -> None:
    from itref.core.errors import UsageError

    if path is None and not sys.stdout.isatty():
        raise UsageError(_("the new password can only be shown on a terminal; give --password-file PATH "
                           "to write it to a private file instead"))
    if path is not None and not path.parent.is_dir():
        raise UsageError(_("--password-file {path}: the folder {folder} does not exist; create it first or choose "
                           "a path in an existing folder").format(path=path, folder=path.parent))
    if path is not None and path.is_symlink():
        raise UsageError(_("--password-file {path}: it is a symbolic link; give the path of a plain file").format(
            path=path))


def write_password_file(path: Path, content: str) -> None:
    """Write ``content`` into ``path`` with mode 0600 (created or truncated, never through a symlink), nothing
    else."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content.encode("utf-8"))
    finally:
        os.close(fd)


def _confirm(st: CliState, yes: bool, question: str | None = None) -> bool:
    from itref.core.errors import UsageError

    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(_("no terminal to confirm on: check the plan with --dry-run, then add --yes"))
    return typer.confirm(question or _("Apply these changes?"), default=False, err=True)


def _run_plan(st: CliState, build: Callable[[DirectoryClient, RunContext], Plan], *, dry_run: bool, yes: bool,
              entity: str | None = None, password_file: Path | None = None,
              after_apply: Callable[[Plan, RunContext], None] | None = None) -> ExitStatus:
    """Plan with a read-only look, show the diff, confirm, apply with journaling, hand out the password."""
    from itref.ad.plan import apply
    from itref.ad.record import change_recorder, keep_snapshot
    from itref.report.ad import plan_dict, plan_text
    from itref.report.inventory import to_json

    fmt = st.require_format("table", "json")
    ctx, client = _client(st, read_only=dry_run)
    try:
        plan = build(client, ctx)
        if plan.password is not None and not dry_run:
            _check_password_destination(password_file)
        if fmt == "json":
            st.out.print(to_json({"dry_run": dry_run, "plan": plan_dict(plan)}), markup=False, soft_wrap=True)
        else:
            st.out.print(plan_text(plan, password_file))
        if dry_run:
            st.err.print(_("Dry run: nothing was changed."), markup=False)
            return ExitStatus.SUCCESS
        if plan.empty:
            return ExitStatus.SUCCESS
        if plan.login:
            _warn_scheduled(st, ctx, plan.login)
        if not _confirm(st, yes):
            st.err.print(_("Nothing was changed."), markup=False)
            return ExitStatus.FAILURE
        if plan.password is not None and password_file is not None:
            write_password_file(password_file, plan.password.reveal() + "\n")
        if plan.snapshot is not None:  # an offboarding: how the account was, kept before anything changes
            keep_snapshot(ctx, plan.snapshot)
        apply(client, plan, change_recorder(ctx, entity, client.host))
        if after_apply is not None:
            after_apply(plan, ctx)
    finally:
        client.close()
    st.err.print(_("Done: {n} change(s) applied.").format(n=len(plan.changes)), markup=False)
    _hand_out(st, plan.login, plan.password, password_file)
    return ExitStatus.SUCCESS


def _schedule_plan(st: CliState, build: Callable[[DirectoryClient, RunContext, datetime], tuple[Plan, str | None]],
                   *, at: str, action: str, params: dict[str, str], dry_run: bool, yes: bool) -> ExitStatus:
    """Plan a change as of the date ``at`` (reading only; ``build`` returns the plan and the entity concerned),
    show it, confirm, and store it for ``itref schedule run``; nothing in the directory changes now."""
    from datetime import UTC

    from itref.ad.scheduled import ScheduledChanges, parse_at, prepare
    from itref.report.ad import plan_dict, plan_text

    fmt = st.require_format("table", "json")
    when = parse_at(at, datetime.now(UTC))
    ctx, client = _client(st, read_only=True)
    try:
        plan, entity = build(client, ctx, when)
    finally:
        client.close()
    change = prepare(action, params, when, entity, plan, origin=f"itref ad {action}")
    _show_scheduled(st, fmt, dry_run, when, [(None, plan)], plan_dict, plan_text)
    _warn_scheduled(st, ctx, change.login)
    if dry_run:
        st.err.print(_("Dry run: nothing was changed or scheduled."), markup=False)
        return ExitStatus.SUCCESS
    if plan.empty:
        return ExitStatus.SUCCESS
    if not _confirm(st, yes, _("Schedule these changes for {when}?").format(when=_moment(when))):
        st.err.print(_("Nothing was scheduled."), markup=False)
        return ExitStatus.FAILURE
    ScheduledChanges(ctx.state).add(change)
    _journal_scheduled(ctx, change)
    _say_scheduled(st, change.id, when)
    return ExitStatus.SUCCESS


def _warn_scheduled(st: CliState, ctx: RunContext, login: str) -> None:
    """Say each open scheduled change about ``login`` (someone else may have planned it): the change made now may
    make it pointless, or make it be held for a person at its date."""
    from itref.ad.scheduled import ScheduledChanges, describe

    if not login:
        return
    for c in ScheduledChanges(ctx.state).list():
        if c.login.lower() == login.lower():
            st.err.print(_("Note: change {id} about {login} is already scheduled for {when} by {who} ({what}); if "
                           "it is no longer needed: itref pending cancel {id} --reason ...").format(
                id=c.id, login=c.login, when=_moment(c.when), who=c.who, what=describe(c.action, c.params)),
                markup=False, highlight=False, soft_wrap=True)


def _moment(when: datetime) -> str:
    from itref.i18n import format_datetime

    return format_datetime(when)


def _show_scheduled(st: CliState, fmt: str, dry_run: bool, when: datetime, parts: list[tuple[str | None, Plan]],
                    plan_dict: Callable[[Plan], dict[str, object]], plan_text: Callable[[Plan], object]) -> None:
    """Show the plans of a scheduled change: ``parts`` are (None: at the date / "now": at once, plan)."""
    if fmt == "json":
        from itref.report.inventory import to_json

        data: dict[str, object] = {"dry_run": dry_run, "at": when.isoformat(timespec="seconds")}
        for label, plan in parts:
            data["now" if label == "now" else "plan"] = plan_dict(plan)
        st.out.print(to_json(data), markup=False, soft_wrap=True)
        return
    for label, plan in parts:
        heading = _("Now:") if label == "now" else _("On {when} (nothing changes before):").format(when=_moment(when))
        st.out.print(heading, markup=False, style="bold")
        st.out.print(plan_text(plan))


def _journal_scheduled(ctx: RunContext, change: ScheduledChange) -> None:
    from itref.journal import JournalRecord

    ctx.journal.append(JournalRecord(action="ad schedule", target=change.subject, outcome="scheduled",
                                     entity=change.entity,
                                     run_id=ctx.run_id, detail=_("change {id} for {at}").format(id=change.id,
                                                                                                at=change.at)))


def _say_scheduled(st: CliState, change_id: str, when: datetime) -> None:
    from itref.cli.schedule import refresh_installed

    st.err.print(_("Scheduled as change {id} for {when}. See it with: itref pending list; cancel it with: itref "
                   "pending cancel {id} --reason ...").format(id=change_id, when=_moment(when)), markup=False)
    note = refresh_installed(st)
    if note:
        st.err.print(note, markup=False)


def _create_enabled_at(st: CliState, build: Callable[[DirectoryClient, RunContext], Plan], *, at: str,
                       entity: str | None, dry_run: bool, yes: bool, password_file: Path | None) -> ExitStatus:
    """Create the account now, disabled (password, groups and all), and schedule its enabling for ``at``."""
    from datetime import UTC

    from itref.ad.accounts import plan_enable
    from itref.ad.plan import Plan, apply
    from itref.ad.record import change_recorder
    from itref.ad.scheduled import ScheduledChanges, parse_at, prepare, split_create
    from itref.core.errors import UsageError
    from itref.report.ad import plan_dict, plan_text

    fmt = st.require_format("table", "json")
    when = parse_at(at, datetime.now(UTC))
    ctx, client = _client(st, read_only=dry_run)
    try:
        plan = build(client, ctx)
        now_plan, enable = split_create(plan)
        if enable is None:
            raise UsageError(_("this creation does not enable the account, so there is nothing to wait for"))
        later = Plan(_("Enable {login}").format(login=plan.login), plan.login, [enable])
        if not dry_run:
            _check_password_destination(password_file)
        _show_scheduled(st, fmt, dry_run, when, [("now", now_plan), (None, later)], plan_dict, plan_text)
        if dry_run:
            st.err.print(_("Dry run: nothing was changed or scheduled."), markup=False)
            return ExitStatus.SUCCESS
        if not _confirm(st, yes, _("Create the account now, disabled, and enable it on {when}?").format(
                when=_moment(when))):
            st.err.print(_("Nothing was changed."), markup=False)
            return ExitStatus.FAILURE
        if now_plan.password is not None and password_file is not None:
            write_password_file(password_file, now_plan.password.reveal() + "\n")
        apply(client, now_plan, change_recorder(ctx, entity, client.host))
        enabling = plan_enable(client, plan.login, enable=True)  # the account as it now is: the plan to confirm
        change = prepare("user enable", {"login": plan.login}, when, entity, enabling, origin="itref ad user create")
    finally:
        client.close()
    ScheduledChanges(ctx.state).add(change)
    _journal_scheduled(ctx, change)
    st.err.print(_("Done: {n} change(s) applied.").format(n=len(now_plan.changes)), markup=False)
    _say_scheduled(st, change.id, when)
    _hand_out(st, plan.login, plan.password, password_file)
    return ExitStatus.SUCCESS


def _hand_out(st: CliState, login: str, password: Secret | None, path: Path | None) -> None:
    if password is None:
        return
    if path is not None:
        st.err.print(_("The password of {login} is in {path} (readable only by you).").format(login=login, path=path),
                     markup=False)
    else:
        st.out.print(_("Initial password of {login} (shown once, write it down now): {pw}").format(
            login=login, pw=password.reveal()), markup=False)


def _pairs(values: list[str]) -> dict[str, str]:
    from itref.core.errors import UsageError

    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(_("'{item}' is not KEY=VALUE").format(item=item))
        out[key.strip()] = value
    return out


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    template: Annotated[str, typer.Option("--template", "-t", help=_("ENTITY/ROLE, e.g. cpas/social-worker."))],
    first: Annotated[str, typer.Option("--first", help=_("First name."))],
    last: Annotated[str, typer.Option("--last", help=_("Last name."))],
    attr: Annotated[list[str] | None, typer.Option("--attr", help=_("Extra attribute KEY=VALUE (repeatable)."))]
    = None,
    login: Annotated[str | None, typer.Option("--login", help=_("Force this login instead of the rule."))] = None,
    password_file: PasswordFile = None,
    at: At = None,
    dry_run: DryRun = False,
    yes: Yes = False,
) -> ExitStatus:
    """Create an account from a template: disabled, given a generated password, enabled, added to groups.
    With --at, the account is made now but stays disabled until that date."""
    from itref.ad.accounts import plan_create

    extra = _pairs(attr or [])
    entity = template.partition("/")[0]
    if at is not None:
        return _create_enabled_at(state(ctx), lambda c, rc: plan_create(c, rc.project, template, first, last, extra,
                                                                        login=login),
                                  at=at, entity=entity, dry_run=dry_run, yes=yes, password_file=password_file)
    return _run_plan(state(ctx), lambda c, rc: plan_create(c, rc.project, template, first, last, extra, login=login),
                     dry_run=dry_run, yes=yes, entity=entity, password_file=password_file)


@user_app.command("import")
def user_import(
    ctx: typer.Context,
    csv_file: Annotated[Path, typer.Argument(metavar="FILE.csv", help=_("HR export (UTF-8 or Windows-1252)."))],
    passwords_file: Annotated[Path | None, typer.Option(
        "--passwords-file", help=_("Where new passwords go, one 'login;password' line each (mode 0600)."))] = None,
    template: Annotated[str | None, typer.Option("--template", "-t", help=_(
        "ENTITY/ROLE for rows without a template column."))] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
) -> ExitStatus:
    """Create the accounts of a CSV file; every row is checked first, and a rerun creates nothing twice."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.ad.importer import check_file
    from itref.core.errors import UsageError

    project = st.project()
    with check_file(csv_file, project, template) as export:  # every row checked, nothing asked of the DC yet
        if not dry_run:
            if passwords_file is None:
                raise UsageError(_("give --passwords-file PATH: new passwords are written there, never shown or "
                                   "journaled"))
            from itref.ad.passfile import check_destination

            check_destination(passwords_file)
        rctx, client = _client(st, read_only=dry_run)
        try:
            if dry_run:
                return _import_preview(st, fmt, client, export, csv_file, passwords_file)
            assert passwords_file is not None
            return _import_apply(st, fmt, rctx, client, export, csv_file, passwords_file, yes)
        finally:
            client.close()


class _Rows:
    """Import rows printed as they come: ``FILE:LINE: what NAME ...`` lines, or one JSON array written element
    by element (each element once the next one is known, so the array is closed properly). Off a terminal the
    lines are written as they are, as Rich would write them there (no colour, no folding) but thousands of times
    faster; on a terminal Rich shows the plans in colour."""

    password_to: str | Path | None = None
    """Where the new accounts' passwords go, said in each plan (see report.ad.plan_text)."""

    def __init__(self, st: CliState, fmt: str, opening: str, closing: str) -> None:
        self.st, self.fmt, self.closing = st, fmt, closing
        self.held: str | None = None
        self.direct = st.plain() is not None
        if fmt == "json":
            st.write(opening)

    def json(self, item: dict[str, object]) -> None:
        import json

        from itref.core.text import json_safe

        text = json_safe(json.dumps(item, ensure_ascii=False, indent=2, default=str))
        if self.held is not None:
            self.st.write(self.held + ",")
        self.held = "\n".join("    " + line for line in text.splitlines())

    def line(self, text: str) -> None:
        from itref.core.text import printable

        if self.direct:
            self.st.write(printable(text))
        else:  # one line per row, never folded, and ":100:" stays a line number (Rich would make it an emoji)
            self.st.out.print(printable(text), markup=False, emoji=False, soft_wrap=True)

    def plan(self, plan: Plan) -> None:
        from itref.report.ad import plan_text

        text = plan_text(plan, self.password_to)  # values already escaped
        if self.direct:
            self.st.write(text.plain)
        else:
            self.st.out.print(text)

    def close(self) -> None:
        if self.fmt == "json":
            if self.held is not None:
                self.st.write(self.held)
            self.st.write(self.closing)


def _import_preview(st: CliState, fmt: str, client: DirectoryClient, export: Export, csv_file: Path,
                    passwords_file: Path | None) -> ExitStatus:
    """Show what the import would do, row by row as each is planned; return FAILURE when a row would fail."""
    from itref.ad.importer import checked_rows, preview_rows
    from itref.report.ad import plan_dict

    project = st.project()
    out = _Rows(st, fmt, '{\n  "dry_run": true,\n  "rows": [', "  ]\n}")
    out.password_to = passwords_file or "--passwords-file"  # where the passwords of the rows' accounts would go
    creates = exists = fails = 0
    for p in preview_rows(client, project, checked_rows(export, project)):
        groups = [dn.split(",", 1)[0].removeprefix("CN=") for dn in p.missing]
        creates += p.action in ("create", "finish", "groups")
        exists += p.action == "exists"
        fails += p.action == "fails"
        if fmt == "json":
            out.json({"line": p.row.line, "name": f"{p.row.first} {p.row.last}", "template": p.row.template,
                      "action": p.action, "groups": groups, "login": p.login or None, "error": p.error or None,
                      "plan": plan_dict(p.plan) if p.plan is not None else None})
            continue
        what = _("add to the groups {groups}").format(groups=", ".join(groups)) if p.action == "groups" else p.action
        out.line(f"{csv_file}:{p.row.line}: {what} {p.row.first} {p.row.last} ({p.row.template})"
                 + (f" → {p.login}" if p.login else "") + (f": {p.error}" if p.error else ""))
        if p.plan is not None:  # the account as it would be made: OU, attributes, groups
            out.plan(p.plan)
    out.close()
    st.err.print(_("Dry run: {n} account(s) would be created or finished, {m} already exist.").format(
        n=creates, m=exists), markup=False)
    if fails:
        st.err.print(ngettext("{n} row would fail (see above).", "{n} rows would fail (see above).",
                              fails).format(n=fails), markup=False)
    return ExitStatus.FAILURE if fails else ExitStatus.SUCCESS


def _import_apply(st: CliState, fmt: str, rctx: RunContext, client: DirectoryClient, export: Export,
                  csv_file: Path, passwords_file: Path, yes: bool) -> ExitStatus:
    """Plan every row first (a row that would fail stops everything before the first write), confirm, then
    import, printing each row once done; an interruption says what each unfinished row reached."""
    from itref.ad.importer import ImportStopped, RowResult, checked_rows, import_stream, preview_rows
    from itref.ad.passfile import PasswordsFile
    from itref.ad.record import change_recorder
    from itref.core.text import printable

    project = st.project()
    failing = 0
    for p in preview_rows(client, project, checked_rows(export, project)):
        if p.action == "fails":
            failing += 1
            if failing <= 100:
                st.err.print(printable(f"{csv_file}:{p.row.line}: {p.row.first} {p.row.last}: {p.error}"),
                             markup=False, emoji=False)
    if failing:
        st.err.print(ngettext("Nothing was written: {n} row would fail. Correct it (or take it out of the file) and "
                              "run again.", "Nothing was written: {n} rows would fail. Correct them (or take them "
                              "out of the file) and run again.", failing).format(n=failing), markup=False)
        return ExitStatus.FAILURE
    if not _confirm(st, yes):
        return ExitStatus.FAILURE
    out = _Rows(st, fmt, "[", "]")
    counts = dict.fromkeys(("created", "completed", "exists", "failed", "partial"), 0)

    def show(r: RowResult) -> None:
        name = f"{r.row.first} {r.row.last}"
        if fmt == "json":
            out.json({"line": r.row.line, "name": name, "status": r.status, "login": r.login, "message": r.message})
        else:
            out.line(f"{csv_file}:{r.row.line}: {r.status} {name}" + (f" → {r.login}" if r.login else "")
                     + (f" ({r.message})" if r.message else ""))
        counts[r.status] += 1

    with PasswordsFile(passwords_file) as kept:
        stream = import_stream(client, project, checked_rows(export, project),
                               on_password=lambda login, secret: kept.add(login, secret.reveal()),
                               on_change=change_recorder(rctx, None, client.host))
        shown: RowResult | None = None
        try:
            try:
                for shown in stream:
                    show(shown)
                    shown = None
            except KeyboardInterrupt:  # Ctrl-C while a row was shown: the import says where it stopped all the same
                stream.throw(KeyboardInterrupt())
        except ImportStopped as stop:
            for result in [shown, *stop.results] if shown is not None else stop.results:
                show(result)
            out.close()
            left = export.count - sum(counts.values())
            st.err.print(printable(_(
                "Stopped at line {line}: {reason}. Done: {created} created, {completed} finished, {exists} already "
                "there, {failed} failed; {partial} partly done (listed above), {left} not started. Passwords are in "
                "{path}. To finish, run the same command again: it creates nothing twice and finishes the partly "
                "done rows.").format(line=stop.line, reason=stop.message, left=left, path=passwords_file, **counts)),
                markup=False, emoji=False, soft_wrap=True)
            return stop.status
    out.close()
    st.err.print(printable(_("{created} created, {completed} finished, {exists} already there, {failed} failed; "
                             "passwords in {path}").format(path=passwords_file, **{
                                 k: v for k, v in counts.items() if k != "partial"})), markup=False, emoji=False)
    return ExitStatus.FAILURE if counts["failed"] else ExitStatus.SUCCESS


@user_app.command("show")
def user_show(ctx: typer.Context, login: Annotated[str, typer.Argument()]) -> ExitStatus:
    """Show one account: OU, groups, state, dates."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.ad.accounts import USER_ATTRIBUTES, require_user
    from itref.report.ad import account_detail, account_dict
    from itref.report.inventory import to_json

    _ctx, client = _client(st, read_only=True)
    try:
        entry = require_user(client, login)
        entry = client.get(entry.dn, [*USER_ATTRIBUTES, "lockoutTime"]) or entry
    finally:
        client.close()
    if fmt == "json":
        st.out.print(to_json(account_dict(entry)), markup=False, soft_wrap=True)
    else:
        st.out.print(account_detail(entry))
    return ExitStatus.SUCCESS


@user_app.command("find")
def user_find(ctx: typer.Context, text: Annotated[str, typer.Argument(help=_("Part of a login, name or mail."))]
              ) -> ExitStatus:
    """Find accounts whose login, name or mail contains TEXT."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.ad.accounts import USER_ATTRIBUTES
    from itref.ad.client import escape_filter
    from itref.report.ad import account_dict, account_table
    from itref.report.inventory import to_json

    v = escape_filter(text)
    _ctx, client = _client(st, read_only=True)
    try:
        found = client.search(f"(&(objectCategory=person)(objectClass=user)(|(sAMAccountName=*{v}*)"
                              f"(displayName=*{v}*)(mail=*{v}*)(sn=*{v}*)(givenName=*{v}*)))", USER_ATTRIBUTES)
    finally:
        client.close()
    if fmt == "json":
        st.out.print(to_json([account_dict(e) for e in found]), markup=False, soft_wrap=True)
    else:
        st.out.print(account_table(found))
    return ExitStatus.SUCCESS if found else ExitStatus.FAILURE


@user_app.command("reset-password")
def user_reset_password(
    ctx: typer.Context, login: Annotated[str, typer.Argument()],
    keep: Annotated[bool, typer.Option("--no-must-change", help=_("Do not ask for a change at next logon."))]
    = False,
    password_file: PasswordFile = None, dry_run: DryRun = False, yes: Yes = False,
) -> ExitStatus:
    """Give an account a new generated password (to change at next logon)."""
    from itref.ad.accounts import plan_reset_password

    return _run_plan(state(ctx), lambda c, _rc: plan_reset_password(c, login, must_change=not keep),
                     dry_run=dry_run, yes=yes, password_file=password_file)


@user_app.command("unlock")
def user_unlock(ctx: typer.Context, login: Annotated[str, typer.Argument()], dry_run: DryRun = False,
                yes: Yes = False) -> ExitStatus:
    """Unlock an account locked out by wrong passwords."""
    from itref.ad.accounts import plan_unlock

    return _run_plan(state(ctx), lambda c, _rc: plan_unlock(c, login), dry_run=dry_run, yes=yes)


@user_app.command("disable")
def user_disable(ctx: typer.Context, login: Annotated[str, typer.Argument()], dry_run: DryRun = False,
                 yes: Yes = False) -> ExitStatus:
    """Disable an account (nothing else changes; see offboard for a departure)."""
    from itref.ad.accounts import plan_enable

    return _run_plan(state(ctx), lambda c, _rc: plan_enable(c, login, enable=False), dry_run=dry_run, yes=yes)


@user_app.command("enable")
def user_enable(ctx: typer.Context, login: Annotated[str, typer.Argument()], dry_run: DryRun = False,
                yes: Yes = False) -> ExitStatus:
    """Enable an account."""
    from itref.ad.accounts import plan_enable

    return _run_plan(state(ctx), lambda c, _rc: plan_enable(c, login, enable=True), dry_run=dry_run, yes=yes)


@user_app.command("move")
def user_move(ctx: typer.Context, login: Annotated[str, typer.Argument()],
              ou: Annotated[str, typer.Argument(help=_("Distinguished name of the target OU."))],
              dry_run: DryRun = False, yes: Yes = False) -> ExitStatus:
    """Move an account to another OU."""
    from itref.ad.accounts import plan_move

    return _run_plan(state(ctx), lambda c, _rc: plan_move(c, login, ou), dry_run=dry_run, yes=yes)


@user_app.command("set")
def user_set(ctx: typer.Context, login: Annotated[str, typer.Argument()],
             values: Annotated[list[str], typer.Argument(metavar="KEY=VALUE...", help=_(
                 "Attributes (department, title, office, telephone... or AD names); empty value clears."))],
             dry_run: DryRun = False, yes: Yes = False) -> ExitStatus:
    """Change attributes of an account."""
    from itref.ad.accounts import plan_set

    pairs = _pairs(values)
    return _run_plan(state(ctx), lambda c, _rc: plan_set(c, login, pairs), dry_run=dry_run, yes=yes)


@user_app.command("offboard")
def user_offboard(ctx: typer.Context, login: Annotated[str, typer.Argument()],
                  reason: Annotated[str, typer.Option("--reason", help=_("Why, e.g. 'end of contract'."))],
                  at: At = None, dry_run: DryRun = False, yes: Yes = False) -> ExitStatus:
    """Departure, reversibly: snapshot, disable, leave groups, move to the departed OU, date and reason.
    With --at, the departure is planned and confirmed now, and made at that date by itref schedule run."""
    from itref.ad.offboard import plan_offboard

    if at is not None:
        def planned(client: DirectoryClient, rctx: RunContext, when: datetime) -> tuple[Plan, str | None]:
            plan, snap = plan_offboard(client, rctx.project, login, reason, today=when)
            return plan, snap.entity

        return _schedule_plan(state(ctx), planned, at=at, action="user offboard",
                              params={"login": login, "reason": reason}, dry_run=dry_run, yes=yes)

    return _run_plan(state(ctx), lambda client, rctx: plan_offboard(client, rctx.project, login, reason)[0],
                     dry_run=dry_run, yes=yes)


@user_app.command("restore")
def user_restore(ctx: typer.Context, login: Annotated[str, typer.Argument()], dry_run: DryRun = False,
                 yes: Yes = False) -> ExitStatus:
    """Undo an offboarding: OU, groups and attributes exactly as they were."""
    from itref.ad.offboard import Snapshots, plan_restore

    st = state(ctx)
    snapshots = Snapshots(st.project().state)
    snap = snapshots.load(login)
    status = _run_plan(st, lambda c, _rc: plan_restore(c, snap), dry_run=dry_run, yes=yes, entity=snap.entity)
    if status == ExitStatus.SUCCESS and not dry_run:
        snapshots.mark_restored(login)
    return status


@app.command("purge")
def purge(ctx: typer.Context,
          older_than: Annotated[str, typer.Option("--older-than", help=_("Retention, e.g. 90d."))] = "90d",
          dry_run: DryRun = False, yes: Yes = False) -> ExitStatus:
    """Delete accounts parked in a departed OU for longer than the retention (plan shown first)."""
    from itref.ad.offboard import plan_purge
    from itref.core.errors import UsageError
    from itref.core.units import parse_duration

    try:
        retention = parse_duration(older_than)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    st = state(ctx)

    def forget_snapshots(plan: Plan, rctx: RunContext) -> None:
        from itref.ad.offboard import Snapshots

        snapshots = Snapshots(rctx.state)
        for change in plan.changes:
            if change.kind == "delete" and change.before.get("login"):
                snapshots.remove(str(change.before["login"]))

    return _run_plan(st, lambda c, rc: plan_purge(c, rc.project, retention), dry_run=dry_run, yes=yes,
                     after_apply=forget_snapshots)


@group_app.command("add")
def group_add(ctx: typer.Context, group: Annotated[str, typer.Argument()],
              logins: Annotated[list[str], typer.Argument(metavar="LOGIN...")],
              dry_run: DryRun = False, yes: Yes = False) -> ExitStatus:
    """Add accounts to a group."""
    from itref.ad.accounts import plan_membership

    return _run_plan(state(ctx), lambda c, _rc: plan_membership(c, group, logins, add=True), dry_run=dry_run,
                     yes=yes)


@group_app.command("remove")
def group_remove(ctx: typer.Context, group: Annotated[str, typer.Argument()],
                 logins: Annotated[list[str], typer.Argument(metavar="LOGIN...")],
                 dry_run: DryRun = False, yes: Yes = False) -> ExitStatus:
    """Remove accounts from a group."""
    from itref.ad.accounts import plan_membership

    return _run_plan(state(ctx), lambda c, _rc: plan_membership(c, group, logins, add=False), dry_run=dry_run,
                     yes=yes)


@group_app.command("members")
def group_members(ctx: typer.Context, group: Annotated[str, typer.Argument()]) -> ExitStatus:
    """List a group's members."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.core.errors import UsageError
    from itref.report.inventory import to_json

    _ctx, client = _client(st, read_only=True)
    try:
        entry = client.find_group(group)
        if entry is None:
            raise UsageError(_("no group '{group}' in the directory").format(group=group))
        members = entry.texts("member")
    finally:
        client.close()
    if fmt == "json":
        st.out.print(to_json({"group": entry.dn, "members": members}), markup=False, soft_wrap=True)
    else:
        for m in members:
            st.out.print(m, markup=False)
    return ExitStatus.SUCCESS


@app.command("report")
def report(
    ctx: typer.Context,
    stale_days: Annotated[int, typer.Option("--stale-days", min=1, help=_("Unused for this long = stale."))] = 90,
) -> ExitStatus:
    """Directory hygiene: stale, never-used, weakly protected, privileged and forgotten accounts."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.ad.report import Thresholds, directory_findings
    from itref.core.findings import exit_status, worst
    from itref.report.findings import findings_view
    from itref.report.inventory import to_json

    rctx, client = _client(st, read_only=True)
    try:
        findings = directory_findings(client, rctx.project, Thresholds(stale_days=stale_days))
    finally:
        client.close()
    if fmt == "json":
        st.out.print(to_json([f.as_dict() for f in findings]), markup=False, soft_wrap=True)
    else:
        st.out.print(findings_view(findings))
    return exit_status(worst(findings))
