"""``itref lab up|status|down``: start the lab's supervisor, follow it, ask after it, stop it and check that
nothing it started is left (process, mount, loop device, runtime folder)."""

from __future__ import annotations

import contextlib
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
from itref.lab.layout import RUNTIME_ROOT, LabPaths, lab_name, lock_held, process_mentions, read_state

# tool (a command on PATH, or an absolute path) → Debian package that brings it.  The AD schema file is what
# ``samba-tool domain provision`` reads (itref.lab.peers.samba.PROVISION_FILE): samba-ad-provision ships it, and
# it is only a Recommends of samba-ad-dc, so an install without recommends has samba but cannot provision.
REQUIRED_TOOLS = {
    "samba": "samba-ad-dc", "samba-tool": "samba",
    "/usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf": "samba-ad-provision",
    "/usr/sbin/sshd": "openssh-server", "ssh-keygen": "openssh-client", "restic": "restic", "borg": "borgbackup",
    "nsenter": "util-linux", "unshare": "util-linux", "mkfs.ext4": "e2fsprogs", "openssl": "openssl",
    "fallocate": "util-linux",
}
READY_TIMEOUT = 300.0
RUNNING = ("starting", "ready")
STATUS_WORDS = {"none": N_("none"), "starting": N_("starting"), "ready": N_("ready"), "failed": N_("failed"),
                "stopping": N_("stopping"), "stopped": N_("stopped"), "dead": N_("dead: its supervisor is gone")}


# What the supervisor writes as ``error`` in lab.json when it knows the cause; anything else is an exception's text.
ERROR_WORDS = {"samba-exited": N_("samba exited on its own (see logs/samba.stdout in the DC folder)")}


def describe_error(error: str | None) -> str | None:
    """Return the supervisor's ``error`` in the reader's language (an exception's own text is returned as is)."""
    if error is None:
        return None
    return _(ERROR_WORDS[error]) if error in ERROR_WORDS else error


class LabError(ItrefError):
    """The lab cannot be started, found or stopped as asked."""


def missing_packages() -> list[str]:
    """Return the Debian packages missing for the lab (one per missing tool or file, without repeats)."""
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
    """Return the lab's state while its supervisor holds the lab's lock, else None."""
    return (read_state(paths) or {"pid": "?"}) if lock_held(paths) else None


def _is_lab_folder(paths: LabPaths, state: dict[str, Any] | None) -> bool:
    """Return True when ``paths.root`` holds a lab made by ``itref lab up`` (its state names this very folder)."""
    return bool(state) and state.get("name") == lab_name(paths.root) and (
        str(state.get("runtime", "")) == str(RUNTIME_ROOT / lab_name(paths.root)))


def up(directory: Path, hosts: int, *, on_step: Callable[[str], None] | None = None,
       timeout: float = READY_TIMEOUT) -> dict[str, Any]:
    """Start the lab in ``directory`` with ``hosts`` Linux hosts and wait until it is ready; return its state.

    Raises LabError when the machine cannot run it, when this lab already runs, when another lab (or any DC)
    holds the directory's ports, or when a part fails to start (the supervisor then stops what it started).
    Ctrl-C while it starts stops what was started, then raises KeyboardInterrupt.
    """
    import fcntl

    from itref.lab.peers.samba import TCP_PORTS, tcp_port_holders
    from itref.lab.world import lab_hosts

    try:
        lab_hosts(hosts)
    except ValueError as exc:
        raise UsageError(_("--hosts takes 1 to 40")) from exc
    paths = LabPaths(directory.absolute())
    if len(str(paths.dc)) > 70:
        raise LabError(_("the lab's folder path is too long for samba's sockets ({n} characters, at most {max}): "
                         "choose a shorter --dir").format(n=len(str(paths.dc)) - 3, max=67))
    check_machine()
    if paths.root.exists() and any(paths.root.iterdir()) and not paths.state.exists():
        raise LabError(_("{dir} is not empty and holds no lab: choose an empty or new folder").format(dir=paths.root))
    if _running_state(paths):
        raise LabError(_("this lab already runs (supervisor pid {pid}); 'itref lab status --dir {dir}' shows it, "
                         "'itref lab down --dir {dir}' stops it").format(pid=(read_state(paths) or {}).get("pid"),
                                                                         dir=paths.root))
    busy = tcp_port_holders(TCP_PORTS)
    if busy:
        who = ", ".join(f"{b.address}:{b.port} (pid {b.pid or '?'})" for b in busy)
        raise LabError(_("another lab or domain controller already uses the directory's ports on this machine "
                         "({who}); stop it first (itref lab down --dir ITS-FOLDER)").format(who=who))
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(exist_ok=True)
    lock = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the supervisor inherits it and holds it
        except BlockingIOError as exc:
            raise LabError(_("this lab is being started or stopped by another command; try again in a moment")) \
                from exc
        paths.state.unlink(missing_ok=True)
        with (paths.logs / "supervisor.log").open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "itref.lab.supervisor", str(paths.root), str(hosts),
                                     str(lock)], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, pass_fds=(lock,), cwd=paths.root)
    finally:
        os.close(lock)
    try:
        return _wait_ready(paths, proc, timeout, on_step)
    except KeyboardInterrupt:
        _stop_supervisor(proc.pid, 30)
        proc.wait(timeout=30)
        raise


def _wait_ready(paths: LabPaths, proc: subprocess.Popen[bytes], timeout: float,
                on_step: Callable[[str], None] | None) -> dict[str, Any]:
    """Follow the supervisor's state until the lab is ready; return the state. Raises LabError otherwise."""
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
                error=describe_error(state.get("error")) or _("the supervisor exited"),
                log=paths.logs / "supervisor.log"))
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
    up: bool | None  # None: not visible from here (the lab runs in another network namespace)


@dataclass
class LabStatus:
    """What ``itref lab status`` reports."""

    directory: Path
    status: str
    pid: int | None = None
    parts: list[Part] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    error: str | None = None
    other_netns: bool = False  # the lab listens in another network namespace than this process's


def _netns(pid: int | str) -> str | None:
    """Return the network namespace of ``pid`` ("self" for this process), e.g. ``net:[4026531840]``, or None."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


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
    alive = lock_held(paths)
    label = state.get("status", "?") if alive or state.get("status") in ("stopped", "failed") else "dead"
    result = LabStatus(paths.root, label, state.get("pid"), scenarios=list(state.get("scenarios") or []),
                       error=describe_error(state.get("error")))
    if alive and state.get("pid"):
        theirs = _netns(state["pid"])
        result.other_netns = theirs is not None and theirs != _netns("self")

    def up(check: Callable[[], bool]) -> bool | None:
        if not alive:
            return False
        return None if result.other_netns else check()

    dc = state.get("dc") or {}
    if dc:
        result.parts.append(Part("dc1", "samba", str(dc.get("url")), up(
            lambda: process_mentions(dc.get("pid"), str(paths.dc)) and _port_open("127.0.0.1", 636))))
    for name, host in sorted((state.get("hosts") or {}).items()):
        result.parts.append(Part(name, "sshd", f"{host['address']}:{host['port']}",
                                 up(lambda h=host: _port_open(h["address"], h["port"]))))
    for key, name, kind in (("winrm", None, "winrm"), ("intranet", "intranet", "https")):
        if state.get(key):
            port = state[key]["port"]
            result.parts.append(Part(name or state[key]["host"], kind, f"127.0.0.1:{port}",
                                     up(lambda p=port: _port_open("127.0.0.1", p))))
    return result


def _stop_supervisor(pid: int, timeout: float) -> bool:
    """SIGTERM the supervisor and wait; SIGKILL it after ``timeout``; return True if it stopped by itself."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_mentions(pid, "itref.lab.supervisor"):
            return True
        time.sleep(0.1)
    if process_mentions(pid, "itref.lab.supervisor"):
        os.kill(pid, signal.SIGKILL)
        return False
    return True


@dataclass
class DownReport:
    """What ``itref lab down`` did, what it had to clean up itself, and what is still there (nothing, normally)."""

    was_running: bool
    clean_stop: bool
    killed: list[int] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    wiped: bool = False
    remaining_processes: list[int] = field(default_factory=list)
    remaining_loops: list[str] = field(default_factory=list)
    remaining_runtime: bool = False

    @property
    def clean(self) -> bool:
        """Return True when nothing of the lab is left running or attached."""
        return not (self.remaining_processes or self.remaining_loops or self.remaining_runtime)


def leftovers(paths: LabPaths, state: dict[str, Any] | None) -> tuple[list[int], list[str]]:
    """Return (live pids, attached loop devices) the lab of ``paths`` left behind; both empty when clean.

    A pid counts only if its command line still names the lab's folder or runtime folder (a pid may have been
    reused by an unrelated process since).
    """
    state = state or {}
    candidates = [(state.get("pid"), str(paths.root)), ((state.get("dc") or {}).get("pid"), str(paths.dc)),
                  *[(h.get("pid"), str(paths.runtime)) for h in (state.get("hosts") or {}).values()]]
    pids = [pid for pid, marker in candidates if process_mentions(pid, marker)]
    loops: list[str] = []
    out = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"], capture_output=True,
                         text=True, check=False).stdout
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].strip().startswith(str(paths.runtime) + "/"):
            loops.append(parts[0])
    return pids, loops


def down(directory: Path, *, wipe: bool = False) -> DownReport:
    """Stop the lab of ``directory`` and remove its runtime folder (and the folder itself with ``wipe``).

    Returns what was done and what is left (kills and detaches whatever the supervisor left, then looks again).
    Raises LabError when not root, when the directory holds no lab, and refuses ``wipe`` on a folder that is
    not a lab's.
    """
    paths = LabPaths(directory.absolute())
    state = read_state(paths)
    if not _is_lab_folder(paths, state):
        raise LabError(_("no lab in {dir} ('itref lab up --dir {dir}' starts one)").format(dir=paths.root))
    if os.geteuid() != 0:
        raise LabError(_("the lab runs as root: stop it as root (sudo itref lab down)"))
    report = DownReport(was_running=lock_held(paths), clean_stop=True)
    if report.was_running and state and process_mentions(state.get("pid"), "itref.lab.supervisor"):
        report.clean_stop = _stop_supervisor(int(state["pid"]), 60)
    pids, loops = leftovers(paths, read_state(paths) or state)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            report.killed.append(pid)
        except ProcessLookupError:
            pass
    for device in loops:
        if subprocess.run(["losetup", "--detach", device], check=False, capture_output=True).returncode == 0:
            report.detached.append(device)
    shutil.rmtree(paths.runtime, ignore_errors=True)
    with contextlib.suppress(OSError):  # the shared parent goes with the last lab
        RUNTIME_ROOT.rmdir()
    time.sleep(0.2 if pids else 0)
    report.remaining_processes, report.remaining_loops = leftovers(paths, read_state(paths) or state)
    report.remaining_runtime = paths.runtime.exists()
    if wipe and report.clean and paths.root.exists():
        shutil.rmtree(paths.root)
        report.wiped = True
    return report
