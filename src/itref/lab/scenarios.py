"""``itref lab scenario NAME`` and ``itref lab reset``: break the lab on purpose, then put it back.

Each scenario breaks one real thing (a disk really fills up, a snapshot is really forgotten, an account is really
locked by wrong passwords, ...) and names the playbook routine that fixes it, so that a stand-in practises the
whole loop: the audit finds it, the guided routine fixes it, the audit is green again.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itref.i18n import N_, _
from itref.lab.control import LabError
from itref.lab.layout import LAB_USER, LabPaths, lock_held, read_state, write_state
from itref.lab.peers.sshd import UserInfo

DISK_HOST, WEB_HOST = "srv-app", "srv-web"
FILLER = "/srv/data/exports/export-complet-2019.tar"
BROKEN_UNIT = "apache2.service"


@dataclass(frozen=True)
class Lab:
    """A running lab, as scenarios see it."""

    paths: LabPaths
    state: dict[str, Any]
    user: UserInfo

    def host_pid(self, name: str) -> int:
        """Return the sshd pid of lab host ``name``. Raises LabError when the lab has no such host."""
        host = (self.state.get("hosts") or {}).get(name)
        if not host:
            raise LabError(_("this scenario needs the lab host {host}: start the lab with more hosts "
                             "(itref lab up --hosts 4)").format(host=name))
        return int(host["pid"])


@dataclass(frozen=True)
class Scenario:
    """One way to break the lab: what it does, which routine fixes it, and how to break and reset it."""

    name: str
    summary: str
    routine: str
    apply: Callable[[Lab], None]
    reset: Callable[[Lab], None]


def _disk_full(lab: Lab) -> None:
    from itref.lab.hosts import fill_disk

    fill_disk(lab.host_pid(DISK_HOST), FILLER, 96, lab.user, mtime="2019-06-30 18:00")


def _disk_reset(lab: Lab) -> None:
    from itref.lab.hosts import in_host

    if (lab.state.get("hosts") or {}).get(DISK_HOST):
        in_host(lab.host_pid(DISK_HOST), f"rm -f '{FILLER}'")


def _repo() -> Any:
    from itref.lab.world import REPOS

    return next(r for r in REPOS if r.name == "cpas-restic")


def _backup_stale(lab: Lab) -> None:
    from itref.lab.backups import forget_newest

    forget_newest(lab.paths, _repo(), lab.user)


def _backup_reset(lab: Lab) -> None:
    from itref.lab.backups import snapshot

    if "backup-stale" in (lab.state.get("scenarios") or []):
        snapshot(lab.paths, _repo(), lab.user)


def _ldap(lab: Lab, user: str | None = None, password: str | None = None) -> Any:
    from ldap3 import SIMPLE, Connection

    from itref.lab.files import read_secret
    from itref.lab.peers.samba import ADMIN_USER, SambaDC

    dc = SambaDC(directory=lab.paths.dc)
    return Connection(dc.ldap_server(get_info="NO_INFO"), user=user or ADMIN_USER,
                      password=password or read_secret(lab.paths, "ad-admin"), authentication=SIMPLE,
                      receive_timeout=10)


def _account_locked(lab: Lab) -> None:
    from itref.lab.world import DNS_DOMAIN, LOCKABLE, LOCKOUT_THRESHOLD

    for _attempt in range(LOCKOUT_THRESHOLD + 1):
        conn = _ldap(lab, f"{LOCKABLE}@{DNS_DOMAIN}", "Mauvais-mot-de-passe-1")
        if conn.bind():
            conn.unbind()
            raise LabError(_("the lab's account {login} accepted a wrong password").format(login=LOCKABLE))
    admin = _ldap(lab)
    admin.bind()
    try:
        admin.search(_base(), f"(sAMAccountName={LOCKABLE})", attributes=["lockoutTime"])
        raw = admin.entries[0].lockoutTime.raw_values if admin.entries else []
        locked = bool(raw) and int(raw[0]) > 0
    finally:
        admin.unbind()
    if not locked:
        raise LabError(_("the lab's domain controller did not lock {login}").format(login=LOCKABLE))


def _base() -> str:
    from itref.lab.peers.samba import BASE_DN

    return BASE_DN


def _account_reset(lab: Lab) -> None:
    from ldap3 import MODIFY_REPLACE

    from itref.lab.world import LOCKABLE

    admin = _ldap(lab)
    admin.bind()
    try:
        admin.search(_base(), f"(sAMAccountName={LOCKABLE})", attributes=["lockoutTime"])
        if admin.entries:
            admin.modify(admin.entries[0].entry_dn, {"lockoutTime": [(MODIFY_REPLACE, ["0"])]})
    finally:
        admin.unbind()


def _units(lab: Lab) -> Path:
    return lab.paths.host_dir(WEB_HOST) / "units"


def _service_down(lab: Lab) -> None:
    lab.host_pid(WEB_HOST)
    (_units(lab) / f"{BROKEN_UNIT}.failed").write_text(
        "The Apache HTTP Server (intranet) - exit code 1 after a configuration change\n", encoding="utf-8")


def _service_reset(lab: Lab) -> None:
    (_units(lab) / f"{BROKEN_UNIT}.failed").unlink(missing_ok=True)


def _intranet_cert(lab: Lab, days: int) -> None:
    import os

    from itref.lab.tls import INTRANET_NAME, issue

    pem = issue(lab.paths.certs, "intranet", [INTRANET_NAME, "127.0.0.1"], days)
    os.chown(pem, lab.user.uid, lab.user.gid)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("disk-full", N_("the data disk of srv-app (CPAS) fills up to 96% with an old export"),
             "cpas/free-disk-space", _disk_full, _disk_reset),
    Scenario("backup-stale", N_("last night's CPAS backup (restic on nas01) is missing: the newest is 3 days old"),
             "cpas/run-backup-now", _backup_stale, _backup_reset),
    Scenario("account-locked", N_("luc.lambert (commune) is locked out after too many wrong passwords"),
             "commune/unlock-account", _account_locked, _account_reset),
    Scenario("service-down", N_("the intranet's web server (apache2.service on srv-web) has failed"),
             "commune/restart-service", _service_down, _service_reset),
    Scenario("cert-expiring", N_("the intranet's certificate expires in 5 days"),
             "commune/renew-certificate", lambda lab: _intranet_cert(lab, 5), lambda lab: _intranet_cert(lab, 397)),
)}


def running_lab(directory: Path) -> Lab:
    """Return the ready lab of ``directory``. Raises LabError when it does not run or when not run as root."""
    paths = LabPaths(directory.absolute())
    state = read_state(paths)
    if not state or state.get("status") != "ready" or not lock_held(paths):
        raise LabError(_("no running lab in {dir}: start it with 'itref lab up --dir {dir}'").format(dir=paths.root))
    if os.geteuid() != 0:
        raise LabError(_("scenarios change the lab's machines as root: run them as root (sudo itref lab ...)"))
    pw = pwd.getpwnam(LAB_USER)
    user = UserInfo(LAB_USER, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir), pw.pw_shell, "")
    return Lab(paths, state, user)


def _guarded(action: Callable[[Lab], None], lab: Lab, name: str) -> None:
    """Run a scenario's apply or reset; turn a failing tool, file or directory call into one LabError line."""
    import subprocess

    try:
        action(lab)
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or [str(exc.returncode)]
        raise LabError(_("scenario {name}: {detail}").format(name=name, detail=detail[0])) from exc
    except (OSError, RuntimeError) as exc:
        raise LabError(_("scenario {name}: {detail}").format(name=name, detail=exc)) from exc


def apply(directory: Path, name: str) -> Scenario:
    """Break the lab of ``directory`` as scenario ``name`` says; return the scenario. Raises LabError."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise LabError(_("unknown scenario '{name}'; choose one of: {names}").format(
            name=name, names=", ".join(SCENARIOS)))
    lab = running_lab(directory)
    _guarded(scenario.apply, lab, scenario.name)
    state = read_state(lab.paths) or lab.state
    state["scenarios"] = sorted({*(state.get("scenarios") or []), name})
    write_state(lab.paths, state)
    return scenario


def reset(directory: Path) -> list[str]:
    """Undo every scenario of the lab of ``directory``; return the names of those that were applied."""
    lab = running_lab(directory)
    applied = list(lab.state.get("scenarios") or [])
    for scenario in SCENARIOS.values():
        _guarded(scenario.reset, lab, scenario.name)
    state = read_state(lab.paths) or lab.state
    state["scenarios"] = []
    write_state(lab.paths, state)
    return applied
