"""Real Unix accounts for the shared-state tests: two people of one state group, and a way to run itref as them."""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Account:
    """A Unix account of this machine."""

    name: str
    uid: int
    gid: int
    home: Path


def ensure_group(name: str) -> int:
    """Create the group ``name`` if missing; return its gid."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True)
        return grp.getgrnam(name).gr_gid


def ensure_account(name: str, group: str | None = None) -> Account:
    """Create the account ``name`` (own group, home folder, no login shell) if missing, member of ``group``."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--create-home", "--user-group", "--shell", "/usr/sbin/nologin",
                        "--comment", "itref shared-state test account", name], check=True)
        pw = pwd.getpwnam(name)
    if group is not None:
        ensure_group(group)
        if name not in grp.getgrnam(group).gr_mem:
            subprocess.run(["usermod", "--append", "--groups", group, name], check=True)
    home = Path(pw.pw_dir)
    if not home.is_dir():
        home.mkdir(mode=0o750, parents=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
    return Account(name, pw.pw_uid, pw.pw_gid, home)


def python_as_others() -> tuple[str, dict[str, str]]:
    """Return a Python interpreter another account may run, and the environment that lets it import itref and
    its dependencies from this checkout (the venv's own interpreter may sit in root's private home)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    exe = f"/usr/bin/python{version}"
    if not Path(exe).exists():
        exe = sys.executable
    paths = [str(ROOT / "src"), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return exe, {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def as_account(account: Account, argv: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    """Start ``argv`` as ``account`` (its groups included), with ``env`` added to a minimal environment."""
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(account.home), "LANG": "C.UTF-8",
            "LANGUAGE": "en"}
    cmd = ["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--init-groups", "--", *argv]
    return subprocess.Popen(cmd, env={**base, **env}, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kwargs)  # type: ignore[call-overload]
