"""Deliberate trust of SSH host keys: fetch a host's key, compare it with known_hosts, record it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from itref.connectors.ssh import (
    KnownHostsLineError,
    SSHConnector,
    fingerprint,
    host_keys,
    import_paramiko,
    known_hosts_name,
    known_hosts_path,
    known_hosts_problem,
    settings_of,
)
from itref.core.errors import ConnectionFailed, HostKeyRejected
from itref.i18n import _

if TYPE_CHECKING:
    from itref.connectors.base import HostSpec
    from itref.secrets import SecretResolver


def fetch_host_key(host: HostSpec, secrets: SecretResolver) -> Any:
    """Return the public key the host presents (no authentication is attempted).

    Raises ConnectionFailed when the host cannot be reached or does not speak SSH.
    """
    paramiko = import_paramiko()
    conn = SSHConnector(host, secrets)
    sock = conn._sock()
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = conn.timeout
        transport.start_client(timeout=conn.timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectionFailed(_("{host}: SSH handshake failed ({reason})").format(
            host=host.name, reason=exc or type(exc).__name__)) from None
    finally:
        transport.close()
        conn.close()


def check_known_hosts(host: HostSpec) -> None:
    """Raise HostKeyRejected naming the file and the line when the host's known_hosts file holds a line that
    cannot be read (nothing is recorded in a file itref cannot read back), or when it cannot be read at all."""
    path = known_hosts_path(host)
    if not path.exists():
        return
    try:
        host_keys(path)
    except KnownHostsLineError as exc:
        raise known_hosts_problem(host.name, exc) from None
    except OSError as exc:
        raise HostKeyRejected(_("{host}: cannot read {path}: {reason}").format(
            host=host.name, path=path, reason=exc.strerror or exc)) from None


def _entry_names(line: str) -> list[str]:
    fields = line.split()
    return fields[0].split(",") if fields and not line.lstrip().startswith("#") else []


def _matches(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        paramiko = import_paramiko()
        salt = pattern.split("|")[2]
        return paramiko.HostKeys.hash_host(name, salt) == pattern
    return pattern == name


def recorded_keys(host: HostSpec) -> list[str]:
    """Return the known_hosts lines that apply to ``host`` (hashed entries included)."""
    path = known_hosts_path(host)
    name = known_hosts_name(host.address, settings_of(host).port)
    if not path.is_file():
        return []
    return [line for line in path.read_bytes().decode("utf-8", errors="replace").splitlines()
            if any(_matches(p, name) for p in _entry_names(line))]


def key_line(host: HostSpec, key: Any) -> str:
    """Return the known_hosts line recording ``key`` for ``host``."""
    return f"{known_hosts_name(host.address, settings_of(host).port)} {key.get_name()} {key.get_base64()}"


def record_host_key(host: HostSpec, key: Any, *, replace: bool) -> Path:
    """Append ``key`` for ``host`` to its known_hosts file (after removing the host's old lines if
    ``replace``). Returns the file written. Other lines, comments included, are kept as they were."""
    path = known_hosts_path(host)
    name = known_hosts_name(host.address, settings_of(host).port)
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    if replace:
        lines = [line for line in lines if not any(_matches(p, name) for p in _entry_names(line))]
    lines.append(key_line(host, key))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".itref-tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.chmod(0o644 if not path.exists() else path.stat().st_mode & 0o777)
    tmp.replace(path)
    return path


def describe(key: Any) -> str:
    """Return ``ssh-ed25519 SHA256:...`` for people."""
    return f"{key.get_name()} {fingerprint(key)}"
