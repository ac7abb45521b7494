"""Global options and what commands share: consoles, the loaded project, the run context."""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from itref.i18n import _

if TYPE_CHECKING:
    from rich.console import Console

    from itref.config.project import Project
    from itref.context import RunContext
    from itref.state.folder import StateFolder

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
            from rich.console import Console

            stream = sys.stderr if stderr else sys.stdout
            # Piped output (cron mail, files) is read later: do not fold it at 80 columns.
            width = None if stream.isatty() else _piped_width()
            # --no-color / NO_COLOR: no escape code at all (Rich's no_color alone still writes bold and dim)
            self._consoles[key] = Console(file=stream, no_color=not self.color or None, highlight=False,
                                          soft_wrap=False, stderr=stderr, width=width,
                                          color_system="auto" if self.color else None)
        return self._consoles[key]

    def plain(self, stderr: bool = False) -> PlainLines | None:
        """Return a writer of plain lines for stdout (or stderr) when it is not a terminal, else None.

        Rich writes no colours and no live display there; :class:`PlainLines` writes the same bytes as the
        Rich console, importing Rich only for a line it cannot write alike (see its docstring).
        """
        stream = sys.stderr if stderr else sys.stdout
        # Rich treats a stream as a terminal when it is a tty, or when TTY_COMPATIBLE or FORCE_COLOR say so.
        if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ or _isatty(stream):
            return None
        return PlainLines(self, stderr, stream)

    def write(self, text: str) -> None:
        """Write ``text`` and a newline to stdout as it is: for machine-readable output (JSON), which must
        reach the reader unchanged (Rich would replace ``:name:`` codes in it with emoji)."""
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

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
            from itref.i18n import use_inventory_language

            use_inventory_language(self._project.inventory.language)  # the rule: --lang, ITREF_LANG, inventory
            self._hint_migration(self._project)
        return self._project

    def _hint_migration(self, project: Project) -> None:
        """Say once, on stderr, how to move the state an earlier itref kept per user into the project."""
        from itref.migration import needs_migration

        try:
            source = needs_migration(project.state)
        except OSError:
            return
        if source is None:
            return
        if source == project.state.path:
            text = _("Note: {source} holds the journal and histories of an earlier itref, in its old layout. Move them "
                     "into the new one with: itref state migrate").format(source=source)
        else:
            text = _("Note: {source} holds the journal and histories of an earlier itref, and this project's state "
                     "folder {dest} is empty. Move them in with: itref state migrate").format(
                source=source, dest=project.state.path)
        self.err.print(text, markup=False, highlight=False, soft_wrap=True)

    def state_folder(self) -> StateFolder:
        """Return the project's state folder (from the inventory; without one, the folder ``$ITREF_STATE_DIR``
        names). Raises ConfigError when neither says where it is."""
        import os

        from itref.state.folder import STATE_ENV, StateFolder

        if not self.inventory.exists() and os.environ.get(STATE_ENV):
            return StateFolder(Path(os.environ[STATE_ENV]).expanduser().absolute())
        return self.project(playbooks=False).state

    def context(self) -> RunContext:
        """Return a run context over the loaded project (secrets resolved lazily, the journal of its state
        folder ready)."""
        from itref.context import RunContext
        from itref.secrets import SecretResolver

        project = self.project()
        return RunContext(project, SecretResolver(project.inventory.secrets))


def _piped_width() -> int:
    """Return the width of the Rich consoles on a stream that is not a terminal: $COLUMNS, else 160."""
    return int(os.environ.get("COLUMNS", "160"))


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed: Rich says "not a terminal" too
        return False


_EMOJI_CODE = re.compile(r":\S*:")
"""What could be an emoji code (``:smile:``), which Rich would replace."""


class PlainLines:
    """Lines for a stream that is not a terminal, without importing Rich for the usual line.

    On such a stream Rich's console writes a line of printable ASCII that fits in its width, holds no
    ``:name:`` emoji code and is printed without markup or highlighting, unchanged and followed by a
    newline; this writes such a line directly. Any other line (longer, so folded; with control characters,
    tabs or non-ASCII text; with markup) goes through the Rich console, so the output is the same.
    """

    is_terminal = False

    def __init__(self, state: CliState, stderr: bool, stream: TextIO) -> None:
        self._state = state
        self._stderr = stderr
        self._stream = stream
        self._width: int | None = None
        self._lock = threading.Lock()

    def print(self, text: str, *, markup: bool = False, highlight: bool = False) -> None:
        """Write ``text`` as the Rich console would (see the class docstring)."""
        if not markup and not highlight and text.isascii() and text.isprintable() and \
                not _EMOJI_CODE.search(text) and len(text) <= self._fits():
            with self._lock:
                self._stream.write(text + "\n")
                self._stream.flush()
        else:
            self._state.console(stderr=self._stderr).print(text, markup=markup, highlight=highlight)

    def _fits(self) -> int:
        if self._width is None:
            try:
                self._width = _piped_width()
            except ValueError:  # an unusable $COLUMNS: let the Rich console deal with it, as before
                self._width = -1
        return self._width


def state(ctx: typer.Context) -> CliState:
    """Return the CliState stored by the root callback."""
    obj: Any = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def warn_unreadable(st: CliState, folder: StateFolder) -> None:
    """Say on standard error each state file the command could not read, so left out of what it shows."""
    for problem in folder.unreadable.values():
        st.err.print(_("{problem}: this state file cannot be read and is left out (see itref state check)").format(
            problem=problem), markup=False, highlight=False, soft_wrap=True)
