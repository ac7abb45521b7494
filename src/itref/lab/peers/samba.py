"""A real Samba Active Directory domain controller for the itref test suite (and the practice lab).

Nothing here imports pytest: the same module drives the test fixtures and a user-facing lab.

What it provides (needs root and the Debian packages ``samba``, ``samba-ad-dc``, ``samba-ad-provision``;
``krb5-user`` for :func:`kinit`):

* :class:`SambaTemplate` - provisions a DC **once** into a cache directory and reuses it afterwards.
  Location: ``samba-tmpl/<key>`` in this machine's itref cache (``$ITREF_CACHE_DIR``, else ``~/.cache/itref``), where
  ``<key>`` is the samba version plus a hash of the provisioning recipe (settings, seed objects and the source
  of the functions that build it), so any change re-provisions.  Building is serialised with a file lock
  (two test processes never provision at once) and atomic (build in a private temp dir, copy into the cache,
  publish with one ``rename``).  Building runs ``samba-tool domain provision -s SEED`` with a seed smb.conf of
  its own (never ``/etc/samba/smb.conf``), starts the DC once so that it generates its TLS key and
  certificate, creates the seed OUs and groups online over LDAPS (validating the CA on the way), stops it and
  deletes its sockets and pid files (``shutil.copytree`` cannot copy unix sockets).
* :class:`SambaDC` - a context manager that clones the template into a directory of its own, rewrites the
  paths in ``etc/smb.conf`` (the only file holding absolute paths) and runs
  ``samba -i -M single -s CONF --maximum-runtime=N`` in its own process group.  :meth:`SambaDC.start` returns
  once an LDAPS TLS handshake validated against the DC's CA plus an anonymous rootDSE search work *and* the
  socket listening on 127.0.0.1:636 belongs to this samba.  ``stop()`` (SIGTERM, then SIGKILL to the
  group), ``kill()`` (SIGKILL at once) and a new ``start()`` on the same directory resume with the same data.
* :func:`ldap_connection` - a bound ldap3 connection over LDAPS with CA and name validation (SIMPLE bind).
* :func:`kinit` - MIT ``kinit`` against the DC, with its own krb5.conf and a private credential cache.

The domain (fixed; change :data:`RECIPE` and the template is rebuilt):

* realm ``LAB.EXAMPLE.TEST``, NetBIOS domain ``LAB``, DC ``DC1``, base DN ``DC=lab,DC=example,DC=test``;
  ``Administrator@lab.example.test`` with a random password made when the template is built and kept in it
  (:data:`ADMIN_PASSWORD_FILE`, mode 0600; samba-tool's own, seen on its command line, is replaced at once), set
  to never expire (with the default
  42-day maximum age, a cached template would otherwise lock the admin out six weeks after it was built);
* OUs ``OU=Commune``, ``OU=CPAS``, ``OU=Social,OU=CPAS``, ``OU=ASBL-Sports``, ``OU=Departed``;
* global security groups (``groupType`` -2147483646): ``GG-Commune`` in ``OU=Commune``, ``GG-CPAS-Social`` in
  ``OU=Social,OU=CPAS``, ``GG-Tous`` in ``CN=Users`` (see :data:`SEED_GROUPS` / :func:`group_dn`);
* the **default password policy** of a fresh Samba domain: minimum length 7, complexity on, history 24,
  maximum age 42 days, minimum age 1 day (an administrator reset ignores it), no lockout.  A weak password
  gives ``constraintViolation`` with ``0000052D`` in the message.

Network: only the ``ldap cldap kdc rpc`` services (no DNS on port 53, no SMB on 445, no NBT), ``interfaces =
lo`` and ``bind interfaces only``: samba listens on 127.0.0.1 and ::1 only (tcp 88, 135, 389, 464, 636, 3268,
3269, 49152-49154; udp 88, 389, 464).  These ports are fixed, so **only one DC can run per network
namespace**: a second :meth:`SambaDC.start` fails at once, naming the process that holds the ports.  Tests
share one DC and create their objects under names of their own; a destructive test stops and starts that
same DC.  For several DCs at once, run each in its own network namespace.  Building a template starts a DC
too, so it needs the same ports free: build it (``SambaTemplate().ensure()``, which :meth:`SambaDC.start`
calls) before any DC of another recipe runs in the namespace.

Safety nets against orphans, all three at once: ``PR_SET_PDEATHSIG`` (SIGKILL when the *thread* that called
:meth:`SambaDC.start` ends - start DCs from a thread that outlives them, e.g. the main thread), samba's stdin
is a pipe held by this process (samba ends itself on EOF, i.e. when this process dies, whatever thread
started it) and ``--maximum-runtime``.

Unix socket paths are limited to 108 bytes and samba creates ``DIR/run/ncalrpc/np/protected_storage``: a
DC directory must be at most :data:`MAX_DIR_LENGTH` characters long.  Default DC directories are short
``/tmp/itref-dc-PID-*`` temp dirs, and the template is built in a ``/tmp/itref-tmpl-PID-*`` one; dirs of
either kind left by a SIGKILLed process are deleted by the next process that makes one.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import inspect
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from ldap3 import ALL, BASE, MODIFY_REPLACE, NONE, SCHEMA, SIMPLE, Connection, Server, Tls

from itref.lab.layout import pid_alive as _pid_alive

REALM = "LAB.EXAMPLE.TEST"
DNS_DOMAIN = "lab.example.test"
DOMAIN = "LAB"
NETBIOS_NAME = "DC1"
BASE_DN = "DC=lab,DC=example,DC=test"
ADMIN_USER = f"Administrator@{DNS_DOMAIN}"
ADMIN_PASSWORD_FILE = "private/itref-admin-password"
"""In a template and in each DC cloned from it: the domain administrator's password, random, made when the
template is built (mode 0600; the lab gives its own DC another one at its first start)."""
HOST = "127.0.0.1"
LDAP_PORT = 389
LDAPS_PORT = 636
KDC_PORT = 88
TCP_PORTS = (88, 135, 389, 464, 636, 3268, 3269)  # checked free before samba starts
GLOBAL_SECURITY_GROUP = -2147483646  # groupType: global scope | security enabled

SEED_OUS = ("OU=Commune", "OU=CPAS", "OU=Social,OU=CPAS", "OU=ASBL-Sports", "OU=Departed")
SEED_GROUPS = {  # sAMAccountName -> parent container (relative to BASE_DN)
    "GG-Commune": "OU=Commune",
    "GG-CPAS-Social": "OU=Social,OU=CPAS",
    "GG-Tous": "CN=Users",
}
PASSWORD_POLICY = {  # Samba's defaults, left as they are
    "minPwdLength": 7,
    "complexity": True,
    "pwdHistoryLength": 24,
    "maxPwdAge_days": 42,
    "minPwdAge_days": 1,
    "lockoutThreshold": 0,
}
SERVER_SERVICES = "ldap cldap kdc rpc"

# Everything that shapes the provisioned template; with the source of the build functions it makes the key.
RECIPE: dict[str, Any] = {
    "realm": REALM,
    "domain": DOMAIN,
    "netbios_name": NETBIOS_NAME,
    "host_name": NETBIOS_NAME.lower(),
    "admin_password": "random, made at build time, kept in " + ADMIN_PASSWORD_FILE,
    "server_services": SERVER_SERVICES,
    "dns_backend": "NONE",
    "ous": list(SEED_OUS),
    "groups": SEED_GROUPS,
    "admin_password_never_expires": True,
}

# The AD schema that ``samba-tool domain provision`` reads; Debian ships it in samba-ad-provision, which is only a
# Recommends of samba-ad-dc (so an install without recommends lacks it, and provisioning fails).
PROVISION_FILE = Path("/usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf")
PROVISION_PACKAGE = "samba-ad-provision"
TEMPLATE_START_TIMEOUT = 120.0  # the template's first start generates the TLS keys (seconds when quiet)
MAX_DIR_LENGTH = 70  # 108-byte sun_path minus "/run/ncalrpc/np/protected_storage" and some margin
TEMPLATE_MAX_AGE_DAYS = 300  # rebuild well before the autogenerated certificate (about 700 days) expires
STALE_TEMPLATE_DAYS = 7  # other templates unused for that long are pruned when a new one is built
META_FILE = "template.json"  # in a template: how it was built
DC_MARKER = "itref-dc.json"  # in a DC directory: where it came from and where it was
LOG_NAME = "samba.stdout"  # samba -i logs to stdout: DIR/log/samba.stdout

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child only calls prctl()
_STRIP_ENV = ("PYTHONPATH", "PYTHONHOME", "KRB5_CONFIG", "KRB5CCNAME", "KRB5_KTNAME", "LD_PRELOAD")


class SambaPeerError(RuntimeError):
    """The Samba DC (or its template) could not be built, started or stopped; the message has samba's log."""


# --------------------------------------------------------------------------------------------------------
# small helpers


def group_dn(name: str) -> str:
    """Return the DN of the seed group ``name`` (one of :data:`SEED_GROUPS`)."""
    return f"CN={name},{SEED_GROUPS[name]},{BASE_DN}"


def ou_dn(ou: str) -> str:
    """Return the full DN of a seed OU given relative to the base DN (``"OU=Social,OU=CPAS"``)."""
    return f"{ou},{BASE_DN}"


def default_cache_root() -> Path:
    """Return this machine's cache folder for itref (``$ITREF_CACHE_DIR``, else ``~/.cache/itref``), where the
    provisioned DC template is kept for the lab (and the test suite) to clone."""
    from itref.state.folder import machine_cache

    return machine_cache()


def admin_password_of(directory: Path) -> str:
    """Return the domain administrator's password of the template or DC in ``directory``. Raises SambaPeerError
    when it has none (a template built by an earlier itref, with a well-known password: rebuild it)."""
    try:
        return (directory / ADMIN_PASSWORD_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        raise SambaPeerError(f"{directory} holds no {ADMIN_PASSWORD_FILE}: it was made by an earlier itref; "
                             "remove it to have it made again") from None


def _clean_env(**extra: str) -> dict[str, str]:
    """Return os.environ without variables that would leak into samba or samba-tool, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIP_ENV}
    env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    env.update(extra)
    return env


def _which(name: str) -> str:
    """Return the path of the executable ``name`` (also looking in /usr/sbin); raise SambaPeerError if absent."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        raise SambaPeerError(f"{name} is missing: apt-get install samba samba-ad-dc {PROVISION_PACKAGE} krb5-user")
    return found


def _run(cmd: list[str], *, timeout: float, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (clean env, no terminal); return it; raise SambaPeerError with its output if it fails."""
    try:
        cp = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_clean_env(),
            check=False,
            start_new_session=True,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SambaPeerError(f"command {cmd} failed: {exc}") from exc
    if cp.returncode != 0:
        raise SambaPeerError(f"command {cmd} exited with {cp.returncode}:\n{cp.stdout}{cp.stderr}")
    return cp


def require_root() -> None:
    """Return None if running as root; raise SambaPeerError otherwise (samba binds ports below 1024)."""
    if os.geteuid() != 0:
        raise SambaPeerError("a Samba AD DC needs root (privileged ports, NT ACL xattrs); run as root")


_VERSION: str | None = None


def samba_version() -> str:
    """Return the version samba reports, e.g. ``4.17.12-Debian`` (cached)."""
    global _VERSION
    if _VERSION is None:
        out = _run([_which("samba"), "--version"], timeout=30).stdout.strip()
        _VERSION = out.removeprefix("Version ").strip()
    return _VERSION


def recipe_hash() -> str:
    """Return the sha256 (hex) of :data:`RECIPE` and of the source of the functions that build a template."""
    h = hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode())
    for fn in (_seed_conf, _provision_command, _seed_directory, _scrub_runtime_files, SambaTemplate._build):
        try:
            h.update(inspect.getsource(fn).encode())
        except (OSError, TypeError):  # no source (frozen app): the data recipe alone
            h.update(fn.__qualname__.encode())
    return h.hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` for the duration of the ``with`` block; yields None."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _check_dir_length(directory: Path) -> None:
    """Raise SambaPeerError if unix sockets under ``directory`` would exceed the 108-byte path limit."""
    if len(str(directory)) > MAX_DIR_LENGTH:
        raise SambaPeerError(
            f"DC directory {directory} is {len(str(directory))} characters long; samba creates unix sockets "
            f"such as DIR/run/ncalrpc/np/protected_storage and their paths must fit in 108 bytes: use a "
            f"directory of at most {MAX_DIR_LENGTH} characters"
        )




def _private_tempdir(kind: str) -> Path:
    """Return a new ``/tmp/itref-KIND-PID-xxxx`` dir, after deleting those left by dead processes."""
    tmp = Path(tempfile.gettempdir())
    for old in tmp.glob(f"itref-{kind}-*-*"):
        pid = old.name.split("-")[2]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"itref-{kind}-{os.getpid()}-", dir=tmp))


def _rewrite_paths(conf: Path, old: Path, new: Path) -> None:
    """Replace the directory ``old`` by ``new`` in the smb.conf ``conf``; return None."""
    text = conf.read_text()
    if str(old) not in text:
        raise SambaPeerError(f"{conf} does not mention {old}: not a conf of that directory?")
    conf.write_text(text.replace(str(old), str(new)))


# --------------------------------------------------------------------------------------------------------
# sockets of a process tree (loopback check, "who holds port 636")


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket or a bound, unconnected UDP socket."""

    proto: str  # "tcp", "tcp6", "udp", "udp6"
    address: str
    port: int
    pid: int | None  # owner, when known

    @property
    def is_loopback(self) -> bool:
        """Return True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z."""
        ip = ipaddress.ip_address(self.address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return ip.is_loopback


def _decode_address(hex_addr: str) -> str:
    """Decode the address column of /proc/net/{tcp,udp}[6] (32-bit words in host byte order)."""
    raw = bytes.fromhex(hex_addr)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def _socket_table(net_dir: str = "/proc/self/net") -> dict[int, tuple[str, str, int]]:
    """Return {inode: (proto, address, port)} of the listening TCP and unconnected UDP sockets."""
    table: dict[int, tuple[str, str, int]] = {}
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(net_dir, proto).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, remote, state, inode = f[1], f[2], f[3], int(f[9])
            listening = state == "0A" if proto.startswith("tcp") else int(remote.rsplit(":", 1)[1], 16) == 0
            if listening and inode:
                addr, port = local.rsplit(":", 1)
                table[inode] = (proto, _decode_address(addr), int(port, 16))
    return table


def _socket_inodes(pid: int) -> set[int]:
    """Return the inodes of the sockets open in process ``pid`` (empty if it is gone)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def _pids_in_group(pgid: int) -> list[int]:
    """Return the live (non-zombie) processes whose process group is ``pgid``."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            pids.append(int(entry.name))
    return pids


def listening_sockets(pids: Iterable[int]) -> list[Listener]:
    """Return the listening TCP / bound UDP sockets held by the processes ``pids``."""
    pids = list(pids)
    if not pids:
        return []
    table = _socket_table(f"/proc/{pids[0]}/net")  # the namespace of those processes
    found = []
    for pid in pids:
        for inode in sorted(_socket_inodes(pid)):
            if inode in table:
                proto, addr, port = table[inode]
                found.append(Listener(proto, addr, port, pid))
    return found


def tcp_port_holders(ports: Iterable[int]) -> list[Listener]:
    """Return the listening TCP sockets on ``ports`` in this network namespace, with their owner pid if seen."""
    wanted = set(ports)
    table = {ino: v for ino, v in _socket_table().items() if v[0].startswith("tcp") and v[2] in wanted}
    if not table:
        return []
    owners: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            for ino in _socket_inodes(int(entry.name)) & table.keys():
                owners[ino] = int(entry.name)
    return [Listener(p, a, port, owners.get(ino)) for ino, (p, a, port) in sorted(table.items())]


# --------------------------------------------------------------------------------------------------------
# the samba process


def _child_setup(parent_pid: int) -> Any:
    """Return a preexec_fn: SIGKILL when the spawning thread dies; die now if the parent already did."""

    def setup() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


def _cn_of(cert: dict[str, Any]) -> str:
    """Return the commonName of the subject of a certificate dict from ``SSLSocket.getpeercert()``."""
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    raise SambaPeerError(f"the DC certificate has no commonName: {cert.get('subject')}")


def _client_context(ca_file: Path) -> ssl.SSLContext:
    """Return a TLS client context that validates the chain against ``ca_file`` but not the name.

    Built as itref's own AD client builds its context (ldap3 ``Tls(version=PROTOCOL_TLS_CLIENT)``): a plain
    ``SSLContext``, not ``ssl.create_default_context()``.  Since Python 3.13 the default context adds
    ``VERIFY_X509_STRICT``, which refuses Samba's autogenerated certificate ("Missing Authority Key Identifier":
    samba writes none); the handshake then dies, samba logs "Decryption has failed", and the DC never looked
    ready.  Chain, validity and (in ldap3, with ``valid_names``) the name are still checked.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(ca_file))
    ctx.check_hostname = False  # the name is checked by ldap3 with valid_names; here we learn it
    return ctx


def _tls_handshake(host: str, port: int, ca_file: Path, timeout: float) -> dict[str, Any]:
    """Do a TLS handshake validating the chain against ``ca_file`` (not the name); return the peer cert dict.

    Raises OSError / ssl.SSLError (``ssl.SSLCertVerificationError`` when the certificate does not verify).
    """
    ctx = _client_context(ca_file)
    with socket.create_connection((host, port), timeout=timeout) as raw, ctx.wrap_socket(raw) as tls:
        cert = tls.getpeercert()
    if not cert:
        raise SambaPeerError("the DC presented no certificate")
    return cert


def _ldaps_server(host: str, port: int, ca_file: Path, tls_name: str, get_info: str = NONE) -> Server:
    """Return an ldap3 Server for LDAPS with ``Tls(CERT_REQUIRED, ca_file, valid_names=[tls_name])``.

    ``version=PROTOCOL_TLS_CLIENT`` as in itref's AD client: ldap3 then builds a plain SSLContext, not the
    default one that Python 3.13 makes strict (see :func:`_client_context`).
    """
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca_file), valid_names=[tls_name],
              version=ssl.PROTOCOL_TLS_CLIENT)
    return Server(host, port=port, use_ssl=True, tls=tls, get_info=get_info, connect_timeout=10)


def _ldaps_connection(
    host: str,
    port: int,
    ca_file: Path,
    tls_name: str,
    user: str | None,
    password: str | None,
    *,
    auto_bind: bool = True,
    get_info: str = NONE,
    server: Server | None = None,
    **kwargs: Any,
) -> Connection:
    """Return an ldap3 Connection over LDAPS with CA + name validation; SIMPLE bind unless ``user`` is None."""
    server = server or _ldaps_server(host, port, ca_file, tls_name, get_info)
    kwargs.setdefault("receive_timeout", 60)
    if user is None:
        return Connection(server, auto_bind=auto_bind, **kwargs)
    return Connection(server, user=user, password=password, authentication=SIMPLE, auto_bind=auto_bind, **kwargs)


class _SambaProcess:
    """One ``samba -i -M single`` run on a provisioned directory: spawn, wait until LDAPS answers, stop."""

    def __init__(self, directory: Path, *, max_runtime: int, debug_level: int | None) -> None:
        self.directory = directory
        self.conf = directory / "etc" / "smb.conf"
        self.ca_file = directory / "private" / "tls" / "ca.pem"
        self.log_path = directory / "log" / LOG_NAME
        self.max_runtime = max_runtime
        self.debug_level = debug_level
        self.proc: subprocess.Popen[bytes] | None = None
        self.finished = True  # the last spawned process has been swept and reaped
        self.log_offset = 0
        self.tls_name: str | None = None
        self.cert: dict[str, Any] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        cmd = [_which("samba"), "-i", "-M", "single", "-s", str(self.conf), f"--maximum-runtime={self.max_runtime}"]
        if self.debug_level is not None:
            cmd.append(f"--debuglevel={self.debug_level}")
        return cmd

    def log_text(self, *, since_start: bool = False) -> str:
        try:
            with open(self.log_path, "rb") as f:
                if since_start:
                    f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _fail(self, what: str) -> SambaPeerError:
        log = self.log_text(since_start=True)
        tail = "\n".join(log.splitlines()[-120:])
        return SambaPeerError(f"{what}\nconfig: {self.conf}\n--- samba log ({self.log_path}), this start ---\n{tail}")

    def spawn(self) -> None:
        require_root()
        if self.proc is not None and self.running:
            raise SambaPeerError(f"samba already runs on {self.directory} (pid {self.proc.pid})")
        _check_dir_length(self.directory)
        busy = tcp_port_holders(TCP_PORTS)
        if busy:
            who = ", ".join(f"{b.address}:{b.port} (pid {b.pid or '?'}: {_comm(b.pid)})" for b in busy)
            raise SambaPeerError(
                f"cannot start a DC on {self.directory}: ports it needs are already taken in this network "
                f"namespace: {who}. Only one DC can run per network namespace; stop the other one or use "
                f"another namespace (unshare --net)."
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            self.log_offset = log.tell()
            log.write(f"--- itref: {datetime.now(UTC).isoformat()} starting {' '.join(cmd)}\n".encode())
            log.flush()
            try:
                self.proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,  # samba -i ends itself on EOF: it dies with this process
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own process group (samba -i would make one anyway)
                    preexec_fn=_child_setup(os.getpid()),
                    close_fds=True,
                    env=_clean_env(),
                    cwd=self.directory,
                )
                self.finished = False
            except OSError as exc:
                raise SambaPeerError(f"cannot run {cmd}: {exc}") from exc

    def wait_ready(self, timeout: float) -> None:
        """Wait for TLS + anonymous rootDSE on 127.0.0.1:636 from *this* samba; return None when it answers.

        Raises SambaPeerError, with samba's log of this start, when samba exits, when its certificate does not
        verify against its own CA (that will not change by waiting: it fails at once), or after ``timeout``
        seconds (samba is then killed).
        """
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no attempt yet"
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise self._fail(f"samba exited with status {rc} before LDAPS answered")
            try:
                if self.ca_file.exists():
                    self.cert = _tls_handshake(HOST, LDAPS_PORT, self.ca_file, timeout=2)
                    self.tls_name = _cn_of(self.cert)
                    self._check_owner()
                    self._check_root_dse()
                    return
                last = f"{self.ca_file} not generated yet"
            except ssl.SSLCertVerificationError as exc:
                self.kill()
                raise self._fail(f"the DC's certificate does not verify against its own CA {self.ca_file}: "
                                 f"{exc.verify_message or exc}") from None
            except (OSError, ssl.SSLError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # ldap3 errors: still starting
                if isinstance(exc, SambaPeerError):
                    raise
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                self.kill()
                raise self._fail(f"samba did not answer LDAPS on {HOST}:{LDAPS_PORT} within {timeout} s (last: {last})")
            time.sleep(0.02)

    def _check_owner(self) -> None:
        assert self.proc is not None
        mine = listening_sockets(_pids_in_group(self.proc.pid))
        if not any(s.proto == "tcp" and s.address == HOST and s.port == LDAPS_PORT for s in mine):
            holders = tcp_port_holders([LDAPS_PORT])
            raise self._fail(
                f"{HOST}:{LDAPS_PORT} answers but is not held by this samba (pid {self.proc.pid}): {holders}"
            )

    def _check_root_dse(self) -> None:
        assert self.tls_name is not None
        conn = _ldaps_connection(HOST, LDAPS_PORT, self.ca_file, self.tls_name, None, None, receive_timeout=5)
        try:
            if not conn.search("", "(objectClass=*)", search_scope=BASE, attributes=["defaultNamingContext"]):
                raise RuntimeError(f"rootDSE search failed: {conn.result}")
            got = str(conn.entries[0]["defaultNamingContext"].value) if conn.entries else None
            if got != BASE_DN:
                raise SambaPeerError(f"rootDSE defaultNamingContext is {got!r}, expected {BASE_DN!r}")
        finally:
            conn.unbind()

    def _finish(self) -> None:
        """After the root process ended: sweep its group, close the stdin pipe, reap (once per spawn)."""
        if self.proc is None or self.finished:
            return
        self.finished = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self.proc.wait()

    def stop(self, timeout: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._finish()
            return
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
        self._finish()

    def kill(self) -> None:
        if self.proc is None or self.finished:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._finish()


def _comm(pid: int | None) -> str:
    """Return the command name of ``pid`` or ``?``."""
    if pid is None:
        return "?"
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


# --------------------------------------------------------------------------------------------------------
# the template


def _seed_conf(directory: Path) -> str:
    """Return the seed smb.conf for ``samba-tool domain provision -s``: every path inside ``directory``."""
    d = directory
    return f"""\
[global]
    netbios name = {NETBIOS_NAME}
    workgroup = {DOMAIN}
    realm = {REALM}
    server role = active directory domain controller
    server services = {SERVER_SERVICES}
    interfaces = lo
    bind interfaces only = yes
    dns forwarder = 127.0.0.1
    pid directory = {d}/run
    ncalrpc dir = {d}/run/ncalrpc
    winbindd socket directory = {d}/run/winbindd
    ntp signd socket directory = {d}/run/ntp_signd
    smb passwd file = {d}/private/smbpasswd
    usershare path = {d}/usershares
    private dir = {d}/private
    state directory = {d}/state
    cache directory = {d}/cache
    lock directory = {d}/lock
    # (--targetdir then sets private/state/cache to the same places, and the lock directory to DIR itself)
    log file = {d}/log/log.%m
    log level = 1
"""


def _throwaway_password() -> str:
    """Return a random password meeting Samba's default policy, used only until the build replaces it."""
    import secrets as _random

    return _random.token_urlsafe(18) + "-Aa1"


def _provision_command(directory: Path, seed: Path) -> list[str]:
    """Return the samba-tool argv that provisions the domain into ``directory`` from the seed conf ``seed``."""
    return [
        _which("samba-tool"),
        "domain",
        "provision",
        "-s",
        str(seed),
        f"--realm={REALM}",
        f"--domain={DOMAIN}",
        "--server-role=dc",
        "--dns-backend=NONE",
        f"--host-name={RECIPE['host_name']}",
        "--host-ip=127.0.0.1",
        f"--adminpass={_throwaway_password()}",  # on samba-tool's command line: replaced at once (see _build)
        f"--targetdir={directory}",
        "--quiet",
    ]


def _seed_directory(conn: Connection) -> None:
    """Create the seed OUs and groups and make the admin password never expire, over ``conn`` (admin)."""
    for ou in SEED_OUS:
        if not conn.add(ou_dn(ou), "organizationalUnit", {"description": f"itref lab: {ou}"}):
            raise SambaPeerError(f"cannot create {ou_dn(ou)}: {conn.result}")
    for name in SEED_GROUPS:
        attrs = {"sAMAccountName": name, "groupType": GLOBAL_SECURITY_GROUP, "description": f"itref lab: {name}"}
        if not conn.add(group_dn(name), "group", attrs):
            raise SambaPeerError(f"cannot create {group_dn(name)}: {conn.result}")
    admin = f"CN=Administrator,CN=Users,{BASE_DN}"
    if not conn.modify(admin, {"userAccountControl": [(MODIFY_REPLACE, [0x200 | 0x10000])]}):
        raise SambaPeerError(f"cannot set 'password never expires' on {admin}: {conn.result}")


def _scrub_runtime_files(directory: Path) -> list[Path]:
    """Delete the unix sockets and pid files a samba run leaves in ``directory``; return what was deleted."""
    removed = []
    for root, dirs, files in os.walk(directory):
        for name in files + dirs:
            p = Path(root, name)
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISSOCK(st.st_mode) or (stat.S_ISREG(st.st_mode) and name.endswith(".pid")):
                p.unlink()
                removed.append(p)
    return removed


class SambaTemplate:
    """A provisioned, warmed-up DC directory in the cache, built once and cloned by :class:`SambaDC`.

    ``SambaTemplate().ensure()`` returns the template, building it first if needed.  Attributes:
    ``root`` (``<cache>/samba-tmpl``), ``key`` (``<samba version>-<recipe hash[:12]>``), ``path``
    (``root/key``), ``meta`` (the ``template.json`` dict: versions, ``tls_name``, certificate expiry, build
    timings), ``built`` (True if this call built it) and ``ensure_seconds``.  A template is never started
    in place: clone it.
    """

    def __init__(self, cache_dir: Path | str | None = None, *, build_timeout: float = 300) -> None:
        self.root = Path(cache_dir or default_cache_root()).resolve() / "samba-tmpl"
        self.build_timeout = build_timeout
        self.key = f"{re.sub(r'[^A-Za-z0-9._-]', '_', samba_version())}-{recipe_hash()[:12]}"
        self.path = self.root / self.key
        self.built = False
        self.ensure_seconds: float | None = None
        self._meta: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<SambaTemplate {self.path}>"

    @property
    def meta(self) -> dict[str, Any]:
        """Return the template's metadata (``template.json``); raise SambaPeerError if it is not built."""
        if self._meta is None:
            meta = self._read_meta()
            if meta is None:
                raise SambaPeerError(f"template {self.path} is not built: call ensure()")
            self._meta = meta
        return self._meta

    @property
    def tls_name(self) -> str:
        """Return the CN of the DC certificate in the template (what clones present)."""
        return str(self.meta["tls_name"])

    def _read_meta(self) -> dict[str, Any] | None:
        try:
            meta = json.loads((self.path / META_FILE).read_text())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def _usable(self) -> bool:
        meta = self._read_meta()
        if meta is None or meta.get("key") != self.key:
            return False
        age_days = (time.time() - float(meta.get("built_at_epoch", 0))) / 86400
        expires = float(meta.get("cert_not_after_epoch", 0))
        return age_days < TEMPLATE_MAX_AGE_DAYS and expires - time.time() > 30 * 86400

    def ensure(self, *, force: bool = False) -> SambaTemplate:
        """Build the template unless a usable one is cached (or ``force``); return self.

        Serialised by ``root/.lock``; a template only appears, complete, through a rename.
        """
        t0 = time.monotonic()
        if force or not self._usable():
            require_root()
            with _file_lock(self.root / ".lock"):
                for stale in self.root.glob(".build-*"):  # left by a killed builder (builders hold the lock)
                    shutil.rmtree(stale, ignore_errors=True)
                if force or not self._usable():
                    self._build()
                    self.built = True
        self._meta = None
        with contextlib.suppress(OSError):
            (self.root / f"{self.key}.used").touch()
        self.ensure_seconds = time.monotonic() - t0
        return self

    def _build(self) -> None:
        if not PROVISION_FILE.exists():
            raise SambaPeerError(f"{PROVISION_FILE} is missing, so samba-tool cannot provision a domain: "
                                 f"apt-get install {PROVISION_PACKAGE}")
        timings: dict[str, float] = {}
        t_all = time.monotonic()
        work = _private_tempdir("tmpl")  # short path: unix sockets live in it
        try:
            for sub in ("etc", "run", "log", "usershares"):
                (work / sub).mkdir()
            seed = work / "seed.conf"
            seed.write_text(_seed_conf(work))
            t = time.monotonic()
            command = _provision_command(work, seed)
            throwaway = next(a.split("=", 1)[1] for a in command if a.startswith("--adminpass="))
            _run(command, timeout=self.build_timeout)
            timings["provision"] = time.monotonic() - t
            seed.unlink()

            proc = _SambaProcess(work, max_runtime=int(self.build_timeout), debug_level=None)
            t = time.monotonic()
            proc.spawn()
            try:
                proc.wait_ready(timeout=min(self.build_timeout, TEMPLATE_START_TIMEOUT))
                timings["first_start"] = time.monotonic() - t
                assert proc.tls_name is not None and proc.cert is not None
                t = time.monotonic()
                conn = _ldaps_connection(HOST, LDAPS_PORT, proc.ca_file, proc.tls_name, ADMIN_USER, throwaway)
                try:
                    # the password samba-tool saw on its command line is replaced by one no process list showed
                    password = _throwaway_password()
                    if not conn.extend.microsoft.modify_password(f"CN=Administrator,CN=Users,{BASE_DN}", password):
                        raise SambaPeerError(f"cannot set the template's administrator password: {conn.result}")
                    from itref.core.files import write_private

                    write_private(work / ADMIN_PASSWORD_FILE, password + "\n")
                    _seed_directory(conn)
                finally:
                    conn.unbind()
                timings["seed"] = time.monotonic() - t
            except BaseException:
                proc.kill()
                raise
            t = time.monotonic()
            proc.stop(timeout=20)
            timings["stop"] = time.monotonic() - t
            if proc.proc is not None and proc.proc.returncode not in (0, 127, -signal.SIGTERM):
                raise proc._fail(f"samba exited with {proc.proc.returncode} when stopped after the warm-up")
            _scrub_runtime_files(work)
            (work / "log" / LOG_NAME).rename(work / "log" / "template-build.log")

            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".build-{self.key}-{os.getpid()}"
            t = time.monotonic()
            shutil.copytree(work, staging, symlinks=True)
            _rewrite_paths(staging / "etc" / "smb.conf", work, self.path)
            timings["copy"] = time.monotonic() - t
            timings["total"] = time.monotonic() - t_all
            meta = {
                "key": self.key,
                "samba_version": samba_version(),
                "recipe_hash": recipe_hash(),
                "recipe": RECIPE,
                "template_dir": str(self.path),
                "tls_name": proc.tls_name,
                "cert_subject": [list(map(list, rdn)) for rdn in proc.cert.get("subject", ())],
                "cert_not_after": proc.cert.get("notAfter"),
                "cert_not_after_epoch": ssl.cert_time_to_seconds(str(proc.cert["notAfter"])),
                "built_at": datetime.now(UTC).isoformat(),
                "built_at_epoch": time.time(),
                "timings": timings,
            }
            (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
            if self.path.exists():  # an outdated build (force, certificate too old): retire it first
                retired = self.root / f".build-retired-{self.key}-{os.getpid()}"
                self.path.rename(retired)
                shutil.rmtree(retired, ignore_errors=True)
            staging.rename(self.path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self._prune_others()

    def _prune_others(self) -> None:
        """Delete other templates (other samba versions or recipes) unused for STALE_TEMPLATE_DAYS."""
        limit = time.time() - STALE_TEMPLATE_DAYS * 86400
        for other in self.root.iterdir():
            if other.name.startswith(".") or not other.is_dir() or other == self.path:
                continue
            stamp = self.root / f"{other.name}.used"
            used = stamp.stat().st_mtime if stamp.exists() else other.stat().st_mtime
            if used < limit:
                retired = self.root / f".build-pruned-{other.name}"
                other.rename(retired)
                shutil.rmtree(retired, ignore_errors=True)
                stamp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------------
# a running DC


_KRB5_CONF = """\
[libdefaults]
    default_realm = {realm}
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    ignore_acceptor_hostname = true

[realms]
    {realm} = {{
        kdc = {host}:{kdc_port}
        admin_server = {host}
        kpasswd_server = {host}
        default_domain = {dns_domain}
    }}

[domain_realm]
    .{dns_domain} = {realm}
    {dns_domain} = {realm}
"""


class SambaDC:
    """A running Samba AD DC cloned from a :class:`SambaTemplate`; a context manager (start ... close).

    ``SambaDC(template=None, directory=None)``: without a template, ``SambaTemplate().ensure()`` is used.
    Without a directory, the clone goes into a fresh ``/tmp/itref-dc-PID-*`` dir that :meth:`close` deletes
    (or, if this process is SIGKILLed, the next SambaDC created by another process).
    With a directory that already holds a DC (an earlier clone, even moved elsewhere), that DC and its data
    are reused; otherwise the directory (missing or empty) receives the clone and is kept on close.

    Connection facts: ``host`` ("127.0.0.1"), ``ldaps_port`` (636), ``ldap_port`` (389), ``url``
    ("ldaps://127.0.0.1"), ``base_dn``, ``realm``, ``domain``, ``dns_domain``, ``admin_user``
    ("Administrator@lab.example.test"), ``admin_password``, ``ca_file`` (DIR/private/tls/ca.pem),
    ``tls_name`` (the CN of the certificate the DC presents, read from it), ``krb5_conf`` (DIR/krb5.conf),
    ``smb_conf``, ``ldap_server()``.  State: ``pid``, ``pids()``, ``running``, ``starts``, ``log_text()``,
    ``listening_sockets()``, and timings ``clone_seconds``, ``start_seconds``, ``stop_seconds``.

    Only one DC runs per network namespace (fixed ports): :meth:`start` refuses at once, naming the holder,
    when another process already listens on them.  Call :meth:`start` from a thread that outlives the DC
    (``PR_SET_PDEATHSIG`` fires when the *starting thread* ends).
    """

    host = HOST
    ldaps_port = LDAPS_PORT
    ldap_port = LDAP_PORT
    kdc_port = KDC_PORT
    url = f"ldaps://{HOST}"
    base_dn = BASE_DN
    realm = REALM
    domain = DOMAIN
    dns_domain = DNS_DOMAIN
    netbios_name = NETBIOS_NAME
    admin_user = ADMIN_USER

    def __init__(
        self,
        template: SambaTemplate | None = None,
        directory: Path | str | None = None,
        *,
        max_runtime: int = 3 * 3600,
        start_timeout: float = 60,
        stop_timeout: float = 10,
        debug_level: int | None = None,
    ) -> None:
        self.template = template
        if directory is None:
            self.directory = _private_tempdir("dc")
            self._owns_dir = True
        else:
            self.directory = Path(directory).absolute()
            self._owns_dir = False
        _check_dir_length(self.directory)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc = _SambaProcess(self.directory, max_runtime=max_runtime, debug_level=debug_level)
        self._tls_name: str | None = None
        self._ldap_info: tuple[Any, Any] | None = None  # (DsaInfo, SchemaInfo) read by the first bind
        self.clone_seconds: float | None = None
        self.start_seconds: float | None = None
        self.stop_seconds: float | None = None
        self.starts = 0

    # -- facts -----------------------------------------------------------------------------------------
    @property
    def admin_password(self) -> str:
        """Return the domain administrator's password of this DC (its template's, random; the lab changes it)."""
        return admin_password_of(self.directory)

    @property
    def smb_conf(self) -> Path:
        return self.directory / "etc" / "smb.conf"

    @property
    def ca_file(self) -> Path:
        return self.directory / "private" / "tls" / "ca.pem"

    @property
    def krb5_conf(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def log_path(self) -> Path:
        return self._proc.log_path

    @property
    def tls_name(self) -> str:
        """Return the CN of the DC's certificate (from the last handshake, else from the clone's record)."""
        if self._proc.tls_name:
            return self._proc.tls_name
        if self._tls_name is None:
            self._tls_name = str(self._marker()["tls_name"])
        return self._tls_name

    @property
    def pid(self) -> int | None:
        """Return the pid of the root samba process while it runs, else None."""
        return self._proc.proc.pid if self._proc.running and self._proc.proc else None

    @property
    def running(self) -> bool:
        return self._proc.running

    def log_text(self, *, since_start: bool = False) -> str:
        """Return samba's log (its stdout/stderr with ``-i``), all starts or only the current one."""
        return self._proc.log_text(since_start=since_start)

    def pids(self) -> list[int]:
        """Return the live processes of samba's process group (one with ``-M single``)."""
        return _pids_in_group(self._proc.proc.pid) if self.running and self._proc.proc else []

    def ldap_server(self, get_info: str = ALL) -> Server:
        """Return a new ldap3 Server for this DC (LDAPS, CA and name validation).

        The first connection that binds reads the schema; later Servers get it attached instead of reading
        it again (a new Server each time: ldap3 marks a Server's address unusable after one failed connect,
        which would outlive a DC restart).
        """
        if get_info in (ALL, SCHEMA) and self._ldap_info is not None:
            server = _ldaps_server(self.host, self.ldaps_port, self.ca_file, self.tls_name, NONE)
            server.attach_dsa_info(self._ldap_info[0])
            server.attach_schema_info(self._ldap_info[1])
            return server
        return _ldaps_server(self.host, self.ldaps_port, self.ca_file, self.tls_name, get_info)

    def _remember_schema(self, server: Server) -> None:
        if self._ldap_info is None and server.info is not None and server.schema is not None:
            self._ldap_info = (server.info, server.schema)

    def listening_sockets(self) -> list[Listener]:
        """Return the listening TCP and bound UDP sockets of samba's processes."""
        return listening_sockets(self.pids())

    def __repr__(self) -> str:
        return f"<SambaDC {self.directory} pid={self.pid}>"

    # -- lifecycle -------------------------------------------------------------------------------------
    def _marker(self) -> dict[str, Any]:
        try:
            data = json.loads((self.directory / DC_MARKER).read_text())
        except (OSError, ValueError) as exc:
            raise SambaPeerError(f"{self.directory} holds no itref DC ({DC_MARKER}): {exc}") from exc
        return data

    def prepare(self) -> SambaDC:
        """Clone the template into the directory unless it already holds a DC; write krb5.conf; return self."""
        marker = self.directory / DC_MARKER
        if marker.exists():
            data = self._marker()
            if data.get("directory") != str(self.directory):  # the DC dir was moved
                _rewrite_paths(self.smb_conf, Path(data["directory"]), self.directory)
                data["directory"] = str(self.directory)
                marker.write_text(json.dumps(data, indent=2) + "\n")
        else:
            if self.directory.exists() and any(self.directory.iterdir()):
                raise SambaPeerError(f"{self.directory} is neither empty nor an itref DC directory")
            template = (self.template or SambaTemplate()).ensure()  # cheap when already built
            self.template = template
            meta = template.meta
            t0 = time.monotonic()

            def ignore(src: str, names: list[str]) -> list[str]:
                if Path(src) == template.path:
                    return [META_FILE]
                return list(names) if Path(src) == template.path / "log" else []

            shutil.copytree(template.path, self.directory, symlinks=True, ignore=ignore, dirs_exist_ok=True)
            _rewrite_paths(self.smb_conf, Path(meta["template_dir"]), self.directory)
            data = {
                "template": str(template.path),
                "template_key": template.key,
                "tls_name": meta["tls_name"],
                "directory": str(self.directory),
                "cloned_at": datetime.now(UTC).isoformat(),
            }
            marker.write_text(json.dumps(data, indent=2) + "\n")
            self.clone_seconds = time.monotonic() - t0
        self.krb5_conf.write_text(_KRB5_CONF.format(realm=REALM, host=HOST, kdc_port=KDC_PORT, dns_domain=DNS_DOMAIN))
        return self

    def start(self) -> SambaDC:
        """Start samba (cloning first if needed) and wait until LDAPS answers; return self.

        Raises SambaPeerError with samba's log if it exits, or does not answer within ``start_timeout``.
        """
        self.prepare()
        t0 = time.monotonic()
        self._proc.spawn()
        self._proc.wait_ready(self.start_timeout)
        self.start_seconds = time.monotonic() - t0
        self.starts += 1
        return self

    def stop(self) -> None:
        """SIGTERM samba, wait up to ``stop_timeout``, then SIGKILL its process group; return None."""
        t0 = time.monotonic()
        self._proc.stop(self.stop_timeout)
        self.stop_seconds = time.monotonic() - t0

    def kill(self) -> None:
        """SIGKILL samba's whole process group at once (a crash, a power cut); return None."""
        self._proc.kill()

    def close(self) -> None:
        """Stop samba and delete the directory if this object created it; return None."""
        try:
            self.stop()
        finally:
            if self._owns_dir:
                shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> SambaDC:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------------
# clients


def ldap_connection(
    dc: SambaDC,
    user: str | None = None,
    password: str | None = None,
    *,
    auto_bind: bool = True,
    get_info: str = ALL,
    **kwargs: Any,
) -> Connection:
    """Return an ldap3 Connection to ``dc`` over LDAPS, bound with SIMPLE as ``user`` (default: the admin).

    TLS: ``Tls(validate=CERT_REQUIRED, ca_certs_file=dc.ca_file, valid_names=[dc.tls_name])``.  ``user`` may
    be a UPN, ``LAB\\name`` or a DN.  A failed bind raises ``LDAPBindError`` (pass ``auto_bind=False`` to bind
    yourself).  With the default ``get_info=ALL`` ldap3 knows the schema, so values come back typed
    (``userAccountControl`` an int, ``pwdLastSet`` a datetime); the schema is read once per DC object (see
    :meth:`SambaDC.ldap_server`).  Extra keyword arguments go to ``ldap3.Connection``.
    """
    if user is None:
        user = dc.admin_user
        if password is None:
            password = dc.admin_password
    conn = _ldaps_connection(
        dc.host,
        dc.ldaps_port,
        dc.ca_file,
        dc.tls_name,
        user,
        password,
        auto_bind=auto_bind,
        server=dc.ldap_server(get_info),
        **kwargs,
    )
    if conn.bound:
        dc._remember_schema(conn.server)
    return conn


def kinit(
    dc: SambaDC, principal: str, password: str, *, ccache: Path | str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run MIT ``kinit principal`` against ``dc`` (its krb5.conf), the password on stdin; return the result.

    The credential cache is ``ccache`` if given (kept), else a temporary file deleted afterwards.  No terminal
    is attached (new session), so kinit reads the password from stdin.
    """
    with tempfile.TemporaryDirectory(prefix="itref-krb5-") as tmp:
        cache = Path(ccache) if ccache else Path(tmp) / "ccache"
        env = _clean_env(KRB5_CONFIG=str(dc.krb5_conf), KRB5CCNAME=f"FILE:{cache}", LC_ALL="C")
        return subprocess.run(
            [_which("kinit"), principal],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
