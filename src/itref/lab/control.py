"""``itref lab up|status|down``: start the lab's supervisor, follow it, ask after it, stop it and check that
nothing it started is left (process, mount, loop device, runtime folder)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itref.core.errors import ItrefError, UsageError
from itref.i18n import N_, _
from itref.lab.layout import LabPaths, pid_alive, read_state

# tool → Debian package that brings it
REQUIRED_TOOLS = {
    "samba": "samba-ad-dc", "samba-tool": "samba", "/usr/sbin/sshd": "openssh-server",
    "ssh-keygen": "openssh-client", "restic": "restic", "borg": "borgbackup", "nsenter": "util-linux",
    "unshare": "util-linux", "mkfs.ext4": "e2fsprogs", "openssl": "openssl", "fallocate": "util-linux",
}
READY_TIMEOUT = 300.0
RUNNING = ("starting", "ready")
STATUS_WORDS = {"none": N_("none"), "starting": N_("starting"), "ready": N_("ready"), "failed": N_("failed"),
                "stopping": N_("stopping"), "stopped": N_("stopped"), "dead": N_("dead: its supervisor is gone")}


class LabError(ItrefError):
    """The lab cannot be started, found or stopped as asked."""


def missing_packages() -> list[str]:
    """Return the Debian packages missing for the lab (one per missing tool, without repeats)."""
    missing: list[str] = []
    for tool, package in REQUIRED_TOOLS.items():
        found = Path(tool).exists() if tool.startswith("/") else shutil.which(
            tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if not found and package not in missing:
            missing.append(package)
    return missing


def check_machine() -> None:
    """Raise LabError when the lab cannot run here (not root, missing packages); return None otherwise."""
    if os.geteuid() != 0:
        raise LabError(_("the lab starts a domain controller, SSH hosts and disks of its own: run it as root "
                         "(sudo itref lab up) on a Debian or Ubuntu machine"))
    missing = missing_packages()
    if missing:
        raise LabError(_("the lab needs packages that are not installed; install them with: "
                         "apt-get install -y {packages}").format(packages=" ".join(missing)))


def _running_state(paths: LabPaths) -> dict[str, Any] | None:
    state = read_state(paths)
    if state and state.get("status") in (*RUNNING, "stopping") and pid_alive(state.get("pid")):
        return state
    return None


def up(directory: Path, hosts: int, *, on_step: Callable[[str], None] | None = None,
       timeout: float = READY_TIMEOUT) -> dict[str, Any]:
    """Start the lab in ``directory`` with ``hosts`` Linux hosts and wait until it is ready; return its state.

    Raises LabError when the machine cannot run it, when this lab already runs, when another lab (or any DC)
    holds the directory's ports, or when a part fails to start (the supervisor then stops what it started).
    """
    from itref.lab.peers.samba import TCP_PORTS, tcp_port_holders
    from itref.lab.world import lab_hosts

    try:
        lab_hosts(hosts)
    except ValueError as exc:
        raise UsageError(_("--hosts takes 1 to 40")) from exc
    check_machine()
    paths = LabPaths(directory.absolute())
    if len(str(paths.dc)) > 70:
        raise LabError(_("the lab's folder path is too long for samba's sockets ({n} characters, at most {max}): "
                         "choose a shorter --dir").format(n=len(str(paths.dc)) - 3, max=67))
    running = _running_state(paths)
    if running:
        raise LabError(_("this lab already runs (supervisor pid {pid}); 'itref lab status --dir {dir}' shows it, "
                         "'itref lab down --dir {dir}' stops it").format(pid=running["pid"], dir=paths.root))
    busy = tcp_port_holders(TCP_PORTS)
    if busy:
        who = ", ".join(f"{b.address}:{b.port} (pid {b.pid or '?'})" for b in busy)
        raise LabError(_("another lab or domain controller already uses the directory's ports on this machine "
                         "({who}); stop it first (itref lab down --dir ITS-FOLDER)").format(who=who))
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(exist_ok=True)
    if paths.state.exists():
        paths.state.unlink()
    log = (paths.logs / "supervisor.log").open("ab")
    with log:
        proc = subprocess.Popen([sys.executable, "-m", "itref.lab.supervisor", str(paths.root), str(hosts)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, cwd=paths.root)
    deadline = time.monotonic() + timeout
    last_step = None
    while True:
        state = read_state(paths) or {}
        step = state.get("step")
        if step and step != last_step and on_step:
            on_step(step)
        last_step = step
        if state.get("status") == "ready":
            return state
        if state.get("status") == "failed" or proc.poll() is not None:
            proc.wait(timeout=60)
            state = read_state(paths) or {}
            raise LabError(_("the lab could not start ({error}); details in {log}").format(
                error=state.get("error") or _("the supervisor exited"), log=paths.logs / "supervisor.log"))
        if time.monotonic() > deadline:
            _stop_supervisor(proc.pid, 30)
            raise LabError(_("the lab was not ready within {s:.0f} s; details in {log}").format(
                s=timeout, log=paths.logs / "supervisor.log"))
        time.sleep(0.1)


@dataclass
class Part:
    """One running part of the lab, for ``itref lab status``."""

    name: str
    kind: str
    where: str
    up: bool


@dataclass
class LabStatus:
    """What ``itref lab status`` reports."""

    directory: Path
    status: str
    pid: int | None = None
    parts: list[Part] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    error: str | None = None


def _port_open(address: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def status(directory: Path) -> LabStatus:
    """Return the state of the lab in ``directory`` (``none`` when it was never started there)."""
    paths = LabPaths(directory.absolute())
    state = read_state(paths)
    if state is None:
        return LabStatus(paths.root, "none")
    alive = pid_alive(state.get("pid"))
    label = state.get("status", "?") if alive or state.get("status") in ("stopped", "failed") else "dead"
    result = LabStatus(paths.root, label, state.get("pid"), scenarios=list(state.get("scenarios") or []),
                       error=state.get("error"))
    dc = state.get("dc") or {}
    if dc:
        result.parts.append(Part("dc1", "samba", str(dc.get("url")), alive and pid_alive(dc.get("pid"))
                                 and _port_open("127.0.0.1", 636)))
    for name, host in sorted((state.get("hosts") or {}).items()):
        result.parts.append(Part(name, "sshd", f"{host['address']}:{host['port']}",
                                 alive and _port_open(host["address"], host["port"])))
    if state.get("winrm"):
        result.parts.append(Part(state["winrm"]["host"], "winrm", f"127.0.0.1:{state['winrm']['port']}",
                                 alive and _port_open("127.0.0.1", state["winrm"]["port"])))
    if state.get("intranet"):
        result.parts.append(Part("intranet", "https", f"127.0.0.1:{state['intranet']['port']}",
                                 alive and _port_open("127.0.0.1", state["intranet"]["port"])))
    return result


def _stop_supervisor(pid: int, timeout: float) -> bool:
    """SIGTERM the supervisor and wait; SIGKILL it after ``timeout``; return True if it stopped by itself."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    with_kill = pid_alive(pid)
    if with_kill:
        os.kill(pid, signal.SIGKILL)
    return not with_kill


@dataclass
class DownReport:
    """What ``itref lab down`` did and what it had to clean up itself."""

    was_running: bool
    clean_stop: bool
    killed: list[int] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    wiped: bool = False


def leftovers(paths: LabPaths, state: dict[str, Any] | None) -> tuple[list[int], list[str]]:
    """Return (live pids, attached loop devices) the lab of ``paths`` left behind; both empty when clean."""
    state = state or {}
    pids = [p for p in [state.get("pid"), (state.get("dc") or {}).get("pid"),
                        *[h.get("pid") for h in (state.get("hosts") or {}).values()]] if p and pid_alive(p)]
    loops: list[str] = []
    out = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"], capture_output=True,
                         text=True, check=False).stdout
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].strip().startswith(str(paths.runtime)):
            loops.append(parts[0])
    return pids, loops


def down(directory: Path, *, wipe: bool = False) -> DownReport:
    """Stop the lab of ``directory`` and remove its runtime folder (and the folder itself with ``wipe``).

    Returns what was done; kills and detaches whatever the supervisor left (it should leave nothing).  Raises
    LabError when the directory holds no lab and ``wipe`` was not asked.
    """
    paths = LabPaths(directory.absolute())
    state = read_state(paths)
    if state is None and not wipe:
        raise LabError(_("no lab in {dir} ('itref lab up --dir {dir}' starts one)").format(dir=paths.root))
    report = DownReport(was_running=bool(state and pid_alive(state.get("pid"))), clean_stop=True)
    if report.was_running and state:
        report.clean_stop = _stop_supervisor(int(state["pid"]), 60)
    pids, loops = leftovers(paths, read_state(paths) or state)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            report.killed.append(pid)
        except ProcessLookupError:
            pass
    for device in loops:
        subprocess.run(["losetup", "--detach", device], check=False, capture_output=True)
        report.detached.append(device)
    shutil.rmtree(paths.runtime, ignore_errors=True)
    if wipe and paths.root.exists():
        shutil.rmtree(paths.root)
        report.wiped = True
    return report
