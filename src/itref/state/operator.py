"""Who is acting: the person every record of the shared state is signed with.

The person is ``$ITREF_OPERATOR``, else the account that called sudo (``$SUDO_USER``), else git's ``user.name``
in the project folder, else the login name. Root with none of these is recorded as root with no person
(``name`` is None), and shown as "root, person unknown": a stand-in's actions never pass for the referent's.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

OPERATOR_ENV = "ITREF_OPERATOR"


@dataclass(frozen=True)
class Operator:
    """A person (when known), the Unix account and the machine an action came from."""

    name: str | None
    account: str
    machine: str

    def display(self) -> str:
        """Return how records show this operator: the person's name, else "ACCOUNT, person unknown"."""
        return display_name(self.name, self.account)

    def fields(self) -> dict[str, str | None]:
        """Return the fields a record carries: operator (the person or None), account, machine."""
        return {"operator": self.name, "account": self.account, "machine": self.machine}


def display_name(name: str | None, account: str | None) -> str:
    """Return a record's signer for people: ``name``, else "ACCOUNT, person unknown" (translated)."""
    if name:
        return name
    from itref.i18n import _

    return _("{account}, person unknown").format(account=account or "?")


def login() -> str:
    """Return this process's login name (the uid as text when the account has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@cache
def _git_user(folder: str) -> str | None:
    """Return git's ``user.name`` as configured for ``folder`` (repository, global or system), or None."""
    try:
        proc = subprocess.run(["git", "-C", folder, "config", "user.name"], capture_output=True, text=True,
                              timeout=5, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name else None


def current(project_dir: Path | None = None) -> Operator:
    """Return who is acting now (see the module docstring for the order); ``project_dir`` is where git's
    ``user.name`` is read (the inventory's folder)."""
    account = login()
    name = (os.environ.get(OPERATOR_ENV) or "").strip() or (os.environ.get("SUDO_USER") or "").strip() or None
    if name is None and project_dir is not None:
        name = _git_user(str(project_dir))
    if name is None and account != "root":
        name = account  # a personal account names its person; root names nobody
    return Operator(name, account, socket.gethostname())
