"""The ``ssh`` connector (paramiko): one verified, authenticated connection per host, reused for
every command of a run.

Settings: :class:`SSHSettings` (the host's own fields over ``defaults.ssh`` over these defaults).

Host keys are checked against ``known_hosts`` and an unknown or changed key is refused; ``itref
hosts trust HOST`` records a key deliberately. Standard input is closed after each command, so a
remote prompt can never hang a run.

Start-up, for many hosts at once: the TCP connection is opened before paramiko is imported, so the
servers start their side of the handshake meanwhile; a known_hosts file is parsed once per content
and process (see :func:`host_keys`), not once per host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import select
import socket
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import Field

from itref.connectors.base import Command, Connector, ConnectorSettings, HostSpec
from itref.connectors.quoting import posix_join
from itref.connectors.stopping import SESSION_MARK
from itref.core.errors import AuthenticationFailed, ConnectionFailed, HostKeyRejected, ItrefError
from itref.core.model import Name, Text
from itref.core.results import CommandResult
from itref.i18n import _
from itref.secrets.refs import SecretRef

if TYPE_CHECKING:
    import paramiko

DEFAULT_PORT = 22
DEFAULT_TIMEOUT = 10.0


class SSHSettings(ConnectorSettings):
    """How itref reaches a host over SSH (``connection: ssh``, the default)."""

    user: Text | None = Field(None, description="Login name on the host.", examples=["itref"])
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="TCP port of the SSH server.", examples=[2222])
    identity: Text | None = Field(None, description="Private key file itref logs in with.",
                                  examples=["~/.ssh/itref_ed25519"])
    known_hosts: Text = Field("~/.ssh/known_hosts", description="known_hosts file the host's key is checked "
                              "against (an unknown or changed key is refused; `itref hosts trust` records one).",
                              examples=["/srv/it/known_hosts"])
    password: SecretRef | None = Field(None, description="Password, when no key is used.",
                                       examples=[{"secret": "ssh-itref"}])
    sudo_password: SecretRef | None = Field(
        None, description="Password for sudo, for steps that ask for it: sudo reads it on its input only if it "
                          "asks (never the command, never a command line).", examples=[{"env": "ITREF_SUDO"}])
    agent: bool = Field(False, description="Also try keys from a running ssh-agent.", examples=[True])
    via: Name | None = Field(None, description="Jump host (a host of the inventory) to go through.",
                             examples=["bastion"])
    connect_timeout: float = Field(DEFAULT_TIMEOUT, gt=0, description="Seconds to wait for the connection (also "
                                   "for the server's banner and the login).", examples=[5])
KEEPALIVE = 30
READ_CHUNK = 1 << 16
STOP_TIMEOUT = 15.0
SESSION_WAIT = 3.0
"""Seconds a stop waits for the session line of a command that has only just been started."""
"""Seconds the stop of a timed-out or interrupted command may take on the host (it needs about 4 at most)."""


def fingerprint(key: Any) -> str:
    """Return the OpenSSH SHA256 fingerprint of a paramiko public key (``SHA256:...``)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(address: str, port: int) -> str:
    """Return how ``address:port`` is written in known_hosts (``[addr]:port`` unless port 22)."""
    return address if port == DEFAULT_PORT else f"[{address}]:{port}"


def settings_of(host: HostSpec) -> SSHSettings:
    """Return ``host``'s SSH settings (the defaults when it carries none)."""
    return host.settings if isinstance(host.settings, SSHSettings) else SSHSettings()


def known_hosts_path(host: HostSpec) -> Path:
    """Return the known_hosts file that applies to ``host``."""
    return Path(settings_of(host).known_hosts).expanduser()


def _target(user: str | None, address: str) -> str:
    return f"{user}@{address}" if user else address


def _sh(arg: str) -> str:
    """Return ``arg`` quoted for a POSIX shell, keeping a leading ``~/`` expandable."""
    import shlex

    return "~/" + shlex.quote(arg[2:]) if arg.startswith("~/") else shlex.quote(arg)


_IMPORT_LOCK = threading.Lock()


def import_paramiko() -> ModuleType:
    """Return the paramiko module, importing it without invoke if it is not imported yet.

    paramiko imports invoke (asyncio, unittest.mock, a YAML parser of its own: about 30 ms, more than a
    third of paramiko's import) for one thing only: running the ``Match exec`` lines of an OpenSSH client
    configuration read with ``paramiko.SSHConfig``. itref never reads one; it hands paramiko every
    setting itself. So while paramiko is first imported, ``invoke`` is marked as absent, and
    paramiko.config records it as missing, as when invoke is not installed; the mark is removed at once,
    so a later ``import invoke`` works. Should a paramiko release need invoke to import at all, the
    import is simply done again normally.
    """
    with _IMPORT_LOCK:
        hide = "invoke" not in sys.modules
        if hide:
            sys.modules["invoke"] = None  # type: ignore[assignment]
        try:
            import paramiko
        except ImportError:
            if not hide:
                raise
            sys.modules.pop("invoke", None)
            hide = False
            import paramiko
        finally:
            if hide and "invoke" in sys.modules and sys.modules["invoke"] is None:
                del sys.modules["invoke"]
    return paramiko


_KNOWN_HOSTS: dict[str, tuple[bytes, Any]] = {}
_KNOWN_HOSTS_LOCK = threading.Lock()
_MARKERS = ("@cert-authority", "@revoked")
"""OpenSSH line markers: certificate authorities and revoked keys, which paramiko cannot use (such lines are
left alone, as paramiko's own reader would, had it not failed on them)."""

_PLAIN_KEYS = ("ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
"""Key types whose known_hosts blob is exactly what paramiko writes back for the key it read."""


class KnownHostsLineError(ValueError):
    """A line of a known_hosts file that cannot be read (``path``, ``line`` and ``reason`` in plain words)."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


def _hashed_name_ok(name: str) -> bool:
    """Return True when a hashed host name is ``|1|SALT|HASH``, both base64 of 20 bytes (HMAC-SHA1)."""
    parts = name.split("|")
    if len(parts) != 4 or parts[:2] != ["", "1"]:
        return False
    try:
        return all(len(base64.b64decode(part, validate=True)) == 20 for part in parts[2:])
    except (binascii.Error, ValueError):
        return False


def parse_known_hosts(path: Path, data: bytes) -> paramiko.HostKeys:
    """Return the host keys of the known_hosts file ``path`` holding ``data``.

    Comments, blank lines, marker lines (``@cert-authority``, ``@revoked``) and keys of a type paramiko does not
    know are skipped, as OpenSSH's own reader skips what it cannot use; any other line must be ``NAMES KEYTYPE
    BASE64-KEY`` with a key paramiko can read and well-formed hashed names. Raises KnownHostsLineError naming the
    first line that is not (paramiko alone would raise InvalidHostKey, without the line, or skip it silently).
    """
    paramiko = import_paramiko()
    from paramiko.hostkeys import HostKeyEntry

    keys = paramiko.HostKeys()
    for number, raw in enumerate(data.split(b"\n"), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        try:
            line = stripped.decode("utf-8")
        except UnicodeDecodeError:
            raise KnownHostsLineError(path, number, _("this line is not UTF-8 text")) from None
        fields = line.split()
        if fields[0].startswith("@"):
            if fields[0] in _MARKERS:
                continue
            raise KnownHostsLineError(path, number, _("unknown marker {marker} (OpenSSH knows @cert-authority and "
                                                       "@revoked)").format(marker=fields[0]))
        if len(fields) < 3:
            raise KnownHostsLineError(path, number, _(
                "a line needs host names, a key type and a key, separated by spaces"))
        bad_names = [n for n in fields[0].split(",") if n.startswith("|") and not _hashed_name_ok(n)]
        if bad_names:
            raise KnownHostsLineError(path, number, _(
                "the hashed host name {name} is not |1|SALT|HASH in base64").format(name=bad_names[0]))
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            raise KnownHostsLineError(path, number, _("the key is not base64 text")) from None
        try:
            entry = HostKeyEntry.from_line(" ".join(fields[:3]), number)
        except Exception as exc:  # paramiko raises SSHException, ValueError, struct errors... for a corrupt key
            raise KnownHostsLineError(path, number, _("the {kind} key cannot be read ({reason})").format(
                kind=fields[1], reason=str(exc) or type(exc).__name__)) from None
        if entry is None or entry.key is None:  # a key type paramiko does not know: OpenSSH may, leave it
            continue
        if fields[1] in _PLAIN_KEYS and entry.key.asbytes() != blob:  # paramiko pads a cut key with zeros
            raise KnownHostsLineError(path, number, _("the {kind} key is damaged (cut short, or with bytes "
                                                       "added)").format(kind=fields[1]))
        for name in entry.hostnames:
            keys.add(name, entry.key.get_name(), entry.key)
    return keys


def host_keys(path: Path) -> paramiko.HostKeys:
    """Return the parsed known_hosts file ``path``, shared by every connection of the process.

    paramiko parses a whole known_hosts file for each client (every key decoded, every line compared
    with the lines before it); with 50 hosts that is 50 parses of the same file. Here the file is read
    each time but parsed only when its content differs from the last parse. Callers must only read
    the result. Raises OSError when the file cannot be read, KnownHostsLineError for a line that cannot be
    read (see :func:`parse_known_hosts`).
    """
    key = str(path)
    data = path.read_bytes()
    with _KNOWN_HOSTS_LOCK:
        cached = _KNOWN_HOSTS.get(key)
        if cached is not None and cached[0] == data:
            return cached[1]
        keys = parse_known_hosts(path, data)
        _KNOWN_HOSTS[key] = (data, keys)
        return keys


def known_hosts_problem(host_name: str, error: KnownHostsLineError) -> HostKeyRejected:
    """Return the refusal of ``host_name`` for a known_hosts line that cannot be read, naming the file and line."""
    return HostKeyRejected(_("{host}: {path}:{line}: this known_hosts line cannot be read: {reason}. Correct or "
                             "delete it (ssh-keygen -R NAME -f {path} removes a host's lines), then check the "
                             "host's key with: itref hosts trust {host}").format(
        host=host_name, path=error.path, line=error.line, reason=error.reason))


def open_socket(address: str, port: int, timeout: float, name: str) -> socket.socket:
    """Return a TCP connection to ``address:port`` with TCP_NODELAY set.

    Without TCP_NODELAY, Nagle's algorithm and delayed ACKs add tens of milliseconds to every
    new SSH connection. Raises ConnectionFailed with the reason in plain words.
    """
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except socket.gaierror:
        raise ConnectionFailed(_("{host}: the name {address} cannot be resolved (DNS)").format(
            host=name, address=address)) from None
    except ConnectionRefusedError:
        raise ConnectionFailed(_("{host}: connection refused on {address}:{port} (is SSH running there?)").format(
            host=name, address=address, port=port)) from None
    except TimeoutError:
        raise ConnectionFailed(_("{host}: no answer from {address}:{port} within {timeout:g} s").format(
            host=name, address=address, port=port, timeout=timeout)) from None
    except OSError as exc:
        raise ConnectionFailed(_("{host}: cannot reach {address}:{port} ({reason})").format(
            host=name, address=address, port=port, reason=exc.strerror or exc)) from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class SSHConnector(Connector):
    """Runs commands over one SSH connection per host (see the module docstring for settings)."""

    kind = "ssh"
    shell_family = "posix"
    Settings = SSHSettings
    settings: SSHSettings

    @classmethod
    def manual_command(cls, host: HostSpec) -> str:
        """Return the ``ssh`` command line that reaches ``host`` by hand, through its jump hosts."""
        chain: list[HostSpec] = []
        jump = host.jump
        while jump is not None and jump not in chain and jump.name != host.name:
            chain.insert(0, jump)
            jump = jump.jump
        mine = settings_of(host)
        args = ["ssh"]
        if mine.port != DEFAULT_PORT:
            args += ["-p", str(mine.port)]
        if mine.identity:
            args += ["-i", mine.identity]
        if chain:
            hops = []
            for hop in chain:
                theirs = settings_of(hop)
                hops.append(_target(theirs.user, hop.address) + (f":{theirs.port}" if theirs.port != DEFAULT_PORT
                                                                 else ""))
            args += ["-J", ",".join(hops)]
        args.append(_target(mine.user, host.address))
        return " ".join(_sh(a) for a in args)

    def __init__(self, host: HostSpec, secrets: Any) -> None:
        super().__init__(host, secrets)
        self._client: paramiko.SSHClient | None = None
        self._jump: SSHConnector | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._channels: dict[paramiko.Channel, _Running] = {}
        self._lock = threading.Lock()
        self._interrupting = threading.Event()
        self._stops_done = threading.Event()

    @property
    def port(self) -> int:
        """Return the TCP port used for this host."""
        return self.settings.port

    @property
    def timeout(self) -> float:
        """Return the connect/banner/auth timeout in seconds."""
        return self.settings.connect_timeout

    def _sock(self) -> Any:
        if self.settings.via is None:
            return open_socket(self.host.address, self.port, self.timeout, self.host.name)
        via = self.host.jump
        if via is None or via.connection != self.kind:
            raise ConnectionFailed(_("{host}: jump host '{via}' is not an SSH host of the inventory").format(
                host=self.host.name, via=self.settings.via))
        self._jump = SSHConnector(via, self.secrets)
        self._jump.open()
        transport = self._jump.transport
        try:
            return transport.open_channel("direct-tcpip", (self.host.address, self.port), ("127.0.0.1", 0),
                                          timeout=self.timeout)
        except Exception as exc:  # paramiko raises ChannelException or SSHException here
            raise ConnectionFailed(_("{host}: jump host {via} cannot reach {address}:{port} ({reason})").format(
                host=self.host.name, via=via.name, address=self.host.address, port=self.port, reason=exc)) from None

    @property
    def transport(self) -> paramiko.Transport:
        """Return the open transport. Raises ConnectionFailed when the connection is gone."""
        transport = self._client.get_transport() if self._client else None
        if transport is None or not transport.is_active():
            raise ConnectionFailed(_("{host}: the SSH connection was lost").format(host=self.host.name))
        return transport

    def open(self) -> None:
        """Connect, verify the host key against known_hosts and authenticate.

        Raises ConnectionFailed, HostKeyRejected, AuthenticationFailed or SecretError.
        """
        name = self.host.name
        self._interrupting.clear()  # a closed connector may be opened again
        self._stops_done.clear()
        password = self._secret(self.settings.password, _("SSH password of {host}").format(host=name))
        identity = self.settings.identity
        key_file = str(Path(identity).expanduser()) if identity else None
        if key_file and not Path(key_file).is_file():
            raise AuthenticationFailed(_("{host}: the key file {path} does not exist").format(
                host=name, path=identity))
        # A direct connection is opened first: the server forks and starts its side of the handshake
        # while paramiko is imported and known_hosts read. A problem with known_hosts is still reported
        # before a connection failure, as when the socket was opened last.
        early: Any = None
        early_failure: ConnectionFailed | None = None
        if self.settings.via is None:
            try:
                early = self._sock()
            except ConnectionFailed as exc:
                early_failure = exc
        try:
            client = self._client_with_host_keys()
        except BaseException:
            if early is not None:
                early.close()
            raise
        if early_failure is not None:
            raise early_failure
        sock = early if early is not None else self._sock()
        paramiko = import_paramiko()
        try:
            client.connect(
                self.host.address, port=self.port, username=self.settings.user, password=password,
                key_filename=key_file, look_for_keys=False, allow_agent=self.settings.agent,
                timeout=self.timeout, banner_timeout=self.timeout, auth_timeout=self.timeout,
                channel_timeout=self.timeout, sock=sock)
        except HostKeyRejected:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyRejected(_(
                "{host}: the host key CHANGED (expected {expected}, got {got}). Someone may be intercepting the "
                "connection, or the server was reinstalled. Check with whoever manages it, then accept the new key "
                "with: itref hosts trust {host} --replace").format(
                host=name, expected=fingerprint(exc.expected_key), got=fingerprint(exc.key))) from None
        except paramiko.AuthenticationException:
            client.close()
            tried = [t for t, used in ((_("key {path}").format(path=identity), key_file),
                                       (_("password"), password), (_("ssh-agent"), self.settings.agent))
                     if used]
            raise AuthenticationFailed(_("{host}: user '{user}' was refused (tried: {tried})").format(
                host=name, user=self.settings.user, tried=", ".join(tried) or _("nothing"))) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            if "no authentication methods available" in str(exc).lower():  # none configured, server reached
                raise AuthenticationFailed(_(
                    "{host}: no way to log in is configured: give the host an identity (key file), a password or "
                    "agent: true").format(host=name)) from None
            raise ConnectionFailed(_("{host}: SSH handshake with {address}:{port} failed ({reason})").format(
                host=name, address=self.host.address, port=self.port, reason=exc or type(exc).__name__)) from None
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(KEEPALIVE)
        self._client = client

    def _client_with_host_keys(self) -> paramiko.SSHClient:
        """Return a paramiko client that knows this host's known_hosts entries and refuses any other key.

        Raises HostKeyRejected when known_hosts cannot be read, or holds a line that cannot be read (named by file
        and line).
        """
        paramiko = import_paramiko()
        client = paramiko.SSHClient()
        kh = known_hosts_path(self.host)
        if kh.is_file():
            try:
                known = host_keys(kh)
            except KnownHostsLineError as exc:
                raise known_hosts_problem(self.host.name, exc) from None
            except (OSError, paramiko.SSHException) as exc:
                raise HostKeyRejected(_("{host}: cannot read {path}: {reason}").format(
                    host=self.host.name, path=kh, reason=exc)) from None
            # Only this host's entries are copied: paramiko looks the server up under the same name.
            name = known_hosts_name(self.host.address, self.port)
            for keytype, key in (known.lookup(name) or {}).items():
                client.get_host_keys().add(name, keytype, key)
        client.set_missing_host_key_policy(_RefuseUnknown(self.host.name, kh))
        return client

    def _secret(self, ref: SecretRef | None, purpose: str) -> str | None:
        return None if ref is None else self.secrets.resolve(ref, purpose).reveal()

    def _line(self, command: Command) -> tuple[str, bytes | None]:
        line = command.argv[0] if command.shell else posix_join(command.argv)
        stdin = command.stdin
        if command.env:  # the values go on the input: a command line shows in the host's process list
            from itref.connectors.shellvars import posix_script

            line, stdin = posix_script(line, dict(command.env), stdin)
        if command.sudo:
            from itref.connectors.sudo import sudo_argv

            sudo_pw = self._secret(self.settings.sudo_password,
                                   _("sudo password of {host}").format(host=self.host.name))
            argv, stdin = sudo_argv(["sh", "-c", line], sudo_pw, stdin)
            line = posix_join(argv)
        # The login shell leads the command's session: its id lets a timeout or Ctrl-C stop every process of it.
        return f"echo {SESSION_MARK.decode()}$$ >&2; {line}", stdin

    def run(self, command: Command) -> CommandResult:
        """Run ``command`` in a new channel of the host's connection and return its result.

        A command still running at its timeout, or when :meth:`close` is called meanwhile (Ctrl-C), is
        stopped, every process of it (:mod:`itref.connectors.stopping`), and reported with
        ``timed_out=True`` / ``interrupted=True`` (``stop_error`` says why some could not be stopped).
        Raises ConnectionFailed when the connection dies before the command finishes.
        """
        line, stdin = self._line(command)
        start = time.monotonic()
        try:
            chan = self.transport.open_session(timeout=self.timeout)
        except ConnectionFailed:
            raise
        except Exception as exc:  # paramiko.SSHException / ChannelException
            raise ConnectionFailed(_("{host}: cannot open a session ({reason})").format(
                host=self.host.name, reason=exc)) from None
        running = _Running(command.sudo)
        with self._lock:
            late = self._interrupting.is_set()  # Ctrl-C came while this host was connecting: start nothing
            if not late:
                self._channels[chan] = running
        if late:
            chan.close()
            return CommandResult(None, "", "", time.monotonic() - start, interrupted=True)
        try:
            chan.exec_command(line)
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            result = self._collect(chan, start, command.timeout, running)
            if result.timed_out:
                result = replace(result, stop_error=self._stop_session(running))
            return result
        except ConnectionFailed:
            if self._interrupting.is_set():
                return self._interrupted(running, b"", b"", start)
            raise
        except (OSError, EOFError) as exc:
            if self._interrupting.is_set():
                return self._interrupted(running, b"", b"", start)
            raise ConnectionFailed(_("{host}: connection lost during the command ({reason})").format(
                host=self.host.name, reason=exc or type(exc).__name__)) from None
        finally:
            with self._lock:
                self._channels.pop(chan, None)
            chan.close()

    def _interrupted(self, running: _Running, out: bytes, err: bytes, start: float) -> CommandResult:
        """Return the result of a command stopped by :meth:`close`, once close() has stopped its processes."""
        self._stops_done.wait(STOP_TIMEOUT + 10)
        return CommandResult(None, _decode(out), _decode(err), time.monotonic() - start, interrupted=True,
                             stop_error=running.stop_error if self._stops_done.is_set() else
                             _("stopping it took too long"))

    def _stop_session(self, running: _Running) -> str | None:
        """Stop every process of the command's session on the host; return None, or why it could not be done.

        Runs :data:`~itref.connectors.stopping.STOP_SCRIPT` in a new channel (through sudo when the command
        ran through sudo). Never raises.
        """
        from itref.connectors.stopping import left_over, stop_argv

        deadline = time.monotonic() + SESSION_WAIT
        while running.session is None and time.monotonic() < deadline:  # a command that has only just started
            time.sleep(0.02)
        if running.session is None:
            running.gave_up.set()
            return _("its process on the host is not known (the host's shell did not say), so it may still run")
        try:
            argv = stop_argv(running.session)
            stdin = None
            if running.sudo:
                from itref.connectors.sudo import sudo_argv

                password = self._secret(self.settings.sudo_password,
                                        _("sudo password of {host}").format(host=self.host.name))
                argv, stdin = sudo_argv(argv, password, None)
            chan = self.transport.open_session(timeout=self.timeout)
            try:
                chan.exec_command(posix_join(argv))
                if stdin:
                    chan.sendall(stdin)
                chan.shutdown_write()
                result = self._collect(chan, time.monotonic(), STOP_TIMEOUT, None)
            finally:
                chan.close()
        except ItrefError as exc:
            return exc.message
        except Exception as exc:  # paramiko or socket errors: the connection is gone
            return _("the connection to the host was lost ({reason})").format(reason=exc or type(exc).__name__)
        if result.rc == 0:
            return None
        if result.rc == 3:
            return left_over(result.stdout)
        return _("the stop command ended with {rc}: {error}").format(
            rc="?" if result.rc is None else result.rc, error=(result.stderr.strip().splitlines() or ["-"])[-1])

    def _collect(self, chan: paramiko.Channel, start: float, timeout: float,
                 running: _Running | None) -> CommandResult:
        """Read stdout and stderr until the channel's end of file AND its exit status have both arrived.

        OpenSSH may send the exit status before the last output (the command ended, its pipes are still
        being forwarded), so stopping at the exit status would lose output. For a command (``running``), the
        session line is taken out of stderr, and :meth:`close` from another thread ends the wait.
        """
        from itref.connectors.stopping import parse_session

        out, err = bytearray(), bytearray()
        deadline = start + timeout
        fd = chan.fileno()
        while True:
            if running is not None and running.session is None and err:
                running.session, rest = parse_session(bytes(err))
                if running.session is not None:
                    err = bytearray(rest)
            if running is not None and self._interrupting.is_set() and (
                    running.session is not None or running.gave_up.is_set() or chan.exit_status_ready()):
                return self._interrupted(running, bytes(out), bytes(err), start)
            if chan.recv_ready():
                out += chan.recv(READ_CHUNK)
                continue
            if chan.recv_stderr_ready():
                err += chan.recv_stderr(READ_CHUNK)
                continue
            if chan.exit_status_ready() and (chan.eof_received or chan.closed):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return CommandResult(None, _decode(out), _decode(err), time.monotonic() - start, timed_out=True)
            if chan.closed or not chan.get_transport().is_active():
                if chan.exit_status_ready():
                    break
                raise ConnectionFailed(_("{host}: the connection closed before the command finished").format(
                    host=self.host.name))
            if chan.eof_received:
                chan.status_event.wait(min(remaining, 0.5))
            else:
                select.select([fd], [], [], min(remaining, 0.5))
        while chan.recv_ready():
            out += chan.recv(READ_CHUNK)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(READ_CHUNK)
        if running is not None and running.session is None:
            running.session, rest = parse_session(bytes(err))
            err = bytearray(rest)
        status = chan.recv_exit_status()
        if status == -1 and not chan.get_transport().is_active():  # closed by a dying connection, no real status
            raise ConnectionFailed(_("{host}: the connection closed before the command finished").format(
                host=self.host.name))
        return CommandResult(status, _decode(out), _decode(err), time.monotonic() - start)

    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            try:
                self._sftp = self.transport.open_sftp_client()
            except ConnectionFailed:
                raise
            except Exception as exc:
                raise ConnectionFailed(_("{host}: SFTP is not available ({reason})").format(
                    host=self.host.name, reason=exc)) from None
        assert self._sftp is not None
        return self._sftp

    def put(self, local: Path, remote: str, mode: int | None = None) -> None:
        """Copy ``local`` to ``remote`` over SFTP (``mode`` applied with chmod)."""
        sftp = self._sftp_client()
        sftp.put(str(local), remote)
        if mode is not None:
            sftp.chmod(remote, mode)

    def get(self, remote: str, local: Path) -> None:
        """Copy the host's file ``remote`` to ``local`` over SFTP."""
        self._sftp_client().get(remote, str(local))

    def close(self) -> None:
        """Stop every command still running (all its processes on the host: Ctrl-C), then close every
        channel, SFTP, the connection and the jump host's; safe to call twice, and from another thread."""
        with self._lock:  # from now on nothing starts (run() checks under the same lock)
            channels = dict(self._channels)
            first = not self._interrupting.is_set()
            self._interrupting.set()
        if first:
            for running in channels.values():
                running.stop_error = self._stop_session(running)
            self._stops_done.set()
        for chan in channels:
            chan.close()
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._jump is not None:
            self._jump.close()
            self._jump = None


class _Running:
    """A command under way: whether it runs through sudo, its session on the host, how stopping it went."""

    def __init__(self, sudo: bool) -> None:
        self.sudo = sudo
        self.session: int | None = None
        self.stop_error: str | None = None
        self.gave_up = threading.Event()
        """Set when the session id did not come in time to stop the command."""


def _decode(data: bytearray | bytes) -> str:
    return bytes(data).decode("utf-8", errors="replace")


class _RefuseUnknown:
    """paramiko policy for a host missing from known_hosts: refuse, saying how to trust it."""

    def __init__(self, name: str, known_hosts: Path) -> None:
        self.name = name
        self.known_hosts = known_hosts

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        raise HostKeyRejected(_(
            "{host}: unknown host key {fp} ({kind}) for {where}, not in {path}. If you trust it, record it with: "
            "itref hosts trust {host}").format(host=self.name, fp=fingerprint(key), kind=key.get_name(),
                                              where=hostname, path=self.known_hosts))
