"""The ``winrm`` connector (pywinrm): one WinRS shell per host, reused for every command of a run.

Settings (``defaults.winrm`` merged with the host's own fields): ``address``, ``scheme`` (``https``;
``http`` for port 5985), ``port`` (5986 for https, 5985 for http), ``transport`` (``ntlm``;
``kerberos`` uses the ticket cache of ``kinit``; ``basic``), ``user``, ``password`` (a secret
reference, resolved in :meth:`WinRMConnector.open`), ``ca_file`` (the CA that signed the host's
certificate; without it the system's CA bundle is used), ``cert_validation`` (``false`` turns the
check off, lab only, and is reported in :attr:`WinRMConnector.warnings` and the log every time),
``connect_timeout`` (10 s).

How it works and why:

* **One shell.** ``open()`` creates one WinRS shell (``winrm.protocol.Protocol.open_shell``) and every
  command of the run is a Command / Receive / Signal in it; ``close()`` deletes it. pywinrm's
  ``Session.run_cmd`` would create and delete a shell (and drop the HTTP connection, hence the NTLM
  handshake) for every command.
* **Codepage.** The shell is created with ``WINRS_CODEPAGE=65001`` (UTF-8). Without it the shell
  gets the host's OEM codepage (850 on a French Windows), and text such as "Opération réussie" would
  come back as cp850 bytes that look like garbage once read as UTF-8. Every script also sets
  ``[Console]::OutputEncoding`` to UTF-8. Output is decoded as UTF-8; lines that are not valid UTF-8
  (a legacy program that writes the OEM/ANSI codepage whatever the console says) are decoded as
  cp850 or cp1252, whichever reads as more plausible French text (cp850 on a tie). Line ends are
  returned as ``\\n``.
* **Commands.** Every command is a PowerShell script run as ``powershell.exe -NoProfile
  -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <base64 UTF-16LE>``, without cmd.exe
  (``WINRS_SKIP_CMD_SHELL``: no cmd.exe parsing and a 32 767-character command line instead of
  8 191). An argument list becomes ``& 'prog' 'arg' ...`` with every argument a single-quoted
  literal (:func:`~itref.connectors.quoting.powershell_join`); ``shell=True`` runs the line as
  written. The script first turns off progress records and sets UTF-8 output, and ends by exiting
  with ``$LASTEXITCODE`` when a native program set it (else 1 if the last statement failed, else 0).
  ``Command.stdin`` is sent in full (then closed) before output is read, and piped into the program
  (``$input | & ...``, as lines of text); a ``shell=True`` line reads it as ``$input``. Without stdin the
  console stays attached, so a native program that waits for keyboard input is stopped by its timeout
  (PowerShell's own prompts fail at once: ``-NonInteractive``). ``Command.env`` (a routine's parameters)
  is sent as the standard input instead, one base64 line per value, and read into variables by the top of
  the script (:func:`~itref.connectors.shellvars.powershell_script`), so no value is on the powershell.exe
  command line. ``Command.sudo`` has no meaning here: commands run as the connecting account.
* **Error streams.** PowerShell writes its errors to stderr as CLIXML (``#< CLIXML <Objs>...``);
  :func:`clixml_to_text` turns them back into the text a console would show.
* **Timeouts.** ``connect_timeout`` bounds the TCP/TLS connection. Other WS-Management operations
  carry an OperationTimeout of 20 s and an HTTP read timeout of 30 s (pywinrm requires the read
  timeout to exceed the operation timeout). Output is read by this module's own Receive loop, each
  Receive asking the host to wait at most :attr:`WinRMConnector.receive_wait` seconds (and never past
  the command's deadline), so a command that exceeds ``Command.timeout`` is sent the terminate
  signal and returned as ``CommandResult(rc=None, timed_out=True)`` within about its timeout
  (``stop_error`` says why, when the host refused or did not get the signal). ``close()`` from another
  thread (Ctrl-C) does the same with ``interrupted=True``, then deletes the shell.
  (pywinrm's ``get_command_output`` retries forever.)
* **Errors.** Refused, DNS, connect timeout, lost connection → ``ConnectionFailed`` ("HOST: cannot
  reach ADDRESS:PORT (reason)"); HTTP 401 (``InvalidCredentialsError``) or the access-denied fault →
  ``AuthenticationFailed`` naming the host and user (never the password); certificate not verified →
  ``ConnectionFailed`` saying to set ``ca_file``. WS-Management faults: when creating the shell →
  ``ConnectionFailed`` (the host is unusable); "shell not found" when starting a command (the host
  discarded an idle shell, or WinRM restarted) → a new shell is created once and the command started
  in it (nothing had run yet); "shell not found" or "operation aborted" while a command runs →
  ``ConnectionFailed`` (its outcome is unknown); any other fault about one command (refused command
  line, quota, internal error) → a failed ``CommandResult`` (``rc=None``, the fault in ``stderr``) and
  the shell stays usable. After a lost connection every later call raises ``ConnectionFailed``.
* **Files.** ``put`` sends the file as base64 lines on the command's standard input (48 KiB of file
  per line, at most 96 KiB per WS-Management Send, well within the 150 KiB MaxEnvelopeSize of every
  Windows version) to one PowerShell command that decodes and writes them with a ``FileStream`` and
  prints the SHA-256 of what it wrote; ``get`` runs one command that reads the file in 48 KiB blocks
  and prints each as a base64 line, then the SHA-256. Both directions check the digest. ``get`` writes
  ``local`` only once the digest matched; a failed ``put`` may leave a partial ``remote``. Windows has
  no chmod: ``put``'s ``mode`` is ignored (with a warning).
* **Kerberos** needs pywinrm's optional pykerberos package and a ticket (``kinit``); the ``password``
  setting is then not used.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import hashlib
import logging
import re
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from itref.connectors.base import Command, Connector, ConnectorSettings, HostSpec
from itref.connectors.quoting import powershell_encode, powershell_join, powershell_quote
from itref.core.errors import AuthenticationFailed, ConnectionFailed, ItrefError
from itref.core.model import Text
from itref.core.results import CommandResult
from itref.i18n import _
from itref.secrets.refs import SecretRef

if TYPE_CHECKING:
    import requests
    import xmltodict
    from winrm.exceptions import (
        InvalidCredentialsError,
        WinRMError,
        WinRMOperationTimeoutError,
        WinRMTransportError,
        WSManFaultError,
    )
    from winrm.protocol import Protocol

    from itref.secrets import SecretResolver


def _load() -> None:
    """Import pywinrm and what it uses, the first time a WinRM connection is made: the settings of this module
    are read with every inventory, the library only when a Windows host is reached."""
    global requests, xmltodict, InvalidCredentialsError, WinRMError, WinRMOperationTimeoutError
    global WinRMTransportError, WSManFaultError, Protocol
    if "Protocol" in globals():
        return
    import requests as _requests
    import xmltodict as _xmltodict
    from winrm import exceptions as _exc
    from winrm.protocol import Protocol as _Protocol

    requests, xmltodict = _requests, _xmltodict
    InvalidCredentialsError, WinRMError = _exc.InvalidCredentialsError, _exc.WinRMError
    WinRMOperationTimeoutError, WinRMTransportError = _exc.WinRMOperationTimeoutError, _exc.WinRMTransportError
    WSManFaultError = _exc.WSManFaultError
    Protocol = _Protocol

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"https": 5986, "http": 5985}
DEFAULT_CONNECT_TIMEOUT = 10.0


class WinRMSettings(ConnectorSettings):
    """How itref reaches a Windows host over WinRM (``connection: winrm``)."""

    user: Text | None = Field(None, description="Account itref logs in as.",
                              examples=["EXEMPLE\\svc-itref", "svc-itref@exemple.example"])
    port: int | None = Field(None, ge=1, le=65535, description="TCP port (5986 with https, 5985 with http "
                             "when left out).", examples=[5986])
    password: SecretRef | None = Field(None, description="The account's password.",
                                       examples=[{"secret": "winrm-itref"}])
    transport: Literal["ntlm", "kerberos", "basic"] = Field("ntlm", description="How itref authenticates: ntlm "
                                                            "(message encryption over http too), kerberos (a "
                                                            "ticket from kinit) or basic (https only).",
                                                            examples=["kerberos"])
    scheme: Literal["https", "http"] = Field("https", description="https, or http (NTLM still encrypts the "
                                             "messages).", examples=["http"])
    ca_file: Text | None = Field(None, description="CA certificate that signed the host's certificate (the "
                                 "system's CAs otherwise).", examples=["/srv/it/ca-exemple.pem"])
    cert_validation: bool = Field(True, description="Set to false only for a lab: the certificate is then not "
                                  "checked (itref warns every time).", examples=[False])
    connect_timeout: float = Field(DEFAULT_CONNECT_TIMEOUT, gt=0, description="Seconds to wait for the "
                                   "connection.", examples=[5])

    @property
    def effective_port(self) -> int:
        """Return the port: the one set, else the scheme's (5986 https, 5985 http)."""
        return self.port or DEFAULT_PORTS[self.scheme]


def settings_of(host: HostSpec) -> WinRMSettings:
    """Return ``host``'s WinRM settings (the defaults when it carries none)."""
    return host.settings if isinstance(host.settings, WinRMSettings) else WinRMSettings()
OPERATION_TIMEOUT = 20
"""Seconds the host may take for Create, Command, Send, Signal and Delete (pywinrm's default)."""
READ_MARGIN = 10.0
"""Seconds the HTTP read may take beyond the operation timeout before the host counts as gone."""
RECEIVE_WAIT = 5.0
"""Longest a single Receive waits on the host for output (bounds how late a deadline or close() is seen)."""
CODEPAGE = 65001
LEGACY_ENCODINGS = ("cp850", "cp1252")
"""Tried, in this order of preference, for output lines that are not valid UTF-8 (French Windows)."""
STDIN_CHUNK = 96 * 1024
"""Bytes of standard input per Send (base64 in the envelope: 128 KiB, under the 150 KiB MaxEnvelopeSize)."""
TRANSFER_CHUNK = 48 * 1024
"""File bytes per base64 line in put/get."""
MAX_COMMAND_LINE = 32_000
"""CreateProcess limit (32 767 characters) minus a margin."""

POWERSHELL = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")

NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
RESOURCE_CMD = f"{NS_SHELL}/cmd"
ACTION_RECEIVE = f"{NS_SHELL}/Receive"
NS_CLIXML = "{http://schemas.microsoft.com/powershell/2004/04}"

FAULT_ACCESS_DENIED = 5
FAULT_OPERATION_ABORTED = 995
FAULT_SHELL_NOT_FOUND = 2150858843

PRELUDE = (
    "$ProgressPreference = 'SilentlyContinue'\n"
    "try { [Console]::OutputEncoding = New-Object Text.UTF8Encoding $false } catch { }\n"
    "$OutputEncoding = New-Object Text.UTF8Encoding $false\n"
)
"""First lines of every script: no progress CLIXML, UTF-8 (without BOM) for output and for native pipes."""
EPILOGUE = (
    "$itrefOk = $?; if ($LASTEXITCODE) { exit $LASTEXITCODE } elseif ($itrefOk) { exit 0 } else { exit 1 }\n"
)
"""Last line of every script: the exit code of the last native program, else 1 if the last statement failed."""


# --------------------------------------------------------------------------- pure helpers


def wrap_script(body: str) -> str:
    """Return the full PowerShell script for ``body``: :data:`PRELUDE`, the body, :data:`EPILOGUE`.

    A blank line separates the body from the epilogue so a trailing backtick cannot join them.
    """
    return f"{PRELUDE}{body}\n\n{EPILOGUE}"


def script_body(command: Command) -> str:
    """Return the PowerShell statement(s) that run ``command``.

    ``shell=True``: ``argv[0]`` as written. Otherwise ``& 'prog' 'arg' ...`` with every argument a
    literal, preceded by ``$input |`` when the command has standard input. Raises ValueError for an
    empty argument list.
    """
    if command.shell:
        if len(command.argv) != 1:
            raise ValueError("a shell command is exactly one command line")
        return command.argv[0]
    call = powershell_join(command.argv)
    return f"$input | {call}" if command.stdin is not None else call


def encoded_arguments(script: str) -> list[str]:
    """Return the arguments of ``powershell.exe`` that run ``script`` (ending with the base64 payload)."""
    return [*POWERSHELL_ARGS, powershell_encode(script)]


_FRENCH_LETTERS = frozenset("éèêëàâäçîïôöùûüÿœæÉ«»°€")
_MOJIBAKE = frozenset("‚„…†‡ˆ‰Š‹Œ‘’“”•–—˜™š›žŸ¦¬¯´¸¨ÞþÐðÚÓÒÕõ¤¶§") | frozenset(map(chr, range(0x2500, 0x25A0)))


def _plausibility(text: str) -> int:
    """Return a score: +1 per common French letter, -1 per character typical of a wrong codepage."""
    score = 0
    for ch in text:
        if ch in _FRENCH_LETTERS:
            score += 1
        elif ch in _MOJIBAKE or (ord(ch) < 32 and ch not in "\t\r\n\f\b\x1b"):
            score -= 1
    return score


def decode_output(data: bytes, codepage: int = CODEPAGE) -> str:
    """Return ``data`` (a command's stdout or stderr) as text with ``\\n`` line ends.

    Decodes with ``codepage`` (65001 → UTF-8; a leading UTF-8 BOM is dropped). Lines that do not
    decode are decoded with cp850 or cp1252 (:data:`LEGACY_ENCODINGS`), the one chosen for all of
    them being the more plausible French text, cp850 on a tie. Never raises.
    """
    if not data:
        return ""
    primary = "utf-8" if codepage == CODEPAGE else f"cp{codepage}"
    try:
        codecs.lookup(primary)
    except LookupError:
        primary = "utf-8"
    if primary == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode(primary)
    except UnicodeDecodeError:
        lines = data.split(b"\n")
        bad = []
        decoded: list[str | None] = []
        for line in lines:
            try:
                decoded.append(line.decode(primary))
            except UnicodeDecodeError:
                decoded.append(None)
                bad.append(line)
        legacy = _best_legacy(b"\n".join(bad))
        text = "\n".join(d if d is not None else line.decode(legacy, errors="replace")
                         for d, line in zip(decoded, lines, strict=True))
    return text.replace("\r\n", "\n")


def _best_legacy(sample: bytes) -> str:
    """Return the legacy encoding under which ``sample`` reads best (cp850 wins ties and failures)."""
    best, best_score = LEGACY_ENCODINGS[0], None
    for encoding in LEGACY_ENCODINGS:
        try:
            score = _plausibility(sample.decode(encoding))
        except UnicodeDecodeError:
            continue
        if best_score is None or score > best_score:
            best, best_score = encoding, score
    return best


_CLIXML_MARK = re.compile(r"#< CLIXML\r?\n?")
_CLIXML_DOC = re.compile(r"<Objs\b[^>]*>.*?</Objs>", re.S)
_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CLIXML_PREFIX = {"warning": "WARNING: ", "verbose": "VERBOSE: ", "debug": "DEBUG: "}


def _clixml_unescape(text: str) -> str:
    """Return ``text`` with PowerShell's ``_xHHHH_`` escapes decoded (``_x000D__x000A_`` → CRLF)."""
    raw = _CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")  # join surrogate pairs


def _clixml_records(document: str) -> str | None:
    """Return the text of the string records of one ``<Objs>`` document, or None if it is not CLIXML."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        return None
    parts = []
    for element in root:
        if element.tag != f"{NS_CLIXML}S":
            continue  # progress records and other objects carry nothing to read
        stream = (element.get("S") or "").lower()
        parts.append(_CLIXML_PREFIX.get(stream, "") + _clixml_unescape(element.text or ""))
    return "".join(parts)


def clixml_to_text(text: str) -> str:
    """Return ``text`` with every PowerShell CLIXML block replaced by the text it holds.

    ``#< CLIXML`` followed by ``<Objs><S S="Error">line_x000D__x000A_</S>...</Objs>`` becomes
    ``line\\r\\n...``; warning, verbose and debug records get their console prefix, progress records
    are dropped. Text around the blocks is kept; text without the marker, or a block that is not
    well-formed XML, is returned unchanged.
    """
    if "#< CLIXML" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        records = _clixml_records(match.group(0))
        return match.group(0) if records is None else records

    converted = _CLIXML_DOC.sub(replace, text)
    return _CLIXML_MARK.sub("", converted)


def put_body(remote: str) -> str:
    """Return the script body that writes standard input (base64 lines) to ``remote`` and prints its SHA-256."""
    return (
        "$ErrorActionPreference = 'Stop'\n"
        f"$path = {powershell_quote(remote)}\n"
        "$sha = [Security.Cryptography.SHA256]::Create()\n"
        "$fs = [IO.File]::Create($path)\n"
        "try {\n"
        "  foreach ($line in $input) {\n"
        "    if (-not $line) { continue }\n"
        "    $bytes = [Convert]::FromBase64String($line)\n"
        "    $fs.Write($bytes, 0, $bytes.Length)\n"
        "    [void]$sha.TransformBlock($bytes, 0, $bytes.Length, $null, 0)\n"
        "  }\n"
        "  [void]$sha.TransformFinalBlock((New-Object byte[] 0), 0, 0)\n"
        "} finally { $fs.Close() }\n"
        "[Console]::Out.WriteLine(([BitConverter]::ToString($sha.Hash) -replace '-', '').ToLowerInvariant())"
    )


def get_body(remote: str) -> str:
    """Return the script body that prints ``remote`` as base64 lines, then ``sha256:<hex>``."""
    return (
        "$ErrorActionPreference = 'Stop'\n"
        f"$path = {powershell_quote(remote)}\n"
        "$sha = [Security.Cryptography.SHA256]::Create()\n"
        "$fs = [IO.File]::OpenRead($path)\n"
        "try {\n"
        f"  $buf = New-Object byte[] {TRANSFER_CHUNK}\n"
        "  while (($n = $fs.Read($buf, 0, $buf.Length)) -gt 0) {\n"
        "    [void]$sha.TransformBlock($buf, 0, $n, $null, 0)\n"
        "    [Console]::Out.WriteLine([Convert]::ToBase64String($buf, 0, $n))\n"
        "  }\n"
        "  [void]$sha.TransformFinalBlock($buf, 0, 0)\n"
        "} finally { $fs.Close() }\n"
        "$hex = ([BitConverter]::ToString($sha.Hash) -replace '-', '').ToLowerInvariant()\n"
        "[Console]::Out.WriteLine('sha256:' + $hex)"
    )


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Yield the concatenation of ``lines`` in pieces of at most ``size`` bytes (never empty)."""
    buffer = bytearray()
    for line in lines:
        buffer += line
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _walk(exc: BaseException) -> Iterator[BaseException]:
    """Yield ``exc`` and every exception it wraps (urllib3 ``reason``, causes, contexts, args)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "reason", None), current.__cause__, current.__context__, *current.args):
            if isinstance(inner, BaseException):
                stack.append(inner)


def _network_reason(exc: BaseException) -> str:
    """Return why a connection failed, in plain words."""
    for inner in _walk(exc):
        if isinstance(inner, socket.gaierror):
            return _("the name cannot be resolved (DNS)")
        if isinstance(inner, ConnectionRefusedError):
            return _("connection refused; is WinRM listening on that port?")
        if isinstance(inner, ConnectionResetError | BrokenPipeError):
            return _("the connection was closed by the host")
        if isinstance(inner, TimeoutError | requests.exceptions.Timeout):
            return _("no answer in time")
    for inner in _walk(exc):
        if isinstance(inner, OSError) and inner.strerror:
            return inner.strerror
    return type(exc).__name__


def _tls_detail(exc: BaseException) -> tuple[bool, str]:
    """Return (is a certificate verification failure, detail) for a TLS error."""
    for inner in _walk(exc):
        if isinstance(inner, ssl.SSLCertVerificationError):
            return True, inner.verify_message or inner.reason or "certificate verify failed"
    for inner in _walk(exc):
        if isinstance(inner, ssl.SSLError):
            return "CERTIFICATE_VERIFY_FAILED" in str(inner), inner.reason or str(inner)
    return "CERTIFICATE_VERIFY_FAILED" in str(exc), str(exc)


def _system_ca_bundle() -> str | None:
    """Return the system's CA bundle (so a CA added with update-ca-certificates is trusted), or None."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _duration(seconds: float) -> str:
    """Return ``seconds`` as an xs:duration (``PT1.500S``)."""
    return f"PT{max(seconds, 0.001):.3f}S"


def _fault_text(exc: WSManFaultError) -> str:
    """Return a one-line description of a WS-Management fault: its reason and code."""
    reason = " ".join((exc.reason or "").split()) or _("no reason given")
    code = exc.wsman_fault_code
    return f"{reason} (WSManFault {code:#x})" if code is not None else reason


class _LocalError(Exception):
    """A local file could not be read (put) or written (get) during a transfer; carries the message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Base64Lines:
    """Decodes the output of :func:`get_body`: base64 lines, then ``sha256:<hex>``."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.reported: str | None = None
        self.bad = False
        self._rest = b""

    def feed(self, data: bytes, write: Callable[[bytes], object]) -> None:
        """Decode every complete line of ``data`` and pass the bytes to ``write`` (OSError passes through)."""
        *complete, self._rest = (self._rest + data).split(b"\n")
        for raw in complete:
            line = raw.strip()
            if not line:
                continue
            if line.startswith(b"sha256:"):
                self.reported = line[7:].decode("ascii", "replace")
                continue
            try:
                block = base64.b64decode(line, validate=True)
            except binascii.Error:
                self.bad = True
                continue
            self.digest.update(block)
            write(block)


@dataclass
class _Outcome:
    """What one WinRS command produced, before decoding."""

    stdout: bytes
    stderr: bytes
    rc: int | None
    duration: float
    timed_out: bool = False
    fault: str | None = None
    interrupted: bool = False
    stop_error: str | None = None


# --------------------------------------------------------------------------- the connector


class WinRMConnector(Connector):
    """Runs PowerShell over one WinRS shell per host (see the module docstring for settings and choices)."""

    kind = "winrm"
    shell_family = "powershell"
    Settings = WinRMSettings
    settings: WinRMSettings

    receive_wait: float = RECEIVE_WAIT
    """Longest one Receive waits on the host (tests lower it to exercise slow paths quickly)."""

    @classmethod
    def manual_command(cls, host: HostSpec) -> str:
        """Return the PowerShell line that opens a session on ``host`` by hand."""
        mine = settings_of(host)
        parts = ["Enter-PSSession", "-ComputerName", powershell_quote(host.address)]
        if mine.scheme == "https":
            parts.append("-UseSSL")
        parts += ["-Port", str(mine.effective_port)]
        parts += ["-Authentication", {"kerberos": "Kerberos", "basic": "Basic"}.get(mine.transport, "Negotiate")]
        if mine.user:
            parts += ["-Credential", powershell_quote(mine.user)]
        return " ".join(parts)

    def __init__(self, host: HostSpec, secrets: SecretResolver) -> None:
        _load()
        super().__init__(host, secrets)
        self.warnings: list[str] = []
        """Problems that do not stop the connection (certificate check off, password in clear...)."""
        self.codepage = CODEPAGE
        self._protocol: Protocol | None = None
        self._shell_id: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._broken: str | None = None

    # -- settings ------------------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        """Return ``https`` (default) or ``http``."""
        return self.settings.scheme

    @property
    def port(self) -> int:
        """Return the TCP port (5986 for https, 5985 for http unless set)."""
        return self.settings.effective_port

    @property
    def transport(self) -> str:
        """Return the authentication: ``ntlm`` (default), ``kerberos`` or ``basic``."""
        return self.settings.transport

    @property
    def connect_timeout(self) -> float:
        """Return the seconds allowed to establish a connection."""
        return self.settings.connect_timeout

    @property
    def url(self) -> str:
        """Return the WS-Management URL, e.g. ``https://dc01.example:5986/wsman``."""
        address = self.host.address
        if ":" in address and not address.startswith("["):
            address = f"[{address}]"  # IPv6 literal
        return f"{self.scheme}://{address}:{self.port}/wsman"

    @property
    def where(self) -> str:
        """Return ``ADDRESS:PORT`` for messages."""
        return f"{self.host.address}:{self.port}"

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s", message)

    def _credentials(self) -> tuple[str | None, str | None]:
        """Return (user, password). Raises AuthenticationFailed when one is missing, SecretError from the resolver."""
        name = self.host.name
        user = self.settings.user
        ref = self.settings.password
        if self.transport == "kerberos":
            if ref is not None:
                self._warn(_("{host}: kerberos uses the ticket of 'kinit'; the password setting is not used").format(
                    host=name))
            return user, None
        if not user:
            raise AuthenticationFailed(_("{host}: no WinRM user is set (add 'user:' to the host or to "
                                         "defaults.winrm)").format(host=name))
        if ref is None:
            raise AuthenticationFailed(_(
                "{host}: no WinRM password is set for {user} (add 'password:' with {{env: VAR}}, {{file: PATH}} "
                "or {{secret: NAME}})").format(host=name, user=user))
        password = self.secrets.resolve(ref, _("WinRM password of {user} on {host}").format(user=user, host=name))
        return user, password.reveal()

    def _tls(self) -> tuple[str, str | None]:
        """Return pywinrm's (server_cert_validation, ca_trust_path). Raises ConnectionFailed for a missing ca_file."""
        if self.scheme != "https":
            return "validate", None
        if self.settings.cert_validation is False:
            self._warn(_("{host}: certificate validation is OFF (cert_validation: false): anyone on the network "
                         "path can pose as this host and receive its password; set ca_file instead").format(
                host=self.host.name))
            return "ignore", None
        ca_file = self.settings.ca_file
        if ca_file:
            path = Path(ca_file).expanduser()
            if not path.is_file():
                raise ConnectionFailed(_("{host}: the CA file {path} (ca_file) does not exist").format(
                    host=self.host.name, path=ca_file))
            return "validate", str(path)
        return "validate", _system_ca_bundle()

    def _make_protocol(self) -> Protocol:
        """Return a pywinrm Protocol for this host (no request sent yet).

        Raises AuthenticationFailed/SecretError for missing credentials, ConnectionFailed for a missing
        ca_file, ItrefError when kerberos is asked for but its Python package is missing.
        """
        if self.transport == "kerberos":
            import winrm.transport

            if not winrm.transport.HAVE_KERBEROS:
                raise ItrefError(_("{host}: transport kerberos needs the pykerberos package (pip install "
                                   "'pywinrm[kerberos]') and a ticket from 'kinit'").format(host=self.host.name))
        user, password = self._credentials()
        validation, ca_path = self._tls()
        if self.scheme == "http" and self.transport == "basic":
            self._warn(_("{host}: basic authentication over http sends the password unencrypted; use https or "
                         "ntlm").format(host=self.host.name))
        try:
            protocol = Protocol(
                self.url, transport=self.transport, username=user, password=password,  # type: ignore[arg-type]
                server_cert_validation=validation, ca_trust_path=ca_path,  # type: ignore[arg-type]
                read_timeout_sec=int(OPERATION_TIMEOUT + READ_MARGIN), operation_timeout_sec=OPERATION_TIMEOUT,
                message_encryption="auto", proxy=None)
        except WinRMError as exc:
            raise ConnectionFailed(_("{host}: cannot set up WinRM: {reason}").format(
                host=self.host.name, reason=exc)) from None
        self._set_read_timeout(protocol, OPERATION_TIMEOUT + READ_MARGIN)
        return protocol

    def _set_read_timeout(self, protocol: Protocol, read: float) -> None:
        """Give every HTTP request the connect timeout and a read timeout of ``read`` seconds.

        pywinrm passes ``Transport.read_timeout_sec`` to requests as ``timeout=``; a (connect, read)
        pair there keeps ``connect_timeout`` short while a Receive may wait longer for output.
        """
        protocol.transport.read_timeout_sec = (self.connect_timeout, read)  # type: ignore[assignment]

    # -- error mapping -------------------------------------------------------------------------------

    def _failure(self, exc: BaseException, *, running: bool) -> ItrefError:
        """Return the itref error for a pywinrm/requests exception (``running``: a command was under way)."""
        name, where = self.host.name, self.where
        if isinstance(exc, InvalidCredentialsError) or (
                isinstance(exc, WSManFaultError) and exc.wsman_fault_code == FAULT_ACCESS_DENIED):
            return AuthenticationFailed(_(
                "{host}: {where} refused user '{user}' ({transport}): wrong password, the account may not use "
                "WinRM (it must be an administrator or in 'Remote Management Users'), or this authentication is "
                "disabled on the host").format(
                host=name, where=where, user=self.settings.user or "", transport=self.transport))
        if isinstance(exc, requests.exceptions.SSLError):
            is_cert, detail = _tls_detail(exc)
            if is_cert:
                return ConnectionFailed(_(
                    "{host}: the certificate of {where} could not be verified ({detail}). Set 'ca_file:' to the "
                    "certificate of the CA that signed it (or add that CA to the system store); the name in the "
                    "certificate must match the address").format(host=name, where=where, detail=detail))
            return ConnectionFailed(_(
                "{host}: TLS handshake with {where} failed ({detail}); is that port https? (5986 is https, "
                "5985 is http)").format(host=name, where=where, detail=detail))
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return ConnectionFailed(_("{host}: cannot reach {where} (no answer within {timeout:g} s)").format(
                host=name, where=where, timeout=self.connect_timeout))
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return ConnectionFailed(_("{host}: {where} stopped answering (no reply in time); the connection is "
                                      "considered lost").format(host=name, where=where))
        if isinstance(exc, requests.exceptions.RequestException):
            if running:
                return ConnectionFailed(_("{host}: connection to {where} lost while a command was running "
                                          "({reason}); its outcome is unknown").format(
                    host=name, where=where, reason=_network_reason(exc)))
            return ConnectionFailed(_("{host}: cannot reach {where} ({reason})").format(
                host=name, where=where, reason=_network_reason(exc)))
        if isinstance(exc, WSManFaultError):
            return ConnectionFailed(_("{host}: WinRM on {where} refused the request: {fault}").format(
                host=name, where=where, fault=_fault_text(exc)))
        if isinstance(exc, WinRMTransportError):
            return ConnectionFailed(_("{host}: {where} answered HTTP {code}; is it a WinRM endpoint ({url})?").format(
                host=name, where=where, code=exc.code, url=self.url))
        if isinstance(exc, WinRMError):
            return ConnectionFailed(_("{host}: WinRM error with {where}: {reason}").format(
                host=name, where=where, reason=exc))
        return ConnectionFailed(_("{host}: unexpected error talking to {where}: {kind}: {reason}").format(
            host=name, where=where, kind=type(exc).__name__, reason=exc))

    # -- lifecycle -----------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, authenticate and create the shell (once; later calls do nothing).

        Raises ConnectionFailed (unreachable, TLS, fault while creating the shell), AuthenticationFailed
        or SecretError.
        """
        with self._lock:
            if self._closed:  # reopening after close(): start afresh
                self._closed = False
                self._broken = None
                self._stop.clear()
            self._open_locked()

    def _open_locked(self) -> None:
        if self._broken is not None:
            raise ConnectionFailed(self._broken)
        if self._shell_id is not None:
            return
        if self._protocol is None:
            self._protocol = self._make_protocol()
        try:
            self._shell_id = self._protocol.open_shell(codepage=self.codepage)
        except Exception as exc:
            error = self._failure(exc, running=False)
            if isinstance(exc, WSManFaultError) and not isinstance(error, AuthenticationFailed):
                error = ConnectionFailed(_("{host}: WinRM on {where} refused to open a shell: {fault}").format(
                    host=self.host.name, where=self.where, fault=_fault_text(exc)))
            self._drop_session()
            raise error from None

    def close(self) -> None:
        """Delete the shell and close the HTTP connection; safe to call twice and from another thread.

        A command still running is sent the terminate signal by the thread running it (at its next
        Receive, within :attr:`receive_wait` seconds), which then deletes the shell. Never raises.
        """
        self._closed = True
        self._stop.set()
        if not self._lock.acquire(blocking=False):
            return  # run() sees _stop, stops its command and calls close() again when done
        try:
            self._shutdown_locked()
        finally:
            self._lock.release()

    def _shutdown_locked(self) -> None:
        protocol, shell_id = self._protocol, self._shell_id
        self._shell_id = None
        if protocol is not None and shell_id is not None and self._broken is None:
            try:
                self._set_read_timeout(protocol, min(self.connect_timeout, OPERATION_TIMEOUT) + READ_MARGIN)
                protocol.close_shell(shell_id, close_session=False)
            except Exception as exc:  # the host reaps the shell after its idle timeout anyway
                log.debug("%s: deleting the shell failed: %r", self.host.name, exc)
        self._drop_session()

    def _drop_session(self) -> None:
        if self._protocol is not None:
            with contextlib.suppress(Exception):
                self._protocol.transport.close_session()
        self._protocol = None

    # -- commands ------------------------------------------------------------------------------------

    def run(self, command: Command) -> CommandResult:
        """Run ``command`` in the shell and return its result (rc, stdout, stderr, duration, timed_out).

        A non-zero exit code, a timeout (``rc=None, timed_out=True``) or a WS-Management fault about
        this command (``rc=None``, the fault in stderr) are results, not exceptions. Raises
        ConnectionFailed when the connection is lost or closed before the command completed (or was
        already lost), AuthenticationFailed/SecretError when opening the shell fails, and ItrefError
        when the script is too long for one command line.
        """
        body, data = script_body(command), command.stdin
        if command.env:  # the values go on the input: the script is on powershell.exe's command line
            from itref.connectors.shellvars import powershell_script

            if command.stdin is not None:
                raise ValueError("a PowerShell command takes either variables or input of its own")
            body, data = powershell_script(body, dict(command.env))
        script = wrap_script(body)
        stdin = None if data is None else _chunks([data], STDIN_CHUNK)
        outcome = self._execute(script, stdin, command.timeout)
        stderr = clixml_to_text(decode_output(outcome.stderr, self.codepage)).replace("\r\n", "\n")
        if outcome.fault:
            stderr += ("\n" if stderr and not stderr.endswith("\n") else "") + outcome.fault + "\n"
        return CommandResult(outcome.rc, decode_output(outcome.stdout, self.codepage), stderr,
                             outcome.duration, timed_out=outcome.timed_out, interrupted=outcome.interrupted,
                             stop_error=outcome.stop_error)

    def _execute(self, script: str, stdin: Iterable[bytes] | None, timeout: float, *,
                 on_stdout: Callable[[bytes], None] | None = None, idle: bool = False) -> _Outcome:
        """Run ``script`` in the shell and return its raw outcome (see :meth:`run` for what raises).

        ``stdin`` pieces are sent before output is read (the last Send closes the stream).
        ``on_stdout`` receives output as it arrives instead of it being kept. With ``idle``, the
        timeout counts from the last output received instead of from the start.
        """
        arguments = encoded_arguments(script)
        length = len(POWERSHELL) + sum(len(a) + 1 for a in arguments)
        if length > MAX_COMMAND_LINE:
            raise ItrefError(_("{host}: the script is too long for one WinRM command line ({n} characters "
                               "encoded, at most {max}); copy it to the host with put and run the file").format(
                host=self.host.name, n=length, max=MAX_COMMAND_LINE))
        try:
            with self._lock:
                if self._closed:
                    raise ConnectionFailed(_("{host}: the connection is already closed").format(host=self.host.name))
                self._open_locked()
                return self._execute_locked(arguments, stdin, timeout, on_stdout, idle)
        finally:
            if self._stop.is_set():
                self.close()

    def _start_locked(self, arguments: list[str], console_stdin: bool) -> str:
        """Start the command and return its CommandId; recreates a shell the host discarded (once)."""
        assert self._protocol is not None
        for attempt in (1, 2):
            assert self._shell_id is not None
            try:
                return self._protocol.run_command(self._shell_id, POWERSHELL, arguments,
                                                  console_mode_stdin=console_stdin, skip_cmd_shell=True)
            except WSManFaultError as exc:
                if exc.wsman_fault_code != FAULT_SHELL_NOT_FOUND or attempt == 2:
                    raise
                log.info("%s: the shell was discarded by the host; opening a new one", self.host.name)
                self._shell_id = None
                self._open_locked()
        raise AssertionError("unreachable")

    def _execute_locked(self, arguments: list[str], stdin: Iterable[bytes] | None, timeout: float,
                        on_stdout: Callable[[bytes], None] | None, idle: bool) -> _Outcome:
        assert self._protocol is not None
        start = time.monotonic()
        try:
            command_id = self._start_locked(arguments, console_stdin=stdin is None)
        except WSManFaultError as exc:
            if exc.wsman_fault_code == FAULT_SHELL_NOT_FOUND:
                self._broken = _("{host}: {where} discards every new shell: {fault}").format(
                    host=self.host.name, where=self.where, fault=_fault_text(exc))
                raise ConnectionFailed(self._broken) from None
            if exc.wsman_fault_code == FAULT_ACCESS_DENIED:
                raise self._failure(exc, running=False) from None
            return _Outcome(b"", b"", None, time.monotonic() - start,
                            fault=_("WinRM refused to start the command: {fault}").format(fault=_fault_text(exc)))
        except Exception as exc:
            raise self._lost(exc) from None
        finished = terminated = False
        try:
            if stdin is not None:
                self._send_stdin(command_id, stdin)
            outcome = self._collect(command_id, start, timeout, on_stdout, idle)
            finished = True
            if outcome.timed_out or outcome.interrupted:  # stopped now, and said whether it worked
                terminated = True
                outcome.stop_error = self._terminate(command_id)
            return outcome
        except _LocalError as exc:
            raise ItrefError(exc.message) from None
        except WSManFaultError as exc:  # from a Send: the shell is gone, or the host refused this input
            if exc.wsman_fault_code in (FAULT_SHELL_NOT_FOUND, FAULT_OPERATION_ABORTED):
                raise self._lost(exc) from None
            finished = True
            return _Outcome(b"", b"", None, time.monotonic() - start,
                            fault=_("WinRM refused the command's input: {fault}").format(fault=_fault_text(exc)))
        except ItrefError:
            raise
        except Exception as exc:
            raise self._lost(exc) from None
        finally:
            if not terminated and (finished or self._broken is None):
                self._terminate(command_id)

    def _lost(self, exc: BaseException) -> ItrefError:
        """Mark the connection unusable and return the error to raise for ``exc``."""
        if isinstance(exc, WSManFaultError):
            if exc.wsman_fault_code == FAULT_SHELL_NOT_FOUND:
                error: ItrefError = ConnectionFailed(_(
                    "{host}: the shell on {where} disappeared while a command was running (WinRM restarted or "
                    "the host is shutting down); its outcome is unknown").format(host=self.host.name, where=self.where))
            else:
                error = ConnectionFailed(_(
                    "{host}: {where} aborted the running command ({fault}); its outcome is unknown").format(
                    host=self.host.name, where=self.where, fault=_fault_text(exc)))
        else:
            error = self._failure(exc, running=True)
        if not isinstance(error, AuthenticationFailed):
            self._broken = _("{host}: the connection to {where} was lost earlier: {reason}").format(
                host=self.host.name, where=self.where, reason=error.message)
        return error

    def _send_stdin(self, command_id: str, pieces: Iterable[bytes]) -> None:
        """Send ``pieces`` as standard input (each at most :data:`STDIN_CHUNK` bytes), then close it."""
        assert self._protocol is not None and self._shell_id is not None
        pending: bytes | None = None
        for piece in pieces:
            if pending is not None:
                self._protocol.send_command_input(self._shell_id, command_id, pending, end=False)
            pending = piece
        self._protocol.send_command_input(self._shell_id, command_id, pending or b"", end=True)

    def _collect(self, command_id: str, start: float, timeout: float,
                 on_stdout: Callable[[bytes], None] | None, idle: bool) -> _Outcome:
        """Receive output until the command is done, the deadline passes or close() is called."""
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        deadline = start + timeout
        while True:
            if self._stop.is_set():  # close() from another thread (Ctrl-C): terminated by the caller
                return _Outcome(b"".join(stdout), b"".join(stderr), None, time.monotonic() - start,
                                interrupted=True)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _Outcome(b"".join(stdout), b"".join(stderr), None, time.monotonic() - start, timed_out=True)
            try:
                out, err, rc, done = self._receive(command_id, min(self.receive_wait, max(remaining, 0.05)))
            except WinRMOperationTimeoutError:
                continue  # no output yet: the normal answer for a command still running
            except WSManFaultError as exc:
                if exc.wsman_fault_code in (FAULT_SHELL_NOT_FOUND, FAULT_OPERATION_ABORTED):
                    raise self._lost(exc) from None
                return _Outcome(b"".join(stdout), b"".join(stderr), None, time.monotonic() - start,
                                fault=_("WinRM fault while the command ran: {fault}").format(fault=_fault_text(exc)))
            if out:
                if on_stdout is not None:
                    on_stdout(out)  # may raise _LocalError
                else:
                    stdout.append(out)
            if err:
                stderr.append(err)
            if idle and (out or err):
                deadline = time.monotonic() + timeout
            if done:
                return _Outcome(b"".join(stdout), b"".join(stderr), rc, time.monotonic() - start)

    def _receive(self, command_id: str, wait: float) -> tuple[bytes, bytes, int | None, bool]:
        """Send one Receive asking the host to wait at most ``wait`` s; return (stdout, stderr, rc, done).

        Built here rather than with pywinrm's ``get_command_output_raw`` because that one always
        uses the protocol's whole-second OperationTimeout. Raises WinRMOperationTimeoutError when the
        command produced nothing in time, WSManFaultError and requests errors otherwise.
        """
        protocol, shell_id = self._protocol, self._shell_id
        assert protocol is not None and shell_id is not None
        envelope: dict[str, Any] = {"env:Envelope": protocol.build_wsman_header(
            action=ACTION_RECEIVE, resource_uri=RESOURCE_CMD, shell_id=shell_id)}
        envelope["env:Envelope"]["env:Header"]["w:OperationTimeout"] = _duration(wait)
        desired = envelope["env:Envelope"].setdefault("env:Body", {}).setdefault("rsp:Receive", {}).setdefault(
            "rsp:DesiredStream", {})
        desired["@CommandId"] = command_id
        desired["#text"] = "stdout stderr"
        self._set_read_timeout(protocol, wait + READ_MARGIN)
        try:
            reply = protocol.send_message(xmltodict.unparse(envelope))
        finally:
            self._set_read_timeout(protocol, OPERATION_TIMEOUT + READ_MARGIN)
        root = ET.fromstring(reply)
        out: list[bytes] = []
        err: list[bytes] = []
        for stream in root.iter(f"{{{NS_SHELL}}}Stream"):
            if not stream.text:
                continue
            data = base64.b64decode(stream.text)
            (out if stream.get("Name") == "stdout" else err).append(data)
        rc: int | None = None
        done = False
        for state in root.iter(f"{{{NS_SHELL}}}CommandState"):
            if (state.get("State") or "").endswith("CommandState/Done"):
                done = True
                code = state.find(f"{{{NS_SHELL}}}ExitCode")
                rc = int(code.text) if code is not None and code.text else None
        return b"".join(out), b"".join(err), rc, done

    def _terminate(self, command_id: str) -> str | None:
        """Send the terminate signal (stops a command still running, frees a finished one).

        Returns None when the host accepted it, else why it could not be sent. Never raises.
        """
        if self._protocol is None or self._shell_id is None:
            return _("the connection to the host is gone")
        try:
            self._protocol.cleanup_command(self._shell_id, command_id)
        except WSManFaultError as exc:
            log.debug("%s: terminate signal failed: %r", self.host.name, exc)
            return _("the host refused the terminate signal: {fault}").format(fault=_fault_text(exc))
        except Exception as exc:
            log.debug("%s: terminate signal failed: %r", self.host.name, exc)
            return _("the terminate signal could not be sent ({reason})").format(reason=_network_reason(exc))
        return None

    # -- files ---------------------------------------------------------------------------------------

    def _transfer_timeout(self) -> float:
        return float(self.host.timeout)

    def put(self, local: Path, remote: str, mode: int | None = None) -> None:
        """Copy the local file ``local`` to ``remote`` on the host and check its SHA-256 there.

        ``mode`` is ignored (Windows has no chmod; a warning is recorded). Raises ItrefError when the
        local file cannot be read or the host cannot write ``remote`` (with the host's error), and
        ConnectionFailed when the connection is lost.
        """
        name = self.host.name
        if mode is not None:
            self._warn(_("{host}: file mode {mode:o} ignored for {remote} (Windows has no chmod)").format(
                host=name, mode=mode, remote=remote))
        digest = hashlib.sha256()

        def unreadable(exc: OSError) -> _LocalError:
            return _LocalError(_("{host}: cannot read {local}: {reason}").format(
                host=name, local=local, reason=exc.strerror or exc))

        try:
            handle = open(local, "rb")  # noqa: SIM115 - closed by lines() or below
        except OSError as exc:
            raise ItrefError(unreadable(exc).message) from None

        def lines() -> Iterator[bytes]:
            with handle:
                while True:
                    try:
                        block = handle.read(TRANSFER_CHUNK)
                    except OSError as exc:
                        raise unreadable(exc) from None
                    if not block:
                        return
                    digest.update(block)
                    yield base64.b64encode(block) + b"\r\n"

        try:
            outcome = self._execute(wrap_script(put_body(remote)), _chunks(lines(), STDIN_CHUNK),
                                    self._transfer_timeout(), idle=True)
        finally:
            handle.close()
        answer = decode_output(outcome.stdout).strip()
        if outcome.rc != 0 or answer != digest.hexdigest():
            raise ItrefError(_("{host}: copying {local} to {remote} failed: {reason}").format(
                host=name, local=local, remote=remote, reason=self._transfer_reason(outcome, answer)))

    def get(self, remote: str, local: Path) -> None:
        """Copy the host's file ``remote`` to ``local`` (written whole or not at all) and check its SHA-256.

        Raises ItrefError when the host cannot read ``remote`` (with the host's error) or ``local``
        cannot be written, and ConnectionFailed when the connection is lost.
        """
        name = self.host.name
        partial = local.with_name(f".{local.name}.itref-part")
        decoder = _Base64Lines()

        def unwritable(exc: OSError) -> ItrefError:
            return ItrefError(_("{host}: cannot write {local}: {reason}").format(
                host=name, local=local, reason=exc.strerror or exc))

        done = False
        try:
            with open(partial, "wb") as handle:

                def feed(data: bytes) -> None:
                    try:
                        decoder.feed(data, handle.write)
                    except OSError as exc:
                        raise _LocalError(unwritable(exc).message) from None

                outcome = self._execute(wrap_script(get_body(remote)), None, self._transfer_timeout(),
                                        on_stdout=feed, idle=True)
                feed(b"\n")
            answer = decoder.reported or ""
            if outcome.rc != 0 or decoder.bad or answer != decoder.digest.hexdigest():
                raise ItrefError(_("{host}: copying {remote} to {local} failed: {reason}").format(
                    host=name, remote=remote, local=local, reason=self._transfer_reason(outcome, answer)))
            partial.replace(local)
            done = True
        except OSError as exc:
            raise unwritable(exc) from None
        finally:
            if not done:
                partial.unlink(missing_ok=True)

    def _transfer_reason(self, outcome: _Outcome, answer: str) -> str:
        """Return why a transfer failed: timeout, the host's error text, or a checksum mismatch."""
        if outcome.interrupted:
            return _("stopped (Ctrl-C)")
        if outcome.timed_out:
            return _("no progress for {seconds:g} s").format(seconds=self._transfer_timeout())
        if outcome.fault:
            return outcome.fault
        error = clixml_to_text(decode_output(outcome.stderr)).replace("\r\n", "\n").strip()
        if outcome.rc != 0:
            return error or _("exit code {rc}").format(rc=outcome.rc)
        return _("checksum mismatch (sent {answer!r}); the file may be damaged").format(answer=answer[:80])
