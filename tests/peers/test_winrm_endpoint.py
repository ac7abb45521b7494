"""Tests of the fake WinRM endpoint, driven by unmodified pywinrm over real HTTP on loopback.

They prove the endpoint is good enough to stand in for a Windows host in itref's tests: the commands, exit
codes, streams, codepages, faults, authentication (Basic and NTLM with message encryption) and shell reuse
all look to pywinrm exactly as they would coming from Windows.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError
from winrm.protocol import Protocol

from itref.lab.peers.winrm_endpoint import (
    ACTION_COMMAND,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_RECEIVE,
    ACTION_SIGNAL,
    ENCRYPTED_PROTOCOL,
    FAULT_SHELL_NOT_FOUND,
    NS_ADDRESSING,
    SIGNAL_TERMINATE,
    STATE_DONE,
    CommandReply,
    ShellInfo,
    WinRMEndpoint,
    powershell_script,
)

pytestmark = pytest.mark.peer

USER = "itref"
PASSWORD = "S3cret!"
NTLM_USER = "LAB\\itref"
CREDENTIALS = {"basic": (USER, PASSWORD), "ntlm": (NTLM_USER, PASSWORD)}
IPCONFIG = "Windows IP Configuration\r\n\r\n   Host Name . . . . . . . . . . . . : WIN-ITREF01\r\n"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[WinRMEndpoint]:
    with WinRMEndpoint(users={USER: PASSWORD}, domain="LAB") as ep:
        yield ep


@pytest.fixture
def ep(endpoint: WinRMEndpoint) -> Iterator[WinRMEndpoint]:
    endpoint.reset()
    endpoint.canned["ipconfig /all"] = CommandReply(stdout=IPCONFIG)
    yield endpoint
    assert endpoint.errors == []


def session(ep: WinRMEndpoint, transport: str, **kwargs: object) -> winrm.Session:
    return winrm.Session(ep.url, auth=CREDENTIALS[transport], transport=transport, **kwargs)


def protocol(ep: WinRMEndpoint, transport: str, **kwargs: object) -> Protocol:
    username, password = CREDENTIALS[transport]
    return Protocol(ep.url, transport=transport, username=username, password=password, **kwargs)


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


# --------------------------------------------------------------------------------------------------------------
# Commands, exit codes, streams
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_run_cmd_returns_canned_output(ep: WinRMEndpoint, transport: str) -> None:
    result = session(ep, transport).run_cmd("ipconfig", ["/all"])

    assert (result.status_code, result.std_out, result.std_err) == (0, IPCONFIG.encode(), b"")
    assert ep.actions() == ["Create", "Command", "Receive", "Signal", "Delete"]
    assert {(e.auth, e.user) for e in ep.requests} == {(transport, CREDENTIALS[transport][0])}
    command = ep.shell_history[0].commands
    assert [(c.command, c.args, c.command_line) for c in command.values()] == [("ipconfig", ["/all"], "ipconfig /all")]


def test_command_line_given_whole_matches_the_same_canned_entry(ep: WinRMEndpoint) -> None:
    assert session(ep, "basic").run_cmd("ipconfig /all").std_out == IPCONFIG.encode()


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_run_ps_is_keyed_by_the_decoded_script(ep: WinRMEndpoint, transport: str) -> None:
    script = "Get-Service -Name Spooler | Select-Object -ExpandProperty Status"
    ep.canned[script] = CommandReply(stdout="Running\r\n")

    result = session(ep, transport).run_ps(script)

    assert (result.status_code, result.std_out, result.std_err) == (0, b"Running\r\n", b"")
    command = next(iter(ep.shell_history[0].commands.values()))
    assert command.command_line == f"powershell -encodedcommand {encoded(script)}"
    assert command.script == script


@pytest.mark.parametrize(
    "flag", ["-EncodedCommand", "-encodedcommand", "-ENCODEDCOMMAND", "-e", "-enc", "-ec", "-En", "/EncodedCommand"]
)
def test_every_spelling_of_encodedcommand_is_decoded(ep: WinRMEndpoint, flag: str) -> None:
    ep.canned["Get-Date -Format yyyy"] = CommandReply(stdout="2024\r\n")
    p = protocol(ep, "basic")
    shell = p.open_shell()
    line = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -NoProfile -NonInteractive "
    line += f"-ExecutionPolicy Bypass {flag} {encoded('Get-Date -Format yyyy')}"
    command_id = p.run_command(shell, line)

    assert p.get_command_output(shell, command_id) == (b"2024\r\n", b"", 0)
    p.close_shell(shell)


def test_powershell_script_only_decodes_powershell_lines() -> None:
    b64 = encoded("exit 3")
    assert powershell_script(f"pwsh.exe -enc {b64}") == "exit 3"
    assert powershell_script(f"cmd /c echo -enc {b64}") is None
    assert powershell_script("powershell -ExecutionPolicy Bypass -File x.ps1") is None
    assert powershell_script("powershell -EncodedCommand not~base64") is None


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_non_zero_exit_code(ep: WinRMEndpoint, transport: str) -> None:
    ep.canned["exit 7"] = CommandReply(rc=7)
    ep.canned["robocopy C:\\src D:\\dst /MIR"] = CommandReply(stdout="  Files : 3\r\n", rc=3)

    s = session(ep, transport)
    assert s.run_ps("exit 7").status_code == 7
    result = s.run_cmd("robocopy", ["C:\\src", "D:\\dst", "/MIR"])
    assert (result.status_code, result.std_out) == (3, b"  Files : 3\r\n")


def test_stdout_and_stderr_are_separate_streams(ep: WinRMEndpoint) -> None:
    ep.canned["net use Z: \\\\nas\\backup"] = CommandReply(
        stdout="", stderr="System error 53 has occurred.\r\n\r\nThe network path was not found.\r\n", rc=2
    )

    result = session(ep, "ntlm").run_cmd("net use Z: \\\\nas\\backup")

    assert result.status_code == 2
    assert result.std_out == b""
    assert result.std_err == b"System error 53 has occurred.\r\n\r\nThe network path was not found.\r\n"
    receive = next(e for e in ep.requests if e.action == ACTION_RECEIVE).response
    command_id = next(iter(ep.shell_history[0].commands))
    assert f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true">' in receive
    assert f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}"><rsp:ExitCode>2</rsp:ExitCode>' in receive


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_unknown_cmd_command_fails_like_cmd_exe(ep: WinRMEndpoint, transport: str) -> None:
    result = session(ep, transport).run_cmd("frobnicate", ["--now"])

    assert result.status_code == 1
    assert result.std_out == b""
    assert result.std_err == (
        b"'frobnicate' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    )


def test_unknown_powershell_command_fails_with_clixml_error(ep: WinRMEndpoint) -> None:
    result = session(ep, "basic").run_ps("Get-Frobnicator -All")

    assert result.status_code == 1
    # pywinrm's run_ps turns the CLIXML error stream back into text: proof the stream is well-formed CLIXML.
    assert result.std_err.startswith(
        b"Get-Frobnicator : The term 'Get-Frobnicator' is not recognized as the name of a cmdlet"
    )
    assert b"CommandNotFoundException" in result.std_err
    raw = next(e for e in ep.requests if e.action == ACTION_RECEIVE).response
    stderr = re.search(r'<rsp:Stream Name="stderr"[^>]*>([^<]+)<', raw)
    assert stderr is not None and base64.b64decode(stderr.group(1)).startswith(b"#< CLIXML\r\n<Objs ")


def test_builtin_hostname_and_whoami(ep: WinRMEndpoint) -> None:
    s = session(ep, "ntlm")
    assert s.run_cmd("hostname").std_out == b"WIN-ITREF01\r\n"
    assert s.run_ps("$env:COMPUTERNAME").std_out == b"WIN-ITREF01\r\n"
    assert s.run_cmd("whoami").std_out == b"lab\\itref\r\n"
    assert session(ep, "basic").run_cmd("whoami").std_out == b"win-itref01\\itref\r\n"


# --------------------------------------------------------------------------------------------------------------
# Pluggable handler, stdin
# --------------------------------------------------------------------------------------------------------------


def test_custom_handler_sees_command_args_and_shell(ep: WinRMEndpoint) -> None:
    seen: list[tuple[str, list[str], int, str]] = []

    def handler(command: str, args: list[str], shell: ShellInfo) -> CommandReply:
        seen.append((command, args, shell.codepage, shell.user))
        if command == "dir":
            return CommandReply(stdout=f"{len(args)} argument(s)\r\n")
        return ep.default_handler(command, args, shell)

    ep.handler = handler
    s = session(ep, "ntlm")

    assert s.run_cmd("dir", ["/b", "C:\\"]).std_out == b"1 argument(s)\r\n"  # pywinrm joins arguments
    assert s.run_cmd("ipconfig", ["/all"]).std_out == IPCONFIG.encode()
    assert seen == [("dir", ["/b C:\\"], 437, NTLM_USER), ("ipconfig", ["/all"], 437, NTLM_USER)]


def test_stdin_sent_before_receive_reaches_the_handler(ep: WinRMEndpoint) -> None:
    def sort_handler(command: str, args: list[str], shell: ShellInfo) -> CommandReply:
        assert shell.current is not None
        lines = bytes(shell.current.stdin).decode("cp437").split("\r\n")
        return CommandReply(stdout="\r\n".join(sorted(filter(None, lines))) + "\r\n")

    ep.handler = sort_handler
    p = protocol(ep, "ntlm")
    shell = p.open_shell()
    command_id = p.run_command(shell, "sort")
    p.send_command_input(shell, command_id, b"pear\r\n")
    p.send_command_input(shell, command_id, b"apple\r\n", end=True)

    assert p.get_command_output(shell, command_id) == (b"apple\r\npear\r\n", b"", 0)
    p.cleanup_command(shell, command_id)
    p.close_shell(shell)
    command = ep.shell_history[0].commands[command_id]
    assert (bytes(command.stdin), command.stdin_closed) == (b"pear\r\napple\r\n", True)
    assert ep.actions().count("Send") == 2


def test_handler_exception_becomes_a_fault_and_is_recorded(ep: WinRMEndpoint) -> None:
    def broken(command: str, args: list[str], shell: ShellInfo) -> CommandReply:
        raise RuntimeError("boom")

    ep.handler = broken
    with pytest.raises(WSManFaultError, match="boom") as info:
        session(ep, "basic").run_cmd("anything")
    assert info.value.wsman_fault_code == 1359
    assert len(ep.errors) == 1 and "boom" in ep.errors[0]
    ep.errors.clear()  # expected here; the fixture asserts no other error happened


# --------------------------------------------------------------------------------------------------------------
# Authentication and encryption
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transport", "username"),
    [("basic", USER), ("basic", "nobody"), ("ntlm", NTLM_USER), ("ntlm", "LAB\\nobody"), ("ntlm", "OTHER\\itref")],
)
def test_bad_credentials_are_rejected(ep: WinRMEndpoint, transport: str, username: str) -> None:
    password = "wrong" if username in (USER, NTLM_USER) else PASSWORD
    s = winrm.Session(ep.url, auth=(username, password), transport=transport)

    with pytest.raises(InvalidCredentialsError, match="credentials were rejected"):
        s.run_cmd("ipconfig", ["/all"])
    assert ep.requests == []  # nothing got past authentication
    assert ep.auth_failures


@pytest.mark.parametrize("username", [NTLM_USER, "lab\\ITREF", USER, "itref@LAB", "WIN-ITREF01\\itref"])
def test_ntlm_accepts_the_usual_user_name_forms(ep: WinRMEndpoint, username: str) -> None:
    s = winrm.Session(ep.url, auth=(username, PASSWORD), transport="ntlm")
    assert s.run_cmd("ipconfig", ["/all"]).std_out == IPCONFIG.encode()
    assert s.protocol.transport.encryption is not None


def test_ntlm_encrypts_every_message_on_the_wire(ep: WinRMEndpoint) -> None:
    s = session(ep, "ntlm")
    http = s.protocol.transport.build_session()  # authenticates and sets up encryption (empty POST)
    assert s.protocol.transport.encryption is not None
    wire: list[requests.Response] = []
    http.hooks["response"].append(lambda response, **kwargs: wire.append(response))

    assert s.run_cmd("ipconfig", ["/all"]).std_out == IPCONFIG.encode()

    # What the client really sent and received (its own view of the wire), 5 round trips:
    assert len(wire) == 5
    expected = f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
    for response in wire:
        assert response.request.headers["Content-Type"] == expected
        assert response.headers["Content-Type"] == expected
        body = response.request.body
        assert isinstance(body, bytes) and body.startswith(b"--Encrypted Boundary\r\n")
        for plaintext in (b"Envelope", b"ipconfig", b"ShellId", b"http://schemas"):
            assert plaintext not in body
            assert plaintext not in response.content
    # ...and the endpoint decrypted the same messages.
    actions = [ACTION_CREATE, ACTION_COMMAND, ACTION_RECEIVE, ACTION_SIGNAL, ACTION_DELETE]
    assert [e.action for e in ep.requests] == actions
    for exchange, response in zip(ep.requests, wire, strict=True):
        assert exchange.encrypted and exchange.content_type == expected
        assert exchange.wire_request == response.request.body
        assert exchange.wire_response == response.content
        assert exchange.request.startswith("<?xml") and "<env:Envelope" in exchange.request
    assert "<rsp:Command>ipconfig</rsp:Command>" in ep.requests[1].request


def test_basic_is_plain_soap(ep: WinRMEndpoint) -> None:
    s = session(ep, "basic")
    s.run_cmd("ipconfig", ["/all"])

    assert s.protocol.transport.encryption is None
    for exchange in ep.requests:
        assert not exchange.encrypted
        assert exchange.content_type == "application/soap+xml;charset=UTF-8"
        assert exchange.wire_request.decode() == exchange.request


def test_ntlm_user_file_is_scoped_and_endpoints_are_isolated(
    ep: WinRMEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NTLM_USER_FILE", "/nonexistent/sentinel")
    failures: list[BaseException] = []

    with WinRMEndpoint(users={"backup": "Other-Pw9"}, domain="CORP", computer_name="SRV-BACKUP") as other:

        def run(url: str, username: str, password: str, expected: bytes) -> None:
            try:
                for _ in range(3):
                    s = winrm.Session(url, auth=(username, password), transport="ntlm")
                    assert s.run_cmd("hostname").std_out == expected
            except BaseException as exc:
                failures.append(exc)

        threads = [
            threading.Thread(target=run, args=(ep.url, NTLM_USER, PASSWORD, b"WIN-ITREF01\r\n")),
            threading.Thread(target=run, args=(other.url, "CORP\\backup", "Other-Pw9", b"SRV-BACKUP\r\n")),
            threading.Thread(target=run, args=(ep.url, NTLM_USER, PASSWORD, b"WIN-ITREF01\r\n")),
            threading.Thread(target=run, args=(other.url, "CORP\\backup", "Other-Pw9", b"SRV-BACKUP\r\n")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert failures == []
        # Users of one endpoint are unknown to the other.
        with pytest.raises(InvalidCredentialsError):
            winrm.Session(other.url, auth=(NTLM_USER, PASSWORD), transport="ntlm").run_cmd("hostname")
        assert other.shells_opened == 6 and other.errors == []

    assert ep.shells_opened == 6
    assert os.environ["NTLM_USER_FILE"] == "/nonexistent/sentinel"


def test_user_names_unusable_in_ntlm_user_file_are_refused() -> None:
    with pytest.raises(ValueError, match="NTLM_USER_FILE"):
        WinRMEndpoint(users={"itref": "pa:ss"})


# --------------------------------------------------------------------------------------------------------------
# Codepages
# --------------------------------------------------------------------------------------------------------------

FRENCH = "Opération réussie\r\nSauvegarde terminée à 23:05\r\n"


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
@pytest.mark.parametrize(
    ("codepage", "encoding", "e_acute"),
    [(850, "cp850", b"\x82"), (65001, "utf-8", b"\xc3\xa9"), (1252, "cp1252", b"\xe9"), (437, "cp437", b"\x82")],
)
def test_text_replies_use_the_codepage_the_client_asked_for(
    ep: WinRMEndpoint, transport: str, codepage: int, encoding: str, e_acute: bytes
) -> None:
    ep.canned["wbadmin start backup -quiet"] = CommandReply(stdout=FRENCH, stderr="Avertissement : déjà fait\r\n")
    p = protocol(ep, transport)
    shell = p.open_shell(codepage=codepage)
    command_id = p.run_command(shell, "wbadmin start backup -quiet")

    stdout, stderr, rc = p.get_command_output(shell, command_id)
    p.cleanup_command(shell, command_id)
    p.close_shell(shell)

    assert stdout == FRENCH.encode(encoding)
    assert stdout.startswith(b"Op" + e_acute + b"ration r")  # the bytes a French Windows sends, not UTF-8
    assert stdout.decode(encoding) == FRENCH
    assert stderr.decode(encoding) == "Avertissement : déjà fait\r\n"
    assert rc == 0
    assert ep.shell_history[0].codepage == codepage
    assert f'<w:Option Name="WINRS_CODEPAGE">{codepage}</w:Option>' in ep.requests[0].request


def test_bytes_replies_are_sent_unchanged_whatever_the_codepage(ep: WinRMEndpoint) -> None:
    ep.canned["type report.txt"] = CommandReply(stdout=b"Op\xe9ration\r\n")
    p = protocol(ep, "basic")
    shell = p.open_shell(codepage=65001)
    command_id = p.run_command(shell, "type report.txt")
    assert p.get_command_output(shell, command_id) == (b"Op\xe9ration\r\n", b"", 0)
    p.close_shell(shell)


def test_characters_missing_from_the_codepage_become_question_marks(ep: WinRMEndpoint) -> None:
    ep.canned["echo-price"] = CommandReply(stdout="Prix : 5 €\r\n")
    p = protocol(ep, "basic")
    shell = p.open_shell(codepage=437)
    command_id = p.run_command(shell, "echo-price")
    assert p.get_command_output(shell, command_id)[0] == b"Prix : 5 ?\r\n"
    p.close_shell(shell)


# --------------------------------------------------------------------------------------------------------------
# Large output
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_ten_megabytes_of_output_arrive_in_several_receives(ep: WinRMEndpoint, transport: str) -> None:
    payload = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    ep.canned["type C:\\big.bin"] = CommandReply(stdout=payload, stderr=b"done\r\n")

    result = session(ep, transport).run_cmd("type C:\\big.bin")

    assert len(result.std_out) == 10 * 1024 * 1024 and result.std_out == payload
    assert result.std_err == b"done\r\n"
    receives = [e for e in ep.requests if e.action == ACTION_RECEIVE]
    assert len(receives) >= 70  # like Windows: output split to fit the client's MaxEnvelopeSize
    assert max(len(e.response.encode()) for e in receives) <= 153600
    assert all("CommandState/Running" in e.response for e in receives[:-1])
    assert "CommandState/Done" in receives[-1].response


# --------------------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_unknown_shell_id_gives_the_windows_fault(ep: WinRMEndpoint, transport: str) -> None:
    p = protocol(ep, transport)
    with pytest.raises(WSManFaultError) as info:
        p.run_command("9A5B1F3C-0000-4000-8000-000000000000", "ipconfig", ["/all"])

    fault = info.value
    assert fault.code == 500
    assert fault.wsman_fault_code == FAULT_SHELL_NOT_FOUND == 2150858843
    assert (fault.fault_code, fault.fault_subcode) == ("s:Sender", "w:InvalidSelectors")
    assert "shell was not found" in fault.reason or "invalid selectors" in fault.reason
    assert ep.requests[-1].status == 500 and ep.requests[-1].encrypted == (transport == "ntlm")


def test_deleted_shell_cannot_be_used(ep: WinRMEndpoint) -> None:
    p = protocol(ep, "ntlm")
    shell = p.open_shell()
    p.close_shell(shell, close_session=False)

    with pytest.raises(WSManFaultError) as info:
        p.run_command(shell, "hostname")
    assert info.value.wsman_fault_code == FAULT_SHELL_NOT_FOUND
    with pytest.raises(WSManFaultError):
        p.close_shell(shell)
    assert ep.shell_history[0].closed and ep.shells == {}


def test_unknown_command_id_gives_a_fault(ep: WinRMEndpoint) -> None:
    p = protocol(ep, "basic")
    shell = p.open_shell()
    with pytest.raises(WSManFaultError) as info:
        p.get_command_output_raw(shell, "00000000-0000-0000-0000-000000000000")
    assert info.value.wsman_fault_code == 87
    p.close_shell(shell)


def test_every_reply_relates_to_its_request(ep: WinRMEndpoint) -> None:
    s = session(ep, "ntlm")
    s.run_cmd("ipconfig", ["/all"])
    with pytest.raises(WSManFaultError):
        s.protocol.run_command("NOT-A-SHELL", "x")

    assert len(ep.requests) == 6
    for exchange in ep.requests:
        request_id = ET.fromstring(exchange.request).find(f".//{{{NS_ADDRESSING}}}MessageID")
        relates_to = ET.fromstring(exchange.response).find(f".//{{{NS_ADDRESSING}}}RelatesTo")
        assert request_id is not None and relates_to is not None
        assert relates_to.text == request_id.text


# --------------------------------------------------------------------------------------------------------------
# Shell reuse, slow commands
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_one_shell_reused_for_several_commands(ep: WinRMEndpoint, transport: str) -> None:
    ep.canned["exit 7"] = CommandReply(rc=7)
    p = protocol(ep, transport)
    shell = p.open_shell(codepage=65001)
    results = []
    for command in ("hostname", "ipconfig /all", f"powershell -EncodedCommand {encoded('exit 7')}"):
        command_id = p.run_command(shell, command)
        results.append(p.get_command_output(shell, command_id))
        p.cleanup_command(shell, command_id)
    p.close_shell(shell)

    assert results == [(b"WIN-ITREF01\r\n", b"", 0), (IPCONFIG.encode(), b"", 0), (b"", b"", 7)]
    assert ep.shells_opened == 1
    assert ep.actions().count("Create") == 1 and ep.actions().count("Delete") == 1
    assert ep.actions().count("Command") == 3
    assert {e.shell_id for e in ep.requests} == {shell}
    assert len({e.connection for e in ep.requests}) == 1  # and one keep-alive TCP connection
    assert [c.command_line for c in ep.shell_history[0].commands.values()] == [
        "hostname",
        "ipconfig /all",
        f"powershell -EncodedCommand {encoded('exit 7')}",
    ]


def test_slow_command_times_out_receive_then_completes(ep: WinRMEndpoint) -> None:
    ep.canned["ping -n 2 127.0.0.1"] = CommandReply(stdout="Reply from 127.0.0.1\r\n", delay=2.0)
    p = protocol(ep, "basic", operation_timeout_sec=1, read_timeout_sec=3)
    shell = p.open_shell()
    issued = time.monotonic()  # the endpoint's 2 s start when the Command arrives, after this
    command_id = p.run_command(shell, "ping -n 2 127.0.0.1")

    started = time.monotonic()
    with pytest.raises(WinRMOperationTimeoutError):  # the Receive fault pywinrm maps from code 2150858793
        p.get_command_output_raw(shell, command_id)
    assert 0.9 <= time.monotonic() - started < 1.9  # waited OperationTimeout (1 s), not the whole 2 s
    assert p.get_command_output(shell, command_id) == (b"Reply from 127.0.0.1\r\n", b"", 0)
    assert time.monotonic() - issued >= 1.95 and time.monotonic() - started < 4
    p.close_shell(shell)
    assert "<s:Value>w:TimedOut</s:Value>" in ep.requests[2].response


def test_terminate_signal_aborts_a_pending_receive(ep: WinRMEndpoint) -> None:
    ep.canned["timeout /t 30"] = CommandReply(delay=30)
    waiting = protocol(ep, "ntlm", operation_timeout_sec=20, read_timeout_sec=25)
    shell = waiting.open_shell()
    command_id = waiting.run_command(shell, "timeout /t 30")
    outcome: list[BaseException] = []

    def receive() -> None:
        try:
            waiting.get_command_output_raw(shell, command_id)
        except BaseException as exc:
            outcome.append(exc)

    receiver = threading.Thread(target=receive)
    receiver.start()
    time.sleep(0.2)
    started = time.monotonic()
    protocol(ep, "ntlm").cleanup_command(shell, command_id)  # another connection, like a client-side timeout
    receiver.join(timeout=5)

    assert not receiver.is_alive() and time.monotonic() - started < 2
    assert len(outcome) == 1 and isinstance(outcome[0], WSManFaultError)
    assert outcome[0].wsman_fault_code == 995
    assert ep.shell_history[0].commands[command_id].signals == [SIGNAL_TERMINATE]
    waiting.close_shell(shell)


# --------------------------------------------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------------------------------------------


def test_start_stop_url_and_port() -> None:
    endpoint = WinRMEndpoint().start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/wsman", endpoint.url)
        assert endpoint.url.endswith(f":{endpoint.port}/wsman") and endpoint.port > 0
        s = winrm.Session(endpoint.url, auth=(USER, PASSWORD), transport="ntlm")
        assert s.run_cmd("hostname").status_code == 0
        s.protocol.transport.build_session()  # keep an idle keep-alive connection open across stop()
        port = endpoint.port
    finally:
        started = time.monotonic()
        endpoint.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    with pytest.raises(RuntimeError):
        _ = endpoint.url


def test_only_wsman_path_and_post(ep: WinRMEndpoint) -> None:
    auth = (USER, PASSWORD)
    assert requests.post(ep.url.replace("/wsman", "/other"), auth=auth, data=b"x", timeout=5).status_code == 404
    assert requests.get(ep.url, auth=auth, timeout=5).status_code == 405
    unauthenticated = requests.post(ep.url, data=b"<x/>", timeout=5)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"] == 'Negotiate, Basic realm="WSMAN"'
