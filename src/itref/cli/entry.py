"""The ``itref`` console script: choose the language first, then import the commands and run them.

The help texts of the commands are translated when their modules are imported, so ``--lang`` (and the
inventory's ``language:``) is read from the arguments here, before :mod:`itref.cli.main` is imported (``--lang``
is also declared as a global option there, so it shows in ``itref --help`` and is validated). The help written
as docstrings and the framework's own texts are translated by :mod:`itref.cli.translate`, in another language
than English only, so ``itref --help`` stays as cheap as before.
"""

from __future__ import annotations

import gc
import sys

from itref import i18n


def lang_from_argv(argv: list[str]) -> str | None:
    """Return the value of the last ``--lang X`` or ``--lang=X`` before ``--`` in ``argv``, or None."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--lang="):
            found = arg.split("=", 1)[1]
    return found


def inventory_from_argv(argv: list[str]) -> str:
    """Return the inventory a command line will use: the last ``-i``/``--inventory`` before ``--``, else
    ``ITREF_INVENTORY``, else ``inventory.yaml``."""
    import os

    found = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg in ("-i", "--inventory") and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--inventory="):
            found = arg.split("=", 1)[1]
        elif arg.startswith("-i") and len(arg) > 2 and not arg.startswith("--"):
            found = arg[2:]
    return found or os.environ.get("ITREF_INVENTORY") or "inventory.yaml"


def choose_language(argv: list[str]) -> None:
    """Switch to the language of the rule: ``--lang`` in ``argv`` (an unknown one is left for the option to reject),
    else ``ITREF_LANG``, else the ``language:`` of the inventory the command will read, else the locale."""
    import os

    code = i18n.normalize(lang_from_argv(argv))
    if code is None and lang_from_argv(argv) is None and not os.environ.get("ITREF_LANG"):
        inventory_language = i18n.peek_inventory_language(inventory_from_argv(argv))
        if inventory_language is not None:
            i18n.set_language(None)
            i18n.use_inventory_language(inventory_language)
            return
    i18n.set_language(code)


_STARTUP_GC_PAUSED = False
"""True when :func:`main` paused the garbage collector for the start-up (see :func:`end_startup`)."""


def end_startup() -> None:
    """Freeze the objects made so far and resume the garbage collector, if :func:`main` paused it.

    Start-up (imports, the command line, the inventory and its schema) makes hundreds of thousands of
    objects that live until the process ends; collecting while they are made, then scanning them again
    in each full collection during the work, costs tens of milliseconds and frees nothing. So
    :func:`main` pauses the collector, and the commands call this once start-up is over (the root
    command's callback, and ``itref run`` again before it connects): :func:`gc.freeze` moves everything
    alive into the permanent generation, which later collections skip. A no-op when itref runs inside
    another program (tests, the API), whose collector is left alone.
    """
    if _STARTUP_GC_PAUSED:
        gc.freeze()
        gc.enable()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``itref``, ``python -m itref``): exit with the commands' status."""
    global _STARTUP_GC_PAUSED
    if gc.isenabled():  # resumed by end_startup(), once the start-up objects are made
        gc.disable()
        _STARTUP_GC_PAUSED = True
    args = list(sys.argv[1:] if argv is None else argv)
    choose_language(args)
    if i18n.language() != "en":
        from itref.cli.translate import localize_framework

        localize_framework()
    from itref.cli import main as cli

    if i18n.language() != "en":
        from itref.cli.translate import localize_command_help

        localize_command_help(cli.app)
    sys.exit(cli.run(args))
