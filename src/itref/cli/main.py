"""``itref``: the root command, its global options, and the entry point that maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from itref import __version__
from itref.cli.lazy import LazyGroup
from itref.cli.state import FORMATS, CliState
from itref.i18n import _, normalize

app = typer.Typer(
    name="itref",
    cls=LazyGroup,
    help=_("itref: run, check and hand over the IT of a commune, its CPAS and its ASBLs."),
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# The commands themselves are listed in itref.cli.lazy and imported only when used.


def _version(value: bool) -> None:
    if value:
        print(f"itref {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    inventory: Annotated[Path, typer.Option(
        "--inventory", "-i", envvar="ITREF_INVENTORY", show_envvar=True,
        help=_("Inventory file."))] = Path("inventory.yaml"),
    playbooks: Annotated[Path | None, typer.Option(
        "--playbooks", help=_("Playbooks folder (default: playbooks/ beside the inventory)."))] = None,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help=_("Output format: {choices}.").format(choices=", ".join(FORMATS)))] = "table",
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help=_("More detail (-vv: debug)."))] = 0,
    no_color: Annotated[bool, typer.Option("--no-color", help=_("No colours (also: NO_COLOR=1)."))] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help=_("Show the version and exit."))] = False,
    lang: Annotated[str | None, typer.Option(
        "--lang", metavar="fr|en", help=_("Language of the messages (default: ITREF_LANG, then LANG)."))] = None,
) -> None:
    """Global options; they may also be written after the command name."""
    from itref.cli.entry import end_startup

    end_startup()  # the command's own work starts here: the garbage collector runs again
    if lang is not None and normalize(lang) is None:  # a known one was put in use by itref.cli.entry
        raise typer.BadParameter(_("choose one of: {choices}").format(choices="fr, en"), param_hint="--lang")
    if fmt not in FORMATS:
        raise typer.BadParameter(_("choose one of: {choices}").format(choices=", ".join(FORMATS)),
                                 param_hint="--format")
    color = not no_color and not os.environ.get("NO_COLOR")
    ctx.obj = CliState(inventory=inventory, playbooks=playbooks, format=fmt, verbose=verbose, color=color)
    if verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO, stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")


_GLOBAL_WITH_VALUE = {"--inventory", "-i", "--playbooks", "--format", "-f", "--lang"}
_GLOBAL_FLAGS = {"--no-color", "-v", "-vv", "-vvv", "--verbose"}


def hoist_global_options(argv: list[str]) -> list[str]:
    """Return ``argv`` with global options moved before the command, so ``itref run --format json``
    works like ``itref --format json run``. Nothing after ``--`` is touched."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name = arg.split("=", 1)[0]
        if name in _GLOBAL_WITH_VALUE:
            if "=" in arg:
                front.append(arg)
            else:
                front.extend(argv[i:i + 2])
                i += 1
        elif arg in _GLOBAL_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def run(argv: list[str] | None = None) -> int:
    """Run itref with ``argv`` (default: the process arguments) and return the exit status.

    This is the only place where exceptions turn into exit codes (see ``docs/exit-codes.md``).
    """
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        rv = app(args=args, prog_name="itref", standalone_mode=False)
    except SystemExit as exc:  # typer.Exit raised outside click's handling
        return int(exc.code or 0)
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except BaseException as exc:
        from itref.cli.errors import report

        return int(report(exc, verbose=_verbosity(args)))
    return int(rv) if isinstance(rv, int) else 0


def _verbosity(args: list[str]) -> int:
    head = args[: args.index("--")] if "--" in args else args
    return sum(len(a) - 1 for a in head if a.startswith("-v") and set(a[1:]) == {"v"}) + head.count("--verbose")


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
