"""How a routine talks to the person at the terminal: guided (step by step, with explanations)
or plain (runs on, stops only where a person is needed). Output goes to stderr, prompts read stdin."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.text import Text

from itref.config.schema import Ask, Contact
from itref.core.errors import UsageError
from itref.i18n import _
from itref.runner.routine import FlatStep, RunState, StepRecord, check_answer, outcome_word

ICONS = {"ok": "✓", "info": "✓", "warning": "!", "unknown": "?", "critical": "✗", "failed": "✗", "skipped": "–",
         "stopped": "■"}
STYLES = {"ok": "green", "info": "green", "warning": "yellow", "unknown": "magenta", "critical": "bold red",
          "failed": "bold red", "skipped": "dim", "stopped": "yellow"}


def step_outcome(record: StepRecord) -> str:
    """Return how a step ended, as one word's key: a check step's worst status (ok, warning, unknown, critical),
    else failed, skipped, stopped (waiting for a person) or ok."""
    if record.status in ("skipped", "stopped"):
        return record.status
    if record.outcome in ("ok", "info", "warning", "unknown", "critical"):
        return record.outcome
    return record.status


class TerminalUI:
    """Talks to a person. ``guided`` asks before every step and explains it; otherwise steps run on."""

    def __init__(self, console: Console, *, guided: bool, contacts: list[Contact], yes: bool = False,
                 password_file: Path | None = None) -> None:
        self.console = console
        self.guided = guided
        self.contacts = contacts
        self.yes = yes
        self.password_file = password_file
        self.interactive = sys.stdin.isatty() or guided

    def _input(self, prompt: str, *, secret: bool = False) -> str:
        self.console.print(Text(prompt, style="bold"), end="")
        try:
            if secret:
                import getpass

                return getpass.getpass(prompt="")
            return input()
        except EOFError:
            raise KeyboardInterrupt from None

    def ask(self, name: str, spec: Ask) -> Any:
        """Ask for a parameter until the answer is valid (the default when not interactive)."""
        if not self.interactive:
            if spec.default is None:
                raise UsageError(_("the routine asks for '{name}' but no one is at the terminal: give --set "
                                   "{name}=VALUE").format(name=name))
            return spec.default
        while True:
            default = f" [{spec.default}]" if spec.default is not None else ""
            choices = f" ({'/'.join(spec.choices)})" if spec.choices else ""
            try:
                return check_answer(name, spec, self._input(f"{spec.prompt}{choices}{default}: ",
                                                            secret=spec.secret))
            except ValueError as exc:
                self.console.print(Text(str(exc), style="red"))

    def before(self, step: FlatStep, total: int, preview: str) -> Literal["do", "skip", "stop"]:
        """Guided: show the step, why, and its effect, then ask. Plain: go on."""
        header = Text(f"\n[{step.number}/{total}] {step.step.description}", style="bold cyan")
        if not self.guided:
            self.console.print(header)
            return "do"
        self.console.print(header)
        if step.step.why:
            self.console.print(Text(_("Why: ") + step.step.why))
        if preview:
            self.console.print(Text(_("What it will do: ") + preview, style="dim"))
        while True:
            answer = self._input(_("[Enter] do it · s skip this step · q stop here (you can resume later): "))
            choice = answer.strip().lower()
            if choice == "":
                return "do"
            if choice == "s":
                return "skip"
            if choice == "q":
                return "stop"
            self.console.print(Text(_("Press Enter to do it, type s to skip it, or q to stop."), style="yellow"))

    def manual(self, step: FlatStep, instruction: str) -> bool:
        """Show a manual instruction and wait for the person to confirm it is done."""
        self.console.print(Text(_("To do by hand: ") + instruction, style="bold"))
        if not self.interactive:
            self.console.print(Text(_("Nobody is at the terminal to do it: the routine stops here; run "
                                      "'itref playbook resume --guided' to go on."), style="yellow"))
            return False
        answer = self._input(_("[Enter] once it is done · q stop here: ")).strip().lower()
        return answer != "q"

    def after(self, step: FlatStep, record: StepRecord, if_fails: str | None) -> None:
        """Say how the step ended: what it found, then its outcome word (OK, WARNING, CRITICAL, FAILED, SKIPPED,
        WAITING) and one line; on failure, the playbook's advice and the contacts."""
        outcome = step_outcome(record)
        lines = record.message.splitlines()
        summary = record.summary if record.summary is not None else (lines.pop(0) if lines else "")
        for more in lines[:30]:
            self.console.print(Text(f"      {more}", style="dim"))
        if len(lines) > 30:
            self.console.print(Text("      " + _("… and {n} more line(s)").format(n=len(lines) - 30), style="dim"))
        line = Text(f"  {ICONS[outcome]} {outcome_word(outcome)}", style=STYLES[outcome])
        if summary:
            line.append(f" — {summary}", style="default")
        self.console.print(line, soft_wrap=True)
        if record.status == "failed":
            if if_fails:
                self.console.print(Text("  " + _("If it fails: ") + if_fails, style="yellow"))
            for c in self.contacts:
                bits = ", ".join(b for b in (c.role, c.phone, c.email) if b)
                who = c.name + (f" ({bits})" if bits else "")
                self.console.print(Text("  " + _("Contact: ") + who, style="yellow"))

    def summary(self, state: RunState, total: int) -> None:
        """Say how the routine went, step by step counted (done, with warnings, skipped, waiting, failed), and what
        to do next."""
        last = {r.number: r for r in state.records}  # a step tried again counts by its last attempt
        failed = sorted(n for n, r in last.items() if r.status == "failed")
        skipped = sorted(n for n, r in last.items() if r.status == "skipped")
        done = sorted(n for n, r in last.items() if r.status == "ok")
        warned = sorted(n for n in done if step_outcome(last[n]) == "warning")
        waiting = [n for n in range(1, total + 1) if n not in last or last[n].status == "stopped"]
        self.console.print(Text("\n" + _("Routine {target}: {done} done, {skipped} skipped, {waiting} waiting, "
                                         "{failed} failed (of {total} steps).").format(
            target=state.target, done=len(done), skipped=len(skipped), waiting=len(waiting), failed=len(failed),
            total=total), style="bold"), soft_wrap=True)
        for label, numbers in ((_("With warnings"), warned), (_("Skipped"), skipped), (_("Waiting"), waiting),
                               (_("Failed"), failed)):
            if numbers:
                self.console.print(Text("  " + _("{what}: steps {numbers}").format(
                    what=label, numbers=", ".join(str(n) for n in numbers))), soft_wrap=True)
        if not state.finished:
            nxt = _("Next: continue at step {n} with 'itref playbook resume {id} --guided'.").format(
                n=state.next_step, id=state.run_id)
        elif failed:
            nxt = _("Next: read what failed above and fix it, then run the routine again: "
                    "'itref playbook run {target} --guided'.").format(target=state.target)
        elif warned:
            nxt = _("Next: look at the warnings above; each one says what to do.")
        else:
            nxt = _("Next: nothing; every step is done.")
        self.console.print(Text(nxt, style="yellow" if (failed or warned or not state.finished) else "green"),
                           soft_wrap=True)

    def show_preview(self, step: FlatStep, total: int, preview: str) -> None:
        """Dry run: the step, why, and what it would do."""
        self.console.print(Text(f"[{step.number}/{total}] {step.step.description}", style="bold cyan"))
        if step.step.why:
            self.console.print(Text("  " + _("Why: ") + step.step.why))
        for i, line in enumerate(preview.splitlines()):
            self.console.print(Text(("  " + _("Would: ") if i == 0 else "      ") + line, style="dim"))

    def on_failure(self, step: FlatStep) -> Literal["stop", "continue"]:
        """Ask whether to go on after a failure (stop when nobody can answer)."""
        if not self.interactive:
            return "stop"
        answer = self._input(_("[Enter] stop here · type 'continue' to go on anyway: ")).strip().lower()
        return "continue" if answer == "continue" else "stop"

    def secret(self, label: str, value: str) -> None:
        """Write a new password to the password file, or show it once on the terminal."""
        if self.password_file is not None:
            import os

            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, f"{label}: {value}\n".encode())
            finally:
                os.close(fd)
            self.console.print(Text(_("  {label} written to {path}").format(label=label, path=self.password_file)))
            return
        self.console.print(Text(_("  {label} (shown once, write it down now): {value}").format(
            label=label, value=value), style="bold"))
