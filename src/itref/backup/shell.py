"""Run a small POSIX script on a backup's host, the repository password passed on standard input.

The password never appears on a command line (visible in ``ps``) nor in the script: the script
reads it from stdin into an environment variable of its own process. Each step of a script ends
with a marker carrying its exit code, so one round trip returns several commands' outputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from itref.connectors.base import Command, Connector
from itref.core.results import CommandResult
from itref.i18n import _

if TYPE_CHECKING:
    from itref.backup.base import Fingerprint, Problem
    from itref.config.schema import Backup
    from itref.secrets import SecretResolver

MARK = re.compile(r"^@@itref:(?P<name>[\w.-]+):(?P<rc>\d+)@@$", re.M)


def step(name: str, command: str) -> str:
    """Return a script line running ``command`` and then printing the marker of step ``name``."""
    return f"{command}\nprintf '\\n@@itref:{name}:%s@@\\n' \"$?\"\n"


@dataclass(frozen=True)
class Step:
    """One step's exit code and stdout."""

    rc: int
    out: str


def run_script(conn: Connector, script: str, args: list[str], *, secret: str | None, timeout: float) -> tuple[
        dict[str, Step], CommandResult]:
    """Run ``script`` with ``args`` as $1, $2... and ``secret`` on stdin; return each step and the raw result."""
    argv = ["sh", "-c", script, "itref", *args]
    stdin = (secret + "\n").encode() if secret is not None else b""
    result = conn.run(Command.of(argv, timeout=timeout, stdin=stdin))
    steps: dict[str, Step] = {}
    start = 0
    for m in MARK.finditer(result.stdout):
        steps[m.group("name")] = Step(int(m.group("rc")), result.stdout[start:m.start()].strip("\n"))
        start = m.end()
    return steps, result


Rule = tuple[str, Callable[[str], bool], str]
"""(problem, test on the lower-cased stderr, sentence for people)."""


def classify_failure(tool: str, rules: Sequence[Rule], stderr: str, rc: int) -> tuple[Problem, str] | None:
    """Return (problem, sentence) for a failed ``tool`` call: the first rule whose test matches its stderr,
    "tool-missing" for exit code 127, otherwise "error" with stderr's last line. None when it succeeded."""
    text = stderr.lower()
    if rc == 127 or f"{tool}: not found" in text:
        return "tool-missing", _("{tool} is not installed on the host").format(tool=tool)
    for problem, matches, sentence in rules:
        if matches(text):
            return problem, _(sentence)  # type: ignore[return-value]
    if rc != 0:
        last = [line for line in stderr.strip().splitlines() if line.strip()]
        return "error", last[-1] if last else _("{tool} failed with exit code {rc}").format(tool=tool, rc=rc)
    return None


def read_fingerprint(text: str, lock_prefix: str) -> Fingerprint | None:
    """Return the fingerprint of a repository listing (``[section]`` lines, then one entry a line), None
    when the listing does not show a repository (no ``config``). A ``[locks]`` entry, or any entry starting
    with ``lock_prefix``, means a lock is there."""
    import hashlib

    from itref.backup.base import Fingerprint

    lines = [line for line in text.splitlines() if line.strip()]
    if "[config]" not in lines:
        return None
    section, locked = "", False
    for line in lines:
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[locks]" or (lock_prefix and line.startswith(lock_prefix)):
            locked = True
    return Fingerprint(hashlib.sha256("\n".join(lines).encode()).hexdigest(), locked)


def fingerprint(conn: Connector, listing: str, path: str, lock_prefix: str) -> Fingerprint | None:
    """Run the repository ``listing`` script (``$1`` = the repository's path) alone, no password involved;
    return its fingerprint, None when it cannot be read."""
    result = conn.run(Command.of(["sh", "-c", listing, "itref", path], timeout=60))
    return read_fingerprint(result.stdout, lock_prefix) if result.rc == 0 else None


def repository_secret(backup: Backup, secrets: SecretResolver) -> str:
    """Return the backup's repository password ("" when it has none), resolved only now."""
    if backup.password is None:
        return ""
    return secrets.resolve(backup.password, _("password of backup {name}").format(name=backup.name)).reveal()


def shell_quote(value: str) -> str:
    """Return ``value`` quoted for sh."""
    import shlex

    return shlex.quote(value)
