"""Real Unix accounts for the shared-state tests: two people of one state group, and a way to run itref as them."""

from __future__ import annotations

import atexit
import functools
import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
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


def reachable_by_others(path: Path) -> bool:
    """Return True when an account that is neither the owner nor in the group can reach ``path`` (every folder
    on the way lets others through)."""
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in [path, *path.parents] if folder.is_dir())


@functools.cache
def python_as_others() -> tuple[str, dict[str, str]]:
    """Return a Python interpreter another account may run, and the environment that lets it import itref and
    its dependencies from this checkout.

    A checkout in root's private home (a fresh Debian's /root is 0700: the README's clone lands there) cannot
    be reached by another account: the code and the venv's libraries are then linked (or copied) once into a
    folder of /tmp others can read, removed when the test run ends."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    exe = f"/usr/bin/python{version}"
    if not Path(exe).exists():
        exe = sys.executable
    libraries = list(dict.fromkeys(Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")))
    sources = [ROOT / "src", *libraries]
    if not all(reachable_by_others(p) for p in sources):
        shared = Path(tempfile.mkdtemp(prefix="itref-as-others-", dir="/tmp"))
        shared.chmod(0o755)
        atexit.register(shutil.rmtree, shared, True)
        copies = []
        for n, source in enumerate(sources):
            target = shared / str(n)
            try:  # hard links: instant on one filesystem; a file's own mode (0644) is what others then read
                shutil.copytree(source, target, copy_function=os.link, symlinks=True)
            except OSError:
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target, symlinks=True)
            copies.append(target)
        sources = copies
    return exe, {"PYTHONPATH": os.pathsep.join(str(p) for p in sources)}


def as_account(account: Account, argv: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    """Start ``argv`` as ``account`` (its groups included), with ``env`` added to a minimal environment."""
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(account.home), "LANG": "C.UTF-8",
            "LANGUAGE": "en"}
    cmd = ["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--init-groups", "--", *argv]
    return subprocess.Popen(cmd, env={**base, **env}, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kwargs)  # type: ignore[call-overload]
