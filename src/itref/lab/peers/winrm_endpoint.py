"""A *fake* WS-Management (WinRM / WinRS) server for the itref test suite.

This is **not Windows** and it runs no command: it is a protocol-accurate test endpoint that speaks enough
WS-Management and Windows Remote Shell (``http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd``) for
unmodified pywinrm (``winrm.Session`` / ``winrm.protocol.Protocol``) to talk to it over real HTTP on loopback.
Command output comes from a pluggable handler (by default a canned table).

What it implements:

* HTTP/1.1 keep-alive on ``127.0.0.1`` (a free port by default), path ``/wsman``, served by a
  :class:`~http.server.ThreadingHTTPServer` in a background thread (:class:`WinRMEndpoint`).
* Authentication: ``Basic`` (checked on every request) and NTLM (``Negotiate``/``NTLM`` header, authenticates
  the TCP connection) with pyspnego as the acceptor.  After NTLM, bodies sent as
  ``multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted"`` are decrypted and the reply is
  encrypted the same way ([MS-WSMV] 2.2.9.1.1).  Bad credentials give HTTP 401, which pywinrm reports as
  ``InvalidCredentialsError``.
* WinRS actions: Create (shell; ``WINRS_CODEPAGE`` is honoured), Command, Send (stdin), Receive (base64
  ``rsp:Stream`` chunks sized to the client's ``MaxEnvelopeSize``, then ``CommandState/Done`` with
  ``rsp:ExitCode``), Signal (recorded in ``CommandInfo.signals``; terminate and ctrl_c end the command;
  ``refuse_signals`` makes the endpoint refuse them; ``refuse_commands`` refuses the next Commands with the
  too-many-operations fault) and Delete, plus WS-Management Identify.  Every reply carries
  ``a:RelatesTo``.
* SOAP faults with a ``WSManFault`` code, sent with HTTP 500 like Windows does (pywinrm raises
  ``WSManFaultError``; the Receive time-out fault becomes ``WinRMOperationTimeoutError`` and is retried).

What it is not: no PowerShell semantics, no CLIXML progress records, no quotas, no Kerberos, CredSSP or TLS,
and Basic over plain HTTP is accepted (a real server needs ``AllowUnencrypted``).  Keep an opt-in test
against a real Windows host for anything that depends on Windows itself.

NTLM acceptor credentials: pyspnego's pure-Python NTLM acceptor reads them from the file named by the
environment variable ``NTLM_USER_FILE`` (lines ``DOMAIN:USER:PASSWORD``).  It is *not* read at import time:
``spnego.server()`` checks that the file exists and each ``step()`` of the AUTHENTICATE message opens it again.
The endpoint therefore writes its own file into a private temp dir and sets the variable only around those
two calls, under a process-wide lock, restoring the previous value afterwards: several endpoints with
different users can run at once and the test process environment is left untouched.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import os
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import spnego

# --------------------------------------------------------------------------------------------------------------
# Protocol constants
# --------------------------------------------------------------------------------------------------------------

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_MS_WSMAN = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS_IDENTITY = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{NS_SHELL}/Command"
ACTION_SEND = f"{NS_SHELL}/Send"
ACTION_RECEIVE = f"{NS_SHELL}/Receive"
ACTION_SIGNAL = f"{NS_SHELL}/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ACTION_IDENTIFY = "Identify"  # Identify requests have no a:Action; this is the name recorded in Exchange.action

RESOURCE_CMD = f"{NS_SHELL}/cmd"
SIGNAL_TERMINATE = f"{NS_SHELL}/signal/terminate"
SIGNAL_CTRL_C = f"{NS_SHELL}/signal/ctrl_c"
SIGNAL_CTRL_BREAK = f"{NS_SHELL}/signal/ctrl_break"
STATE_DONE = f"{NS_SHELL}/CommandState/Done"
STATE_RUNNING = f"{NS_SHELL}/CommandState/Running"

#: WSManFault codes used by the endpoint (the values Windows sends).
FAULT_SHELL_NOT_FOUND = 2150858843  # 0x8033805B ERROR_WSMAN_UNEXPECTED_SELECTORS: "the shell was not found"
FAULT_OPERATION_TIMEDOUT = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT (Receive: no output yet)
FAULT_ACTION_NOT_SUPPORTED = 2150858771  # ERROR_WSMAN_ACTION_NOT_SUPPORTED
FAULT_INVALID_PARAMETER = 87  # ERROR_INVALID_PARAMETER (approximation for bad CommandId, codepage, resource)
FAULT_OPERATION_ABORTED = 995  # ERROR_OPERATION_ABORTED (pending Receive of a terminated command)
FAULT_INTERNAL_ERROR = 1359  # ERROR_INTERNAL_ERROR (the test handler raised)
FAULT_QUOTA_LIMIT = 2150859174  # 0x803381A6 ERROR_WSMAN_QUOTA_MAX_OPERATIONS (too many operations at once)
FAULT_SIGNAL_REFUSED = 1359  # what the endpoint answers a Signal with when ``refuse_signals`` is set

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_BOUNDARY = b"--Encrypted Boundary"
_OCTET_STREAM_LINE = b"\tContent-Type: application/octet-stream\r\n"

DEFAULT_USERS: Mapping[str, str] = {"itref": "S3cret!"}
_ENVELOPE_OVERHEAD = 8192  # bytes reserved for the SOAP envelope around the base64 streams of a Receive reply

_POWERSHELL_EXES = frozenset({"powershell", "powershell.exe", "pwsh", "pwsh.exe"})
_CMD_NOT_RECOGNIZED = (
    "'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
)
_PS_NOT_RECOGNIZED = (
    "{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
    "program. Check the spelling of the name, or if a path was included, verify that the path is correct and "
    "try again.\r\nAt line:1 char:1\r\n+ {line}\r\n+ {tilde}\r\n"
    "    + CategoryInfo          : ObjectNotFound: ({name}:String) [], CommandNotFoundException\r\n"
    "    + FullyQualifiedErrorId : CommandNotFoundException\r\n"
)


# --------------------------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandReply:
    """What a command "prints" and returns.

    ``stdout``/``stderr`` given as ``str`` are encoded with the shell's codepage (``WINRS_CODEPAGE``), exactly
    as a console program on a Windows host with that codepage would write them; ``bytes`` are sent unchanged.
    ``delay`` makes the command run for that many seconds before its output and exit code are available
    (a Receive waits at most the client's OperationTimeout, then faults with ``OperationTimedOut``).
    """

    stdout: bytes | str = b""
    stderr: bytes | str = b""
    rc: int = 0
    delay: float = 0.0


@dataclass
class CommandInfo:
    """One WinRS command (``rsp:CommandLine``) as received by the endpoint."""

    command_id: str
    command: str  #: text of ``rsp:Command``
    args: list[str]  #: text of each ``rsp:Arguments`` element (pywinrm sends one, space-joined)
    options: dict[str, str]  #: Command ``OptionSet`` (``WINRS_CONSOLEMODE_STDIN``, ``WINRS_SKIP_CMD_SHELL``)
    started: float  #: ``time.monotonic()`` when the Command request arrived
    stdin: bytearray = field(default_factory=bytearray)  #: everything received through Send
    stdin_closed: bool = False  #: a Send carried ``End="true"``
    signals: list[str] = field(default_factory=list)  #: Signal codes received (full URIs)
    reply: CommandReply | None = None  #: handler result, set at the first Receive
    receives: int = 0  #: number of Receive requests answered for this command (faults included)
    aborted: threading.Event = field(default_factory=threading.Event, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stdout: bytes = field(default=b"", repr=False)
    _stderr: bytes = field(default=b"", repr=False)
    _out_pos: int = field(default=0, repr=False)
    _err_pos: int = field(default=0, repr=False)
    _error: str | None = field(default=None, repr=False)
    _finished: bool = field(default=False, repr=False)

    @property
    def command_line(self) -> str:
        """Return the command line as cmd.exe would see it: ``Command`` and the ``Arguments`` joined by spaces."""
        return command_line(self.command, self.args)

    @property
    def script(self) -> str | None:
        """Return the decoded PowerShell script for ``powershell -EncodedCommand …`` command lines, else None."""
        return powershell_script(self.command_line)

    @property
    def done(self) -> bool:
        """Return True once a Receive reply has carried ``CommandState/Done`` and the exit code."""
        return self._finished


@dataclass
class ShellInfo:
    """One WinRS shell (``rsp:Shell``) created by a client."""

    shell_id: str
    user: str  #: authenticated user: the Basic user name, or the NTLM principal such as ``LAB\\itref``
    auth: str  #: ``"basic"`` or ``"ntlm"``
    codepage: int  #: from ``WINRS_CODEPAGE`` (or the endpoint's default codepage)
    encoding: str  #: Python codec used for ``str`` replies (``cp850``, ``utf-8``, …)
    resource_uri: str
    options: dict[str, str]  #: Create ``OptionSet`` (``WINRS_NOPROFILE``, ``WINRS_CODEPAGE``, …)
    input_streams: str = "stdin"
    output_streams: str = "stdout stderr"
    working_directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    idle_timeout: str | None = None
    created: float = field(default_factory=time.monotonic)
    closed: bool = False  #: set by Delete
    commands: dict[str, CommandInfo] = field(default_factory=dict)  #: every command run in this shell, in order
    current: CommandInfo | None = None  #: the command whose handler is being called right now

    def encode(self, text: str) -> bytes:
        """Return ``text`` encoded like a console program in this shell writes it (unmappable chars → ``?``)."""
        return text.encode(self.encoding, errors="replace")


@dataclass(frozen=True)
class Exchange:
    """One SOAP request and its reply as seen by the endpoint, bodies decrypted."""

    action: str  #: full ``a:Action`` URI of the request (``"Identify"`` for Identify, ``""`` if unparsable)
    request: str  #: decrypted request envelope
    response: str  #: decrypted reply envelope
    status: int  #: HTTP status of the reply (200, or 500 for a SOAP fault)
    auth: str  #: ``"basic"`` or ``"ntlm"``
    user: str  #: authenticated user
    encrypted: bool  #: True when the request arrived as ``multipart/encrypted`` and the reply was encrypted
    content_type: str  #: raw request ``Content-Type`` header
    wire_request: bytes = field(repr=False)  #: request body exactly as received (ciphertext when encrypted)
    wire_response: bytes = field(repr=False)  #: reply body exactly as sent
    connection: int = 0  #: sequence number of the TCP connection that carried it (1 = first accepted)
    shell_id: str | None = None  #: ``ShellId`` selector of the request, or the new shell for Create

    @property
    def short_action(self) -> str:
        """Return the last path element of the Action URI, e.g. ``"Create"`` or ``"Receive"``."""
        return self.action.rsplit("/", 1)[-1]


CommandHandler = Callable[[str, list[str], ShellInfo], CommandReply]
"""``handler(command, args, shell) -> CommandReply``: called once per command, at its first Receive.

``command``/``args`` are the ``rsp:Command`` and ``rsp:Arguments`` texts; ``shell.current`` is the
:class:`CommandInfo` (with ``stdin`` sent so far and ``script`` for ``powershell -EncodedCommand``).
"""


# --------------------------------------------------------------------------------------------------------------
# Helpers usable by custom handlers
# --------------------------------------------------------------------------------------------------------------


def command_line(command: str, args: list[str]) -> str:
    """Return ``command`` and ``args`` joined by single spaces, the way cmd.exe receives a WinRS command."""
    return " ".join([command, *args]) if args else command


def powershell_script(line: str) -> str | None:
    """Return the script of a ``powershell -EncodedCommand <base64>`` command line, decoded from UTF-16LE.

    Accepts ``powershell``/``pwsh`` (optionally ``.exe`` or a full path), any other switches before it, and
    ``-EncodedCommand`` in any case or abbreviation (``-e``, ``-enc``, ``-ec``, also with ``/``).  Returns None
    when the line is not such a command or the payload is not valid base64 / UTF-16LE.
    """
    tokens = line.split()
    if not tokens:
        return None
    exe = re.split(r"[\\/]", tokens[0].strip('"'))[-1].lower()
    if exe not in _POWERSHELL_EXES:
        return None
    for index, token in enumerate(tokens[1:-1], start=1):
        if token[:1] not in ("-", "/"):
            continue
        name = token[1:].lower()
        if name == "ec" or (name.startswith("e") and "encodedcommand".startswith(name)):
            try:
                return base64.b64decode(tokens[index + 1], validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


def clixml_error(text: str) -> str:
    """Return ``text`` as the ``#< CLIXML`` error stream that ``powershell.exe`` writes to stderr over WinRS."""
    records = "".join(
        f'<S S="Error">{_clixml_escape(line)}</S>' for line in text.splitlines(keepends=True) if line.strip()
    )
    return (
        f'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">{records}</Objs>'
    )


def _clixml_escape(line: str) -> str:
    """Return one CLIXML string: XML-escaped, line ends written as ``_x000D__x000A_``."""
    body = line.rstrip("\r\n")
    return escape(body) + ("_x000D__x000A_" if body != line else "")


def codepage_encoding(codepage: int) -> str:
    """Return the Python codec name for a Windows codepage (65001 → ``utf-8``, 850 → ``cp850``, …).

    Raises LookupError when Python has no codec for it.
    """
    name = "utf-8" if codepage == 65001 else f"cp{codepage}"
    return codecs.lookup(name).name


# --------------------------------------------------------------------------------------------------------------
# NTLM acceptor credentials (NTLM_USER_FILE) and WinRM message encryption
# --------------------------------------------------------------------------------------------------------------

_NTLM_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _ntlm_user_file(path: Path) -> Iterator[None]:
    """Set ``NTLM_USER_FILE`` for the duration of the block (process-wide lock held), then restore it."""
    with _NTLM_ENV_LOCK:
        previous = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(path)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = previous


def _unwrap_body(ctx: spnego.ContextProxy, body: bytes) -> bytes:
    """Return the plaintext of a ``multipart/encrypted`` WinRM body (one or more encrypted parts).

    Raises ValueError on bad framing and a spnego error when the signature does not verify.
    """
    plain = bytearray()
    pos = 0
    while not body.startswith(_BOUNDARY + b"--", pos):
        if not body.startswith(_BOUNDARY + b"\r\n", pos):
            raise ValueError(f"bad multipart/encrypted framing at offset {pos}")
        pos += len(_BOUNDARY) + 2
        headers_end = body.find(_BOUNDARY + b"\r\n", pos)
        match = re.search(rb"Length=(\d+)", body[pos:headers_end]) if headers_end >= 0 else None
        if match is None or ENCRYPTED_PROTOCOL.encode() not in body[pos:headers_end]:
            raise ValueError("encrypted part without protocol or OriginalContent Length")
        length = int(match.group(1))
        pos = headers_end + len(_BOUNDARY) + 2
        if not body.startswith(_OCTET_STREAM_LINE, pos):
            raise ValueError("encrypted part without application/octet-stream payload")
        pos += len(_OCTET_STREAM_LINE)
        (signature_length,) = struct.unpack_from("<I", body, pos)
        pos += 4
        signature = body[pos : pos + signature_length]
        pos += signature_length
        sealed = body[pos : pos + length]  # NTLM sealing is RC4: as long as the plaintext, no padding
        pos += length
        message = ctx.unwrap_winrm(signature, sealed)
        if len(message) != length:
            raise ValueError("decrypted length differs from OriginalContent Length")
        plain += message
    return bytes(plain)


def _wrap_body(ctx: spnego.ContextProxy, plain: bytes) -> bytes:
    """Return ``plain`` sealed with the NTLM context and framed as one ``multipart/encrypted`` part."""
    wrapped = ctx.wrap_winrm(plain)
    return b"".join(
        [
            _BOUNDARY,
            b"\r\n\tContent-Type: ",
            ENCRYPTED_PROTOCOL.encode(),
            b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=",
            str(len(plain)).encode(),
            b"\r\n",
            _BOUNDARY,
            b"\r\n",
            _OCTET_STREAM_LINE,
            struct.pack("<I", len(wrapped.header)),
            wrapped.header,
            wrapped.data,
            _BOUNDARY,
            b"--\r\n",
        ]
    )


# --------------------------------------------------------------------------------------------------------------
# SOAP request parsing and reply building
# --------------------------------------------------------------------------------------------------------------


class _Fault(Exception):
    """A WS-Management fault to send back instead of a normal reply."""

    def __init__(self, subcode: str, reason: str, code: int, message: str, value: str = "s:Sender") -> None:
        super().__init__(f"{subcode} {code}: {message}")
        self.subcode = subcode
        self.reason = reason
        self.code = code
        self.message = message
        self.value = value


@dataclass
class _Request:
    """The parts of a WS-Management request envelope the endpoint uses."""

    action: str
    message_id: str
    resource_uri: str
    selectors: dict[str, str]
    options: dict[str, str]
    body: ET.Element
    max_envelope: int
    operation_timeout: float


def _q(namespace: str, name: str) -> str:
    """Return the ElementTree ``{namespace}name`` form."""
    return f"{{{namespace}}}{name}"


def _parse_duration(text: str | None, default: float) -> float:
    """Return seconds for an ``xs:duration`` such as ``PT20S``/``PT20.000S``/``PT1M``, or ``default``."""
    match = re.fullmatch(r"\s*P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?\s*", text or "")
    if not text or match is None:
        return default
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def _parse_request(raw: bytes) -> _Request:
    """Return the parsed request; raises _Fault when it is not a usable SOAP envelope."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise _invalid_parameter(f"request is not well-formed XML: {exc}") from None
    header = root.find(_q(NS_SOAP, "Header"))
    body = root.find(_q(NS_SOAP, "Body"))
    if root.tag != _q(NS_SOAP, "Envelope") or header is None or body is None:
        raise _invalid_parameter("request is not a SOAP 1.2 envelope with Header and Body")

    def text(namespace: str, name: str) -> str:
        element = header.find(_q(namespace, name))
        return (element.text or "").strip() if element is not None else ""

    selectors = {
        sel.get("Name", ""): (sel.text or "").strip()
        for sel in header.iterfind(f"{_q(NS_WSMAN, 'SelectorSet')}/{_q(NS_WSMAN, 'Selector')}")
    }
    options = {
        opt.get("Name", ""): (opt.text or "").strip()
        for opt in header.iterfind(f"{_q(NS_WSMAN, 'OptionSet')}/{_q(NS_WSMAN, 'Option')}")
    }
    action = text(NS_ADDRESSING, "Action")
    if not action and body.find(_q(NS_IDENTITY, "Identify")) is not None:
        action = ACTION_IDENTIFY
    max_envelope = text(NS_WSMAN, "MaxEnvelopeSize")
    return _Request(
        action=action,
        message_id=text(NS_ADDRESSING, "MessageID"),
        resource_uri=text(NS_WSMAN, "ResourceURI"),
        selectors=selectors,
        options=options,
        body=body,
        max_envelope=int(max_envelope) if max_envelope.isdigit() else 153600,
        operation_timeout=_parse_duration(text(NS_WSMAN, "OperationTimeout"), 60.0),
    )


_ENVELOPE_OPEN = (
    f'<s:Envelope xml:lang="en-US" xmlns:s="{NS_SOAP}" xmlns:a="{NS_ADDRESSING}" xmlns:x="{NS_TRANSFER}" '
    f'xmlns:w="{NS_WSMAN}" xmlns:rsp="{NS_SHELL}" xmlns:p="{NS_MS_WSMAN}">'
)


def _envelope(action: str, relates_to: str, body: str) -> str:
    """Return a reply envelope with a fresh MessageID and ``a:RelatesTo`` set to the request's MessageID."""
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return (
        f"{_ENVELOPE_OPEN}<s:Header><a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"{relates}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )


def _fault_envelope(fault: _Fault, relates_to: str, machine: str) -> str:
    """Return the SOAP fault envelope (with the ``f:WSManFault`` detail pywinrm reads) for ``fault``."""
    body = (
        f"<s:Fault><s:Code><s:Value>{fault.value}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{NS_FAULT}" Code="{fault.code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(fault.message)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope(ACTION_FAULT, relates_to, body)


def _shell_not_found(shell_id: str) -> _Fault:
    """Return the fault Windows sends for an unknown or deleted ShellId."""
    return _Fault(
        "w:InvalidSelectors",
        "The WS-Management service cannot process the request because the request contained invalid selectors "
        "for the resource. ",
        FAULT_SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not found "
        "on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on "
        "the server. Provide the correct ShellId or create a new shell and retry the operation. ",
    )


def _invalid_parameter(message: str) -> _Fault:
    """Return an ``InvalidParameter`` fault carrying ``message``."""
    return _Fault("w:InvalidParameter", "The parameter is incorrect. ", FAULT_INVALID_PARAMETER, message)


# --------------------------------------------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its endpoint and stays quiet about connections reset during stop()."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoint: WinRMEndpoint) -> None:
        self.endpoint = endpoint
        super().__init__(address, _WSManHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Record unexpected handler errors on the endpoint instead of printing them (quiet while stopping)."""
        if not self.endpoint._stopping.is_set():
            self.endpoint.errors.append(f"connection {client_address}: {sys.exc_info()[1]!r}")


class _WSManHandler(BaseHTTPRequestHandler):
    """One TCP connection: HTTP/1.1 keep-alive, Basic or connection-bound NTLM auth, optional encryption."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # without it every reply waits ~40 ms for the client's delayed ACK
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        """Register the connection with the endpoint and reset the per-connection auth state."""
        super().setup()
        self._ntlm: spnego.ContextProxy | None = None
        self._ntlm_user = ""
        self._connection_no = self.server.endpoint._connection_opened(self.connection)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.endpoint._connection_closed(self.connection)

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request stderr log."""

    def do_GET(self) -> None:
        """WS-Management only accepts POST."""
        self._send(405, b"", extra=[("Allow", "POST")])

    def do_POST(self) -> None:
        """Authenticate, decrypt, dispatch to the endpoint, encrypt and send the reply."""
        endpoint = self.server.endpoint
        length = int(self.headers.get("Content-Length") or 0)
        wire = self.rfile.read(length) if length else b""
        if urlsplit(self.path).path.rstrip("/").lower() != "/wsman":
            self._send(404, b"")
            return
        authenticated = self._authenticate()
        if authenticated is None:
            return
        auth, user = authenticated

        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.lower().startswith("multipart/encrypted")
        if encrypted:
            if auth != "ntlm" or self._ntlm is None:
                self._challenge()
                return
            if ENCRYPTED_PROTOCOL.lower() not in content_type.lower():
                self._send(415, b"")
                return
            try:
                soap = _unwrap_body(self._ntlm, wire)
            except Exception as exc:  # bad framing or a signature that does not verify
                endpoint.errors.append(f"cannot decrypt request: {exc!r}")
                self._send(400, b"")
                return
        else:
            soap = wire
        if not soap:  # the empty POST that only (re)establishes the NTLM context
            self._send(200, b"")
            return

        status, reply, exchange_action, shell_id = endpoint._dispatch(soap, auth, user)
        reply_bytes = reply.encode("utf-8")
        if encrypted:
            assert self._ntlm is not None
            out = _wrap_body(self._ntlm, reply_bytes)
            reply_type = ENCRYPTED_CONTENT_TYPE
        else:
            out, reply_type = reply_bytes, SOAP_CONTENT_TYPE
        endpoint._record(
            Exchange(
                action=exchange_action,
                request=soap.decode("utf-8", errors="replace"),
                response=reply,
                status=status,
                auth=auth,
                user=user,
                encrypted=encrypted,
                content_type=content_type,
                wire_request=wire,
                wire_response=out,
                connection=self._connection_no,
                shell_id=shell_id,
            )
        )
        self._send(status, out, content_type=reply_type)

    # -- authentication ----------------------------------------------------------------------------------------

    def _authenticate(self) -> tuple[str, str] | None:
        """Return ``(auth, user)`` for an authenticated request, or None after sending a 401 reply."""
        endpoint = self.server.endpoint
        header = self.headers.get("Authorization")
        if not header:
            if self._ntlm is not None and self._ntlm.complete:
                return "ntlm", self._ntlm_user
            self._challenge()
            return None
        scheme, _, token = header.strip().partition(" ")
        scheme_lower = scheme.lower()
        if scheme_lower == "basic" and endpoint.allow_basic:
            self._ntlm = None
            user = endpoint._check_basic(token.strip())
            if user is None:
                self._challenge()
                return None
            return "basic", user
        if scheme_lower in ("negotiate", "ntlm") and endpoint.allow_ntlm:
            return self._ntlm_step(scheme, token.strip())
        self._challenge()
        return None

    def _ntlm_step(self, scheme: str, token_b64: str) -> tuple[str, str] | None:
        """Feed one NTLM token to the connection's acceptor; return ``(auth, user)`` once it is complete."""
        endpoint = self.server.endpoint
        try:
            token = base64.b64decode(token_b64, validate=True)
        except binascii.Error:
            self._challenge()
            return None
        if token[:12] == b"NTLMSSP\x00\x01\x00\x00\x00" or self._ntlm is None or self._ntlm.complete:
            self._ntlm = endpoint._new_ntlm_context()  # a NEGOTIATE message starts a new handshake
            self._ntlm_user = ""
        try:
            out = endpoint._ntlm_step(self._ntlm, token)
        except Exception as exc:  # wrong password, unknown user, malformed token: all are "access denied"
            endpoint.auth_failures.append(f"ntlm: {exc}")
            self._ntlm = None
            self._challenge()
            return None
        if not self._ntlm.complete:
            challenge = base64.b64encode(out or b"").decode()
            self._send(401, b"", extra=[("WWW-Authenticate", f"{scheme} {challenge}")])
            return None
        self._ntlm_user = self._ntlm.client_principal or ""
        return "ntlm", self._ntlm_user

    def _challenge(self) -> None:
        """Send 401 advertising the enabled schemes (Negotiate, then Basic, like Windows)."""
        endpoint = self.server.endpoint
        headers = []
        if endpoint.allow_ntlm:
            headers.append(("WWW-Authenticate", "Negotiate"))
        if endpoint.allow_basic:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._send(401, b"", extra=headers)

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        """Write one complete HTTP response (always with Content-Length, keep-alive)."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in extra or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


# --------------------------------------------------------------------------------------------------------------
# The endpoint
# --------------------------------------------------------------------------------------------------------------


class WinRMEndpoint:
    """In-process fake WinRM endpoint (see the module docstring); use as a context manager or start()/stop().

    Attributes tests use:

    * ``url`` / ``port`` - ``http://127.0.0.1:PORT/wsman``.
    * ``canned`` - ``dict[str, CommandReply]`` used by the default handler, keyed by the command line
      (``"ipconfig /all"``) or by the decoded script of ``powershell -EncodedCommand``.
    * ``handler`` - the :data:`CommandHandler`; replace it to compute replies (``default_handler`` remains
      available for falling back).
    * ``requests`` - every SOAP :class:`Exchange` (decrypted request and reply), in arrival order.
    * ``shells`` (open, by ShellId) and ``shell_history`` (every shell ever created) of :class:`ShellInfo`.
    * ``errors`` (internal problems, should stay empty) and ``auth_failures`` (rejected logins).
    * ``connections_accepted`` - number of TCP connections accepted so far.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        domain: str = "LAB",
        computer_name: str = "WIN-ITREF01",
        host: str = "127.0.0.1",
        port: int = 0,
        allow_basic: bool = True,
        allow_ntlm: bool = True,
        default_codepage: int = 437,
        canned: Mapping[str, CommandReply] | None = None,
        handler: CommandHandler | None = None,
        receive_chunk: int | None = None,
    ) -> None:
        """Configure the endpoint; nothing listens until start().

        ``users`` maps user names to passwords (default ``{"itref": "S3cret!"}``); NTLM accepts them as
        ``DOMAIN\\user``, ``COMPUTER\\user``, plain ``user`` or ``user@DOMAIN``.  ``default_codepage`` is used
        when a Create has no ``WINRS_CODEPAGE`` (850 mimics a French Windows).  ``receive_chunk`` caps the
        output bytes per Receive reply (default: what fits in the client's ``MaxEnvelopeSize``).
        """
        self.users: dict[str, str] = dict(DEFAULT_USERS if users is None else users)
        for name, password in [*self.users.items(), (domain, ""), (computer_name, "")]:
            if any(bad in f"{name}{password}" for bad in (":", "\n", "\r")):
                raise ValueError(f"user/password/domain {name!r} contains ':' or a newline (NTLM_USER_FILE format)")
        self.domain = domain
        self.computer_name = computer_name
        self.host = host
        self.allow_basic = allow_basic
        self.allow_ntlm = allow_ntlm
        self.default_codepage = default_codepage
        self.receive_chunk = receive_chunk
        self._initial_canned = dict(canned or {})
        self._initial_handler = handler
        self.canned: dict[str, CommandReply] = dict(self._initial_canned)
        self.handler: CommandHandler = handler or self.default_handler
        self.requests: list[Exchange] = []
        self.shells: dict[str, ShellInfo] = {}
        self.shell_history: list[ShellInfo] = []
        self.errors: list[str] = []
        self.auth_failures: list[str] = []
        self.connections_accepted = 0
        self.refuse_signals = False
        """When True, every Signal (terminate, ctrl_c) gets a fault and stops nothing (a host that will not stop
        a command); the command's ``signals`` then stays empty."""
        self.refuse_commands = 0
        """How many of the next Commands get the fault Windows answers when the user has too many operations
        running at once (each refused one decrements it)."""
        self._requested_port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: Path | None = None
        self._user_file: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> WinRMEndpoint:
        """Write the NTLM credential file, bind and serve in a daemon thread; return self."""
        if self._server is not None:
            raise RuntimeError("WinRMEndpoint already started")
        self._stopping.clear()
        self._tmpdir = Path(tempfile.mkdtemp(prefix="itref-winrm-"))
        self._user_file = self._tmpdir / "ntlm_users"
        self._user_file.write_text(self._ntlm_user_lines(), encoding="utf-8")
        self._user_file.chmod(0o600)
        self._server = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"winrm-endpoint-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Abort pending Receives, close every connection, stop serving and delete the temp dir."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        with self._lock:
            for shell in self.shells.values():
                for cmd in shell.commands.values():
                    cmd.aborted.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()  # joins the handler threads, which exit once their socket is shut down
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = self._user_file = None

    def __enter__(self) -> WinRMEndpoint:
        """Start the endpoint and return it."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the endpoint."""
        self.stop()

    @property
    def port(self) -> int:
        """Return the TCP port the endpoint listens on (raises RuntimeError before start())."""
        if self._server is None:
            raise RuntimeError("WinRMEndpoint is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Return the endpoint URL, e.g. ``http://127.0.0.1:40123/wsman``."""
        return f"http://{self.host}:{self.port}/wsman"

    def reset(self) -> None:
        """Forget recorded exchanges, shells and errors; restore ``canned`` and ``handler`` to their initial values."""
        with self._lock:
            for shell in self.shells.values():
                for cmd in shell.commands.values():
                    cmd.aborted.set()
            self.shells.clear()
            self.shell_history.clear()
            self.requests.clear()
            self.errors.clear()
            self.auth_failures.clear()
        self.refuse_signals = False
        self.refuse_commands = 0
        self.canned = dict(self._initial_canned)
        self.handler = self._initial_handler or self.default_handler

    # -- recorded data helpers ---------------------------------------------------------------------------------

    def actions(self) -> list[str]:
        """Return the short Action name of every recorded exchange, e.g. ``["Create", "Command", …]``."""
        return [exchange.short_action for exchange in list(self.requests)]

    @property
    def shells_opened(self) -> int:
        """Return how many shells were created (successful Create requests) since start/reset."""
        return len(self.shell_history)

    # -- command handling --------------------------------------------------------------------------------------

    def default_handler(self, command: str, args: list[str], shell: ShellInfo) -> CommandReply:
        """Return the canned reply for the command, a built-in one, or cmd/PowerShell's "not recognized" error.

        Lookup order: ``canned[script]`` and ``canned[script.strip()]`` for ``powershell -EncodedCommand``,
        then ``canned[command line]`` and the line with whitespace collapsed.  Built-ins: ``hostname``,
        ``$env:COMPUTERNAME``, ``whoami``, cmd ``echo …`` and ``exit N`` (cmd and PowerShell).
        """
        line = command_line(command, args)
        script = powershell_script(line)
        keys = [script, script.strip()] if script is not None else []
        keys += [line, " ".join(line.split())]
        for key in keys:
            reply = self.canned.get(key)
            if reply is not None:
                return reply
        builtin = self._builtin(line, script, shell)
        if builtin is not None:
            return builtin
        if script is not None:
            name = script.strip().split()[0] if script.strip() else "''"
            first_line = script.strip().splitlines()[0] if script.strip() else ""
            text = _PS_NOT_RECOGNIZED.format(name=name, line=first_line, tilde="~" * len(name))
            return CommandReply(stderr=clixml_error(text), rc=1)
        return CommandReply(stderr=_CMD_NOT_RECOGNIZED.format(name=_first_word(line)), rc=1)

    def _builtin(self, line: str, script: str | None, shell: ShellInfo) -> CommandReply | None:
        """Return a reply for the few commands every Windows host answers, or None."""
        text = (script if script is not None else line).strip()
        lowered = text.lower()
        if lowered in ("hostname", "hostname.exe", "$env:computername", "[environment]::machinename"):
            return CommandReply(stdout=f"{self.computer_name}\r\n")
        if lowered in ("whoami", "whoami.exe"):
            domain, _, user = shell.user.rpartition("\\")
            return CommandReply(stdout=f"{(domain or self.computer_name).lower()}\\{user.lower()}\r\n")
        match = re.fullmatch(r"exit(?:\s+/b)?\s+(-?\d+)", lowered)
        if match is not None:
            return CommandReply(rc=int(match.group(1)))
        if script is None and re.match(r"echo(\s|$)", lowered):
            return CommandReply(stdout=f"{text[5:]}\r\n")
        return None

    # -- SOAP dispatch -----------------------------------------------------------------------------------------

    def _dispatch(self, raw: bytes, auth: str, user: str) -> tuple[int, str, str, str | None]:
        """Return ``(http_status, reply_envelope, action, shell_id)`` for one decrypted request."""
        message_id = ""
        action = ""
        shell_id: str | None = None
        try:
            request = _parse_request(raw)
            message_id, action = request.message_id, request.action
            shell_id = request.selectors.get("ShellId")
            operations: dict[str, Callable[[_Request, str, str], tuple[str, str]]] = {
                ACTION_CREATE: self._create,
                ACTION_COMMAND: self._command,
                ACTION_SEND: self._send_input,
                ACTION_RECEIVE: self._receive,
                ACTION_SIGNAL: self._signal,
                ACTION_DELETE: self._delete,
                ACTION_IDENTIFY: self._identify,
            }
            operation = operations.get(action)
            if operation is None:
                raise _Fault(
                    "a:ActionNotSupported",
                    "The action is not supported by the service. ",
                    FAULT_ACTION_NOT_SUPPORTED,
                    f"The WS-Management service cannot process the request: action {action!r} is not supported "
                    "by this test endpoint. ",
                )
            reply_action, body = operation(request, auth, user)
            if action == ACTION_CREATE:
                created = re.search(r'Name="ShellId">([^<]+)<', body)
                shell_id = created.group(1) if created else None
            return 200, _envelope(reply_action, message_id, body), action, shell_id
        except _Fault as fault:
            return 500, _fault_envelope(fault, message_id, self.computer_name), action, shell_id
        except Exception as exc:  # a bug in the endpoint: tell the client and keep it for the test to see
            self.errors.append(f"{action or 'request'}: {exc!r}")
            fault = _Fault(
                "w:InternalError",
                "Internal error. ",
                FAULT_INTERNAL_ERROR,
                f"test endpoint: {exc!r}",
                value="s:Receiver",
            )
            return 500, _fault_envelope(fault, message_id, self.computer_name), action, shell_id

    def _shell_for(self, request: _Request) -> ShellInfo:
        """Return the open shell named by the request's ShellId selector; raises the shell-not-found fault."""
        shell_id = request.selectors.get("ShellId", "")
        with self._lock:
            shell = self.shells.get(shell_id.upper())
        if shell is None:
            raise _shell_not_found(shell_id)
        return shell

    @staticmethod
    def _command_for(shell: ShellInfo, command_id: str | None) -> CommandInfo:
        """Return the command of ``shell`` with that CommandId; raises an InvalidParameter fault."""
        cmd = shell.commands.get((command_id or "").upper())
        if cmd is None:
            raise _invalid_parameter(f"The CommandId {command_id} is not valid for the shell {shell.shell_id}. ")
        return cmd

    def _create(self, request: _Request, auth: str, user: str) -> tuple[str, str]:
        """Create a shell; return the CreateResponse action and body (``x:ResourceCreated`` + ``rsp:Shell``)."""
        if request.resource_uri != RESOURCE_CMD:
            raise _invalid_parameter(f"resource URI {request.resource_uri!r} is not supported (only {RESOURCE_CMD})")
        shell_el = request.body.find(_q(NS_SHELL, "Shell"))
        if shell_el is None:
            raise _invalid_parameter("Create without rsp:Shell body")
        raw_codepage = request.options.get("WINRS_CODEPAGE", str(self.default_codepage))
        try:
            codepage = int(raw_codepage)
            encoding = codepage_encoding(codepage)
        except (ValueError, LookupError):
            raise _invalid_parameter(f"The WINRS_CODEPAGE {raw_codepage!r} is not valid. ") from None

        def child(name: str) -> str | None:
            element = shell_el.find(_q(NS_SHELL, name))
            return None if element is None else (element.text or "").strip()

        environment = {
            var.get("Name", ""): var.text or ""
            for var in shell_el.iterfind(f"{_q(NS_SHELL, 'Environment')}/{_q(NS_SHELL, 'Variable')}")
        }
        shell = ShellInfo(
            shell_id=str(uuid.uuid4()).upper(),
            user=user,
            auth=auth,
            codepage=codepage,
            encoding=encoding,
            resource_uri=request.resource_uri,
            options=dict(request.options),
            input_streams=child("InputStreams") or "stdin",
            output_streams=child("OutputStreams") or "stdout stderr",
            working_directory=child("WorkingDirectory"),
            environment=environment,
            idle_timeout=child("IdleTimeOut"),
        )
        with self._lock:
            self.shells[shell.shell_id] = shell
            self.shell_history.append(shell)
        body = (
            f"<x:ResourceCreated><a:Address>http://{escape(self.computer_name)}:5985/wsman</a:Address>"
            f"<a:ReferenceParameters><w:ResourceURI>{RESOURCE_CMD}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell.shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated>"
            f"<rsp:Shell><rsp:ShellId>{shell.shell_id}</rsp:ShellId><rsp:ResourceUri>{RESOURCE_CMD}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(user)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
            f"<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
            f"<rsp:InputStreams>{escape(shell.input_streams)}</rsp:InputStreams>"
            f"<rsp:OutputStreams>{escape(shell.output_streams)}</rsp:OutputStreams>"
            f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
            f"</rsp:Shell>"
        )
        return f"{NS_TRANSFER}/CreateResponse", body

    def _command(self, request: _Request, auth: str, user: str) -> tuple[str, str]:
        """Start a command in the shell; return the CommandResponse action and body (``rsp:CommandId``)."""
        shell = self._shell_for(request)
        if self.refuse_commands > 0:
            self.refuse_commands -= 1
            message = ("The WS-Management service cannot process the request. The maximum number of concurrent "
                       "operations for this user has been exceeded. ")
            raise _Fault("w:QuotaLimit", message, FAULT_QUOTA_LIMIT, message, value="s:Receiver")
        line_el = request.body.find(_q(NS_SHELL, "CommandLine"))
        if line_el is None:
            raise _invalid_parameter("Command without rsp:CommandLine body")
        command_el = line_el.find(_q(NS_SHELL, "Command"))
        command = (command_el.text or "") if command_el is not None else ""
        args = [arg.text or "" for arg in line_el.iterfind(_q(NS_SHELL, "Arguments"))]
        cmd = CommandInfo(
            command_id=(line_el.get("CommandId") or str(uuid.uuid4())).upper(),
            command=command.strip(),
            args=args,
            options=dict(request.options),
            started=time.monotonic(),
        )
        with self._lock:
            shell.commands[cmd.command_id] = cmd
        body = f"<rsp:CommandResponse><rsp:CommandId>{cmd.command_id}</rsp:CommandId></rsp:CommandResponse>"
        return f"{NS_SHELL}/CommandResponse", body

    def _send_input(self, request: _Request, auth: str, user: str) -> tuple[str, str]:
        """Append the base64 ``rsp:Stream`` data to the command's stdin; return the SendResponse."""
        shell = self._shell_for(request)
        for stream in request.body.iterfind(f"{_q(NS_SHELL, 'Send')}/{_q(NS_SHELL, 'Stream')}"):
            cmd = self._command_for(shell, stream.get("CommandId"))
            try:
                data = base64.b64decode((stream.text or "").strip(), validate=True)
            except binascii.Error:
                raise _invalid_parameter("stdin stream is not valid base64") from None
            with cmd.lock:
                cmd.stdin += data
                if (stream.get("End") or "").lower() == "true":
                    cmd.stdin_closed = True
        return f"{NS_SHELL}/SendResponse", "<rsp:SendResponse/>"

    def _receive(self, request: _Request, auth: str, user: str) -> tuple[str, str]:
        """Return the next chunk of output, or Done with the exit code; faults with TimedOut while running."""
        shell = self._shell_for(request)
        desired = request.body.find(f"{_q(NS_SHELL, 'Receive')}/{_q(NS_SHELL, 'DesiredStream')}")
        if desired is None:
            raise _invalid_parameter("Receive without rsp:DesiredStream")
        cmd = self._command_for(shell, desired.get("CommandId"))
        wanted = set((desired.text or "stdout stderr").split())
        cmd.receives += 1
        reply = self._materialise(shell, cmd)
        ready_at = cmd.started + max(reply.delay, 0.0)
        remaining = ready_at - time.monotonic()
        if remaining > 0:
            cmd.aborted.wait(min(remaining, request.operation_timeout))
        if cmd.aborted.is_set():
            raise _Fault(
                "w:InternalError",
                "The I/O operation has been aborted because of either a thread exit or an application request. ",
                FAULT_OPERATION_ABORTED,
                "The I/O operation has been aborted because of either a thread exit or an application request. ",
                value="s:Receiver",
            )
        if time.monotonic() < ready_at:
            raise _Fault(
                "w:TimedOut",
                "The WS-Management service cannot complete the operation within the time specified in "
                "OperationTimeout.  ",
                FAULT_OPERATION_TIMEDOUT,
                "The WS-Management service cannot complete the operation within the time specified in "
                "OperationTimeout.  ",
                value="s:Receiver",
            )
        budget = self.receive_chunk or max(1024, (request.max_envelope - _ENVELOPE_OVERHEAD) * 3 // 4)
        streams: list[str] = []
        with cmd.lock:
            out = cmd._stdout[cmd._out_pos : cmd._out_pos + budget] if "stdout" in wanted else b""
            cmd._out_pos += len(out)
            err = cmd._stderr[cmd._err_pos : cmd._err_pos + budget - len(out)] if "stderr" in wanted else b""
            cmd._err_pos += len(err)
            done = cmd._out_pos >= len(cmd._stdout) and cmd._err_pos >= len(cmd._stderr)
            cmd._finished = cmd._finished or done
        cid = cmd.command_id
        end = ' End="true"' if done else ""
        for name, data in (("stdout", out), ("stderr", err)):
            if name in wanted and (data or done):
                payload = base64.b64encode(data).decode("ascii")
                streams.append(f'<rsp:Stream Name="{name}" CommandId="{cid}"{end}>{payload}</rsp:Stream>')
        if done:
            state = (
                f'<rsp:CommandState CommandId="{cid}" State="{STATE_DONE}">'
                f"<rsp:ExitCode>{reply.rc}</rsp:ExitCode></rsp:CommandState>"
            )
        else:
            state = f'<rsp:CommandState CommandId="{cid}" State="{STATE_RUNNING}"/>'
        return f"{NS_SHELL}/ReceiveResponse", f"<rsp:ReceiveResponse>{''.join(streams)}{state}</rsp:ReceiveResponse>"

    def _materialise(self, shell: ShellInfo, cmd: CommandInfo) -> CommandReply:
        """Run the handler once for ``cmd`` and encode its output; return the reply (raises _Fault on error)."""
        with cmd.lock:
            if cmd.reply is None and cmd._error is None:
                shell.current = cmd
                try:
                    reply = self.handler(cmd.command, list(cmd.args), shell)
                    if not isinstance(reply, CommandReply):
                        raise TypeError(f"handler returned {type(reply).__name__}, expected CommandReply")
                    cmd._stdout = reply.stdout if isinstance(reply.stdout, bytes) else shell.encode(reply.stdout)
                    cmd._stderr = reply.stderr if isinstance(reply.stderr, bytes) else shell.encode(reply.stderr)
                    cmd.reply = reply
                except Exception as exc:
                    cmd._error = f"command handler raised {exc!r} for {cmd.command_line!r}"
                    self.errors.append(cmd._error)
                finally:
                    shell.current = None
            if cmd._error is not None:
                raise _Fault(
                    "w:InternalError",
                    f"Internal error. {cmd._error}",
                    FAULT_INTERNAL_ERROR,
                    cmd._error,
                    value="s:Receiver",
                )
            assert cmd.reply is not None
            return cmd.reply

    def _signal(self, request: _Request, auth: str, user: str) -> tuple[str, str]:
        """Record the signal; terminate/ctrl_c/ctrl_break abort the command. Return the SignalResponse."""
        shell = self._shell_for(request)
        signal_el = request.body.find(_q(NS_SHELL, "Signal"))
        if signal_el is None:
            raise _invalid_parameter("Signal without rsp:Signal body")
        cmd = self._command_for(shell, signal_el.get("CommandId"))
        code_el = signal_el.find(_q(NS_SHELL, "Code"))
        code = (code_el.text or "").strip() if code_el is not None else ""
        if self.refuse_signals:
            raise _Fault("w:InternalError", "The request to stop the command was refused. ", FAULT_SIGNAL_REFUSED,
                         "The request to stop the command was refused. ", value="s:Receiver")
        cmd.signals.append(code)
        if code in (SIGNAL_TERMINATE, SIGNAL_CTRL_C, SIGNAL_CTRL_BREAK) and not cmd.done:
            cmd.aborted.set()
        return f"{NS_SHELL}/SignalResponse", "<rsp:SignalResponse/>"

    def _delete(self, request: _Request, auth: str, user: str) -> tuple[str, str]:
        """Close the shell (aborting its commands); return the DeleteResponse with an empty body."""
        shell = self._shell_for(request)
        with self._lock:
            self.shells.pop(shell.shell_id, None)
            shell.closed = True
            for cmd in shell.commands.values():
                if not cmd.done:
                    cmd.aborted.set()
        return f"{NS_TRANSFER}/DeleteResponse", ""

    def _identify(self, request: _Request, auth: str, user: str) -> tuple[str, str]:
        """Return the IdentifyResponse a Windows Server 2019 host sends."""
        body = (
            f'<wsmid:IdentifyResponse xmlns:wsmid="{NS_IDENTITY}">'
            "<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>"
            "<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>"
            "<wsmid:ProductVersion>OS: 10.0.17763 SP: 0.0 Stack: 3.0</wsmid:ProductVersion>"
            "</wsmid:IdentifyResponse>"
        )
        return f"{NS_IDENTITY}/IdentifyResponse", body

    # -- auth helpers (called from the HTTP handler) -----------------------------------------------------------

    def _check_basic(self, token: str) -> str | None:
        """Return the user name for a valid Basic token (``DOMAIN\\`` or ``@domain`` accepted), else None."""
        try:
            name, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            self.auth_failures.append("basic: malformed token")
            return None
        bare = name.rpartition("\\")[2].partition("@")[0]
        for user, expected in self.users.items():
            if user.lower() == bare.lower() and password == expected:
                return name
        self.auth_failures.append(f"basic: rejected {name!r}")
        return None

    def _ntlm_user_lines(self) -> str:
        """Return the NTLM_USER_FILE text: each user as DOMAIN\\user, COMPUTER\\user, user and user@DOMAIN."""
        lines = []
        for user, password in self.users.items():
            lines += [
                f"{self.domain}:{user}:{password}",
                f"{self.computer_name}:{user}:{password}",
                f":{user}:{password}",
                f":{user}@{self.domain}:{password}",
            ]
        return "\n".join(lines) + "\n"

    def _new_ntlm_context(self) -> spnego.ContextProxy:
        """Return a fresh pure-Python NTLM acceptor context (NTLM_USER_FILE is checked here)."""
        assert self._user_file is not None
        with _ntlm_user_file(self._user_file):
            return spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)

    def _ntlm_step(self, ctx: spnego.ContextProxy, token: bytes) -> bytes | None:
        """Return the acceptor's answer to ``token`` (the AUTHENTICATE step reads NTLM_USER_FILE)."""
        assert self._user_file is not None
        with _ntlm_user_file(self._user_file):
            return ctx.step(token)

    # -- bookkeeping -------------------------------------------------------------------------------------------

    def _record(self, exchange: Exchange) -> None:
        """Append one exchange to ``requests``."""
        with self._lock:
            self.requests.append(exchange)

    def _connection_opened(self, sock: socket.socket) -> int:
        """Track an accepted connection; return its sequence number."""
        with self._lock:
            self._connections.add(sock)
            self.connections_accepted += 1
            return self.connections_accepted

    def _connection_closed(self, sock: socket.socket) -> None:
        """Forget a closed connection."""
        with self._lock:
            self._connections.discard(sock)


def _first_word(line: str) -> str:
    """Return the program name cmd.exe would complain about (first token, honouring double quotes)."""
    stripped = line.strip()
    if stripped.startswith('"'):
        return stripped[1:].split('"', 1)[0]
    return stripped.split()[0] if stripped else ""
