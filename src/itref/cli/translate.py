"""Translating what Typer shows a person: the help written as commands' docstrings, and the few texts of the
command-line framework itself (``Usage:``, ``Options``, ``Error:``...). Used in languages other than English only
(:mod:`itref.cli.entry` at start-up, :mod:`itref.cli.lazy` for a command group loaded later)."""

from __future__ import annotations

import inspect
import io
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

from itref import i18n
from itref.i18n import N_, _


def _placeholder(value: object) -> bool:
    return value is None or type(value).__name__ == "DefaultPlaceholder"


def command_docs(app: Any) -> Iterator[tuple[Any, str, Callable[..., Any]]]:
    """Yield ``(info, docstring, callback)`` for every command and group of the Typer ``app`` whose help is
    its function's docstring (no ``help=`` given): those are the help texts translated by docstring."""
    for info in app.registered_commands:
        doc = getattr(info, "_itref_doc", None)
        if doc is None and info.help is None and info.callback is not None:
            doc = inspect.getdoc(info.callback)
        if doc:
            yield info, doc, info.callback
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        callback = sub.registered_callback.callback if sub.registered_callback else None
        doc = getattr(group, "_itref_doc", None)
        explicit = (not _placeholder(group.help) or (sub.registered_callback is not None
                                                     and not _placeholder(sub.registered_callback.help))
                    or not _placeholder(sub.info.help))
        if doc is None and not explicit and callable(callback):
            doc = inspect.getdoc(callback)
        if doc:
            yield group, doc, callback
        yield from command_docs(sub)


def localize_command_help(app: Any) -> None:
    """Give every command and group whose help is a docstring the translation of that docstring."""
    for info, doc, _callback in command_docs(app):
        info._itref_doc = doc
        info.help = _(doc)


# --------------------------------------------------------------------------- Typer's own texts

# The texts Typer passes through gettext (typer/core.py), listed so that the extractor sees them.
TYPER_TEXTS = (N_("Options"), N_("Arguments"), N_("Commands"), N_("required"), N_("default: {default}"),
               N_("env var: {var}"), N_("(dynamic)"), N_("Missing command."), N_("No such command {name!r}."),
               N_("Aborted!"))

# Error texts Typer writes without gettext: (pattern of the English text, translatable text with the same fields).
_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), t) for p, t in (
    (r"^(?P<message>.*?)\.? Did you mean (?P<suggestions>.+)\?$", N_("{message}. Did you mean {suggestions}?")),
    (r"^No such option: (?P<name>\S+) \(Possible options: (?P<options>.*)\)$",
     N_("No such option: {name} (possible options: {options})")),
    (r"^No such option: (?P<name>\S+)$", N_("No such option: {name}")),
    (r"^Missing argument (?P<name>.+?)\.$", N_("Missing argument {name}.")),
    (r"^Missing option (?P<name>.+?)\.$", N_("Missing option {name}.")),
    (r"^Invalid value for (?P<name>.+?): (?P<message>.*)$", N_("Invalid value for {name}: {message}")),
    (r"^Got unexpected extra arguments? \((?P<args>.*)\)$", N_("Got unexpected extra arguments ({args})")),
    (r"^Option (?P<name>'.+?') requires an argument\.$", N_("Option {name} requires a value.")),
    (r"^Option (?P<name>'.+?') does not take a value\.$", N_("Option {name} does not take a value.")),
))
_TRY = re.compile(r"^Try '(?P<command>.+) (?P<option>\S+)' for help\.$")


def translate_error_message(message: str) -> str:
    """Return one of Typer's English error messages in the current language (unchanged when not known)."""
    for pattern, text in _ERRORS:
        m = pattern.match(message)
        if m:
            fields = {k: translate_error_message(v) if k == "message" else v for k, v in m.groupdict().items()}
            return _(text).format(**fields)
    return message


def translate_error_text(text: str) -> str:
    """Translate what Typer prints for a usage error: the usage line, the hint and the ``Error:`` line."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("Error: "):
            line = _("Error: {message}").format(message=translate_error_message(line[len("Error: "):]))
        elif m := _TRY.match(line):
            line = _("Try '{command} {option}' for help.").format(**m.groupdict())
        lines.append(line)
    return "\n".join(lines)


def localize_framework() -> None:
    """Route Typer's own texts through itref's catalogue. Each patch is skipped when Typer's internals differ
    from what it expects, leaving that text in English rather than failing."""
    try:
        import typer.core as typer_core
        from typer._click import core as click_core
        from typer._click import exceptions as click_exceptions
        from typer._click import formatting as click_formatting
    except ImportError:  # another Typer layout: its texts stay in English
        return
    if hasattr(typer_core, "_"):
        typer_core._ = i18n._  # type: ignore[attr-defined]

    write_usage = getattr(click_formatting.HelpFormatter, "write_usage", None)
    if write_usage is not None and not getattr(write_usage, "_itref", False):
        def usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
            write_usage(self, prog, args, _("Usage: ") if prefix is None else prefix)

        usage._itref = True  # type: ignore[attr-defined]
        click_formatting.HelpFormatter.write_usage = usage

    get_help_option = getattr(click_core.Command, "get_help_option", None)
    if get_help_option is not None and not getattr(get_help_option, "_itref", False):
        def help_option(self: Any, ctx: Any) -> Any:
            option = get_help_option(self, ctx)
            if option is not None and isinstance(getattr(option, "help", None), str):
                option.help = _(option.help)
            return option

        help_option._itref = True  # type: ignore[attr-defined]
        click_core.Command.get_help_option = help_option
    N_("Show this message and exit.")  # the help option's text, translated just above

    for cls in (click_exceptions.ClickException, click_exceptions.UsageError):
        show = cls.__dict__.get("show")
        if show is None or getattr(show, "_itref", False):
            continue

        def translated_show(self: Any, file: Any = None, _show: Callable[..., None] = show) -> None:
            buffer = io.StringIO()
            _show(self, buffer)
            (file or sys.stderr).write(translate_error_text(buffer.getvalue()))

        translated_show._itref = True  # type: ignore[attr-defined]
        cls.show = translated_show
