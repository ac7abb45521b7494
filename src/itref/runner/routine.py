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

from itref.config.project import HostSpec, Project
from itref.config.schema import Ask, Routine, Step
from itref.config.selection import select
from itref.context import RunContext
from itref.core.errors import ItrefError, UsageError
from itref.i18n import _
from itref.journal import JournalRecord

if TYPE_CHECKING:
    from itref.state.folder import StateFolder

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
    data["records"] = [StepRecord(**r) for r in data.get("records") or []]
    return RunState(**data)


def _maybe_open(text: str) -> bool:
    """Return False when a saved run's text shows it finished or cancelled (a quick look before parsing)."""
    return "\nfinished: true\n" not in text and re.search(r"^cancelled: (?!null$)", text, re.M) is None


def saved_runs(folder: StateFolder, *, open_only: bool = False) -> list[RunState]:
    """Return every saved routine run of ``folder`` (only the unfinished, uncancelled ones when ``open_only``),
    oldest first (unreadable files are left out)."""
    from itref.state.documents import Documents

    runs = []
    for _name, data in Documents(folder, RUNS).all(keep=_maybe_open if open_only else None, memo="open"):
        try:
            run = _from_data(data)
        except (TypeError, ValueError):
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
        return _from_data(data)
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


def substitute(value: Any, params: dict[str, Any], quote: Callable[[str], str] | None = None) -> Any:
    """Return ``value`` with ``{name}`` replaced by parameters (strings, lists and dicts walked).

    ``quote`` is applied to each substituted value (shell or PowerShell quoting for command lines).
    Raises UsageError for an unknown name.
    """
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in params:
                raise UsageError(_("unknown parameter {{{name}}}").format(name=m.group(1)))
            text = str(params[m.group(1)])
            return quote(text) if quote else text
        return PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, params, quote) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, params, quote) for k, v in value.items()}
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
    """Return the typed answer for ``ask`` parameter ``name``. Raises ValueError with the reason."""
    text = text.strip()
    if not text and spec.default is not None:
        return spec.default
    if not text:
        raise ValueError(_("an answer is needed"))
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        raise ValueError(_("'{text}' does not have the expected form").format(text=text))
    if spec.type == "int":
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

        date.fromisoformat(text)
    return text


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


def preview(ctx: RunContext, entity: str, fs: FlatStep, params: dict[str, Any]) -> str:
    """Return what the step would do, in words (commands, hosts, AD plan as a diff, files)."""
    step = fs.step
    if step.run is not None:
        hosts = hosts_for(ctx.project, entity, step.run.limit)
        command = _command_text(step, params)
        return _("run `{cmd}` on {hosts}").format(cmd=command, hosts=", ".join(h.name for h in hosts))
    if step.manual is not None:
        return _("a person does: {what}").format(what=substitute(_instruction(step), params))
    if step.copy_ is not None:
        hosts = hosts_for(ctx.project, entity, step.copy_.limit)
        return _("copy {src} to {dest} on {hosts}").format(src=step.copy_.src, dest=step.copy_.dest,
                                                          hosts=", ".join(h.name for h in hosts))
    if step.backup is not None:
        return _("backup {action} of {names}").format(action=step.backup.action,
                                                      names=", ".join(step.backup.names or [_("every backup")]))
    if step.audit is not None:
        return _("audit checks {checks}").format(checks=", ".join(step.audit.checks or ["*"]))
    if step.ad is not None:
        from itref.runner.ad_step import ad_plan_text

        return ad_plan_text(ctx, entity, step.ad.action, substitute(step.ad.params, params),
                            at=substitute(step.ad.at, params))
    return ""


def _instruction(step: Step) -> str:
    manual = step.manual
    return manual if isinstance(manual, str) else manual.instruction if manual is not None else ""


def _command_text(step: Step, params: dict[str, Any]) -> str:
    assert step.run is not None
    if step.run.shell or isinstance(step.run.command, str):
        return str(substitute(step.run.command, params, shlex.quote))
    return shlex.join(substitute(step.run.command, params))


def perform(ctx: RunContext, entity: str, fs: FlatStep, params: dict[str, Any], ui: Interaction) -> StepRecord:
    """Do one step and return how it ended (never raises for the step's own failure)."""
    step = fs.step
    try:
        if step.run is not None:
            return _run_step(ctx, entity, fs, params)
        if step.manual is not None:
            done = ui.manual(fs, str(substitute(_instruction(step), params)))
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
    from itref.connectors.base import Command
    from itref.runner.command import run_command

    run = fs.step.run
    assert run is not None
    hosts = hosts_for(ctx.project, entity, run.limit)
    shell = run.shell or isinstance(run.command, str)
    cmd = Command.of(str(substitute(run.command, params, shlex.quote)) if shell else substitute(run.command, params),
                     timeout=run.timeout or ctx.project.inventory.defaults.timeout, sudo=run.sudo)
    report = run_command(ctx, hosts, cmd, forks=ctx.project.inventory.defaults.forks)
    lines = [f"{r.host}: {r.outcome.value}" + (f" — {r.error}" if r.error else "")
             + (f"\n{r.result.stdout.rstrip()}" if r.result and r.result.stdout.strip() else "")
             for r in report.results]
    return StepRecord(fs.number, "failed" if report.failed_hosts else "ok", "\n".join(lines))


def _copy_step(ctx: RunContext, entity: str, fs: FlatStep) -> StepRecord:
    from itref.core.results import HostResult, Outcome
    from itref.runner.executor import execute

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
    from itref.backup.check import DRILLABLE, check_backups, targets

    step = fs.step.backup
    assert step is not None
    chosen = targets(ctx.project, entity=entity, names=step.names)
    if step.action == "check":
        findings = check_backups(ctx, chosen)
        bad = [f for f in findings if f.failing]
        return StepRecord(fs.number, "failed" if bad else "ok", "\n".join(f.message for f in findings))
    chosen = [t for t in chosen if t.backup.kind in DRILLABLE]
    results = verify_backups(ctx, chosen) if step.action == "verify" else drill_backups(ctx, chosen)
    return StepRecord(fs.number, "ok" if all(r.ok for r in results) else "failed",
                      "\n".join(f"{r.target.backup.name}: {r.detail}" for r in results))


def _audit_step(ctx: RunContext, entity: str, fs: FlatStep) -> StepRecord:
    from itref.audit.registry import select as select_checks
    from itref.audit.run import audit

    step = fs.step.audit
    assert step is not None
    hosts = hosts_for(ctx.project, entity, step.limit) if (step.limit or any(
        h.entity == entity for h in ctx.project.hosts)) else []
    report, _diff = audit(ctx, hosts, select_checks(step.checks))
    bad = [f for f in report.findings if f.failing and (f.entity in (entity, None))]
    return StepRecord(fs.number, "failed" if bad else "ok",
                      "\n".join(f"{f.host + ': ' if f.host else ''}{f.message}" for f in bad) or _("all checks OK"))


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
    if state is None:
        params = dict(routine.vars)
        for pname, spec in routine.ask.items():
            params[pname] = ui.ask(pname, spec)
        state = RunState(ctx.run_id, target, params, secret_params=secret_names(routine))
    hide_secret_answers(routine, state.params)
    if dry_run:
        for fs in steps:
            ui.show_preview(fs, len(steps), preview(ctx, entity, fs, state.params))
        return state
    save(ctx.state, state)
    ctx.journal.append(JournalRecord(action="routine start" if state.next_step == 1 else "routine resume",
                                     target=target, outcome="ok", entity=entity, run_id=state.run_id,
                                     detail=_("at step {n}").format(n=state.next_step)))
    for fs in steps[state.next_step - 1:]:
        if not condition_holds(fs.step.when, state, steps):
            record = StepRecord(fs.number, "skipped", _("condition not met: {when}").format(when=fs.step.when))
        else:
            choice = ui.before(fs, len(steps), preview(ctx, entity, fs, state.params))
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
                state.waiting_for = str(substitute(_instruction(fs.step), state.params))
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
