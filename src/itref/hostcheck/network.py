"""Network probes: does the name resolve, does the port answer, is the TLS certificate valid for the name."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass

from itref.i18n import _


@dataclass(frozen=True)
class Reach:
    """The outcome of resolving ``address`` and connecting to ``port``: ``problem`` is None when both worked,
    else ``dns``, ``refused`` or ``timeout`` / ``network`` with ``detail`` in plain words."""

    problem: str | None
    detail: str = ""


def is_ip(address: str) -> bool:
    """Return True for an IPv4 or IPv6 literal (nothing to resolve)."""
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return True


def reach(address: str, port: int, timeout: float) -> Reach:
    """Resolve ``address`` and open (then close) a TCP connection to ``port``; return what happened. Never raises."""
    try:
        infos = socket.getaddrinfo(address.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return Reach("dns", getattr(exc, "strerror", None) or str(exc))
    last = Reach("network", _("no address"))
    for family, kind, proto, _canon, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            return Reach(None)
        except ConnectionRefusedError:
            last = Reach("refused", _("connection refused"))
        except TimeoutError:
            last = Reach("timeout", _("no answer within {timeout:g} s").format(timeout=timeout))
        except OSError as exc:
            last = Reach("network", exc.strerror or str(exc))
        finally:
            sock.close()
    return last


@dataclass(frozen=True)
class Certificate:
    """What a TLS server presents: ``valid`` when it verifies against ``ca_file`` (or the system CAs) for ``name``;
    ``reason`` says why not; ``names`` are the names it is made for."""

    valid: bool
    reason: str
    names: list[str]


def certificate(address: str, port: int, name: str, ca_file: str | None, timeout: float, *,
                strict: bool = True) -> Certificate:
    """Return whether the certificate at ``address:port`` is valid for ``name`` (chain, dates, name). Never raises.

    ``strict`` judges it as ``ssl.create_default_context()`` does (on Python 3.13+ that adds X.509 strict checks,
    as the HTTPS library under WinRM does); ``strict=False`` judges it as itref's LDAPS client does (a plain
    client context: CA, validity and name, see ``itref.ad.client``), so a DC that itref can use is not reported
    as broken.
    """
    from itref.ad.client import certificate_names

    try:
        if strict:
            context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
            if ca_file:
                context.load_verify_locations(cafile=ca_file)
            else:
                context.load_default_certs()
        with socket.create_connection((address.strip("[]"), port), timeout=timeout) as sock, \
                context.wrap_socket(sock, server_hostname=name):
            return Certificate(True, "", [])
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or str(exc)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
    except (FileNotFoundError, ValueError) as exc:  # an unreadable ca_file
        reason = str(exc)
    return Certificate(False, str(reason), certificate_names(address.strip("[]"), port, timeout))
