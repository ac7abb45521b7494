"""Real OpenSSH ``sshd`` peers: the practice lab's Linux hosts (and the test suite's, through
``tests/peers/sshd.py``, which adds its test-only helpers: the test account, many loopback hosts, hosts in
network namespaces).

What this module provides (all of it needs root, ``/usr/sbin/sshd`` and ``ssh-keygen``):

* :func:`ensure_user` - an unprivileged local account (shell ``/bin/sh``, the password it is given) that the
  sshd peers accept.
* :class:`SSHKeys` - a per-session ed25519 host key and client key, plus ``known_hosts`` and fingerprint
  helpers.
* :class:`SSHDHost` - one ``sshd -D`` process with its own ``sshd_config`` in a private temp dir, bound to a
  loopback address (any of 127.0.0.0/8) or to an address inside a network namespace.

Every sshd gets ``PR_SET_PDEATHSIG`` so it dies with the test process.  Note that the death signal is tied
to the *thread* that spawned it: hosts must be started from a thread that outlives them (the main thread
under pytest), never from a short-lived worker thread.

sshd puts every accepted connection, and every session command, into a new session (``setsid``), so
killing sshd's process group does not reach them.  :meth:`SSHDHost.kill` therefore freezes the whole
process tree with SIGSTOP (so nothing can fork away), collects it from ``/proc`` and SIGKILLs it.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
PRIVSEP_DIR = Path("/run/sshd")
USER_SHELL = "/bin/sh"
LOCK_DIR = Path("/run")

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child only calls prctl()
_BIND_ERRORS = ("Address already in use", "Cannot bind any address")


class PeerStartError(RuntimeError):
    """An sshd peer (or the network lab around it) could not be started."""


# --------------------------------------------------------------------------------------------------------
# small helpers


def _run(cmd: Sequence[str], *, input: str | None = None, timeout: float = 30) -> str:
    """Run ``cmd``; return its stdout.  Raises PeerStartError with stderr when it fails."""
    try:
        cp = subprocess.run(list(cmd), input=input, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerStartError(f"command {list(cmd)} failed: {exc}") from exc
    if cp.returncode != 0:
        raise PeerStartError(
            f"command {list(cmd)} exited with {cp.returncode}: {cp.stderr.strip() or cp.stdout.strip()}"
        )
    return cp.stdout


def require_root() -> None:
    """Return None if the process runs as root; raise PeerStartError otherwise (sshd peers need root)."""
    if os.geteuid() != 0:
        raise PeerStartError("real sshd peers need root (to run sshd, useradd, ip netns); run the tests as root")


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[None]:
    """Hold an exclusive flock on ``LOCK_DIR/name`` for the duration of the ``with`` block; yields None."""
    fd = os.open(LOCK_DIR / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def ensure_privsep_dir() -> Path:
    """Create sshd's privilege separation dir ``/run/sshd`` (root:root 0755) if missing; return its path.

    Debian's service unit creates it; without systemd nothing does, and the path is compiled into sshd.
    """
    PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    st = PRIVSEP_DIR.stat()
    if st.st_uid != 0 or st.st_mode & 0o022:
        os.chown(PRIVSEP_DIR, 0, 0)
        PRIVSEP_DIR.chmod(0o755)
    return PRIVSEP_DIR


def sshd_version() -> tuple[int, int]:
    """Return the (major, minor) version of ``/usr/sbin/sshd``, e.g. (9, 2)."""
    cp = subprocess.run([SSHD, "-V"], capture_output=True, text=True, check=False)
    m = re.search(r"OpenSSH_(\d+)\.(\d+)", cp.stderr + cp.stdout)
    if not m:
        raise PeerStartError(f"cannot tell the OpenSSH version of {SSHD}: {cp.stderr.strip()!r}")
    return int(m.group(1)), int(m.group(2))


def free_port(address: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``address`` right now (bind to port 0, read it, release it).

    Someone else may take it before sshd binds it: :meth:`SSHDHost.start` retries with another port when
    sshd reports the address is in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------------------
# test user


@dataclass(frozen=True)
class UserInfo:
    """The local account that the sshd peers log in as."""

    name: str
    uid: int
    gid: int
    home: Path
    shell: str
    password: str


def ensure_user(name: str, password: str) -> UserInfo:
    """Create (if missing) the system user ``name`` with a home dir and ``/bin/sh``; return its UserInfo.

    Idempotent and safe when two processes run it at once (flock on ``/run/itref-peer-user.lock``).  The
    password is (re)set with ``chpasswd`` on every call: besides enabling password auth this unlocks the
    account, which matters because with ``UsePAM no`` sshd refuses *every* method, keys included, for an
    account whose shadow password starts with ``!`` (what ``useradd`` leaves).  ``/bin/sh`` (dash) reads no
    rc files for ``sh -c``, so command timings are not distorted by login scripts.
    """
    require_root()
    with _file_lock("itref-peer-user.lock"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            _run(
                [
                    "useradd",
                    "--system",
                    "--create-home",
                    "--user-group",
                    "--shell",
                    USER_SHELL,
                    "--comment",
                    "itref peer user (lab, tests)",
                    name,
                ]
            )
            pw = pwd.getpwnam(name)
        if pw.pw_shell != USER_SHELL:
            _run(["usermod", "--shell", USER_SHELL, name])
        home = Path(pw.pw_dir)
        if not home.is_dir():
            home.mkdir(mode=0o750, parents=True)
            os.chown(home, pw.pw_uid, pw.pw_gid)
        _run(["chpasswd"], input=f"{name}:{password}\n")
        pw = pwd.getpwnam(name)
    return UserInfo(name=name, uid=pw.pw_uid, gid=pw.pw_gid, home=Path(pw.pw_dir), shell=pw.pw_shell, password=password)


# --------------------------------------------------------------------------------------------------------
# keys and known_hosts


def generate_ed25519_key(path: Path, comment: str = "itref-test") -> Path:
    """Generate an unencrypted ed25519 key pair at ``path`` / ``path.pub`` unless it exists; return ``path``."""
    path = Path(path)
    if path.exists() and path.with_name(path.name + ".pub").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, path.with_name(path.name + ".pub")):
        p.unlink(missing_ok=True)  # ssh-keygen would ask "Overwrite (y/n)?"
    _run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path


def read_public_key(private_key: Path) -> str:
    """Return the ``type base64`` part of the ``.pub`` file next to ``private_key`` (comment dropped)."""
    fields = Path(str(private_key) + ".pub").read_text().split()
    return f"{fields[0]} {fields[1]}"


def fingerprint(public_key: str) -> str:
    """Return the OpenSSH SHA256 fingerprint (``SHA256:`` + unpadded base64) of a ``type base64`` key line."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def known_hosts_host(address: str, port: int) -> str:
    """Return the host field of a known_hosts line: ``address`` for port 22, ``[address]:port`` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def known_hosts_line(address: str, port: int, public_key: str) -> str:
    """Return one known_hosts line (no newline) recording ``public_key`` for ``address``/``port``."""
    return f"{known_hosts_host(address, port)} {public_key}"


class SSHKeys:
    """ed25519 host key and client key generated with ``ssh-keygen -q -N ''`` into ``directory``.

    Attributes: ``directory``; ``host_key`` / ``client_key`` (private key paths, the ``.pub`` next to them);
    ``host_public_key`` / ``client_public_key`` (``ssh-ed25519 AAAA...`` strings).
    One instance can serve any number of hosts (they then share the host key).
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.host_key = generate_ed25519_key(self.directory / "host_ed25519", "itref-test-host")
        self.client_key = generate_ed25519_key(self.directory / "client_ed25519", "itref-test-client")
        self.host_public_key = read_public_key(self.host_key)
        self.client_public_key = read_public_key(self.client_key)

    def known_hosts_line(self, address: str, port: int = 22) -> str:
        """Return the known_hosts line for the host key at ``address``:``port`` (``[a]:p`` form unless 22)."""
        return known_hosts_line(address, port, self.host_public_key)

    def host_fingerprint(self) -> str:
        """Return the host key's fingerprint as ``ssh-keygen -l`` prints it (``SHA256:...``)."""
        return fingerprint(self.host_public_key)

    def client_fingerprint(self) -> str:
        """Return the client key's fingerprint as ``ssh-keygen -l`` prints it (``SHA256:...``)."""
        return fingerprint(self.client_public_key)

    def other_host_key(self, name: str = "other") -> Path:
        """Generate (once per ``name``) another host key, different from ``host_key``; return its path.

        Start an :class:`SSHDHost` with ``host_key=keys.other_host_key()`` while known_hosts records
        ``host_key`` to test "host key changed"; or record this one with :func:`write_known_hosts`.
        """
        return generate_ed25519_key(self.directory / f"host_ed25519_{name}", f"itref-test-host-{name}")


def write_known_hosts(path: Path | str, hosts: Iterable[SSHDHost], *, public_key: str | None = None) -> Path:
    """Write a known_hosts file with one line per host (its real host key unless ``public_key`` is given).

    Pass ``public_key=read_public_key(keys.other_host_key())`` to record a key *different* from what the
    hosts present.  Returns ``path``.
    """
    path = Path(path)
    lines = [known_hosts_line(h.address, h.port, public_key or h.host_public_key) for h in hosts]
    path.write_text("".join(line + "\n" for line in lines))
    return path


# --------------------------------------------------------------------------------------------------------
# process trees


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    start: int  # starttime in clock ticks: tells a pid apart from a later process reusing it
    state: str


def _proc_table() -> dict[int, _Proc]:
    """Return every process in /proc as {pid: _Proc}."""
    table: dict[int, _Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()  # the comm field may contain spaces and ")"
        pid = int(entry.name)
        table[pid] = _Proc(pid=pid, ppid=int(fields[1]), start=int(fields[19]), state=fields[0])
    return table


def _signal(proc: _Proc, sig: int) -> None:
    """Send ``sig`` to ``proc`` if that pid still is the same process; return None."""
    try:
        with open(f"/proc/{proc.pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
        if int(raw[raw.rfind(")") + 2 :].split()[19]) != proc.start:
            return
        os.kill(proc.pid, sig)
    except (OSError, ValueError, IndexError):
        pass


def _freeze_trees(roots: Iterable[int], timeout: float = 2.0) -> list[_Proc]:
    """SIGSTOP the processes ``roots`` and all their descendants; return them (roots first).

    Repeats until a scan finds no new child and every collected process is stopped (or dead), so a
    process that was forking when it got SIGSTOP cannot leave an unseen child behind.
    """
    table = _proc_table()
    frozen: dict[int, _Proc] = {pid: table[pid] for pid in roots if pid in table}
    for p in frozen.values():
        _signal(p, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while True:
        table = _proc_table()
        new = [p for p in table.values() if p.ppid in frozen and p.pid not in frozen]
        for p in new:
            frozen[p.pid] = p
            _signal(p, signal.SIGSTOP)
        running = [pid for pid in frozen if pid in table and table[pid].state not in "TtZX"]
        if not new and not running:
            return list(frozen.values())
        if time.monotonic() > deadline:
            return list(frozen.values())  # best effort: SIGKILL follows anyway
        time.sleep(0.001)


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """Return a preexec_fn: ask for SIGKILL when the spawning thread dies; die now if it already did."""

    def setup() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


# --------------------------------------------------------------------------------------------------------
# one sshd


def _user_can_traverse(path: Path, user: UserInfo) -> str | None:
    """Return None if ``user`` can reach and read ``path``; else the first component that blocks it."""
    for p in [*reversed(path.parents), path]:
        st = p.stat()
        need = 0o4 if p == path else 0o1
        if st.st_uid == user.uid:
            ok = st.st_mode & (need << 6)
        elif st.st_gid == user.gid:
            ok = st.st_mode & (need << 3)
        else:
            ok = st.st_mode & need
        if not ok:
            return str(p)
    return None


class SSHDHost:
    """One real ``sshd -D -e -f CONF`` process in its own process group, with its own temp dir.

    Attributes after :meth:`start`:
      ``address``, ``port`` - where it listens; ``username``, ``password`` (of ``user``, a :class:`UserInfo`);
      ``client_key`` (private key path for key auth); ``known_hosts`` (a file holding this host's line);
      ``host_key`` / ``host_public_key``; ``hostname`` (what ``hostname`` prints over SSH);
      ``proc`` (the :class:`subprocess.Popen` of sshd, ``proc.pid`` is sshd's pid); ``workdir`` (config,
      pid file, authorized_keys, ``sshd.log``); ``netns`` (network namespace name or None);
      ``start_seconds`` (time from spawn to SSH banner).

    ``hostname``: if given, sshd runs in a new UTS namespace with that hostname (``unshare --uts``); otherwise
    it reports the machine's hostname.  ``setup``: shell lines run as root just before sshd, in a private mount
    namespace of the host's own (``unshare --mount``): what they mount (a small disk of the host's own, say)
    only this host's sessions see, and it goes away with sshd.
    ``port=None`` picks a free port (retrying if sshd loses the race), or 22 with ``netns`` (a namespace given
    by the caller must already have ``address`` configured).
    Use it as a context manager, or call :meth:`start` and :meth:`stop` / :meth:`kill`.
    """

    def __init__(
        self,
        keys: SSHKeys,
        user: UserInfo,
        address: str = "127.0.0.1",
        port: int | None = None,
        *,
        host_key: Path | None = None,
        hostname: str | None = None,
        netns: str | None = None,
        log_level: str = "VERBOSE",
        extra_config: Sequence[str] = (),
        start_timeout: float = 15.0,
        base_dir: Path | str | None = None,
        setup: Sequence[str] = (),
    ) -> None:
        self.keys = keys
        self.user = user
        self.address = address
        self.port = port if port is not None else (22 if netns else 0)
        self._auto_port = port is None and netns is None  # free_port() only sees the current namespace
        self.host_key = Path(host_key) if host_key else keys.host_key
        self.host_public_key = read_public_key(self.host_key)
        self.client_key = keys.client_key
        self.netns = netns
        self._uts_hostname = hostname
        self.hostname = hostname or socket.gethostname()
        self.log_level = log_level
        self.extra_config = list(extra_config)
        self.setup = list(setup)
        self.start_timeout = start_timeout
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.gettempdir())
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix=f"itref-sshd-{os.getpid()}-", dir=self.base_dir))
        self.workdir.chmod(0o755)  # the test user must read authorized_keys in here
        self.config_path = self.workdir / "sshd_config"
        self.pid_file = self.workdir / "sshd.pid"
        self.authorized_keys = self.workdir / "authorized_keys"
        self.known_hosts = self.workdir / "known_hosts"
        self.log_path = self.workdir / "sshd.log"
        self._t0 = 0.0

    # -- public attributes ------------------------------------------------------------------------------
    @property
    def username(self) -> str:
        """Return the login name of the test user."""
        return self.user.name

    @property
    def password(self) -> str:
        """Return the test user's password (password auth is enabled)."""
        return self.user.password

    @property
    def pid(self) -> int | None:
        """Return sshd's pid, or None when not started."""
        return self.proc.pid if self.proc else None

    def known_hosts_line(self) -> str:
        """Return this host's known_hosts line (``[addr]:port ssh-ed25519 ...`` or ``addr ...`` on port 22)."""
        return known_hosts_line(self.address, self.port, self.host_public_key)

    def connect_kwargs(self, *, password: bool = False, timeout: float = 10) -> dict[str, Any]:
        """Return keyword arguments for ``paramiko.SSHClient.connect`` (key auth, or password if asked)."""
        kw: dict[str, Any] = {
            "hostname": self.address,
            "port": self.port,
            "username": self.username,
            "look_for_keys": False,
            "allow_agent": False,
            "timeout": timeout,
            "banner_timeout": timeout,
            "auth_timeout": timeout,
        }
        if password:
            kw["password"] = self.password
        else:
            kw["key_filename"] = str(self.client_key)
        return kw

    def log_text(self) -> str:
        """Return what sshd has written to its stderr (``-e``) so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __repr__(self) -> str:
        where = f" netns={self.netns}" if self.netns else ""
        return f"<SSHDHost {self.hostname} {self.address}:{self.port}{where} pid={self.pid}>"

    # -- config -------------------------------------------------------------------------------------------
    def render_config(self) -> str:
        """Return the text of the sshd_config this host runs with."""
        lines = [
            f"Port {self.port}",
            f"ListenAddress {self.address}",
            "AddressFamily inet",
            f"HostKey {self.host_key}",
            f"PidFile {self.pid_file}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "PermitEmptyPasswords no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            f"AllowUsers {self.user.name}",
            "UsePAM no",
            "StrictModes no",  # temp dirs live under /tmp (mode 1777) which StrictModes rejects
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "Subsystem sftp internal-sftp",
            f"LogLevel {self.log_level}",
            "MaxStartups 1000",  # default 10:30:100 drops concurrent unauthenticated connections
            "MaxSessions 1000",
            "MaxAuthTries 20",
            "LoginGraceTime 60",
        ]
        if _sshd_version_cached() >= (9, 8):
            lines.append("PerSourcePenalties no")  # 9.8+ would lock 127.0.0.1 out after failed-auth tests
        lines.extend(self.extra_config)
        return "".join(line + "\n" for line in lines)

    def _command(self) -> list[str]:
        """Return the argv that starts sshd (wrapped in ``ip netns exec`` / ``unshare --uts`` as needed)."""
        sshd = [SSHD, "-D", "-e", "-f", str(self.config_path)]
        if self.setup:
            script = "set -e; " + "; ".join(self.setup) + "; "
            if self._uts_hostname:
                script += 'hostname "$1"; '
            script += 'shift; exec "$@"'
            sshd = ["unshare", "--mount", "--propagation", "private", *(["--uts"] if self._uts_hostname else []),
                    "/bin/sh", "-c", script, "sh", self._uts_hostname or "-", *sshd]
        elif self._uts_hostname:
            sshd = [
                "unshare",
                "--uts",
                "/bin/sh",
                "-c",
                'hostname "$1" && shift && exec "$@"',
                "sh",
                self._uts_hostname,
                *sshd,
            ]
        if self.netns:
            sshd = ["ip", "netns", "exec", self.netns, *sshd]
        return sshd

    # -- lifecycle ----------------------------------------------------------------------------------------
    def spawn(self) -> None:
        """Write the config and launch sshd without waiting for it; return None.  See :meth:`wait_ready`."""
        require_root()
        if self.proc is not None and self.proc.poll() is None:
            raise PeerStartError(f"{self!r} is already running")
        if not Path(SSHD).exists():
            raise PeerStartError(f"{SSHD} is missing: apt-get install openssh-server")
        ensure_privsep_dir()
        if self.port == 0:
            self.port = free_port(self.address)
        self.authorized_keys.write_text(self.keys.client_public_key + "\n")
        self.authorized_keys.chmod(0o644)
        blocked = _user_can_traverse(self.authorized_keys, self.user)
        if blocked:
            raise PeerStartError(f"user {self.user.name} cannot read {self.authorized_keys}: {blocked} blocks it")
        self.config_path.write_text(self.render_config())
        self.known_hosts.write_text(self.known_hosts_line() + "\n")
        self.pid_file.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- itref: starting {' '.join(self._command())}\n".encode())
            log.flush()
            self._t0 = time.monotonic()
            self.proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_child_setup(os.getpid()),
                close_fds=True,
            )

    def wait_ready(self, timeout: float | None = None) -> float:
        """Wait until the SSH banner (``SSH-2.0``) answers; return the seconds since spawn.

        Raises PeerStartError with sshd's stderr if sshd exits or the timeout (``start_timeout``) passes.
        """
        if self.proc is None:
            raise PeerStartError("wait_ready() before spawn()")
        deadline = time.monotonic() + (timeout if timeout is not None else self.start_timeout)
        last_error = "no attempt"
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise PeerStartError(
                    f"sshd for {self.address}:{self.port} exited with {rc} before answering; "
                    f"config {self.config_path}; sshd stderr:\n{self.log_text()}"
                )
            try:
                with socket.create_connection((self.address, self.port), timeout=1.0) as s:
                    banner = s.recv(256)
                if banner.startswith(b"SSH-2.0"):
                    self.start_seconds = time.monotonic() - self._t0
                    return self.start_seconds
                last_error = f"unexpected banner {banner[:60]!r}"
            except OSError as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                self.kill()
                raise PeerStartError(
                    f"sshd for {self.address}:{self.port} did not answer an SSH banner within "
                    f"{timeout if timeout is not None else self.start_timeout} s (last: {last_error}); "
                    f"sshd stderr:\n{self.log_text()}"
                )
            time.sleep(0.005)

    def _bind_failed(self) -> bool:
        return (
            self.proc is not None and self.proc.poll() is not None and any(e in self.log_text() for e in _BIND_ERRORS)
        )

    def start(self, attempts: int = 5) -> SSHDHost:
        """Start sshd and wait for its banner; return self.

        With an automatic port, retries up to ``attempts`` times with a new port if the one picked was
        taken meanwhile.  A restart after :meth:`kill` / :meth:`stop` keeps the same port.  Raises
        PeerStartError (with sshd's stderr) when it cannot start.
        """
        for attempt in range(attempts):
            self.spawn()
            try:
                self.wait_ready()
                return self
            except PeerStartError:
                if not (self._auto_port and self._bind_failed()) or attempt == attempts - 1:
                    raise
                self.port = 0  # lost the race for that port: pick another one
        raise AssertionError("unreachable")

    def kill(self) -> None:
        """SIGKILL sshd and everything it spawned (per-connection sshd, session commands); return None.

        Connections see their TCP session drop at once.  sshd moves each connection and each session
        command into a new session, so the process group alone is not enough: the whole tree is frozen
        (SIGSTOP), collected from /proc, then killed.
        """
        if self.proc is None or self.proc.poll() is not None:
            return
        _kill_procs(_freeze_trees([self.proc.pid]), [self.proc])

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop sshd and its children (SIGTERM, then SIGKILL after ``timeout``); return sshd's exit status.

        Returns None if sshd was never started.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            _terminate_procs(_freeze_trees([self.proc.pid]), [self.proc], timeout)
        return self.proc.returncode

    def close(self) -> None:
        """Stop sshd and remove the temp dir; return None."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SSHDHost:
        if self.proc is None or self.proc.poll() is not None:
            try:
                self.start()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_VERSION: tuple[int, int] | None = None


def _sshd_version_cached() -> tuple[int, int]:
    global _VERSION
    if _VERSION is None:
        _VERSION = sshd_version()
    return _VERSION


def _is_running(proc: _Proc) -> bool:
    """Return True if ``proc`` (same pid and start time) exists and is not a zombie yet."""
    try:
        with open(f"/proc/{proc.pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except OSError:
        return False
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[19]) == proc.start and fields[0] not in ("Z", "X")


def _kill_procs(procs: list[_Proc], popens: Sequence[subprocess.Popen[bytes]], timeout: float = 5.0) -> None:
    """SIGKILL ``procs`` (frozen trees), reap ``popens`` and wait until every proc is dead; return None.

    SIGKILL is asynchronous: without the wait a killed session command can still show up as running
    for a few milliseconds after kill() returned.
    """
    for p in procs:
        _signal(p, signal.SIGKILL)
    for popen in popens:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)  # its own process group: anything not seen in /proc
        popen.wait()
    deadline = time.monotonic() + timeout
    pending = [p for p in procs if _is_running(p)]
    while pending and time.monotonic() < deadline:
        time.sleep(0.001)
        pending = [p for p in pending if _is_running(p)]


def _terminate_procs(procs: list[_Proc], popens: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM + SIGCONT ``procs``, wait up to ``timeout`` for ``popens``, then SIGKILL what is left."""
    for p in procs:
        _signal(p, signal.SIGTERM)
        _signal(p, signal.SIGCONT)
    deadline = time.monotonic() + timeout
    for popen in popens:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(max(0.0, deadline - time.monotonic()))
    _kill_procs(procs, popens)


# --------------------------------------------------------------------------------------------------------
# many loopback hosts
