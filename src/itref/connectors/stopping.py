"""Stopping a command for good: every process it started, not just the connection to it.

A command that runs over SSH is started by sshd in a session of its own (the login shell is its leader, so
``$$`` is the session id). Closing the channel does not stop it: with no terminal, nothing sends it a
signal, and ``sleep 30`` would go on, re-parented to PID 1. So on a timeout or Ctrl-C itref runs
:data:`STOP_SCRIPT` on the host (through sudo, with the host's sudo password, when the command ran through
sudo: its processes then belong to root): SIGTERM to every process of the session (sudo passes it on to
its command), up to 2 s for them to end, then SIGKILL, then a check that none is left. The local connector
does the same in Python (:func:`stop_local_session`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from itref.i18n import _

SESSION_MARK = b"itref-session:"
"""Printed on standard error, with the session id, by the login shell before the command starts."""

STOP_SCRIPT = (
    's=$1\n'
    'pids() { ps -A -o pid= -o sid= -o stat= 2>/dev/null | while read -r pid sid stat; do '
    '[ "$sid" = "$s" ] && [ "${stat#Z}" = "$stat" ] && echo "$pid"; done; }\n'
    'signal() { kill -"$1" -"$s" 2>/dev/null; for pid in $(pids); do kill -"$1" "$pid" 2>/dev/null; done; }\n'
    'gone() { i=0; while [ $i -lt "$1" ]; do [ -z "$(pids)" ] && return 0; sleep 0.1; i=$((i+1)); done; '
    '[ -z "$(pids)" ]; }\n'
    'if ! command -v ps >/dev/null 2>&1; then kill -TERM -"$s" 2>/dev/null; sleep 1; kill -KILL -"$s" 2>/dev/null; '
    'sleep 0.2; if kill -0 -"$s" 2>/dev/null; then exit 3; fi; exit 0; fi\n'
    'signal TERM; gone 20 && exit 0\n'
    'signal KILL; gone 20 && exit 0\n'
    'ps -A -o pid= -o sid= -o user= -o args= 2>/dev/null | while read -r pid sid user args; do '
    '[ "$sid" = "$s" ] && echo "$pid $user $args"; done\n'
    'exit 3\n'
)
"""``sh -c STOP_SCRIPT itref-stop SESSION``: stops every process of SESSION; exit 0 when none is left, 3 (listing
what is left: pid, user, command) when some could not be stopped."""


def stop_argv(session: int) -> list[str]:
    """Return the argument list that stops every process of ``session`` on a POSIX host."""
    return ["sh", "-c", STOP_SCRIPT, "itref-stop", str(session)]


def left_over(output: str) -> str:
    """Return the sentence for a stop that left processes behind (``output``: STOP_SCRIPT's list of them)."""
    first = output.strip().splitlines()[0] if output.strip() else ""
    return _("processes of the command are still running on the host: {what}").format(what=first or "?")


def parse_session(err: bytes) -> tuple[int | None, bytes]:
    """Return (session id, stderr without the session line) once ``err`` holds that line (it may follow what a
    login script printed first), else (None, err)."""
    at = 0 if err.startswith(SESSION_MARK) else err.find(b"\n" + SESSION_MARK) + 1
    if at < 0 or (at == 0 and not err.startswith(SESSION_MARK)):
        return None, err
    end = err.find(b"\n", at)
    if end < 0:
        return None, err
    try:
        session = int(err[at + len(SESSION_MARK):end])
    except ValueError:
        return None, err
    return session, err[:at] + err[end + 1:]


# --------------------------------------------------------------------------- this machine


def _session_members(session: int) -> list[int]:
    """Return the pids of the living (not zombie) processes of ``session`` on this machine (Linux /proc)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2:].split()  # after the command name, which may hold spaces
        if len(fields) > 3 and fields[0] != "Z" and fields[3] == str(session):
            members.append(int(entry.name))
    return members


def stop_local_session(session: int, grace: float = 2.0) -> str | None:
    """Stop every process of ``session`` on this machine (SIGTERM, ``grace`` seconds, SIGKILL).

    Returns None when none is left, else a sentence saying what is (e.g. a process of another user).
    """
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        pids = _session_members(session)
        if not pids:
            return None
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _session_members(session):
                return None
            time.sleep(0.05)
    left = _session_members(session)
    if not left:
        return None
    try:
        with open(f"/proc/{left[0]}/cmdline", "rb") as f:
            what = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        what = "?"
    return left_over(f"{left[0]} {what}")
