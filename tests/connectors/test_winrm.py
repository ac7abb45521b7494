"""The WinRM connector against the in-suite WS-Management endpoint, with unmodified pywinrm.

The endpoint (itref.lab.peers.winrm_endpoint) speaks real WS-Management over HTTP on loopback (Basic, and
NTLM with message encryption); :class:`~itref.lab.peers.winrm_fixtures.FakeWindows` answers the PowerShell
scripts the connector sends. What needs PowerShell itself (the scripts' semantics) needs a real Windows host.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from itref.config.project import HostSpec
from itref.config.schema import SecretRef
from itref.connectors import connectors
from itref.connectors.base import Command
from itref.connectors.quoting import powershell_join
from itref.connectors.winrm import (
    EPILOGUE,
    MAX_COMMAND_LINE,
    PRELUDE,
    STDIN_CHUNK,
    WinRMConnector,
    WinRMSettings,
    clixml_to_text,
    decode_output,
    get_body,
    put_body,
    script_body,
    wrap_script,
)
from itref.core.errors import AuthenticationFailed, ConnectionFailed, ItrefError, SecretError
from itref.core.results import CommandResult
from itref.lab.peers.winrm_endpoint import (
    ACTION_SIGNAL,
    SIGNAL_TERMINATE,
    CommandInfo,
    CommandReply,
    ShellInfo,
    WinRMEndpoint,
    clixml_error,
    powershell_script,
)
from itref.lab.peers.winrm_fixtures import (
    COMPUTER_NAME,
    FakeWindows,
    TcpProxy,
    ps_literal_args,
)
from itref.secrets import SecretResolver
from tests.conftest import journal_text
from tests.peers.winrm_tls import Certificates, make_certificates

pytestmark = pytest.mark.peer

USER = "itref"
PASSWORD = "S3cret!"
NTLM_USER = "LAB\\itref"
PW_ENV = "ITREF_TEST_WINRM_PASSWORD"
BAD_PW_ENV = "ITREF_TEST_WINRM_BAD_PASSWORD"
BAD_PASSWORD = "Wr0ng-Pa55word"
TRANSPORTS = ["basic", "ntlm"]
FRENCH = "Opération réussie\r\nSauvegarde terminée\r\n"


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PW_ENV, PASSWORD)
    monkeypatch.setenv(BAD_PW_ENV, BAD_PASSWORD)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[WinRMEndpoint]:
    with WinRMEndpoint(users={USER: PASSWORD}, domain="LAB", default_codepage=850) as ep:
        yield ep


@pytest.fixture
def windows() -> FakeWindows:
    return FakeWindows()


@pytest.fixture
def ep(endpoint: WinRMEndpoint, windows: FakeWindows) -> Iterator[WinRMEndpoint]:
    endpoint.reset()
    endpoint.handler = windows
    yield endpoint
    assert endpoint.errors == []


def spec(port: int, transport: str = "basic", *, name: str = "win-srv", address: str = "127.0.0.1",
         **options: object) -> HostSpec:
    merged: dict[str, object] = {
        "port": port, "scheme": "http", "transport": transport,
        "user": NTLM_USER if transport == "ntlm" else USER, "password": SecretRef(env=PW_ENV),
        "connect_timeout": 5,
    }
    merged.update(options)
    return HostSpec(name, "shared", "winrm", address, ("windows",), None,
                    WinRMSettings(**{k: v for k, v in merged.items() if v is not None}))


def connect(port: int, transport: str = "basic", **options: object) -> WinRMConnector:
    conn = WinRMConnector(spec(port, transport, **options), SecretResolver(interactive=False))
    conn.open()
    return conn


@pytest.fixture
def conn(ep: WinRMEndpoint) -> Iterator[WinRMConnector]:
    c = connect(ep.port)
    yield c
    c.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def last_command(ep: WinRMEndpoint) -> CommandInfo:
    return list(ep.shell_history[-1].commands.values())[-1]


# --------------------------------------------------------------------------- pure functions


def test_clixml_error_stream_becomes_readable_text() -> None:
    text = "Get-Item : Cannot find path 'C:\\nope' because it does not exist.\r\nAt line:1 char:1\r\n"
    assert clixml_to_text(clixml_error(text)) == text
    handmade = (
        "native tool said this first\r\n#< CLIXML\r\n"
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T></TN>'
        "<MS><I64 N=\"SourceId\">1</I64></MS></Obj>"
        '<S S="Error">Accès refusé &lt;C:\\Données&gt; &amp; co_x000D__x000A_</S>'
        '<S S="Error">literal _x005F_x000D_ and tab_x0009_end, emoji _xD83D__xDE00__x000D__x000A_</S>'
        '<S S="warning">disk almost full_x000D__x000A_</S></Objs>'
    )
    assert clixml_to_text(handmade) == (
        "native tool said this first\r\n"
        "Accès refusé <C:\\Données> & co\r\n"
        "literal _x000D_ and tab\tend, emoji \U0001f600\r\n"
        "WARNING: disk almost full\r\n"
    )


def test_text_without_clixml_or_with_broken_clixml_is_left_alone() -> None:
    assert clixml_to_text("plain error\r\n") == "plain error\r\n"
    broken = '#< CLIXML\r\n<Objs Version="1.1.0.1"><S S="Error">unterminated</Objs>'
    assert clixml_to_text(broken).endswith(broken.split("\r\n", 1)[1])


def test_output_is_utf8_with_cp850_and_cp1252_fallbacks() -> None:
    assert decode_output(FRENCH.encode("utf-8")) == "Opération réussie\nSauvegarde terminée\n"
    assert decode_output(b"\xef\xbb\xbfhello\r\n") == "hello\n"
    assert decode_output(FRENCH.encode("cp850")) == "Opération réussie\nSauvegarde terminée\n"
    assert decode_output(FRENCH.encode("cp1252")) == "Opération réussie\nSauvegarde terminée\n"
    mixed = "Répertoire: C:\\\r\n".encode() + "Fichier copié\r\n".encode("cp850")
    assert decode_output(mixed) == "Répertoire: C:\\\nFichier copié\n"
    assert decode_output(b"") == ""


def test_scripts_set_utf8_hide_progress_and_propagate_exit_codes() -> None:
    assert "[Console]::OutputEncoding = New-Object Text.UTF8Encoding $false" in PRELUDE
    assert "$ProgressPreference = 'SilentlyContinue'" in PRELUDE
    assert "exit $LASTEXITCODE" in EPILOGUE
    argv = Command.of(["robocopy", "C:\\a", "D:\\b"])
    assert script_body(argv) == "& 'robocopy' 'C:\\a' 'D:\\b'"
    assert script_body(Command.of("Get-Service | Where Status -eq 'Running'")) == \
        "Get-Service | Where Status -eq 'Running'"
    assert script_body(Command(("sort.exe",), stdin=b"b\na\n")) == "$input | & 'sort.exe'"
    assert wrap_script("x") == f"{PRELUDE}x\n\n{EPILOGUE}"


def test_registry_returns_the_winrm_connector() -> None:
    assert connectors.get("winrm") is WinRMConnector
    assert WinRMConnector.kind == "winrm" and WinRMConnector.shell_family == "powershell"


def test_importing_the_cli_does_not_import_winrm() -> None:
    code = "import sys, itref.cli.main, itref.connectors; print(sorted(m for m in sys.modules if 'winrm' in m))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_command_succeeds(ep: WinRMEndpoint, transport: str) -> None:
    with connect(ep.port, transport) as c:
        res = c.run(Command.of(["hostname"]))
    assert (res.rc, res.stdout, res.stderr, res.timed_out) == (0, f"{COMPUTER_NAME}\n", "", False)
    assert 0 < res.duration < 5
    shell = ep.shell_history[-1]
    assert shell.auth == transport and shell.codepage == 65001
    cmd = last_command(ep)
    assert cmd.command == "powershell.exe"
    assert cmd.args[0].split()[:6] == ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                                       "-EncodedCommand", cmd.args[0].split()[-1]]
    assert cmd.options["WINRS_SKIP_CMD_SHELL"] == "TRUE"


def test_non_zero_exit_code_and_stderr(ep: WinRMEndpoint, windows: FakeWindows, conn: WinRMConnector) -> None:
    windows.replies["& 'robocopy' 'C:\\src' 'D:\\dst'"] = CommandReply(
        stdout="partial\r\n", stderr="ERREUR 5 (0x00000005) Accès refusé.\r\n", rc=16)
    res = conn.run(Command.of(["robocopy", "C:\\src", "D:\\dst"]))
    assert (res.rc, res.stdout, res.stderr, res.ok) == (16, "partial\n", "ERREUR 5 (0x00000005) Accès refusé.\n", False)


def test_powershell_error_arrives_as_readable_text(ep: WinRMEndpoint, conn: WinRMConnector) -> None:
    res = conn.run(Command.of(["Get-Frobnicator", "-All"]))
    assert res.rc == 1
    assert "CLIXML" not in res.stderr and "_x000D_" not in res.stderr and "<S S=" not in res.stderr
    assert res.stderr.startswith("Get-Frobnicator : The term 'Get-Frobnicator' is not recognized")
    assert "    + FullyQualifiedErrorId : CommandNotFoundException\n" in res.stderr


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ten_megabytes_of_output(ep: WinRMEndpoint, windows: FakeWindows, transport: str) -> None:
    line = "0123456789abcdefghijklmnopqrstuvwxyzéà€\r\n"
    big = line * (10 * 1024 * 1024 // len(line.encode()) + 1)
    windows.replies["Get-Content C:\\big.log"] = CommandReply(stdout=big)
    with connect(ep.port, transport) as c:
        start = time.monotonic()
        res = c.run(Command.of("Get-Content C:\\big.log"))
        elapsed = time.monotonic() - start
    assert res.rc == 0 and len(res.stdout.encode()) >= 10 * 1024 * 1024 - len(big)
    assert res.stdout == big.replace("\r\n", "\n")
    assert ep.actions().count("Receive") > 10  # it really came in several envelopes
    assert elapsed < 20


def test_french_output_when_the_shell_honours_utf8(ep: WinRMEndpoint, windows: FakeWindows,
                                                   conn: WinRMConnector) -> None:
    windows.replies["& 'wbadmin' 'start' 'backup'"] = CommandReply(stdout=FRENCH)  # encoded with the shell's cp
    res = conn.run(Command.of(["wbadmin", "start", "backup"]))
    assert ep.shell_history[-1].codepage == 65001 and ep.shell_history[-1].encoding == "utf-8"
    assert res.stdout == "Opération réussie\nSauvegarde terminée\n"


@pytest.mark.parametrize("encoding", ["cp850", "cp1252"])
def test_french_output_from_a_legacy_codepage_program(ep: WinRMEndpoint, windows: FakeWindows,
                                                      conn: WinRMConnector, encoding: str) -> None:
    windows.replies["& 'legacy.exe'"] = CommandReply(stdout=FRENCH.encode(encoding),
                                                     stderr="Échec partiel\r\n".encode(encoding), rc=2)
    res = conn.run(Command.of(["legacy.exe"]))
    assert res.stdout == "Opération réussie\nSauvegarde terminée\n"
    assert res.stderr == "Échec partiel\n"


def test_arguments_arrive_literally(ep: WinRMEndpoint, windows: FakeWindows, conn: WinRMConnector) -> None:
    argv = ["C:\\Program Files\\Outil\\outil.exe", "it's", '"double"', "$env:USERNAME", "$(Remove-Item C:\\)",
            "a;b", "`n`$x", "‘curly’ ‚low‛", "“dq”", "-Force", "", "été", "100%", "@args", "x|y>z&w"]
    windows.replies[powershell_join(argv)] = CommandReply(stdout="ok\r\n")
    res = conn.run(Command.of(argv))
    assert res.stdout == "ok\n", res.stderr
    script = powershell_script(last_command(ep).command_line)  # decoded by the endpoint, not by itref
    assert script is not None
    call = script.split("\n")[len(PRELUDE.splitlines())]
    assert call == powershell_join(argv)
    assert ps_literal_args(call) == argv


def test_shell_line_is_sent_as_written(ep: WinRMEndpoint, windows: FakeWindows, conn: WinRMConnector) -> None:
    line = "Get-Service | Where-Object { $_.Status -eq 'Running' } | Select-Object -First 1"
    windows.replies[line] = CommandReply(stdout="WinRM\r\n")
    assert conn.run(Command.of(line)).stdout == "WinRM\n"
    assert windows.bodies[-1] == line


def test_stdin_is_sent_and_piped_to_the_program(ep: WinRMEndpoint, windows: FakeWindows,
                                                conn: WinRMConnector) -> None:
    windows.replies["$input | & 'sort.exe'"] = lambda info, shell: CommandReply(
        stdout=b"".join(sorted(bytes(info.stdin).splitlines(keepends=True))))
    data = b"pomme\r\nabricot\r\n" * 20000  # several Sends
    res = conn.run(Command(("sort.exe",), stdin=data))
    assert res.rc == 0 and res.stdout.startswith("abricot\nabricot\n")
    cmd = last_command(ep)
    assert bytes(cmd.stdin) == data and cmd.stdin_closed
    assert cmd.options["WINRS_CONSOLEMODE_STDIN"] == "FALSE"
    assert ep.actions().count("Send") == -(-len(data) // STDIN_CHUNK)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_one_shell_for_every_command(ep: WinRMEndpoint, transport: str) -> None:
    c = connect(ep.port, transport)
    results = [c.run(Command.of(["hostname"])) for _ in range(5)]
    c.close()
    c.close()  # idempotent
    assert all(r.stdout == f"{COMPUTER_NAME}\n" for r in results)
    actions = ep.actions()
    assert ep.shells_opened == 1
    assert actions.count("Create") == 1 and actions.count("Delete") == 1 and actions[-1] == "Delete"
    assert actions.count("Command") == 5 and actions.count("Signal") == 5
    assert len(ep.shell_history[0].commands) == 5
    with pytest.raises(ConnectionFailed, match="closed"):
        c.run(Command.of(["hostname"]))


def test_ntlm_traffic_is_encrypted(ep: WinRMEndpoint) -> None:
    with connect(ep.port, "ntlm") as c:
        c.run(Command.of(["hostname"]))
    assert ep.requests and all(x.encrypted and x.auth == "ntlm" for x in ep.requests)
    assert all(b"Envelope" not in x.wire_request for x in ep.requests)
    assert ep.shell_history[0].user.lower() == "lab\\itref"


def test_basic_over_http_is_warned_about(ep: WinRMEndpoint) -> None:
    with connect(ep.port, "basic") as c:
        assert any("unencrypted" in w for w in c.warnings)
    with connect(ep.port, "ntlm") as c:
        assert c.warnings == []


# --------------------------------------------------------------------------- failures to connect


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bad_password_is_an_authentication_failure(ep: WinRMEndpoint, transport: str) -> None:
    c = WinRMConnector(spec(ep.port, transport, password=SecretRef(env=BAD_PW_ENV)), SecretResolver(interactive=False))
    with pytest.raises(AuthenticationFailed) as caught:
        c.open()
    message = caught.value.message
    assert message.startswith("win-srv: ") and (NTLM_USER if transport == "ntlm" else USER) in message
    assert BAD_PASSWORD not in message and PASSWORD not in message
    assert ep.shells_opened == 0
    c.close()


def test_missing_user_password_or_secret(ep: WinRMEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = SecretResolver(interactive=False)
    with pytest.raises(AuthenticationFailed, match="no WinRM user"):
        WinRMConnector(spec(ep.port, user=None), resolver).open()
    with pytest.raises(AuthenticationFailed, match="no WinRM password"):
        WinRMConnector(spec(ep.port, password=None), resolver).open()
    monkeypatch.delenv(PW_ENV)
    with pytest.raises(SecretError, match=PW_ENV):
        WinRMConnector(spec(ep.port), SecretResolver(interactive=False)).open()


def test_kerberos_without_its_package_says_what_to_install(ep: WinRMEndpoint,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import winrm.transport

    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", False)
    c = WinRMConnector(spec(ep.port, "kerberos", password=None), SecretResolver(interactive=False))
    with pytest.raises(ItrefError, match="pykerberos"):
        c.open()


def test_closed_port_fails_fast() -> None:
    port = closed_port()
    c = WinRMConnector(spec(port), SecretResolver(interactive=False))
    start = time.monotonic()
    with pytest.raises(ConnectionFailed) as caught:
        c.open()
    assert time.monotonic() - start < 2
    assert caught.value.message.startswith(f"win-srv: cannot reach 127.0.0.1:{port} (connection refused")
    assert not isinstance(caught.value, AuthenticationFailed)


def test_unknown_name_is_a_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def fake(host: object, *args: object, **kwargs: object) -> object:
        if host == "srv-absent.exemple.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    c = WinRMConnector(spec(5985, address="srv-absent.exemple.example"), SecretResolver(interactive=False))
    with pytest.raises(ConnectionFailed, match=r"cannot reach srv-absent\.exemple\.example:5985 \(the name cannot "
                                               r"be resolved \(DNS\)\)"):
        c.open()


def test_silent_host_fails_within_connect_timeout() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(4):  # fill the accept queue: further SYNs are dropped, as by a firewall
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(server.getsockname())
        fillers.append(s)
    try:
        c = WinRMConnector(spec(server.getsockname()[1], connect_timeout=0.5), SecretResolver(interactive=False))
        start = time.monotonic()
        with pytest.raises(ConnectionFailed, match=r"no answer within 0\.5 s"):
            c.open()
        assert time.monotonic() - start < 3
    finally:
        for s in [*fillers, server]:
            s.close()


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("winrm-tls"))


def test_https_with_ca_file_works(ep: WinRMEndpoint, certs: Certificates) -> None:
    with TcpProxy(ep.port, certs.server) as proxy, \
            connect(proxy.port, "basic", scheme="https", ca_file=str(certs.ca)) as c:
        assert c.run(Command.of(["hostname"])).stdout == f"{COMPUTER_NAME}\n"
        assert c.warnings == [] and c.url.startswith("https://")


def test_https_unknown_ca_says_how_to_fix_it(ep: WinRMEndpoint, certs: Certificates) -> None:
    with TcpProxy(ep.port, certs.server) as proxy:
        c = WinRMConnector(spec(proxy.port, "ntlm", scheme="https"), SecretResolver(interactive=False))
        with pytest.raises(ConnectionFailed) as caught:
            c.open()
    message = caught.value.message
    assert "certificate" in message and "could not be verified" in message and "ca_file" in message
    assert PASSWORD not in message


def test_https_name_mismatch_is_a_certificate_failure(ep: WinRMEndpoint, certs: Certificates) -> None:
    with TcpProxy(ep.port, certs.other_name) as proxy:
        c = WinRMConnector(spec(proxy.port, scheme="https", ca_file=str(certs.ca)), SecretResolver(interactive=False))
        with pytest.raises(ConnectionFailed, match=r"(?i)could not be verified.*mismatch"):
            c.open()


def test_cert_validation_off_works_and_warns(ep: WinRMEndpoint, certs: Certificates) -> None:
    with TcpProxy(ep.port, certs.server) as proxy, \
            connect(proxy.port, "basic", scheme="https", cert_validation=False) as c:
        assert c.run(Command.of(["hostname"])).rc == 0
    assert len(c.warnings) == 1 and "validation is OFF" in c.warnings[0]


def test_https_to_an_http_port_explains_the_mixup(ep: WinRMEndpoint, certs: Certificates) -> None:
    c = WinRMConnector(spec(ep.port, scheme="https", ca_file=str(certs.ca)), SecretResolver(interactive=False))
    with pytest.raises(ConnectionFailed, match=r"TLS handshake .* failed .*5985 is http"):
        c.open()


def test_missing_ca_file_is_reported(ep: WinRMEndpoint, tmp_path: Path) -> None:
    c = WinRMConnector(spec(ep.port, scheme="https", ca_file=str(tmp_path / "none.pem")),
                       SecretResolver(interactive=False))
    with pytest.raises(ConnectionFailed, match=r"CA file .*none\.pem"):
        c.open()


# --------------------------------------------------------------------------- timeouts, faults, lost connections


def test_command_timeout_returns_a_timed_out_result(ep: WinRMEndpoint, windows: FakeWindows,
                                                    conn: WinRMConnector) -> None:
    windows.replies["& 'Start-Sleep' '3600'"] = CommandReply(stdout="never\r\n", delay=3600)
    start = time.monotonic()
    res = conn.run(Command.of(["Start-Sleep", "3600"], timeout=1.0))
    elapsed = time.monotonic() - start
    assert res.timed_out and res.rc is None and not res.ok
    assert 0.9 < elapsed < 3, elapsed
    slow = last_command(ep)
    assert SIGNAL_TERMINATE in slow.signals
    assert conn.run(Command.of(["hostname"])).stdout == f"{COMPUTER_NAME}\n"  # the shell is still good
    assert ep.shells_opened == 1


def test_slow_command_within_its_timeout_completes(ep: WinRMEndpoint, windows: FakeWindows,
                                                   conn: WinRMConnector) -> None:
    conn.receive_wait = 0.2  # several Receives time out on the host before the output is ready
    windows.replies["& 'slow.exe'"] = CommandReply(stdout="fini\r\n", rc=0, delay=1.5)
    res = conn.run(Command.of(["slow.exe"], timeout=10))
    assert (res.rc, res.stdout, res.timed_out) == (0, "fini\n", False)
    receives = [x for x in ep.requests if x.short_action == "Receive"]
    assert len(receives) >= 2 and receives[0].status == 500 and "TimedOut" in receives[0].response


def test_fault_during_a_command_is_a_failed_result(ep: WinRMEndpoint, windows: FakeWindows,
                                                   conn: WinRMConnector) -> None:
    def crash(info: CommandInfo, shell: ShellInfo) -> CommandReply:
        raise RuntimeError("provider crashed")

    windows.replies["& 'Get-WmiObject' 'Win32_Bios'"] = crash
    res = conn.run(Command.of(["Get-WmiObject", "Win32_Bios"]))
    ep.errors.clear()  # the endpoint records the handler's exception
    assert res.rc is None and not res.timed_out and not res.ok
    assert "WinRM fault while the command ran" in res.stderr and "WSManFault 0x54f" in res.stderr
    assert conn.run(Command.of(["hostname"])).rc == 0
    assert ep.shells_opened == 1


def test_command_refused_by_winrm_is_a_failed_result(ep: WinRMEndpoint, windows: FakeWindows,
                                                     conn: WinRMConnector) -> None:
    ep.refuse_commands = 1  # the host answers the Command with its too-many-operations fault, once
    res = conn.run(Command.of(["hostname"]))
    assert res.rc is None and "WinRM refused to start the command" in res.stderr and "maximum number" in res.stderr
    ep.errors.clear()  # the endpoint records the fault it sent
    assert conn.run(Command.of(["hostname"])).rc == 0


def test_shell_discarded_between_commands_is_recreated(ep: WinRMEndpoint, conn: WinRMConnector) -> None:
    assert conn.run(Command.of(["hostname"])).rc == 0
    ep.shells.clear()  # what Windows does to a shell idle past its IdleTimeout, or when WinRM restarts
    assert conn.run(Command.of(["hostname"])).stdout == f"{COMPUTER_NAME}\n"
    assert ep.shells_opened == 2


def test_shell_lost_mid_command_is_a_connection_failure(ep: WinRMEndpoint, windows: FakeWindows,
                                                        conn: WinRMConnector) -> None:
    def vanish(info: CommandInfo, shell: ShellInfo) -> CommandReply:
        ep.shells.pop(shell.shell_id, None)
        return CommandReply(delay=3600)

    conn.receive_wait = 0.2
    windows.replies["& 'Restart-Service' 'WinRM'"] = vanish
    start = time.monotonic()
    with pytest.raises(ConnectionFailed, match=r"shell .* disappeared while a command was running"):
        conn.run(Command.of(["Restart-Service", "WinRM"], timeout=30))
    assert time.monotonic() - start < 3
    with pytest.raises(ConnectionFailed, match="lost earlier"):
        conn.run(Command.of(["hostname"]))
    conn.close()
    assert "Delete" not in ep.actions()


def test_connection_lost_mid_command_is_a_connection_failure(windows: FakeWindows) -> None:
    windows.replies["& 'long.exe'"] = CommandReply(delay=3600)
    with WinRMEndpoint(users={USER: PASSWORD}, handler=windows) as own, TcpProxy(own.port) as proxy:
        c = connect(proxy.port, "ntlm")
        c.receive_wait = 0.2
        timer = threading.Timer(0.5, proxy.stop)
        timer.start()
        start = time.monotonic()
        with pytest.raises(ConnectionFailed) as caught:
            c.run(Command.of(["long.exe"], timeout=60))
        elapsed = time.monotonic() - start
        timer.join()
        c.close()
    assert elapsed < 5
    assert caught.value.message.startswith(f"win-srv: connection to 127.0.0.1:{proxy.port} lost while a command")


def test_close_from_another_thread_stops_the_running_command(ep: WinRMEndpoint, windows: FakeWindows,
                                                            conn: WinRMConnector) -> None:
    windows.replies["& 'wait.exe'"] = CommandReply(delay=3600)
    conn.receive_wait = 0.2
    errors: list[BaseException] = []
    results: list[CommandResult] = []

    def work() -> None:
        try:
            results.append(conn.run(Command.of(["wait.exe"], timeout=60)))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 10
    while "Receive" not in ep.actions() and time.monotonic() < deadline:  # the command is running, waited for
        time.sleep(0.05)
    start = time.monotonic()
    conn.close()  # as the executor does on Ctrl-C
    worker.join(timeout=5)
    assert not worker.is_alive() and time.monotonic() - start < 2
    assert errors == []  # stopped on purpose: a result that says so, not a lost connection
    assert len(results) == 1 and results[0].interrupted and results[0].stop_error is None and not results[0].ok
    assert SIGNAL_TERMINATE in last_command(ep).signals
    assert ep.actions()[-1] == "Delete" and ep.actions().count(ACTION_SIGNAL.rsplit("/", 1)[-1]) == 1


def test_script_too_long_for_a_command_line_is_refused(conn: WinRMConnector) -> None:
    with pytest.raises(ItrefError, match="too long"):
        conn.run(Command.of("Write-Output '" + "x" * MAX_COMMAND_LINE + "'"))


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_put_and_get_round_trip(ep: WinRMEndpoint, windows: FakeWindows, tmp_path: Path, transport: str) -> None:
    samples = {
        "C:\\Données\\rapport d'été ‘final’.bin": bytes(range(256)) * 4 + "Opération réussie €\r\n".encode(),
        "C:\\Temp\\un-mega.bin": os.urandom(1024 * 1024),
        "C:\\Temp\\vide.txt": b"",
    }
    with connect(ep.port, transport) as c:
        for index, (remote, data) in enumerate(samples.items()):
            local = tmp_path / f"src-{index}"
            local.write_bytes(data)
            c.put(local, remote)
            assert windows.files[remote] == data
            back = tmp_path / f"back-{index} é"
            c.get(remote, back)
            assert back.read_bytes() == data
    assert [b for b in windows.bodies if b.startswith("$ErrorAction")] == [
        body(remote) for remote in samples for body in (put_body, get_body)]
    assert ep.shells_opened == 1
    assert max(len(x.request.encode()) for x in ep.requests) < 153600  # within MaxEnvelopeSize
    assert max(len(x.response.encode()) for x in ep.requests) < 153600
    assert sorted(p.name for p in tmp_path.iterdir() if "itref-part" in p.name) == []


def test_get_of_a_missing_file_reports_the_hosts_error(ep: WinRMEndpoint, conn: WinRMConnector,
                                                       tmp_path: Path) -> None:
    with pytest.raises(ItrefError, match=r"Could not find file 'C:\\absent\.txt'") as caught:
        conn.get("C:\\absent.txt", tmp_path / "absent.txt")
    assert "CLIXML" not in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_put_of_a_missing_local_file(ep: WinRMEndpoint, conn: WinRMConnector, tmp_path: Path) -> None:
    with pytest.raises(ItrefError, match="cannot read"):
        conn.put(tmp_path / "nope", "C:\\x")
    assert ep.actions().count("Command") == 0


def test_put_mode_is_ignored_with_a_warning(ep: WinRMEndpoint, windows: FakeWindows, conn: WinRMConnector,
                                            tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x")
    conn.put(tmp_path / "a", "C:\\a", mode=0o600)
    assert windows.files["C:\\a"] == b"x" and any("600" in w and "chmod" in w for w in conn.warnings)


# --------------------------------------------------------------------------- end to end


def test_itref_run_on_a_winrm_host(ep: WinRMEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   state_dir: Path) -> None:
    from itref.cli.main import run

    inventory = {
        "version": 1, "organisation": "Test",
        "entities": {"shared": {"title": "Shared", "hosts": {"win-srv": {
            "connection": "winrm", "address": "127.0.0.1", "port": ep.port, "scheme": "http",
            "transport": "ntlm", "user": NTLM_USER, "password": {"env": PW_ENV}, "tags": ["windows"]}}}},
    }
    path = tmp_path / "inventory.yaml"
    path.write_text(json.dumps(inventory), encoding="utf-8")
    capsys.readouterr()
    rc = run(["-i", str(path), "--format", "json", "run", "--", "hostname"])
    out = capsys.readouterr()
    assert rc == 0, out
    rows = json.loads(out.out)
    assert [(r["host"], r["outcome"], r["rc"], r["stdout"]) for r in rows] == [
        ("win-srv", "ok", 0, f"{COMPUTER_NAME}\n")]
    assert ep.shells_opened == 1 and ep.actions()[-1] == "Delete"
    journal = journal_text(state_dir)
    assert "win-srv" in journal and PASSWORD not in journal
