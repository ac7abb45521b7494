"""Network checks, made from the itref machine: TLS certificate expiry (HTTPS, LDAPS, SMTP STARTTLS,
RDP), TCP ports that must answer, names that must resolve. Endpoints are listed per entity in the
playbooks (``audits.endpoints``, ``audits.ports``, ``audits.dns``)."""

from __future__ import annotations

import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from itref.audit.base import Check
from itref.audit.registry import register
from itref.config.schema import Endpoint
from itref.context import RunContext
from itref.core.findings import Finding, Severity
from itref.i18n import _

DEFAULT_PORTS = {"https": 443, "ldaps": 636, "smtp": 25, "rdp": 3389, "tls": 443}
TIMEOUT = 10.0
# X.224 connection request asking for TLS (RDP's PROTOCOL_SSL), as mstsc sends it.
RDP_NEGOTIATION = bytes.fromhex("030000130ee000000000000100080001000000")


def _handshake(sock: socket.socket, scheme: str) -> None:
    """Bring a plain connection to the point where TLS starts (SMTP STARTTLS, RDP negotiation)."""
    if scheme == "smtp":
        stream = sock.makefile("rb")
        line = stream.readline()
        if not line.startswith(b"220"):
            raise OSError(_("no SMTP greeting"))
        sock.sendall(b"EHLO itref.invalid\r\n")
        while True:
            line = stream.readline()
            if not line or line[3:4] == b" ":
                break
        sock.sendall(b"STARTTLS\r\n")
        if not stream.readline().startswith(b"220"):
            raise OSError(_("the server refused STARTTLS"))
    elif scheme == "rdp":
        sock.sendall(RDP_NEGOTIATION)
        if len(sock.recv(19)) < 11:
            raise OSError(_("no RDP negotiation answer"))


def certificate_expiry(url: str, timeout: float = TIMEOUT) -> tuple[datetime, str]:
    """Return (notAfter, subject) of the certificate served at ``url``, without judging its validity.

    Raises OSError (unreachable, no TLS) with the reason.
    """
    from cryptography import x509

    parsed = urlparse(url)
    host, port = parsed.hostname or "", parsed.port or DEFAULT_PORTS[parsed.scheme]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        _handshake(sock, parsed.scheme)
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise OSError(_("no certificate presented"))
    cert = x509.load_der_x509_certificate(der)
    return cert.not_valid_after_utc, cert.subject.rfc4514_string()


def _books(ctx: RunContext, entities: set[str] | None) -> list[tuple[str, Any]]:
    return [(e, b) for e, b in ctx.project.playbooks.items() if entities is None or e in entities]


def _tls(check: Check, ctx: RunContext, thresholds: dict[str, Any], entities: set[str] | None) -> list[Finding]:
    endpoints: list[tuple[str, Endpoint]] = [(entity, e) for entity, book in _books(ctx, entities)
                                             for e in book.audits.endpoints]

    def one(item: tuple[str, Endpoint]) -> Finding:
        entity, ep = item
        name = ep.name or ep.url
        try:
            not_after, subject = certificate_expiry(ep.url)
        except (OSError, ValueError) as exc:
            return check.finding(None, Severity.UNKNOWN, _("{name}: certificate not readable ({reason})").format(
                name=name, reason=getattr(exc, "strerror", None) or exc), subject=ep.url, entity=entity)
        days = (not_after - datetime.now(UTC)).days
        if days < 0:
            severity, text = Severity.CRITICAL, _("{name}: the certificate EXPIRED {n} day(s) ago")
        else:
            severity = (Severity.CRITICAL if days <= ep.critical_days else
                        Severity.WARNING if days <= ep.warn_days else Severity.OK)
            text = _("{name}: the certificate expires in {n} day(s)")
        return check.finding(None, severity, text.format(name=name, n=abs(days)), subject=ep.url, entity=entity,
                             evidence={"not_after": not_after.isoformat(), "subject": subject, "days": days})

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(endpoints)))) as pool:
        return list(pool.map(one, endpoints))


def _ports(check: Check, ctx: RunContext, thresholds: dict[str, Any], entities: set[str] | None) -> list[Finding]:
    items = [(entity, p) for entity, book in _books(ctx, entities) for p in book.audits.ports]

    def one(item: tuple[str, Any]) -> Finding:
        entity, p = item
        where = f"{p.host}:{p.port}"
        try:
            with socket.create_connection((p.host, p.port), timeout=TIMEOUT):
                pass
        except OSError as exc:
            return check.finding(None, Severity.CRITICAL, _("{name} does not answer ({reason})").format(
                name=p.name or where, reason=exc.strerror or exc), subject=where, entity=entity)
        return check.finding(None, Severity.OK, _("{name} answers").format(name=p.name or where), subject=where,
                             entity=entity)

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(items)))) as pool:
        return list(pool.map(one, items))


def _dns(check: Check, ctx: RunContext, thresholds: dict[str, Any], entities: set[str] | None) -> list[Finding]:
    out = []
    for entity, book in _books(ctx, entities):
        for name in book.audits.dns:
            try:
                addresses = sorted({a[4][0] for a in socket.getaddrinfo(name, None)})
            except OSError as exc:
                out.append(check.finding(None, Severity.CRITICAL, _("{name} does not resolve ({reason})").format(
                    name=name, reason=exc.strerror or exc), subject=name, entity=entity))
                continue
            out.append(check.finding(None, Severity.OK, _("{name} resolves to {addresses}").format(
                name=name, addresses=", ".join(addresses)), subject=name, entity=entity,
                evidence={"addresses": addresses}))
    return out


register(Check("network.tls.expiry", _("Certificate expiry"),
               _("When a certificate expires, browsers, mail clients and AD logons refuse the service."),
               _("Renew the certificate with its provider (or certbot) and install it on the server."), run=_tls,
               how=_("A TLS connection from this machine to each address listed under audits.endpoints in the "
                     "playbooks: the certificate's expiry date against warn_days and critical_days, and whether it "
                     "is trusted and valid for the name."),
               commands=("itref audit --checks network.tls.expiry",)))
register(Check("network.port", _("Service answers"), _("A service that does not answer is down for its users."),
               _("Check that the server is on and that the service runs (and the firewall lets it through)."),
               run=_ports, how=_("A TCP connection from this machine to each host and port listed under audits.ports "
                                 "in the playbooks."), commands=("itref audit --checks network.port",)))
register(Check("network.dns", _("Name resolves"), _("If a name does not resolve, nobody can reach the service by "
                                                    "its name."),
               _("Check the DNS record with whoever manages the zone."), run=_dns,
               how=_("This machine's resolver asked for each name listed under audits.dns in the playbooks."),
               commands=("itref audit --checks network.dns",)))
