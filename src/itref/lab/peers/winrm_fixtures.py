"""A Windows host played by the WS-Management endpoint (:mod:`itref.lab.peers.winrm_endpoint`), for the practice
lab's Windows file server and for the tests of itref's WinRM connector.

* :class:`FakeWindows` — a command handler for the endpoint that understands the PowerShell scripts
  the connector sends: it checks the itref prelude/epilogue, answers the *body* (the user's command)
  from a table, and plays the file-transfer scripts of ``put``/``get`` against an in-memory file
  table. It runs no PowerShell: the scripts' PowerShell semantics need a real Windows host.
* :class:`TcpProxy` — forwards loopback connections to the endpoint, optionally terminating TLS
  (the endpoint itself speaks plain http), and can cut every connection at once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import socket
import ssl
import threading
from collections.abc import Callable

from .winrm_endpoint import CommandInfo, CommandReply, ShellInfo, clixml_error

COMPUTER_NAME = "WIN-ITREF01"
_QUOTES = "'\u2018\u2019\u201a\u201b"

Reply = CommandReply | Callable[[CommandInfo, ShellInfo], CommandReply]


def ps_literal_args(line: str) -> list[str]:
    """Return the literal arguments of ``& 'a' 'b' ...`` (the exact inverse of itref's PowerShell quoting)."""
    if not line.startswith("& "):
        raise ValueError(f"not a call: {line!r}")
    args: list[str] = []
    pos = 2
    while pos < len(line):
        if line[pos] == " ":
            pos += 1
            continue
        if line[pos] != "'":
            raise ValueError(f"unquoted text at {pos}: {line[pos:]!r}")
        pos += 1
        value = []
        while True:
            ch = line[pos]
            if ch in _QUOTES:
                if pos + 1 < len(line) and line[pos + 1] == ch:
                    value.append(ch)
                    pos += 2
                    continue
                pos += 1
                break
            value.append(ch)
            pos += 1
        args.append("".join(value))
    return args


def _script_path(body: str) -> str | None:
    """Return the value of the ``$path = '...'`` line of a transfer script, or None."""
    match = re.search(r"^\$path = '(.*)'$", body, re.M)
    if match is None:
        return None
    return re.sub(f"([{_QUOTES}])\\1", r"\1", match.group(1))


class FakeWindows:
    """Endpoint handler standing in for a Windows host driven by itref's WinRM connector.

    ``replies`` maps a script *body* (``"& 'hostname'"``, or a ``--shell`` line) to a CommandReply or
    to ``f(command_info, shell) -> CommandReply``. ``files`` is the host's file table for put/get.
    ``bodies`` records every body received.
    """

    def __init__(self, computer_name: str = COMPUTER_NAME) -> None:
        self.computer_name = computer_name
        self.replies: dict[str, Reply] = {}
        self.files: dict[str, bytes] = {}
        self.bodies: list[str] = []

    def __call__(self, command: str, args: list[str], shell: ShellInfo) -> CommandReply:
        from itref.connectors.winrm import EPILOGUE, PRELUDE, get_body, put_body

        info = shell.current
        assert info is not None
        script = info.script
        tail = "\n\n" + EPILOGUE
        if script is None or not script.startswith(PRELUDE) or not script.endswith(tail):
            return CommandReply(stderr=f"FakeWindows: not an itref script: {info.command_line[:200]!r}\r\n", rc=99)
        body = script[len(PRELUDE) : -len(tail)]
        self.bodies.append(body)
        path = _script_path(body)
        if path is not None and body == put_body(path):
            return self._put(path, bytes(info.stdin))
        if path is not None and body == get_body(path):
            return self._get(path)
        reply = self.replies.get(body)
        if reply is not None:
            return reply if isinstance(reply, CommandReply) else reply(info, shell)
        if body.strip().lower() in ("& 'hostname'", "hostname", "& 'hostname.exe'", "$env:computername"):
            return CommandReply(stdout=f"{self.computer_name}\r\n")
        name = body.split()[1].strip("'") if body.startswith("& ") and len(body.split()) > 1 else body.split()[0]
        return CommandReply(
            stderr=clixml_error(
                f"{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
                f"operable program. Check the spelling of the name, or if a path was included, verify that the path "
                f"is correct and try again.\r\nAt line:4 char:1\r\n"
                f"    + CategoryInfo          : ObjectNotFound: ({name}:String) [], CommandNotFoundException\r\n"
                f"    + FullyQualifiedErrorId : CommandNotFoundException\r\n"
            ),
            rc=1,
        )

    def _put(self, path: str, stdin: bytes) -> CommandReply:
        data = bytearray()
        for line in stdin.split(b"\r\n"):
            if line:
                try:
                    data += base64.b64decode(line, validate=True)
                except binascii.Error:
                    return CommandReply(stderr=clixml_error('Exception calling "FromBase64String": invalid\r\n'), rc=1)
        self.files[path] = bytes(data)
        return CommandReply(stdout=hashlib.sha256(data).hexdigest() + "\r\n")

    def _get(self, path: str) -> CommandReply:
        from itref.connectors.winrm import TRANSFER_CHUNK

        data = self.files.get(path)
        if data is None:
            return CommandReply(
                stderr=clixml_error(
                    f'Exception calling "OpenRead" with "1" argument(s): "Could not find file \'{path}\'."\r\n'
                    "At line:7 char:1\r\n+ $fs = [IO.File]::OpenRead($path)\r\n"
                ),
                rc=1,
            )
        lines = [base64.b64encode(data[i : i + TRANSFER_CHUNK]) + b"\r\n" for i in range(0, len(data), TRANSFER_CHUNK)]
        lines.append(b"sha256:" + hashlib.sha256(data).hexdigest().encode() + b"\r\n")
        return CommandReply(stdout=b"".join(lines))


# --------------------------------------------------------------------------- TCP proxy


class TcpProxy:
    """Accepts connections on 127.0.0.1 and forwards each to ``127.0.0.1:target`` (TLS ended here if a
    server context is given). ``stop()`` closes the listener and cuts every open connection."""

    def __init__(self, target: int, tls: ssl.SSLContext | None = None) -> None:
        self.target = target
        self.tls = tls
        self.handshake_errors: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._port = int(self._listener.getsockname()[1])
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="winrm-proxy", daemon=True)

    @property
    def port(self) -> int:
        """Return the port the proxy listens on."""
        return self._port

    def start(self) -> TcpProxy:
        """Start accepting; return self."""
        self._thread.start()
        return self

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening and cut every connection (both sides)."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the proxy thread
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self._thread.join(timeout=5)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.tls is not None:
            try:
                client = self.tls.wrap_socket(client, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                self.handshake_errors.append(repr(exc))
                with contextlib.suppress(OSError):
                    client.close()
                return
            self._track(client)
        try:
            backend = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            client.close()
            return
        self._track(backend)
        threading.Thread(target=self._pump, args=(backend, client), daemon=True).start()
        self._pump(client, backend)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
