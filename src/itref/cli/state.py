"""Global options and what commands share: consoles, the loaded project, the run context."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from itref.i18n import _

if TYPE_CHECKING:
    from rich.console import Console

    from itref.config.project import Project
    from itref.core.context import RunContext

FORMATS = ("table", "json", "junit", "markdown", "html", "nagios", "prometheus")
"""Every --format some command can write; each command says which it supports."""


class CliState:
    """What the global options asked for; built once per invocation by the root callback.

    (A plain class rather than a dataclass: ``itref --help`` must not pay for importing dataclasses.)
    """

    def __init__(self, inventory: Path, playbooks: Path | None = None, format: str = "table",
                 verbose: int = 0, color: bool = True) -> None:
        self.inventory = inventory
        self.playbooks = playbooks
        self.format = format
        self.verbose = verbose
        self.color = color
        self._project: Project | None = None
        self._consoles: dict[str, Console] = {}

    def console(self, stderr: bool = False) -> Console:
        """Return the Rich console for results (stdout) or for messages (stderr)."""
        key = "err" if stderr else "out"
        if key not in self._consoles:
            import os

            from rich.console import Console

            stream = sys.stderr if stderr else sys.stdout
            # Piped output (cron mail, files) is read later: do not fold it at 80 columns.
            width = None if stream.isatty() else int(os.environ.get("COLUMNS", "160"))
            self._consoles[key] = Console(file=stream, no_color=not self.color or None, highlight=False,
                                          soft_wrap=False, stderr=stderr, width=width)
        return self._consoles[key]

    @property
    def out(self) -> Console:
        """The console for results (stdout)."""
        return self.console()

    @property
    def err(self) -> Console:
        """The console for messages and progress (stderr)."""
        return self.console(stderr=True)

    def require_format(self, *allowed: str) -> str:
        """Return the chosen --format; raise UsageError if this command cannot produce it."""
        from itref.core.errors import UsageError

        if self.format not in allowed:
            raise UsageError(_("this command cannot write --format {fmt}; choose one of: {choices}").format(
                fmt=self.format, choices=", ".join(allowed)))
        return self.format

    def project(self, *, playbooks: bool = True) -> Project:
        """Return the validated inventory and playbooks. Raises ConfigError listing every problem."""
        if self._project is None:
            from itref.config.project import load_project
            from itref.core.errors import ConfigError, ConfigIssue

            if not self.inventory.exists():
                raise ConfigError([ConfigIssue(str(self.inventory), 1, 1, "", _(
                    "inventory not found; give its path with -i PATH or the ITREF_INVENTORY variable"))])
            self._project = load_project(self.inventory, self.playbooks, playbooks=playbooks)
        return self._project

    def context(self, *, dry_run: bool = False) -> RunContext:
        """Return a run context over the loaded project (secrets resolved lazily, journal ready)."""
        from itref.core.context import RunContext
        from itref.journal import Journal
        from itref.secrets import SecretResolver

        project = self.project()
        return RunContext(project, SecretResolver(project.inventory.secrets), Journal(), dry_run=dry_run)


def state(ctx: typer.Context) -> CliState:
    """Return the CliState stored by the root callback."""
    obj: Any = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj
