"""The lab's certificate authority, the certificates it issues, and the intranet's HTTPS server.

The intranet (``https://ADDRESS:PORT``, watched by the ``network.tls.expiry`` check) reads its certificate from
``certs/intranet.pem`` at every connection, so a renewed certificate (``certbot renew`` on srv-web, the lab's
stand-in) is served at once, as a reloaded web server would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

from itref.core.files import write_private

INTRANET_NAME = "intranet.lab.example.test"


def make_ca(folder: Path, *, stem: str = "lab-ca", common_name: str = "itref lab CA (Lab-sur-Meuse)",
            days: int = 3650) -> tuple[Path, Path]:
    """Create a CA valid ``days`` days (``STEM.pem`` and ``STEM.key``, the lab's by default) in ``folder``;
    return both paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    ca_pem, ca_key = folder / f"{stem}.pem", folder / f"{stem}.key"
    ca_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(ca_key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return ca_pem, ca_key


def issue(folder: Path, stem: str, names: list[str], days: int, *, ca: str = "lab-ca",
          common_name: str | None = None) -> Path:
    """Issue a server certificate valid ``days`` days for ``names`` (DNS names or IP addresses; the first is its
    common name unless ``common_name`` is given), signed by the CA ``CA.pem``/``CA.key`` in ``folder`` (the lab's
    by default); write certificate and key together to ``folder/STEM.pem`` atomically; return it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate((folder / f"{ca}.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((folder / f"{ca}.key").read_bytes(), None)
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject)
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                           critical=False)
            .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    target = folder / f"{stem}.pem"
    write_private(target, pem, mode=0o640)  # the server's key: its group (the lab's services) reads it
    return target


def server_context(pem: Path) -> ssl.SSLContext:
    """Return a TLS server context serving the certificate and key of ``pem``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pem))
    return ctx


class IntranetServer:
    """A tiny HTTPS server (the commune's intranet) reloading its certificate at every connection."""

    def __init__(self, pem: Path, host: str = "127.0.0.1") -> None:
        self.pem = pem
        self.host = host
        self.port = 0
        self._sock: socket.socket | None = None
        self._stop = threading.Event()

    def start(self) -> IntranetServer:
        """Listen on a free port of ``host`` and serve in a daemon thread; return self."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(16)
        sock.settimeout(0.5)
        self._sock, self.port = sock, sock.getsockname()[1]
        threading.Thread(target=self._serve, name="lab-intranet", daemon=True).start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(OSError, ssl.SSLError), server_context(self.pem).wrap_socket(
                conn, server_side=True) as tls:
            tls.recv(4096)
            body = b"Intranet de la commune de Lab-sur-Meuse (lab itref)\n"
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
                        + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    def stop(self) -> None:
        """Stop listening; return None."""
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
