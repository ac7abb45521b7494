"""Running a command through sudo on a POSIX host (ssh and local connectors), with or without a password.

With a password, ``sudo -S`` reads it from the command's standard input, but only when it needs one: under a
``NOPASSWD`` rule, or with credentials still cached, it reads nothing and the password line would reach the
command as its first line of input. So the input is the password, then a random marker line, then the
command's own input; a small guard run by sudo reads up to the marker (the password too, if sudo left it) and
only then starts the command. The password never reaches the command, and never appears on a command line.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

GUARD = 'IFS= read -r l || exit 1; [ "$l" = "$0" ] || IFS= read -r l; [ "$l" = "$0" ] || exit 1; unset l; exec "$@"'
"""Run by sudo as ``sh -c GUARD MARKER ARGV...``: skip the password line if sudo left it, then the marker
(``$0``), then exec ARGV with the rest of the input. sh reads a pipe byte by byte, so nothing past the marker
is consumed."""


def sudo_argv(argv: Sequence[str], password: str | None, stdin: bytes | None) -> tuple[list[str], bytes | None]:
    """Return (argv, stdin) that run ``argv`` as root through sudo.

    Without a password: ``sudo -n`` (fails at once, never prompts, if one is needed). With one: ``sudo -S``
    behind :data:`GUARD`, the password and a fresh marker prepended to ``stdin``.
    """
    if password is None:
        return ["sudo", "-n", "--", *argv], stdin
    marker = f"itref-sudo-{secrets.token_hex(12)}"
    return (["sudo", "-S", "-p", "", "--", "sh", "-c", GUARD, marker, *argv],
            password.encode() + b"\n" + marker.encode() + b"\n" + (stdin or b""))
