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
from itref.runner.routine import FlatStep, StepRecord, check_answer

ICONS = {"ok": "✓", "failed": "✗", "skipped": "–", "stopped": "■"}
STYLES = {"ok": "green", "failed": "bold red", "skipped": "dim", "stopped": "yellow"}


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
        """Say how the step ended in plain words, with the playbook's advice and contacts on failure."""
        words = {"ok": _("done"), "failed": _("FAILED"), "skipped": _("skipped"), "stopped": _("stopped")}
        line = Text(f"  {ICONS[record.status]} {words[record.status]}", style=STYLES[record.status])
        if record.message:
            first, *rest = record.message.splitlines() or [""]
            line.append(f": {first}", style="default")
            self.console.print(line)
            for more in rest[:30]:
                self.console.print(Text(f"      {more}", style="dim"))
        else:
            self.console.print(line)
        if record.status == "failed":
            if if_fails:
                self.console.print(Text("  " + _("If it fails: ") + if_fails, style="yellow"))
            for c in self.contacts:
                bits = ", ".join(b for b in (c.role, c.phone, c.email) if b)
                who = c.name + (f" ({bits})" if bits else "")
                self.console.print(Text("  " + _("Contact: ") + who, style="yellow"))

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
