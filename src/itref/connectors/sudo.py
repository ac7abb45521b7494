"""Running a command through sudo on a POSIX host (ssh and local connectors), with or without a password.

With a password, ``sudo -S`` reads it from the command's standard input, but only when it needs one: under a
``NOPASSWD`` rule, or with credentials still cached, it reads nothing and the password line would reach the
command as its first line of input. So sudo runs a small guard first, which throws that line away if sudo
left it and only then starts the command. The password never reaches the command, and never appears on a
command line.

A wrong password: ``sudo -S`` asks again (``passwd_tries``, 3 by default) and reads one more line each time.
A command with no input of its own gets the password line alone, so a wrong password costs one attempt. A
command with input of its own gets the password, a random marker line, then its input, and the guard starts
it after the marker: a wrong password then costs up to ``passwd_tries`` attempts (sudo takes the marker and
the next line as further guesses).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

NO_INPUT_GUARD = 'IFS= read -r l; unset l; exec "$@" </dev/null'
"""Run by sudo as ``sh -c NO_INPUT_GUARD itref-sudo ARGV...`` when the command has no input: drop the password
line if sudo left it (nothing is left when sudo read it), then exec ARGV with no input."""

MARKER_GUARD = 'IFS= read -r l || exit 1; [ "$l" = "$0" ] || IFS= read -r l; [ "$l" = "$0" ] || exit 1; unset l; ' \
    'exec "$@"'
"""Run by sudo as ``sh -c MARKER_GUARD MARKER ARGV...`` when the command has input: skip the password line if
sudo left it, then the marker (``$0``), then exec ARGV with the rest of the input. sh reads a pipe byte by
byte, so nothing past the marker is consumed."""


def sudo_argv(argv: Sequence[str], password: str | None, stdin: bytes | None) -> tuple[list[str], bytes | None]:
    """Return (argv, stdin) that run ``argv`` as root through sudo.

    Without a password: ``sudo -n`` (fails at once, never prompts, if one is needed). With one: ``sudo -S``
    behind a guard; the password first on the input (then, if the command has input, a fresh marker line and
    that input).
    """
    if password is None:
        return ["sudo", "-n", "--", *argv], stdin
    if not stdin:
        return ["sudo", "-S", "-p", "", "--", "sh", "-c", NO_INPUT_GUARD, "itref-sudo", *argv], \
            password.encode() + b"\n"
    marker = f"itref-sudo-{secrets.token_hex(12)}"
    return (["sudo", "-S", "-p", "", "--", "sh", "-c", MARKER_GUARD, marker, *argv],
            password.encode() + b"\n" + marker.encode() + b"\n" + stdin)
