"""Why a host could not be opened, in one finding with what to do: the name, the port, the SSH host key, the
WinRM certificate, the credentials, or the secret that holds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from itref.core.errors import AuthenticationFailed, HostKeyRejected, ItrefError, SecretError
from itref.core.findings import Finding, Severity
from itref.hostcheck.model import problem
from itref.hostcheck.network import certificate, reach
from itref.i18n import _

if TYPE_CHECKING:
    from itref.connectors.base import HostSpec
    from itref.secrets import SecretResolver

def port_of(host: HostSpec) -> int:
    """Return the TCP port itref connects to on ``host`` (its connection kind's settings say which)."""
    settings = host.settings
    return int(getattr(settings, "effective_port", None) or getattr(settings, "port", None) or 22)


def _timeout(host: HostSpec) -> float:
    return float(getattr(host.settings, "connect_timeout", 10.0))


def _listener_fix(host: HostSpec, port: int) -> str:
    if host.connection == "winrm":
        if str(getattr(host.settings, "scheme", "https")) == "https":
            return _("Turn on WinRM over HTTPS on {host} (as administrator: winrm quickconfig -transport:https, with a "
                     "certificate for its name) and allow TCP {port} in its firewall; or correct 'port:'.").format(
                host=host.name, port=port)
        return _("Turn on WinRM on {host} (as administrator: winrm quickconfig) and allow TCP {port} in its "
                 "firewall; or correct 'port:'.").format(host=host.name, port=port)
    return _("Start the SSH server on {host} (systemctl enable --now ssh) and allow TCP {port} in its firewall; "
             "or correct 'port:' in the inventory.").format(host=host.name, port=port)


def unreachable(host: HostSpec, error: ItrefError) -> Finding:
    """Return the finding for a host whose connection failed (not its credentials): DNS, port, TLS, or other."""
    port = port_of(host)
    where = f"{host.address}:{port}"
    if getattr(host.settings, "via", None) is None:
        found = reach(host.address, port, _timeout(host))
        if found.problem == "dns":
            return problem("hosts.dns", Severity.CRITICAL, _(
                "{host}: the name {address} cannot be resolved (DNS: {detail})").format(
                host=host.name, address=host.address, detail=found.detail),
                _("Correct 'address:' of {host} in the inventory, or add the name to the DNS (or to /etc/hosts of "
                  "this machine).").format(host=host.name), host=host.name, entity=host.entity)
        if found.problem is not None:
            return problem("hosts.tcp", Severity.CRITICAL, _("{host}: nothing answers on {where} ({detail})").format(
                host=host.name, where=where, detail=found.detail),
                _listener_fix(host, port) if found.problem == "refused" else _(
                    "Check that {host} is on and on the network, and that no firewall between here and there "
                    "blocks TCP {port}.").format(host=host.name, port=port),
                host=host.name, entity=host.entity)
        if host.connection == "winrm" and str(getattr(host.settings, "scheme", "https")) == "https" \
                and getattr(host.settings, "cert_validation", True) is not False:
            ca_file = getattr(host.settings, "ca_file", None)
            cert = certificate(host.address, port, host.address, ca_file, _timeout(host))
            if not cert.valid:
                return tls_problem(host, cert.reason, cert.names)
    return problem("hosts.connect", Severity.CRITICAL, error.message, _(
        "Run 'itref run --limit {host} -- hostname' to see the full error, and check the host's settings in the "
        "inventory.").format(host=host.name), host=host.name, entity=host.entity)


def tls_problem(host: HostSpec, reason: str, names: list[str]) -> Finding:
    """Return the finding for a WinRM certificate that does not verify for the host's address."""
    ca_file = getattr(host.settings, "ca_file", None)
    if names and host.address not in names:
        fix = _("Use in 'address:' a name the certificate is made for ({names}), or give {host} a certificate for "
                "{address}.").format(names=", ".join(names), host=host.name, address=host.address)
    else:
        fix = _("Set 'ca_file:' of {host} to the certificate of the CA that signed the server's certificate (now: "
                "{ca}), or renew an expired certificate.").format(host=host.name, ca=ca_file or _("the system CAs"))
    return problem("hosts.tls", Severity.CRITICAL, _(
        "{host}: the WinRM certificate of {address} is not valid for that name ({reason})").format(
        host=host.name, address=host.address, reason=reason), fix, host=host.name, entity=host.entity,
        names=names or None)


def host_key(host: HostSpec, secrets: SecretResolver, error: ItrefError) -> Finding:
    """Return the finding for an SSH host key the connector refused (``error``): unknown, changed, or its
    known_hosts file damaged or unreadable."""
    from itref.connectors.hostkeys import describe, fetch_host_key, recorded_keys
    from itref.connectors.ssh import KnownHostsLineError, known_hosts_path, parse_known_hosts

    path = known_hosts_path(host)
    try:
        parse_known_hosts(path, path.read_bytes())
    except KnownHostsLineError as exc:  # a damaged file says nothing about the host's key
        return problem("hosts.ssh-key", Severity.CRITICAL, _(
            "{host}: the file of known SSH keys cannot be read at {path}:{line} ({reason})").format(
            host=host.name, path=exc.path, line=exc.line, reason=exc.reason), _(
            "Correct or remove that line (a merge or a copy may have damaged it); then itref hosts check {host} "
            "again (itref hosts trust {host} records its key if it is not there any more).").format(host=host.name),
            host=host.name, entity=host.entity)
    except FileNotFoundError:
        pass  # no file yet: the key is simply not recorded
    except OSError as exc:
        return problem("hosts.ssh-key", Severity.CRITICAL, error.message, _(
            "Let this account read {path} ({reason}).").format(path=path, reason=exc.strerror or exc),
            host=host.name, entity=host.entity)
    try:
        presented = describe(fetch_host_key(host, secrets))
    except ItrefError as exc:
        return unreachable(host, exc)
    if recorded_keys(host):
        return problem("hosts.ssh-key", Severity.CRITICAL, _(
            "{host}: its SSH key CHANGED: it now presents {key}, not the key recorded in {path} (reinstalled, or "
            "someone in between)").format(host=host.name, key=presented, path=path),
            _("Ask whoever manages {host} whether it was reinstalled and compare the fingerprint on the server "
              "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); only then: itref hosts trust {host} "
              "--replace").format(host=host.name), host=host.name, entity=host.entity, presented=presented)
    return problem("hosts.ssh-key", Severity.CRITICAL, _(
        "{host}: its SSH key {key} is not recorded in {path}, so itref does not trust it yet").format(
        host=host.name, key=presented, path=path),
        _("Compare the fingerprint with the server's (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then: "
          "itref hosts trust {host}").format(host=host.name), host=host.name, entity=host.entity, presented=presented)


def login(host: HostSpec, error: AuthenticationFailed) -> Finding:
    """Return the finding for credentials the host refused."""
    if host.connection == "winrm":
        fix = _("Check the user and the password the inventory gives for {host} (the secret it refers to); the "
                "account must be a local administrator of the server (or in 'Remote Management Users'), and "
                "{transport} authentication must be allowed by its WinRM service.").format(
            host=host.name, transport=getattr(host.settings, "transport", "ntlm"))
    else:
        fix = _("Check 'user:' and 'identity:' (or 'password:') of {host} in the inventory; the public key must be "
                "in ~{user}/.ssh/authorized_keys on the host.").format(
            host=host.name, user=getattr(host.settings, "user", None) or "USER")
    return problem("hosts.login", Severity.CRITICAL, error.message, fix, host=host.name, entity=host.entity)


def diagnose(host: HostSpec, error: BaseException, secrets: SecretResolver) -> Finding:
    """Return the one finding that explains why ``host`` could not be opened (``error`` from its connector)."""
    if isinstance(error, HostKeyRejected) and host.connection == "ssh":
        return host_key(host, secrets, error)
    if isinstance(error, AuthenticationFailed):
        return login(host, error)
    if isinstance(error, SecretError):
        return problem("hosts.secret", Severity.CRITICAL, _("{host}: {error}").format(
            host=host.name, error=error.message) if not error.message.startswith(host.name) else error.message,
            _("Make the secret available where the inventory says it is ('itref handover' lists where each one "
              "lives)."), host=host.name, entity=host.entity)
    if isinstance(error, ItrefError):
        return unreachable(host, error)
    return problem("hosts.connect", Severity.CRITICAL, _("{host}: unexpected error: {kind}: {detail}").format(
        host=host.name, kind=type(error).__name__, detail=error), _("Run again with -vv and report it."),
        host=host.name, entity=host.entity)
