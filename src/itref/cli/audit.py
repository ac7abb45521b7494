"""``itref audit``: what is wrong across the commune, the CPAS and the ASBLs, why it matters, what to do."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from itref.cli import complete
from itref.cli.state import CliState, state
from itref.core.status import ExitStatus
from itref.i18n import _

AUDIT_FORMATS = ("table", "json", "junit", "markdown", "html", "nagios", "prometheus")

app = typer.Typer(help=_("Health audit of every host, the directory, the backups and the network endpoints."),
                  invoke_without_command=True, rich_markup_mode=None)


@app.callback()
def audit(
    ctx: typer.Context,
    limit: Annotated[str | None, typer.Option("--limit", "-l", autocompletion=complete.selectors,
                                              help=_("Only these hosts (same syntax as run)."))]
    = None,
    checks: Annotated[str | None, typer.Option("--checks", "-c", help=_(
        "Only these checks: ids or globs, comma-separated (e.g. 'linux.*,backups')."))] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help=_("Write the report to this file."))] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=_(
        "For cron: print nothing when everything is OK, only what fails otherwise."))] = False,
    notify: Annotated[bool, typer.Option("--notify/--no-notify", help=_(
        "Send notifications for new or worse findings (when the inventory configures them)."))] = True,
    lock_wait: Annotated[float, typer.Option("--lock-wait", min=0, help=_(
        "Seconds to wait for another running audit to finish."))] = 300,
) -> None:
    """Audit the hosts, the directory, the backups and the network; findings grouped by entity."""
    if ctx.invoked_subcommand is not None:
        return
    st = state(ctx)
    status = run_audit_command(st, limit=limit, checks=checks, output=output, quiet=quiet, notify=notify,
                               lock_wait=lock_wait)
    raise typer.Exit(int(status))


def run_audit_command(st: CliState, *, limit: str | None, checks: str | None, output: Path | None, quiet: bool,
                      notify: bool, lock_wait: float) -> ExitStatus:
    """Run the audit and print or write the report; return the exit status (Nagios' for --format nagios)."""
    fmt = st.require_format(*AUDIT_FORMATS)
    from itref.audit.registry import select as select_checks
    from itref.audit.run import audit as run
    from itref.config.selection import select
    from itref.core.findings import Severity, exit_status

    rctx = st.context()
    if output is not None:  # a report file is for others: the inventory's language unless --lang/ITREF_LANG says
        from itref.i18n import document_language, set_language

        set_language(document_language(rctx.project.inventory.language))
    hosts = select(rctx.project.hosts, limit)
    chosen = select_checks([c.strip() for c in checks.split(",") if c.strip()] if checks else None)
    progress_ctx = None
    if not quiet and st.err.is_terminal:
        from itref.cli.progress import host_progress

        progress_ctx = host_progress(st.err, len(hosts))
    if progress_ctx is not None:
        with progress_ctx as progress:
            report, diff = run(rctx, hosts, chosen, lock_wait=lock_wait, on_progress=progress)
    else:
        report, diff = run(rctx, hosts, chosen, lock_wait=lock_wait)
    if notify and rctx.project.inventory.notifications is not None:
        from itref.audit.notify import notify_changes

        for problem in notify_changes(rctx, report, diff):
            st.err.print(_("Notification not sent: {problem}").format(problem=problem), markup=False)
    all_ok = report.worst.rank < Severity.WARNING.rank
    if fmt == "table":
        from itref.report.audit import table

        if not (quiet and all_ok):
            view = table(report, failing_only=quiet)
            if output is not None:
                import io

                from rich.console import Console

                buffer = io.StringIO()
                Console(file=buffer, width=120, no_color=True).print(view)
                _write_report(output, buffer.getvalue())
            else:
                st.out.print(view)
    else:
        from itref.report.audit import renderer

        text = renderer(fmt)(report)
        if output is not None:
            _write_report(output, text)
            if not quiet:
                st.err.print(_("Report written to {path}").format(path=output), markup=False)
        elif not (quiet and all_ok):
            st.out.print(text, markup=False, highlight=False, soft_wrap=True, end="" if text.endswith("\n") else "\n")
    if fmt == "nagios":
        return {Severity.OK: 0, Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2,
                Severity.UNKNOWN: 3}[report.worst]  # type: ignore[return-value]
    return exit_status(report.worst)


def _write_report(path: Path, text: str) -> None:
    """Write a report file owner-only (mode 0600: it lists people's accounts). Raises UsageError when it cannot be
    written (no such folder, no permission, full disk)."""
    from itref.core.errors import UsageError
    from itref.core.files import write_private

    try:
        write_private(path, text)
    except OSError as exc:
        raise UsageError(_("cannot write the report to {path}: {reason}").format(
            path=path, reason=exc.strerror or exc)) from None


@app.command()
def explain(ctx: typer.Context,
            check_id: Annotated[str, typer.Argument(metavar="CHECK", autocompletion=complete.checks)]) -> ExitStatus:
    """Explain a check, or the id a finding carries: why it matters, how it is measured, what to do, the commands."""
    st = state(ctx)
    from rich.text import Text

    from itref.audit.registry import all_checks, explain

    topic = explain(check_id)
    checks = {c.id: c for c in all_checks()}
    check = checks.get(topic.id) or checks.get(topic.family or "")
    out = Text()
    out.append(f"{topic.id} — {topic.title}\n", style="bold")
    out.append(_("Why it matters: ") + topic.why + "\n")
    out.append(_("How it is measured: ") + topic.how + "\n")
    out.append(_("What to do: ") + topic.fix + "\n")
    if topic.commands:
        out.append(_("Commands:") + "\n")
        for command in topic.commands:
            out.append(f"  {command}\n")
    if topic.family:
        out.append(_("Found by the audit check '{check}' (itref audit --checks {check}).").format(check=topic.family)
                   + "\n")
    if check is not None:
        out.append(_("Runs on: ") + ", ".join(check.platforms()) + "\n")
        if check.thresholds:
            out.append(_("Thresholds (change them in a playbook under audits.thresholds): ")
                       + ", ".join(f"{k}={v}" for k, v in check.thresholds.items()) + "\n")
    st.out.print(out)
    return ExitStatus.SUCCESS


@app.command("checks")
def list_checks(ctx: typer.Context) -> ExitStatus:
    """List every check with its title and platforms."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.audit.registry import all_checks

    rows = [{"id": c.id, "title": c.title, "platforms": c.platforms(), "thresholds": c.thresholds}
            for c in all_checks()]
    if fmt == "json":
        import json

        st.out.print(json.dumps(rows, ensure_ascii=False, indent=2), markup=False, soft_wrap=True)
    else:
        for r in rows:
            st.out.print(f"{r['id']:<28} {r['title']} ({', '.join(r['platforms'])})", markup=False)
    return ExitStatus.SUCCESS


Subject = Annotated[str | None, typer.Option(
    "--subject", help=_("Only this subject of the check (an account, a mount point...), as findings name it."))]


@app.command()
def waive(
    ctx: typer.Context,
    check_id: Annotated[str, typer.Argument(metavar="CHECK", autocompletion=complete.checks)],
    until: Annotated[str, typer.Option("--until", help=_("Last day of the waiver (YYYY-MM-DD)."))],
    reason: Annotated[str, typer.Option("--reason", help=_("Why this is accepted for now."))],
    host: Annotated[str | None, typer.Option("--host", autocompletion=complete.hosts,
                                             help=_("Only on this host (every host otherwise)."))] = None,
    subject: Subject = None,
) -> ExitStatus:
    """Accept a finding until a date, with a reason; it shows as waived, then fails again after that date."""
    st = state(ctx)
    from itref.audit.registry import get
    from itref.audit.waivers import Waivers
    from itref.core.errors import UsageError
    from itref.journal import JournalRecord

    get(check_id)
    try:
        last_day = date.fromisoformat(until)
    except ValueError:
        raise UsageError(_("--until '{until}' is not a date like 2027-03-31").format(until=until)) from None
    if last_day < date.today():
        raise UsageError(_("--until {until} is already past").format(until=until))
    if not reason.strip():
        raise UsageError(_("--reason is empty: say why this is accepted for now"))
    rctx = st.context()
    if host is not None and rctx.project.host(host) is None:
        raise UsageError(_("unknown host '{host}'").format(host=host))
    store = Waivers(rctx.state)
    earlier = store.get(check_id, host, subject)
    waiver = store.add(check_id, host, last_day, reason, subject)
    entity = rctx.project.host(host).entity if host else None  # type: ignore[union-attr]
    rctx.journal.append(JournalRecord(action="audit waive", target=check_id + (f" ({subject})" if subject else ""),
                                      outcome="changed", host=host, entity=entity,
                                      detail=f"until {waiver.until}: {reason}", run_id=rctx.run_id))
    if earlier is not None:
        st.err.print(_("This replaces the waiver {who} gave until {until}: {reason}").format(
            who=earlier.who, until=earlier.until, reason=earlier.reason), markup=False)
    st.out.print(_("{check} waived{on} until {until}: {reason}").format(
        check=check_id + (f" ({subject})" if subject else ""), on=_(" on {host}").format(host=host) if host else "",
        until=waiver.until, reason=reason), markup=False)
    return ExitStatus.SUCCESS


@app.command()
def unwaive(ctx: typer.Context,
            check_id: Annotated[str, typer.Argument(metavar="CHECK", autocompletion=complete.checks)],
            host: Annotated[str | None, typer.Option("--host")] = None, subject: Subject = None) -> ExitStatus:
    """Remove a waiver before its date."""
    st = state(ctx)
    from itref.audit.waivers import Waivers
    from itref.core.errors import UsageError
    from itref.journal import JournalRecord

    rctx = st.context()
    if not Waivers(rctx.state).remove(check_id, host, subject):
        raise UsageError(_("no waiver for {check}{on}").format(check=check_id + (f" ({subject})" if subject else ""),
                                                                on=_(" on {host}").format(host=host) if host else ""))
    host_spec = rctx.project.host(host) if host else None
    rctx.journal.append(JournalRecord(action="audit unwaive", target=check_id + (f" ({subject})" if subject else ""),
                                      outcome="changed", host=host, entity=host_spec.entity if host_spec else None,
                                      run_id=rctx.run_id))
    return ExitStatus.SUCCESS


@app.command()
def waivers(ctx: typer.Context) -> ExitStatus:
    """List the waivers (who decided each, why, until when), expired ones marked."""
    st = state(ctx)
    from itref.audit.waivers import Waivers

    today = date.today()
    found = Waivers(st.state_folder())
    for w in found.load():
        state_word = _("expired") if w.expired(today) else _("until {until}").format(until=w.until)
        what = w.check + (f" ({w.subject})" if w.subject else "")
        st.out.print(f"{what} {w.host or '*'} — {state_word} — {w.reason} ({w.who})", markup=False)
    for problem in found.problems:
        st.err.print(_("{place}: this waiver file cannot be read and was left out").format(place=problem),
                     markup=False)
    return ExitStatus.SUCCESS


@app.command()
def diff(ctx: typer.Context,
         since: Annotated[str | None, typer.Option("--since", help=_("Compare with this run id (default: the "
                                                                     "previous run)."))] = None) -> ExitStatus:
    """What changed between the last audit and an earlier one: new, worse, still failing, resolved."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.audit.history import AuditHistory
    from itref.core.errors import UsageError

    history = AuditHistory(st.state_folder())
    runs = [r.run_id for r in history.runs()]
    if len(runs) < 2:
        raise UsageError(_("at least two audits are needed to compare (found {n})").format(n=len(runs)))
    last = runs[-1]
    base = since or runs[-2]
    if base not in runs:
        raise UsageError(_("no audit run '{run}' (runs: {runs})").format(run=base, runs=", ".join(runs[-10:])))
    now, before = history.findings_of(last), history.findings_of(base)
    groups: dict[str, list[str]] = {"new": [], "regressed": [], "still": [], "resolved": []}
    for key, f in now.items():
        past = before.get(key)
        if not f.failing:
            continue
        if past is None or not past.failing:
            groups["new"].append(key)
        elif f.severity.rank > past.severity.rank:
            groups["regressed"].append(key)
        else:
            groups["still"].append(key)
    groups["resolved"] = [k for k, p in before.items() if p.failing and not (k in now and now[k].failing)]
    if fmt == "json":
        import json

        data = {name: [{"key": k, "message": (now.get(k) or before[k]).message} for k in keys]
                for name, keys in groups.items()}
        st.out.print(json.dumps({"from": base, "to": last, **data}, ensure_ascii=False, indent=2), markup=False,
                     soft_wrap=True)
    else:
        titles = {"new": _("New"), "regressed": _("Worse"), "still": _("Still failing"), "resolved": _("Resolved")}
        st.out.print(_("From audit {base} to audit {last}:").format(base=base, last=last), markup=False)
        for name, keys in groups.items():
            st.out.print(f"{titles[name]} ({len(keys)})", markup=False)
            for k in keys:
                f = now.get(k) or before[k]
                st.out.print(f"  {f.host + ': ' if f.host else ''}{f.message}", markup=False)
    return ExitStatus.SUCCESS
