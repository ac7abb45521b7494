"""Playbook routines: steps flattened (includes expanded), parameters substituted, each step
previewed, performed and recorded, progress saved after every step so a run can be resumed.

Who answers questions (guided mode, manual steps, ``ask:`` prompts) is an :class:`Interaction`
given by the caller; this module never prints.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from itref.config.project import Project
from itref.config.schema import Ask, Routine, RunStep, Step
from itref.config.selection import select
from itref.connectors.base import HostSpec
from itref.context import RunContext
from itref.core.errors import ConfigError, ConfigIssue, ItrefError, UsageError
from itref.i18n import N_, _, ngettext
from itref.journal import JournalRecord

if TYPE_CHECKING:
    from itref.state.folder import StateFolder

if TYPE_CHECKING:
    from itref.core.results import RunReport

Status = Literal["ok", "failed", "skipped", "stopped"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class FlatStep:
    """A step of the routine as run: where it comes from (routine, position) and the step itself."""

    number: int
    routine: str
    step: Step


@dataclass
class StepRecord:
    """How one step ended."""

    number: int
    status: Status
    message: str
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    outcome: str | None = None
    """For a check step (backup, audit): the worst status found (ok, warning, unknown, critical); None otherwise."""
    summary: str | None = None
    """One line saying how the step went (the message's first line when None)."""


@dataclass
class RunState:
    """A routine run: saved after every step in the project's state folder (``routines/<run_id>.yaml``), so
    anyone who takes the project over sees it and can resume it. ``params`` never holds the answers of
    ``ask:`` parameters marked ``secret`` (listed in ``secret_params``: asked again on resume)."""

    run_id: str
    target: str
    params: dict[str, Any]
    next_step: int = 1
    records: list[StepRecord] = field(default_factory=list)
    finished: bool = False
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    secret_params: list[str] = field(default_factory=list)
    operator: str | None = None
    account: str | None = None
    machine: str | None = None
    updated: str | None = None
    waiting_for: str | None = None
    """What the run waits for when it stopped at a manual step a person did not confirm (its instruction)."""
    cancelled: str | None = None
    """Why the run was closed without finishing (``itref playbook cancel``)."""

    def status_of(self, step_id: str, steps: list[FlatStep]) -> Status | None:
        """Return how the step with ``id: step_id`` ended in this run (None if not yet run)."""
        numbers = {s.number for s in steps if s.step.id == step_id}
        found = [r for r in self.records if r.number in numbers]
        return found[-1].status if found else None

    @property
    def open(self) -> bool:
        """Return True while the run may be resumed (not finished, not cancelled)."""
        return not self.finished and not self.cancelled


RUNS = "routines"
NOT_A_RUN = N_("not a routine run: a field it needs is missing or of the wrong kind")
"""Why a routine-run document that is valid YAML cannot be read as a run."""


def save(folder: StateFolder, state: RunState) -> None:
    """Write ``state`` whole into ``folder``'s routine runs (secret answers left out, signed by whoever started
    the run). Raises StateError."""
    from itref.state.documents import Documents
    from itref.state.records import now_text

    if state.account is None:
        op = folder.operator
        state.operator, state.account, state.machine = op.name, op.account, op.machine
    state.updated = now_text()
    data = asdict(state)
    data["params"] = {k: v for k, v in state.params.items() if k not in state.secret_params}
    Documents(folder, RUNS).write(state.run_id, json.loads(json.dumps(data, default=str)))


def _from_data(data: dict[str, Any]) -> RunState:
    known = {f.name for f in fields(RunState)}
    data = {k: v for k, v in data.items() if k in known}
    from itref.state.documents import check_types

    records = data.get("records") or []
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise TypeError("records")
    data["records"] = [StepRecord(**r) for r in records]
    run = RunState(**data)
    for record in (run, *run.records):
        check_types(record)
    return run


def _maybe_open(text: str) -> bool:
    """Return False when a saved run's text shows it finished or cancelled (a quick look before parsing)."""
    return "\nfinished: true\n" not in text and re.search(r"^cancelled: (?!null$)", text, re.M) is None


def saved_runs(folder: StateFolder, *, open_only: bool = False) -> list[RunState]:
    """Return every saved routine run of ``folder`` (only the unfinished, uncancelled ones when ``open_only``),
    oldest first (unreadable files are left out)."""
    from itref.state.documents import Documents

    runs = []
    docs = Documents(folder, RUNS)
    for name, data in docs.all(keep=_maybe_open if open_only else None, memo="open"):
        try:
            run = _from_data(data)
        except (KeyError, TypeError, ValueError):
            docs.refuse(name, 1, _(NOT_A_RUN))
            continue
        if run.open or not open_only:
            runs.append(run)
    return sorted(runs, key=lambda r: (r.started, r.run_id))


def cancel(folder: StateFolder, run_id: str, reason: str) -> RunState:
    """Close the unfinished run ``run_id`` for ``reason`` (it can no longer be resumed) and return it.
    Raises UsageError when there is no such run, or it is finished or cancelled already; StateError."""
    run = load(folder, run_id)
    if run.finished:
        raise UsageError(_("routine run {id} is already finished").format(id=run_id))
    if run.cancelled:
        raise UsageError(_("routine run {id} was already cancelled: {reason}").format(id=run_id,
                                                                                     reason=run.cancelled))
    run.cancelled = reason
    save(folder, run)
    return run


def load(folder: StateFolder, run_id: str | None) -> RunState:
    """Return the saved run ``run_id``, or the latest unfinished one. Raises UsageError when none."""
    from itref.state.documents import Documents

    if run_id:
        try:
            data = Documents(folder, RUNS).read(run_id)
        except ValueError:
            data = None
        if data is None:
            raise UsageError(_("no saved routine run '{id}'").format(id=run_id))
        try:
            return _from_data(data)
        except (KeyError, TypeError, ValueError):
            from itref.core.errors import StateError
            from itref.state.documents import Documents, Problem

            raise StateError(str(Problem(Documents(folder, RUNS).file(run_id), 1, _(NOT_A_RUN)))) from None
    for state in reversed(saved_runs(folder)):
        if state.open:
            return state
    raise UsageError(_("no unfinished routine to resume"))


def resolve(project: Project, target: str) -> tuple[str, str, Routine]:
    """Return (entity, routine name, routine) for ``ENTITY/ROUTINE``. Raises UsageError naming what exists."""
    entity, _sep, name = target.partition("/")
    book = project.playbooks.get(entity)
    if book is None or name not in book.routines:
        known = [f"{e}/{r}" for e, b in project.playbooks.items() for r in b.routines]
        raise UsageError(_("unknown routine '{target}' (routines: {known})").format(
            target=target, known=", ".join(known) or "-"))
    return entity, name, book.routines[name]


def flatten(project: Project, entity: str, name: str, _seen: tuple[str, ...] = ()) -> list[FlatStep]:
    """Return the routine's steps with every ``include`` expanded in place, numbered from 1.

    Raises UsageError when includes go round in a circle.
    """
    key = f"{entity}/{name}"
    if key in _seen:
        raise UsageError(_("routines include each other in a circle: {chain}").format(
            chain=" → ".join([*_seen, key])))
    _e, _n, routine = resolve(project, key)
    out: list[FlatStep] = []
    for step in routine.steps:
        if step.include is not None:
            inc_entity, _s, inc_name = step.include.rpartition("/")
            out += flatten(project, inc_entity or entity, inc_name, (*_seen, key))
        else:
            out.append(FlatStep(0, key, step))
    return [FlatStep(i, s.routine, s.step) for i, s in enumerate(out, 1)]


def substitute(value: Any, params: dict[str, Any]) -> Any:
    """Return ``value`` with ``{name}`` replaced by parameters (strings, lists and dicts walked).

    For texts that are data (an argument of an argument list, an AD parameter, an instruction), never for
    a text a shell reads: a shell step gets variables instead (:func:`shell_command_parts`).
    Raises UsageError for an unknown name.
    """
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in params:
                raise UsageError(_("unknown parameter {{{name}}}").format(name=m.group(1)))
            return str(params[m.group(1)])
        return PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    return value


def secret_names(routine: Routine) -> list[str]:
    """Return the names of the routine's ``ask:`` parameters whose answers are secrets."""
    return [name for name, spec in routine.ask.items() if spec.secret]


def hide_secret_answers(routine: Routine, params: dict[str, Any]) -> None:
    """Have every secret answer among ``params`` masked (``***``) in all output, journal and state from now on."""
    from itref.secrets import Secret

    for name in secret_names(routine):
        if isinstance(params.get(name), str):
            Secret(params[name], f"ask:{name}")


def check_answer(name: str, spec: Ask, text: str) -> Any:
    """Return the typed answer for ``ask`` parameter ``name``: the one check for an answer typed at the prompt
    and for a ``--set NAME=VALUE``. Raises ValueError with the reason, in one sentence."""
    text = text.strip()
    if not text and spec.default is not None:
        return spec.default
    if not text:
        raise ValueError(_("an answer is needed"))
    if "\0" in text:
        raise ValueError(_("a value cannot hold a NUL character"))
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        raise ValueError(_("'{text}' does not have the expected form").format(text=text))
    if spec.type == "int":
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValueError(_("'{text}' is not a whole number").format(text=text))
        return int(text)
    if spec.type == "bool":
        if text.lower() in ("y", "yes", "o", "oui", "true", "1"):
            return True
        if text.lower() in ("n", "no", "non", "false", "0"):
            return False
        raise ValueError(_("answer yes or no"))
    if spec.type == "choice" and spec.choices and text not in spec.choices:
        raise ValueError(_("choose one of: {choices}").format(choices=", ".join(spec.choices)))
    if spec.type == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise ValueError(_("'{text}' is not an e-mail address").format(text=text))
    if spec.type == "date":
        from datetime import date

        try:
            date.fromisoformat(text)
        except ValueError:
            raise ValueError(_("'{text}' is not a date (write it as YYYY-MM-DD)").format(text=text)) from None
    return text


def given_values(routine: Routine, items: list[str]) -> dict[str, Any]:
    """Return the parameters given as ``NAME=VALUE`` items (``--set``), each ``ask:`` one checked by
    :func:`check_answer` exactly as a typed answer is.

    Raises UsageError (one sentence) for an item without ``=``, a name the routine neither asks for nor
    declares in ``vars:``, or a value its ``ask:`` check refuses.
    """
    given: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(_("'{item}' is not NAME=VALUE").format(item=item))
        if key not in routine.ask and key not in routine.vars:
            known = ", ".join([*routine.ask, *routine.vars]) or "-"
            raise UsageError(_("--set {name}: the routine has no such parameter (parameters: {known})").format(
                name=key, known=known))
        spec = routine.ask.get(key)
        if spec is None:
            given[key] = value
            continue
        try:
            given[key] = check_answer(key, spec, value)
        except ValueError as exc:
            raise UsageError(_("--set {name}: {reason}").format(name=key, reason=exc)) from None
    return given


class Interaction(Protocol):
    """How the runner talks to the person (or decides alone, when unattended)."""

    def ask(self, name: str, spec: Ask) -> Any:
        """Return the answer to an ``ask:`` parameter."""
        ...

    def before(self, step: FlatStep, total: int, preview: str) -> Literal["do", "skip", "stop"]:
        """Decide whether to perform a step, after seeing its preview."""
        ...

    def manual(self, step: FlatStep, instruction: str) -> bool:
        """Have a person perform a manual step; return True once they confirm it is done."""
        ...

    def after(self, step: FlatStep, record: StepRecord, if_fails: str | None) -> None:
        """Show how a step ended (and the "if it fails" text on failure)."""
        ...

    def show_preview(self, step: FlatStep, total: int, preview: str) -> None:
        """Show what a step would do (dry run)."""
        ...

    def on_failure(self, step: FlatStep) -> Literal["stop", "continue"]:
        """Decide what to do after a failed step whose ``on_failure`` is ``ask``."""
        ...

    def secret(self, label: str, value: str) -> None:
        """Hand out a secret produced by a step (a new account's password), once."""
        ...


def hosts_for(project: Project, entity: str, limit: str | None) -> list[HostSpec]:
    """Return the step's hosts: its ``limit``, or the entity's hosts."""
    if limit:
        return select(project.hosts, limit)
    hosts = [h for h in project.hosts if h.entity == entity]
    if not hosts:
        raise UsageError(_("entity '{entity}' has no host; give the step a limit").format(entity=entity))
    return hosts


def preview(ctx: RunContext, entity: str, fs: FlatStep, params: dict[str, Any],
            password_to: str | Path | None = None) -> str:
    """Return what the step would do, in words (commands, hosts, AD plan as a diff, files); ``password_to``: the
    file a new account's password goes to (None: it is shown once).

    A shell step shows, for each kind of shell among its hosts, the text as it will be sent and the
    parameters as the shell will read them (sent on its standard input; secret values masked).
    """
    from itref.secrets import mask

    step = fs.step
    if step.run is not None:
        hosts = hosts_for(ctx.project, entity, step.run.limit)
        if not _is_shell(step.run):
            command = shlex.join(substitute(step.run.command, params))
            return _("run `{cmd}` on {hosts}").format(cmd=command, hosts=", ".join(h.name for h in hosts))
        parts = []
        for family, members in _by_family(hosts).items():
            text, env = shell_command_parts(step.run, params, family)
            part = _("run `{cmd}` on {hosts}").format(cmd=text, hosts=", ".join(h.name for h in members))
            if env:
                from itref.connectors.shellvars import posix_display, powershell_display

                shown = (posix_display if family == "posix" else powershell_display)("", env).rstrip("\n")
                part += "\n" + _("with the parameters, sent on its standard input:") + "\n" + shown
            parts.append(part)
        return mask("\n".join(parts))
    if step.manual is not None:
        return _("a person does: {what}").format(what=instruction_text(step, params))
    if step.copy_ is not None:
        hosts = hosts_for(ctx.project, entity, step.copy_.limit)
        return _("copy {src} to {dest} on {hosts}").format(src=step.copy_.src, dest=step.copy_.dest,
                                                          hosts=", ".join(h.name for h in hosts))
    if step.backup is not None:
        action = {"check": _("check"), "verify": _("integrity check"), "drill": _("restore test")}.get(
            step.backup.action, step.backup.action)
        return _("backup {action} of {names}").format(action=action,
                                                      names=", ".join(step.backup.names or [_("every backup")]))
    if step.audit is not None:
        return _("audit checks {checks}").format(checks=", ".join(step.audit.checks or ["*"]))
    if step.ad is not None:
        from itref.runner.ad_step import ad_plan_text

        return ad_plan_text(ctx, entity, step.ad.action, substitute(step.ad.params, params), password_to,
                            at=substitute(step.ad.at, params))
    return ""


def instruction_text(step: Step, params: dict[str, Any]) -> str:
    """Return a manual step's instruction with its parameters filled in, secret answers masked (``***``: a
    screen, a cron mail or the saved run must not show them; the person who typed one knows it)."""
    from itref.secrets import mask

    return mask(str(substitute(_instruction(step), params)))


def _instruction(step: Step) -> str:
    manual = step.manual
    return manual if isinstance(manual, str) else manual.instruction if manual is not None else ""


def _is_shell(run: RunStep) -> bool:
    return run.shell or isinstance(run.command, str)


def _family(host: HostSpec) -> str:
    """Return the shell family (posix, powershell) of ``host``'s connector (its class is imported)."""
    from itref.connectors import connectors

    return connectors.get(host.connection).shell_family


def _by_family(hosts: list[HostSpec]) -> dict[str, list[HostSpec]]:
    groups: dict[str, list[HostSpec]] = {}
    for host in hosts:
        groups.setdefault(_family(host), []).append(host)
    return groups


def shell_command_parts(run: RunStep, params: dict[str, Any], family: str) -> tuple[str, dict[str, str]]:
    """Return a shell step's text for ``family`` (each ``{name}`` a reference to ``ITREF_P_name``) and the
    variables it reads (name → value). No value is put in the text.

    Raises UsageError for an unknown parameter, TemplateError for a placeholder where its value would be
    code or would not arrive (see :mod:`itref.connectors.shellvars`).
    """
    from itref.connectors.shellvars import shell_template, variable

    text = run.command if isinstance(run.command, str) else " ".join(run.command)
    template = shell_template(text, params, "powershell" if family == "powershell" else "posix")
    return template.text, {variable(n): _text(params[n]) for n in template.names}


class _AnyName:
    """Every parameter name counts as known (the validator looks at where placeholders are, not at names)."""

    def __contains__(self, name: object) -> bool:
        return True


def shell_step_issues(project: Project, routines: set[str] | None = None) -> list[ConfigIssue]:
    """Return, located in the playbook files, every shell step that puts a ``{name}`` where its value would
    be code or would not arrive, for the shells of the hosts the step runs on (``routines``: only these
    ``ENTITY/NAME``).
    """
    from itref.config import yamlfile
    from itref.config.project import display_path
    from itref.connectors.shellvars import TemplateError, shell_template

    issues: list[ConfigIssue] = []
    for entity, book in project.playbooks.items():
        doc = None
        for rname, routine in book.routines.items():
            if routines is not None and f"{entity}/{rname}" not in routines:
                continue
            for i, step in enumerate(routine.steps):
                if step.run is None or not _is_shell(step.run):
                    continue
                try:
                    families = _by_family(hosts_for(project, entity, step.run.limit))
                except ItrefError:
                    continue  # no host to run on: said elsewhere
                text = step.run.command if isinstance(step.run.command, str) else " ".join(step.run.command)
                for family in families:
                    try:
                        shell_template(text, _AnyName(), "powershell" if family == "powershell" else "posix")
                    except TemplateError as exc:
                        if doc is None:
                            path = project.playbook_files[entity]
                            doc, _found = yamlfile.load(path, display_path(path))
                        loc = ("routines", rname, "steps", i, "run", "command")
                        issues.append(doc.issue(loc, exc.message) if doc is not None else
                                      ConfigIssue(str(project.playbook_files[entity]), 1, 1, "", exc.message))
                        break
    return issues


def _text(value: Any) -> str:
    """Return a parameter value as the text a command receives (yes/no answers as True/False)."""
    return value if isinstance(value, str) else str(value)


def perform(ctx: RunContext, entity: str, fs: FlatStep, params: dict[str, Any], ui: Interaction) -> StepRecord:
    """Do one step and return how it ended (never raises for the step's own failure)."""
    step = fs.step
    try:
        if step.run is not None:
            return _run_step(ctx, entity, fs, params)
        if step.manual is not None:
            done = ui.manual(fs, instruction_text(step, params))
            return StepRecord(fs.number, "ok" if done else "stopped",
                              _("done, as confirmed") if done else _("not confirmed"))
        if step.copy_ is not None:
            return _copy_step(ctx, entity, fs)
        if step.backup is not None:
            return _backup_step(ctx, entity, fs)
        if step.audit is not None:
            return _audit_step(ctx, entity, fs)
        if step.ad is not None:
            from itref.runner.ad_step import ad_step

            return ad_step(ctx, entity, fs, substitute(step.ad.params, params), ui, at=substitute(step.ad.at, params))
    except ItrefError as exc:
        return StepRecord(fs.number, "failed", exc.message)
    return StepRecord(fs.number, "skipped", _("nothing to do"))


def _run_step(ctx: RunContext, entity: str, fs: FlatStep, params: dict[str, Any]) -> StepRecord:
    from itref.connectors.base import Command, Connector
    from itref.runner.command import run_command

    run = fs.step.run
    assert run is not None
    hosts = hosts_for(ctx.project, entity, run.limit)
    timeout = run.timeout or ctx.project.inventory.defaults.timeout
    if not _is_shell(run):  # each item stays one argument, whatever the value holds
        cmd: Command | Callable[[Connector], Command] = Command.of(
            [_text(a) for a in substitute(run.command, params)], timeout=timeout, sudo=run.sudo)
    else:
        built: dict[str, Command] = {}
        for family in _by_family(hosts):
            text, env = shell_command_parts(run, params, family)
            built[family] = Command((text,), timeout=timeout, shell=True, sudo=run.sudo, env=tuple(env.items()))

        def cmd(conn: Connector) -> Command:
            return built[conn.shell_family]

    report = run_command(ctx, hosts, cmd, forks=ctx.project.inventory.defaults.forks, sudo=run.sudo)
    failed = [r.host for r in report.results if r.failed]
    summary = (_("failed on {hosts}").format(hosts=", ".join(failed)) if failed else
               ngettext("done on {n} host", "done on {n} hosts", len(report.results)).format(n=len(report.results)))
    return StepRecord(fs.number, "failed" if report.failed_hosts else "ok", _host_lines(report), summary=summary)


STEP_OUTPUT_LINES = 20
"""How many lines of a command's output a routine step shows per host (the last ones: where errors are)."""


def _host_lines(report: RunReport) -> str:
    """Return each host's outcome, error and the last lines of its output (standard error included)."""
    from itref.report.run import output_lines

    lines: list[str] = []
    for r in report.results:
        lines.append(f"{r.host}: {r.outcome.value}" + (f" — {r.error}" if r.error else ""))
        if r.result is not None:
            lines += output_lines(r.result, STEP_OUTPUT_LINES, last=True)
    return "\n".join(lines)


def _copy_step(ctx: RunContext, entity: str, fs: FlatStep) -> StepRecord:
    from itref.core.executor import execute
    from itref.core.results import HostResult, Outcome

    copy = fs.step.copy_
    assert copy is not None
    src = Path(copy.src).expanduser()
    if not src.is_absolute():
        src = ctx.project.playbooks_dir / src
    if not src.is_file():
        return StepRecord(fs.number, "failed", _("the file to copy does not exist: {src}").format(src=src))
    mode = int(copy.mode, 8) if copy.mode else None

    def work(conn: Any, host: HostSpec) -> HostResult:
        conn.put(src, copy.dest, mode)
        ctx.journal.append(JournalRecord(action="copy", target=f"{src} → {copy.dest}", outcome="changed",
                                         host=host.name, entity=host.entity, run_id=ctx.run_id))
        return HostResult(host.name, host.entity, Outcome.CHANGED)

    report = execute(ctx, hosts_for(ctx.project, entity, copy.limit), work, forks=ctx.project.inventory.defaults.forks)
    return StepRecord(fs.number, "failed" if report.failed_hosts else "ok",
                      "\n".join(f"{r.host}: {r.outcome.value}" + (f" — {r.error}" if r.error else "")
                                for r in report.results))


def _backup_step(ctx: RunContext, entity: str, fs: FlatStep) -> StepRecord:
    from itref.backup.actions import drill_backups, verify_backups
    from itref.backup.check import check_backups, journal_checks, targets
    from itref.backup.policy import testable

    step = fs.step.backup
    assert step is not None
    chosen = targets(ctx.project, entity=entity, names=step.names)
    if step.action == "check":
        findings = check_backups(ctx, chosen)
        journal_checks(ctx, chosen, findings)
        return _checked(fs, findings, ngettext("{n} backup checked", "{n} backups checked", len(findings)).format(
            n=len(findings)))
    testing = [t for t in chosen if testable(t.backup, t.host)]
    if not testing:
        from itref.core.errors import NothingToTest

        raise NothingToTest(_("none of these backups can be read back by itref: {names}").format(
            names=", ".join(t.backup.name for t in chosen) or "-"))
    results = verify_backups(ctx, testing) if step.action == "verify" else drill_backups(ctx, testing)
    worst = "failed" if any(r.status == "failed" for r in results) else \
        "warning" if any(r.status == "warning" for r in results) else "ok"
    lines = [f"[{outcome_word(r.status)}] {r.target.backup.name}: {r.detail}" for r in results]
    return StepRecord(fs.number, "failed" if worst == "failed" else "ok", "\n".join(lines), outcome=worst,
                      summary=ngettext("{n} backup tested", "{n} backups tested", len(results)).format(n=len(results)))


def outcome_word(outcome: str) -> str:
    """Return a step's or a check's outcome as the upper-case word shown to people (OK, WARNING, FAILED...)."""
    return {"ok": _("OK"), "info": _("INFO"), "warning": _("WARNING"), "unknown": _("UNKNOWN"),
            "critical": _("CRITICAL"), "failed": _("FAILED"), "skipped": _("SKIPPED"),
            "stopped": _("WAITING")}.get(outcome, outcome.upper())


def _checked(fs: FlatStep, findings: list[Any], what: str) -> StepRecord:
    """Return the record of a check step: failed when something is critical or could not be checked, its outcome
    the worst severity, one line per finding that is not OK (all of them when all are OK)."""
    from itref.core.findings import Severity, worst

    top = worst(findings)
    shown = [f for f in findings if f.failing] or findings
    lines = [f"[{outcome_word(f.effective.value)}] {f.host + ': ' if f.host else ''}{f.message}" for f in shown]
    return StepRecord(fs.number, "failed" if top.rank > Severity.WARNING.rank else "ok", "\n".join(lines),
                      outcome=top.value, summary=what)


def _audit_step(ctx: RunContext, entity: str, fs: FlatStep) -> StepRecord:
    from itref.audit.registry import select as select_checks
    from itref.audit.run import audit

    step = fs.step.audit
    assert step is not None
    hosts = hosts_for(ctx.project, entity, step.limit) if (step.limit or any(
        h.entity == entity for h in ctx.project.hosts)) else []
    report, _diff = audit(ctx, hosts, select_checks(step.checks))
    mine = [f for f in report.findings if f.entity in (entity, None)]
    return _checked(fs, mine, ngettext("{n} finding", "{n} findings", len(mine)).format(n=len(mine)))


def _resolve_step_secrets(ctx: RunContext, entity: str, steps: list[FlatStep]) -> None:
    """Resolve the connection secrets of every host the routine's commands and copies will reach, before the
    first step: a password a later step resolves is then masked in an earlier step's output too."""
    from itref.core.executor import resolve_secrets

    hosts: dict[str, HostSpec] = {}
    sudo = False
    for fs in steps:
        action = fs.step.run or fs.step.copy_
        if action is None:
            continue
        sudo = sudo or bool(fs.step.run and fs.step.run.sudo)
        try:
            hosts.update((h.name, h) for h in hosts_for(ctx.project, entity, action.limit))
        except ItrefError:
            continue  # the step itself will say why it has no host
    resolve_secrets(ctx, list(hosts.values()), sudo=sudo)


def condition_holds(when: str | None, state: RunState, steps: list[FlatStep]) -> bool:
    """Return True when the step's ``when`` ("STEP_ID failed|ok|skipped", or "not ...") holds."""
    if not when:
        return True
    words = when.split()
    negate = words[0] == "not"
    words = words[1:] if negate else words
    if len(words) != 2 or words[1] not in ("ok", "failed", "skipped", "stopped"):
        raise UsageError(_("cannot read the condition 'when: {when}' (write 'STEP_ID failed')").format(when=when))
    result = state.status_of(words[0], steps) == words[1]
    return not result if negate else result


def run_routine(ctx: RunContext, target: str, ui: Interaction, *, state: RunState | None = None,
                dry_run: bool = False) -> RunState:
    """Run (or resume) a routine step by step; return its final state (saved after every step).

    A dry run only previews every step. KeyboardInterrupt leaves the state saved at the current
    step, so ``resume`` starts again there.
    """
    entity, name, routine = resolve(ctx.project, target)
    steps = flatten(ctx.project, entity, name)
    issues = shell_step_issues(ctx.project, {fs.routine for fs in steps})
    if issues:  # refused before the first step, as `playbook validate` does
        raise ConfigError(issues)
    if state is None:
        params = dict(routine.vars)
        for pname, spec in routine.ask.items():
            params[pname] = ui.ask(pname, spec)
        state = RunState(ctx.run_id, target, params, secret_params=secret_names(routine))
    hide_secret_answers(routine, state.params)
    if not 1 <= state.next_step <= len(steps):
        raise UsageError(_("routine run {id}: its next step, {n}, is not a step of {target} (1 to {count}); its file "
                           "was changed by hand (itref state check)").format(
            id=state.run_id, n=state.next_step, target=target, count=len(steps)))
    if dry_run:
        for fs in steps:
            ui.show_preview(fs, len(steps), preview(
                ctx, entity, fs, state.params, getattr(ui, "password_file", None)))
        return state
    with run_lock(ctx.state, state.run_id):
        if state.records or state.next_step > 1:  # resumed: the saved run is the truth
            saved = load(ctx.state, state.run_id)
            if not saved.open or saved.next_step != state.next_step:
                raise UsageError(_("routine run {id} moved on meanwhile (another itref resumed it): see itref "
                                   "playbook runs").format(id=state.run_id))
        return _run_steps(ctx, target, entity, steps, state, ui)


def run_lock(folder: StateFolder, run_id: str) -> Any:
    """Return a context manager that holds routine run ``run_id`` for this process alone, whoever else (another
    account, another terminal) resumes it. Raises UsageError when another itref holds it; StateError."""
    from contextlib import ExitStack, contextmanager

    from itref.core.errors import StateError
    from itref.core.files import held_alone
    from itref.state.documents import Documents

    @contextmanager
    def held() -> Any:
        path = folder.ensure(RUNS) / f".{Documents(folder, RUNS).file(run_id).stem}.lock"
        with ExitStack() as stack:
            try:
                alone = stack.enter_context(held_alone(path, mode=folder.file_mode))
            except OSError as exc:
                raise StateError(_("cannot lock the routine run {id} ({path}): {reason}").format(
                    id=run_id, path=path, reason=exc.strerror or exc)) from None
            if not alone:
                raise UsageError(_("routine run {id} is being run right now by another itref (another terminal or "
                                   "account); wait for it to stop, then see itref playbook runs").format(id=run_id))
            yield

    return held()


def _run_steps(ctx: RunContext, target: str, entity: str, steps: list[FlatStep], state: RunState,
               ui: Interaction) -> RunState:
    """Run ``steps`` from ``state.next_step`` on, saving the state after each; return the final state."""
    save(ctx.state, state)
    _resolve_step_secrets(ctx, entity, steps[state.next_step - 1:])
    ctx.journal.append(JournalRecord(action="routine start" if state.next_step == 1 else "routine resume",
                                     target=target, outcome="ok", entity=entity, run_id=state.run_id,
                                     detail=_("at step {n}").format(n=state.next_step)))
    for fs in steps[state.next_step - 1:]:
        if not condition_holds(fs.step.when, state, steps):
            record = StepRecord(fs.number, "skipped", _("condition not met: {when}").format(when=fs.step.when))
        else:
            choice = ui.before(fs, len(steps), preview(ctx, entity, fs, state.params,
                                                        getattr(ui, "password_file", None)))
            if choice == "stop":
                break
            record = (StepRecord(fs.number, "skipped", _("skipped by the operator")) if choice == "skip"
                      else perform(ctx, entity, fs, state.params, ui))
        state.records.append(record)
        ctx.journal.append(JournalRecord(action="routine step", target=f"{target} #{fs.number}: {fs.step.description}",
                                         outcome=record.status, entity=entity, run_id=state.run_id,
                                         detail=record.message[:500] if record.status != "ok" else None))
        ui.after(fs, record, fs.step.if_fails if record.status == "failed" else None)
        state.waiting_for = None
        if record.status == "stopped":
            if fs.step.manual is not None:
                state.waiting_for = instruction_text(fs.step, state.params)
                ctx.journal.append(JournalRecord(action="routine waiting", target=f"{target} #{fs.number}",
                                                 outcome="waiting", entity=entity, run_id=state.run_id,
                                                 detail=state.waiting_for[:500]))
            save(ctx.state, state)
            break
        if record.status == "failed":
            decision = fs.step.on_failure if fs.step.on_failure != "ask" else ui.on_failure(fs)
            if decision == "stop":  # resume will try this step again
                save(ctx.state, state)
                break
        state.next_step = fs.number + 1
        save(ctx.state, state)
    else:
        state.finished = True
        save(ctx.state, state)
        last = {r.number: r.status for r in state.records}  # a retried step counts by its last attempt
        ctx.journal.append(JournalRecord(action="routine finish", target=target,
                                         outcome="failed" if "failed" in last.values() else "ok",
                                         entity=entity, run_id=state.run_id))
    return state
