"""Command groups loaded only when used: ``itref --help`` lists every command from a table of short
descriptions without importing their modules, and ``itref audit ...`` imports the audit commands only."""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from itref.i18n import N_, _

# name → (module, attribute, short description, extra click settings). Order = order in --help.
COMMANDS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "status": ("itref.cli.status", "status", N_("What needs a person today, with the command to continue."), {}),
    "audit": ("itref.cli.audit", "app", N_("Health audit of hosts, directory, backups and certificates."), {}),
    "backup": ("itref.cli.backup", "app", N_("Check, verify and restore-test the backups."), {}),
    "ad": ("itref.cli.ad", "app", N_("Active Directory accounts, groups, departures, report."), {}),
    "run": ("itref.cli.run", "run", N_("Run a command on hosts and show each host's result."),
            {"allow_interspersed_args": False}),
    "playbook": ("itref.cli.playbook", "app", N_("Check, show and run the playbooks' routines."), {}),
    "handover": ("itref.cli.handover", "handover", N_("Write the handover pack, one page per entity."), {}),
    "inventory": ("itref.cli.inventory", "app", N_("Check and show the inventory."), {}),
    "journal": ("itref.cli.journal", "journal", N_("Show the journal of actions."), {}),
    "pending": ("itref.cli.pending", "app", N_("Directory changes scheduled for a date: list, show, cancel."), {}),
    "state": ("itref.cli.projectstate", "app", N_("Where the project's shared memory is; move an old one in."), {}),
    "hosts": ("itref.cli.hosts", "app", N_("Check that itref can work on each host (first day); trust SSH keys."), {}),
    "schedule": ("itref.cli.schedule", "app", N_("Install or remove itref's own crontab lines."), {}),
    "lab": ("itref.cli.lab", "app", N_("A practice lab: a throwaway commune to rehearse the routines."), {}),
}


def single_command_help(function: Any) -> str | None:
    """Return the help of a group that is one function (its docstring's first paragraph), or None."""
    import inspect

    doc = inspect.getdoc(function)
    return doc.split("\n\n")[0] if doc else None


def load(name: str) -> Any:
    """Return the click command for ``name``, importing its module now."""
    module, attr, _short, settings = COMMANDS[name]
    obj = getattr(importlib.import_module(module), attr)
    from itref import i18n

    if isinstance(obj, typer.Typer):
        if i18n.language() != "en":
            from itref.cli.translate import localize_command_help

            localize_command_help(obj)
        command = typer.main.get_group(obj)  # a group even with one command (itref hosts trust)
    else:  # a single function: make it a command of its own
        single = typer.Typer(rich_markup_mode=None, add_completion=False)
        first = single_command_help(obj)
        help_text = _(first) if first and i18n.language() != "en" else None
        single.command(name, context_settings=settings or None, help=help_text)(obj)
        command = typer.main.get_command(single)
    command.name = name
    return command


# Typer's own help texts of the completion options, translated like the rest.
TYPER_COMPLETION_TEXTS = (N_("Install completion for the current shell."),
                          N_("Show completion for the current shell, to copy it or customize the installation."))


class LazyGroup(TyperGroup):
    """The root group: its subcommands come from :data:`COMMANDS`, imported on first use."""

    def get_params(self, ctx: Any) -> list[Any]:
        """Return the options, Typer's completion ones with their help translated (Typer adds them last)."""
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "help", None) in TYPER_COMPLETION_TEXTS:
                param.help = _(param.help)
        return params

    def list_commands(self, ctx: Any) -> list[str]:
        """Return the eager commands, then the lazy ones in table order."""
        eager = [n for n in super().list_commands(ctx) if n not in COMMANDS]
        return [*eager, *COMMANDS]

    def get_command(self, ctx: Any, name: str) -> Any:
        """Return the subcommand ``name``, loading it from its module the first time."""
        if name in COMMANDS and name not in self.commands:
            self.commands[name] = load(name)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Resolve the command, suggesting a close name among every command (loaded or not) on a typo."""
        try:
            return self._click_resolve_command(ctx, args)
        except typer.TyperException as exc:  # click's UsageError: "No such command 'audti'."
            import difflib

            matches = difflib.get_close_matches(args[0], self.list_commands(ctx)) if args else []
            message = getattr(exc, "message", None)
            if matches and isinstance(message, str):
                exc.message = f"{message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Write the command list from the short descriptions, without importing any command module."""
        rows = [(name, _(short)) for name, (_m, _a, short, _s) in COMMANDS.items()]
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)
