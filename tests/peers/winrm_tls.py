"""Test-only TLS material for the WinRM tests: a CA and two server certificates (one for another name)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    """A test CA and two server certificates signed by it (keys in PEM files)."""

    ca: Path  #: the CA certificate (what ``ca_file`` points at)
    server: ssl.SSLContext  #: server context for 127.0.0.1 / localhost
    other_name: ssl.SSLContext  #: server context whose certificate names only ``win-srv.lab.example``


def make_certificates(folder: Path) -> Certificates:
    """Write a CA and two server certificates (30 days) into ``folder``; return the CA file and server contexts."""
    from itref.lab.tls import issue, make_ca, server_context

    ca, _key = make_ca(folder, stem="ca", common_name="itref test CA", days=30)
    server = issue(folder, "server", ["127.0.0.1", "localhost"], 30, ca="ca", common_name="server")
    other = issue(folder, "other", ["win-srv.lab.example"], 30, ca="ca", common_name="other")
    return Certificates(ca=ca, server=server_context(server), other_name=server_context(other))
