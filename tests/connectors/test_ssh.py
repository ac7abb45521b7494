"""The SSH connector against a real OpenSSH sshd started by the suite (loopback, unprivileged user)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from itref.config.project import HostSpec
from itref.config.schema import SecretRef
from itref.connectors import connectors
from itref.connectors.base import Command
from itref.connectors.ssh import SSHConnector, SSHSettings, fingerprint
from itref.core.errors import AuthenticationFailed, ConnectionFailed, HostKeyRejected
from itref.secrets import SecretResolver

pytestmark = pytest.mark.peer


def spec(host, **options: object) -> HostSpec:
    opts: dict[str, object] = {"port": host.port, "user": host.username, "identity": str(host.client_key),
                               "known_hosts": str(host.known_hosts), "connect_timeout": 5}
    opts.update(options)
    return HostSpec("peer", "shared", "ssh", host.address, ("linux",), None,
                    SSHSettings(**{k: v for k, v in opts.items() if v is not None}))


def connect(host, **options: object) -> SSHConnector:
    conn = SSHConnector(spec(host, **options), SecretResolver(interactive=False))
    conn.open()
    return conn


def test_registry_gives_the_ssh_connector() -> None:
    assert connectors.get("ssh") is SSHConnector


def test_key_auth_runs_commands_as_the_configured_user(sshd) -> None:
    conn = connect(sshd)
    try:
        res = conn.run(Command.of(["id", "-un"]))
        assert (res.rc, res.stdout, res.stderr) == (0, f"{sshd.username}\n", "")
    finally:
        conn.close()


def test_exit_code_and_stderr_come_back(sshd) -> None:
    conn = connect(sshd)
    try:
        res = conn.run(Command.of(["sh", "-c", "echo out; echo err >&2; exit 3"]))
        assert (res.rc, res.stdout, res.stderr) == (3, "out\n", "err\n")
        assert conn.run(Command.of(["/no/such/program"])).rc == 127
    finally:
        conn.close()


def test_one_connection_serves_every_command(sshd) -> None:
    conn = connect(sshd)
    try:
        ports = {conn.run(Command.of(["sh", "-c", "echo $SSH_CONNECTION"])).stdout.split()[1] for _ in range(5)}
        assert len(ports) == 1  # the same client port: one TCP connection, five channels
    finally:
        conn.close()


def test_password_auth_from_a_secret_reference(sshd, monkeypatch) -> None:
    monkeypatch.setenv("ITREF_T_SSH_PW", sshd.password)
    conn = connect(sshd, identity=None, password=SecretRef(env="ITREF_T_SSH_PW"))
    try:
        assert conn.run(Command.of(["whoami"])).stdout.strip() == sshd.username
    finally:
        conn.close()


def test_wrong_password_is_an_authentication_failure_without_the_password(sshd, monkeypatch) -> None:
    monkeypatch.setenv("ITREF_T_SSH_PW", "wrong-Passw0rd-canary")
    with pytest.raises(AuthenticationFailed) as exc:
        connect(sshd, identity=None, password=SecretRef(env="ITREF_T_SSH_PW"))
    assert "peer" in exc.value.message and sshd.username in exc.value.message
    assert "wrong-Passw0rd-canary" not in exc.value.message


def test_wrong_key_is_refused(sshd, ssh_keys) -> None:
    other = ssh_keys.other_host_key("not-authorized")  # a valid key the server does not know
    with pytest.raises(AuthenticationFailed, match="refused"):
        connect(sshd, identity=str(other))


def test_unknown_host_key_is_refused_with_fingerprint_and_the_fix(sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyRejected) as exc:
        connect(sshd, known_hosts=str(empty))
    message = exc.value.message
    assert sshd.keys.host_fingerprint() in message
    assert "itref hosts trust peer" in message


def test_changed_host_key_is_refused_and_says_so(sshd, tmp_path: Path, ssh_keys) -> None:
    from tests.peers.sshd import read_public_key, write_known_hosts

    other_pub = read_public_key(ssh_keys.other_host_key("impostor"))
    kh = write_known_hosts(tmp_path / "known_hosts", [sshd], public_key=other_pub)
    with pytest.raises(HostKeyRejected, match="CHANGED") as exc:
        connect(sshd, known_hosts=str(kh))
    assert "--replace" in exc.value.message


def test_known_hosts_is_parsed_once_per_content(sshd, tmp_path: Path, ssh_keys) -> None:
    import os

    from itref.connectors.ssh import host_keys
    from tests.peers.sshd import read_public_key, write_known_hosts

    kh = write_known_hosts(tmp_path / "known_hosts", [sshd])
    first = host_keys(kh)
    assert host_keys(kh) is first  # unchanged file: the same parse serves every connection
    conn = connect(sshd, known_hosts=str(kh))
    conn.close()
    # Same size, same modification time, another key: the new content is parsed, and refused.
    stat = kh.stat()
    other_pub = read_public_key(ssh_keys.other_host_key("impostor-2"))
    write_known_hosts(kh, [sshd], public_key=other_pub)
    os.utime(kh, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert kh.stat().st_size == stat.st_size and kh.stat().st_mtime_ns == stat.st_mtime_ns
    assert host_keys(kh) is not first
    with pytest.raises(HostKeyRejected, match="CHANGED"):
        connect(sshd, known_hosts=str(kh))


def test_known_hosts_problem_is_reported_before_a_connection_failure(monkeypatch, tmp_path: Path) -> None:
    import socket

    from itref.connectors import ssh

    def unreadable(path: Path) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ssh, "host_keys", unreadable)
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    host = HostSpec("down", "shared", "ssh", "127.0.0.1", (), None,
                    SSHSettings(port=port, user="x", agent=True, known_hosts=str(kh)))
    with pytest.raises(HostKeyRejected, match="cannot read"):
        SSHConnector(host, SecretResolver()).open()


def test_paramiko_is_imported_without_invoke_which_stays_importable() -> None:
    import subprocess
    import sys

    code = ("import sys; from itref.connectors.ssh import import_paramiko; p = import_paramiko(); "
            "assert 'invoke' not in sys.modules and p.config.invoke is None; import invoke; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_a_paramiko_that_needs_invoke_is_imported_normally(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "paramiko").mkdir()
    (tmp_path / "paramiko" / "__init__.py").write_text("import invoke\nVIA = invoke.NAME\n")
    (tmp_path / "invoke.py").write_text("NAME = 'real invoke'\n")
    code = "from itref.connectors.ssh import import_paramiko; print(import_paramiko().VIA)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.stdout.strip() == "real invoke", proc.stderr


def test_closed_port_fails_fast() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    host = HostSpec("down", "shared", "ssh", "127.0.0.1", (), None, SSHSettings(port=port, user="x", agent=True))
    start = time.monotonic()
    with pytest.raises(ConnectionFailed, match="connection refused"):
        SSHConnector(host, SecretResolver()).open()
    assert time.monotonic() - start < 2


def test_silent_server_times_out_at_the_connect_timeout() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts TCP, never sends an SSH banner
    host = HostSpec("mute", "shared", "ssh", "127.0.0.1", (), None,
                    SSHSettings(**{"port": listener.getsockname()[1], "user": "x", "connect_timeout": 1}))
    start = time.monotonic()
    try:
        with pytest.raises(ConnectionFailed):
            SSHConnector(host, SecretResolver()).open()
        assert time.monotonic() - start < 5
    finally:
        listener.close()


def test_command_timeout_returns_a_timed_out_result(sshd) -> None:
    conn = connect(sshd)
    try:
        start = time.monotonic()
        res = conn.run(Command.of(["sleep", "30"], timeout=0.5))
        assert res.timed_out and res.rc is None and time.monotonic() - start < 3
        assert conn.run(Command.of(["true"])).rc == 0  # the connection is still usable
    finally:
        conn.close()


def test_stdin_is_closed_so_a_remote_prompt_cannot_hang(sshd) -> None:
    conn = connect(sshd)
    try:
        res = conn.run(Command.of(["sh", "-c", "read answer; echo read-status:$?"], timeout=10))
        assert res.stdout == "read-status:1\n"
    finally:
        conn.close()


@pytest.mark.parametrize("arg", ["a b", "it's", '"q"', "$(touch /tmp/itref-pwned)", "`id`", "; rm -rf ~",
                                 "*", "\\", "é ü", "$HOME", "line1\nline2", ""])
def test_metacharacters_in_arguments_stay_literal_on_the_real_shell(sshd, arg: str) -> None:
    conn = connect(sshd)
    try:
        res = conn.run(Command.of(["printf", "%s", arg]))
        assert res.stdout == arg
        assert not Path("/tmp/itref-pwned").exists()
    finally:
        conn.close()


def test_large_output_arrives_whole(sshd) -> None:
    conn = connect(sshd)
    try:
        res = conn.run(Command.of(["head", "-c", str(10 * 1024 * 1024), "/dev/zero"], timeout=60))
        assert res.rc == 0 and len(res.stdout) == 10 * 1024 * 1024
    finally:
        conn.close()


def test_sftp_put_and_get(sshd, tmp_path: Path) -> None:
    src = tmp_path / "payload.bin"
    src.write_bytes(os.urandom(200_000))
    conn = connect(sshd)
    remote = f"/tmp/itref-put-{os.getpid()}.bin"
    try:
        conn.put(src, remote, mode=0o600)
        assert conn.run(Command.of(["stat", "-c", "%a %s", remote])).stdout.split() == ["600", "200000"]
        conn.get(remote, tmp_path / "back.bin")
        assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    finally:
        conn.run(Command.of(["rm", "-f", remote]))
        conn.close()


def test_sshd_killed_mid_command_is_a_lost_connection(ssh_keys, ssh_user) -> None:
    from tests.peers.sshd import SSHDHost

    with SSHDHost(ssh_keys, ssh_user) as host:
        conn = connect(host)
        threading.Timer(0.5, host.kill).start()
        start = time.monotonic()
        with pytest.raises(ConnectionFailed):
            conn.run(Command.of(["sleep", "30"]))
        assert time.monotonic() - start < 5
        conn.close()


def test_jump_host_reaches_a_host_through_another(ssh_keys, ssh_user) -> None:
    from tests.peers.sshd import SSHDHost

    with SSHDHost(ssh_keys, ssh_user, address="127.0.0.21") as jump, \
            SSHDHost(ssh_keys, ssh_user, address="127.0.0.22") as target:
        from dataclasses import replace

        jump_spec = replace(spec(jump), name="jump")
        conn = SSHConnector(replace(spec(target, via="jump"), jump=jump_spec), SecretResolver())
        conn.open()
        try:
            seen_from = conn.run(Command.of(["sh", "-c", "echo $SSH_CONNECTION"])).stdout.split()
            assert seen_from[2] == "127.0.0.22"  # we reached the target...
            assert seen_from[0] == "127.0.0.21" or seen_from[0].startswith("127.")  # ...from the jump host
        finally:
            conn.close()


def test_fingerprint_matches_openssh(sshd) -> None:
    import paramiko

    key = paramiko.Ed25519Key.from_private_key_file(str(sshd.host_key))
    assert fingerprint(key) == sshd.keys.host_fingerprint()


def test_output_sent_after_the_exit_status_is_not_lost(sshd) -> None:
    """OpenSSH may send the exit status before the last output: every byte must still come back."""
    from concurrent.futures import ThreadPoolExecutor

    size = 300_000

    def worker(_n: int) -> list[int]:
        conn = connect(sshd)
        try:
            return [len(conn.run(Command.of(["sh", "-c", f"yes | head -c {size}"])).stdout) for _ in range(15)]
        finally:
            conn.close()

    with ThreadPoolExecutor(4) as pool:
        lengths = [n for batch in pool.map(worker, range(4)) for n in batch]
    assert lengths == [size] * 60


def test_a_key_held_by_ssh_agent_logs_in_when_agent_is_set(sshd, monkeypatch, tmp_path) -> None:
    import subprocess

    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        subprocess.run(["ssh-add", "-q", str(sshd.client_key)], check=True, capture_output=True)
        without = SSHConnector(spec(sshd, identity=None), SecretResolver(interactive=False))
        with pytest.raises(AuthenticationFailed, match="no way to log in"):  # the agent is used only when asked
            without.open()
        conn = connect(sshd, identity=None, agent=True)
        try:
            assert conn.run(Command.of(["id", "-un"])).stdout.strip() == sshd.username
        finally:
            conn.close()
    finally:
        agent.terminate()
        agent.wait(timeout=10)


MALFORMED_KNOWN_HOSTS = {
    "key-not-base64": "{name} ssh-ed25519 AAAA!!!!not-base64",
    "key-missing": "{name} ssh-ed25519",
    "name-alone": "{name}",
    "key-bytes-garbage": "{name} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==",
    "hashed-name-broken": "|1|no-salt-here {key}",
    "hashed-name-not-base64": "|1|!!!|@@@ {key}",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED_KNOWN_HOSTS))
def test_a_malformed_known_hosts_line_is_refused_naming_the_file_and_the_line(sshd, tmp_path: Path, kind) -> None:
    from tests.peers.sshd import write_known_hosts

    kh = write_known_hosts(tmp_path / "known_hosts", [sshd])  # line 1: the host's right key
    good = kh.read_text().split()
    bad = MALFORMED_KNOWN_HOSTS[kind].format(name=good[0], key=" ".join(good[1:3]))
    kh.write_text(kh.read_text() + "# a comment\n" + bad + "\n")
    with pytest.raises(HostKeyRejected) as exc:
        connect(sshd, known_hosts=str(kh))
    assert f"{kh}:3:" in exc.value.message and "peer" in exc.value.message, exc.value.message


def test_a_known_hosts_file_that_is_not_text_is_refused_naming_the_line(sshd, tmp_path: Path) -> None:
    from tests.peers.sshd import write_known_hosts

    kh = write_known_hosts(tmp_path / "known_hosts", [sshd])
    kh.write_bytes(kh.read_bytes() + b"caf\xe9 ssh-ed25519 AAAA\n")
    with pytest.raises(HostKeyRejected) as exc:
        connect(sshd, known_hosts=str(kh))
    assert f"{kh}:2:" in exc.value.message


def test_known_hosts_lines_openssh_accepts_but_paramiko_does_not_use_are_left_alone(sshd, tmp_path: Path,
                                                                                    ssh_keys) -> None:
    """A certificate authority, a revoked key and a key type paramiko does not know are valid OpenSSH lines: they
    do not stop the connection (only a line that cannot be read does)."""
    from tests.peers.sshd import read_public_key, write_known_hosts

    kh = write_known_hosts(tmp_path / "known_hosts", [sshd])
    other = read_public_key(ssh_keys.other_host_key("ca"))
    kh.write_text(kh.read_text() + f"@cert-authority *.example {other}\n@revoked * {other}\n"
                  "old.example x-future-key@example.com AAAAB3gtZnV0dXJl\n")
    conn = connect(sshd, known_hosts=str(kh))
    try:
        assert conn.run(Command.of(["true"])).rc == 0
    finally:
        conn.close()
