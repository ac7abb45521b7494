"""``itref lab``: a practice lab that looks like a small commune (up, status, down, scenario, reset)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from itref.cli.state import CliState, state
from itref.core.status import ExitStatus
from itref.i18n import _

app = typer.Typer(help=_("A practice lab: a throwaway commune (domain controller, servers, Windows file server, "
                         "backups) to rehearse every routine before touching the real one."),
                  no_args_is_help=True, rich_markup_mode=None)

Dir = Annotated[Path | None, typer.Option(
    "--dir", envvar="ITREF_LAB_DIR", show_envvar=True,
    help=_("The lab's folder (inventory, playbooks, secrets, logs); ~/itref-lab by default."))]


def _dir(directory: Path | None) -> Path:
    return (directory or Path.home() / "itref-lab").expanduser().absolute()


def _json(st: CliState, data: object) -> None:
    import json

    st.out.print(json.dumps(data, ensure_ascii=False, indent=2, default=str), markup=False, soft_wrap=True)


def _journal(action: str, target: Path, outcome: str, detail: str = "") -> None:
    """Journal a lab action in the lab project's own state folder (beside the lab's inventory)."""
    from itref.journal import Journal, JournalRecord
    from itref.state.folder import StateFolder, locate

    state = StateFolder(locate(target / "inventory.yaml", None), project_dir=target)
    Journal(state).append(JournalRecord(action=action, target=str(target), outcome=outcome, detail=detail))


@app.command()
def up(ctx: typer.Context, directory: Dir = None,
       hosts: Annotated[int, typer.Option("--hosts", min=1, max=40, help=_("How many Linux hosts (1 to 40)."))] = 4,
       ) -> ExitStatus:
    """Start the lab and write its inventory and playbooks; ready in seconds once the DC is cached."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.lab import control

    folder = _dir(directory)
    t0 = time.monotonic()
    lab = control.up(folder, hosts, on_step=lambda step: st.err.print(_("lab: {step}…").format(step=_(step)),
                                                                       markup=False, highlight=False))
    seconds = time.monotonic() - t0
    _journal("lab up", folder, "started", f"{hosts} Linux hosts in {seconds:.1f} s")
    if fmt == "json":
        _json(st, {**lab, "directory": str(folder), "seconds": round(seconds, 1)})
        return ExitStatus.SUCCESS
    inv = folder / "inventory.yaml"
    st.out.print(_("The lab is ready ({s:.1f} s): a fictional commune with its domain controller, {n} Linux hosts, "
                   "a Windows file server and its backups.").format(s=seconds, n=len(lab.get("hosts") or {})),
                 markup=False)
    st.out.print(_("  Audit it:            itref -i {inv} audit").format(inv=inv), markup=False, highlight=False)
    st.out.print(_("  Onboard someone:     itref -i {inv} playbook run commune/onboard-employee --guided").format(
        inv=inv), markup=False, highlight=False)
    opt = "" if directory is None else f" --dir {folder}"
    st.out.print(_("  Break something:     itref lab scenario{opt}   (then 'itref lab reset{opt}')").format(opt=opt),
                 markup=False, highlight=False)
    st.out.print(_("  Stop it:             itref lab down{opt}").format(opt=opt), markup=False, highlight=False)
    st.out.print(_("  Walk-through:        docs/practice-lab.md"), markup=False)
    return ExitStatus.SUCCESS


@app.command()
def status(ctx: typer.Context, directory: Dir = None) -> ExitStatus:
    """Show whether the lab runs, and each of its parts."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from dataclasses import asdict

    from itref.lab import control

    result = control.status(_dir(directory))
    healthy = result.status == "ready" and bool(result.parts) and all(p.up is True for p in result.parts)
    if fmt == "json":
        _json(st, {**asdict(result), "healthy": healthy})
        return ExitStatus.SUCCESS if healthy else ExitStatus.FAILURE
    if result.status == "none":
        st.err.print(_("No lab in {dir}.").format(dir=result.directory), markup=False)
        return ExitStatus.FAILURE
    from rich.table import Table

    word = _(control.STATUS_WORDS.get(result.status, result.status))
    st.out.print(_("Lab {dir}: {status} (supervisor pid {pid})").format(dir=result.directory, status=word,
                                                                      pid=result.pid or "-"),
                 markup=False, highlight=False)
    table = Table(_("part"), _("kind"), _("where"), _("state"))
    for part in result.parts:
        table.add_row(part.name, part.kind, part.where,
                      _("not visible from here") if part.up is None else _("up") if part.up else _("DOWN"))
    if result.parts:
        st.out.print(table)
    if result.scenarios:
        st.out.print(_("Scenarios in play: {names} ('itref lab reset' undoes them)").format(
            names=", ".join(result.scenarios)), markup=False)
    if result.error:
        st.err.print(_("Error: {error}").format(error=result.error), markup=False)
    if result.other_netns:
        st.err.print(_("The lab runs in another network namespace than this shell, so its parts (and the lab's "
                       "inventory) cannot be reached from here. Look from inside it: "
                       "nsenter --net=/proc/{pid}/ns/net itref lab status").format(pid=result.pid), markup=False)
    return ExitStatus.SUCCESS if healthy else ExitStatus.FAILURE


@app.command()
def down(ctx: typer.Context, directory: Dir = None,
         wipe: Annotated[bool, typer.Option("--wipe", help=_("Also delete the lab's folder."))] = False) -> ExitStatus:
    """Stop everything the lab started; keep its folder unless --wipe."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from dataclasses import asdict

    from itref.lab import control

    folder = _dir(directory)
    report = control.down(folder, wipe=wipe)
    _journal("lab down", folder, "stopped" if report.was_running else "not running",
             "wiped" if report.wiped else "")
    if fmt == "json":
        _json(st, asdict(report))
        return ExitStatus.SUCCESS
    if report.killed or report.detached:
        st.err.print(_("Cleaned up after the supervisor: processes {pids}, loop devices {loops}.").format(
            pids=", ".join(map(str, report.killed)) or "-", loops=", ".join(report.detached) or "-"), markup=False)
    if not report.clean:
        st.err.print(_("Still there after stopping: processes {pids}, loop devices {loops}, runtime folder {rt}; "
                       "see {log}").format(pids=", ".join(map(str, report.remaining_processes)) or "-",
                                           loops=", ".join(report.remaining_loops) or "-",
                                           rt=_("yes") if report.remaining_runtime else _("no"),
                                           log=folder / "logs" / "supervisor.log"), markup=False)
        return ExitStatus.FAILURE
    if report.was_running:
        st.out.print(_("The lab is stopped: no process, disk or namespace of it is left."), markup=False)
    else:
        st.out.print(_("The lab was not running; its leftovers (if any) are cleaned up."), markup=False)
    if report.wiped:
        st.out.print(_("Deleted {dir}.").format(dir=folder), markup=False, highlight=False)
    return ExitStatus.SUCCESS


@app.command()
def scenario(ctx: typer.Context, name: Annotated[str | None, typer.Argument(
        help=_("disk-full, backup-stale, account-locked, service-down or cert-expiring; none lists them."))] = None,
             directory: Dir = None) -> ExitStatus:
    """Break something in the lab on purpose, for practice; say which routine fixes it."""
    st = state(ctx)
    fmt = st.require_format("table", "json")
    from itref.lab import scenarios

    folder = _dir(directory)
    if name is None:
        if fmt == "json":
            _json(st, [{"name": s.name, "summary": _(s.summary), "routine": s.routine}
                       for s in scenarios.SCENARIOS.values()])
            return ExitStatus.SUCCESS
        for s in scenarios.SCENARIOS.values():
            st.out.print(f"{s.name:15} {_(s.summary)}\n{'':15} " + _("→ fixed by: itref playbook run {routine} "
                                                                      "--guided").format(routine=s.routine),
                         markup=False, highlight=False)
        return ExitStatus.SUCCESS
    chosen = scenarios.apply(folder, name)
    _journal("lab scenario", folder, "applied", name)
    inv = folder / "inventory.yaml"
    if fmt == "json":
        _json(st, {"scenario": chosen.name, "summary": _(chosen.summary), "routine": chosen.routine})
        return ExitStatus.SUCCESS
    st.out.print(_("Done: {summary}.").format(summary=_(chosen.summary)), markup=False)
    st.out.print(_("  1. See it:     itref -i {inv} audit").format(inv=inv), markup=False, highlight=False)
    st.out.print(_("  2. Fix it:     itref -i {inv} playbook run {routine} --guided").format(
        inv=inv, routine=chosen.routine), markup=False, highlight=False)
    st.out.print(_("  3. Check it:   itref -i {inv} audit   ('itref lab reset' puts everything back)").format(
        inv=inv), markup=False, highlight=False)
    return ExitStatus.SUCCESS


@app.command()
def reset(ctx: typer.Context, directory: Dir = None) -> ExitStatus:
    """Undo every scenario: the lab is as 'itref lab up' left it."""
    st = state(ctx)
    from itref.lab import scenarios

    folder = _dir(directory)
    undone = scenarios.reset(folder)
    _journal("lab reset", folder, "reset", ", ".join(undone))
    st.out.print(_("The lab is back as it started ({names} undone).").format(names=", ".join(undone) or _("nothing")),
                 markup=False)
    return ExitStatus.SUCCESS

