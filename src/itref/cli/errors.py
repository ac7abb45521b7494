"""The one place where exceptions become messages on stderr and exit statuses."""

from __future__ import annotations

import traceback

from itref.core.errors import ItrefError
from itref.core.status import ExitStatus
from itref.i18n import _
from itref.secrets import mask


def exit_status_for(exc: BaseException) -> ExitStatus:
    """Return the exit status that ``exc`` maps to."""
    import typer

    if isinstance(exc, ItrefError):
        return exc.status
    if isinstance(exc, KeyboardInterrupt | typer.Abort):
        return ExitStatus.INTERRUPTED
    if isinstance(exc, typer.TyperException):  # click's usage errors: bad option, missing argument...
        return ExitStatus.USAGE
    return ExitStatus.INTERNAL_ERROR


def report(exc: BaseException, *, verbose: int = 0) -> ExitStatus:
    """Print ``exc`` for a person on stderr (masked, control characters escaped, no traceback unless -vv) and
    return its exit status."""
    import sys

    status = exit_status_for(exc)
    err = sys.stderr
    if isinstance(exc, ItrefError):
        from itref.core.text import printable

        for line in exc.lines():  # a message may quote a file or the directory: never a raw control sequence
            for part in line.split("\n"):
                print(mask(printable(part)), file=err)
    elif status is ExitStatus.USAGE and hasattr(exc, "show"):
        exc.show(file=err)
    elif status is ExitStatus.INTERRUPTED:
        from itref.core.errors import Interrupted

        for line in exc.lines() if isinstance(exc, Interrupted) else [_("Interrupted.")]:
            print(mask(line), file=err)
    else:
        print(mask(_("itref hit an internal error ({kind}: {detail}). This is a bug; run again with -vv to "
                     "see the details.").format(kind=type(exc).__name__, detail=exc)), file=err)
        if verbose >= 2:
            print(mask("".join(traceback.format_exception(exc))), file=err)
    return status


def interrupted(exc: BaseException) -> ExitStatus:
    """Print what a Ctrl-C stopped (an :class:`~itref.core.errors.Interrupted`'s lines, masked) and return
    INTERRUPTED. Commands call it themselves: Typer turns a KeyboardInterrupt into a silent exit 130."""
    import sys

    from itref.core.errors import Interrupted

    for line in exc.lines() if isinstance(exc, Interrupted) else [_("Interrupted.")]:
        print(mask(line), file=sys.stderr)
    return ExitStatus.INTERRUPTED
