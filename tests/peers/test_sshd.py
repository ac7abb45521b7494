"""Tests of the real sshd peers in tests/peers/sshd.py, driven with paramiko directly.

Nothing here is skipped: when a peer cannot start, the fixture raises PeerStartError with sshd's stderr.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko
import pytest

from .sshd import (
    NetnsLab,
    PeerStartError,
    SSHDHost,
    SSHKeys,
    UserInfo,
    cleanup_stale_peers,
    ensure_test_user,
    fingerprint,
    known_hosts_line,
    loopback_hosts,
    read_public_key,
    write_known_hosts,
)

pytestmark = pytest.mark.peer


# ---------------------------------------------------------------------------------------------- helpers


def connect(host: SSHDHost, known_hosts: Path | None = None, *, password: bool = False) -> paramiko.SSHClient:
    """Return a paramiko client connected to ``host`` with RejectPolicy and the given known_hosts."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts or host.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(**host.connect_kwargs(password=password))
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 20) -> tuple[int, str, str]:
    """Run ``command``; return (exit status, stdout, stderr)."""
    _, out, err = client.exec_command(command, timeout=timeout)
    stdout, stderr = out.read().decode(), err.read().decode()
    return out.channel.recv_exit_status(), stdout, stderr


def live_processes_with_cmdline(cmdline: str) -> list[int]:
    """Return pids of non-zombie processes whose argv joined by spaces equals ``cmdline``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            state = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b" ".join(argv).decode(errors="replace") == cmdline and state != "Z":
            found.append(int(entry.name))
    return found


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def test_user() -> UserInfo:
    return ensure_test_user()


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> SSHKeys:
    return SSHKeys(tmp_path_factory.mktemp("sshkeys"))


@pytest.fixture(scope="module")
def lo_host(ssh_keys: SSHKeys, test_user: UserInfo) -> Iterator[SSHDHost]:
    with SSHDHost(ssh_keys, test_user) as host:
        yield host


# ---------------------------------------------------------------------------------------------- keys, user


def test_fingerprint_matches_ssh_keygen(ssh_keys: SSHKeys) -> None:
    for key, fp in (
        (ssh_keys.host_key, ssh_keys.host_fingerprint()),
        (ssh_keys.client_key, ssh_keys.client_fingerprint()),
    ):
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{key}.pub"], capture_output=True, text=True, check=True
        ).stdout
        assert out.split()[1] == fp
    assert ssh_keys.host_fingerprint() != ssh_keys.client_fingerprint()


def test_known_hosts_line_forms(ssh_keys: SSHKeys) -> None:
    pub = ssh_keys.host_public_key
    assert pub.startswith("ssh-ed25519 AAAA")
    assert ssh_keys.known_hosts_line("127.0.0.1", 2200) == f"[127.0.0.1]:2200 {pub}"
    assert ssh_keys.known_hosts_line("10.213.0.11", 22) == f"10.213.0.11 {pub}"
    other = read_public_key(ssh_keys.other_host_key())
    assert other != pub and fingerprint(other) != ssh_keys.host_fingerprint()


def test_ensure_test_user_is_idempotent(test_user: UserInfo) -> None:
    again = ensure_test_user()
    assert again == test_user
    assert test_user.shell == "/bin/sh"
    assert test_user.home.is_dir()


def test_ensure_test_user_concurrent_creation() -> None:
    name = f"itref-tmp{os.getpid() % 100000}"
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r}); "
        f"from peers.sshd import ensure_test_user; print(ensure_test_user({name!r}).uid)"
    )
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        results = [p.communicate(timeout=60) for p in procs]
        assert all(p.returncode == 0 for p in procs), results
        assert len({out.strip() for out, _ in results}) == 1, results
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)


# ---------------------------------------------------------------------------------------------- one loopback host


def test_loopback_host_key_auth_runs_as_test_user_with_sh(lo_host: SSHDHost, test_user: UserInfo) -> None:
    client = connect(lo_host)
    try:
        assert run(client, "id -un") == (0, f"{test_user.name}\n", "")
        assert run(client, "echo $0") == (0, "sh\n", "")
        assert run(client, "echo $SSH_CONNECTION")[1].split()[2:] == [lo_host.address, str(lo_host.port)]
        assert run(client, "hostname")[1].strip() == lo_host.hostname == socket.gethostname()
    finally:
        client.close()


def test_exit_status_and_stderr_come_back(lo_host: SSHDHost) -> None:
    client = connect(lo_host)
    try:
        assert run(client, "echo out; echo err >&2; exit 3") == (3, "out\n", "err\n")
        assert run(client, "no-such-command-itref")[0] == 127
    finally:
        client.close()


def test_password_auth(lo_host: SSHDHost) -> None:
    client = connect(lo_host, password=True)
    try:
        assert run(client, "id -un")[1].strip() == lo_host.username
    finally:
        client.close()
    bad = paramiko.SSHClient()
    bad.load_host_keys(str(lo_host.known_hosts))
    bad.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        bad.connect(**{**lo_host.connect_kwargs(password=True), "password": "wrong"})
    bad.close()


def test_sftp_subsystem(lo_host: SSHDHost) -> None:
    client = connect(lo_host)
    try:
        with client.open_sftp() as sftp:
            with sftp.open("itref-sftp-probe.txt", "w") as f:
                f.write("hello\n")
            assert sftp.stat("itref-sftp-probe.txt").st_size == 6
            sftp.remove("itref-sftp-probe.txt")
    finally:
        client.close()


def test_unknown_host_key_is_rejected(lo_host: SSHDHost, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(lo_host, empty)


def test_changed_host_key_is_rejected(ssh_keys: SSHKeys, test_user: UserInfo, tmp_path: Path) -> None:
    with SSHDHost(ssh_keys, test_user, address="127.0.0.2", host_key=ssh_keys.other_host_key()) as host:
        recorded = tmp_path / "known_hosts"
        recorded.write_text(known_hosts_line(host.address, host.port, ssh_keys.host_public_key) + "\n")
        with pytest.raises(paramiko.BadHostKeyException):
            connect(host, recorded)
        # the helper writes the real key unless told otherwise
        write_known_hosts(recorded, [host], public_key=ssh_keys.host_public_key)
        with pytest.raises(paramiko.BadHostKeyException):
            connect(host, recorded)
        write_known_hosts(recorded, [host])
        connect(host, recorded).close()


def test_start_failure_raises_with_sshd_stderr(ssh_keys: SSHKeys, test_user: UserInfo) -> None:
    host = SSHDHost(ssh_keys, test_user, extra_config=["NoSuchOption yes"], start_timeout=5)
    with pytest.raises(PeerStartError, match=r"(?s)exited with.*NoSuchOption"), host:
        pass
    assert not host.workdir.exists()


def test_kill_during_sleep_closes_channel_quickly(ssh_keys: SSHKeys, test_user: UserInfo) -> None:
    marker = "sleep 30.4242"
    with SSHDHost(ssh_keys, test_user, address="127.0.0.3") as host:
        client = connect(host)
        chan = client.get_transport().open_session()
        chan.exec_command(marker)
        deadline = time.monotonic() + 5
        while not live_processes_with_cmdline(marker):
            assert time.monotonic() < deadline, "the remote sleep never started"
            time.sleep(0.01)
        t0 = time.monotonic()
        host.kill()
        assert chan.status_event.wait(5), "channel still open 5 s after kill()"
        elapsed = time.monotonic() - t0
        assert elapsed < 2, elapsed
        assert chan.closed
        assert chan.recv_exit_status() == -1  # no exit status: the connection just died
        assert host.proc is not None and host.proc.returncode == -9
        assert live_processes_with_cmdline(marker) == []  # the session command died with sshd
        client.close()
        port = host.port
        host.start()  # a killed host can come back on the same address and port
        assert host.port == port
        client = connect(host)
        assert run(client, "echo back") == (0, "back\n", "")
        client.close()


def test_loopback_host_with_its_own_hostname(ssh_keys: SSHKeys, test_user: UserInfo) -> None:
    with SSHDHost(ssh_keys, test_user, address="127.0.0.5", hostname="srv-lo-01") as host:
        client = connect(host)
        try:
            assert run(client, "hostname") == (0, "srv-lo-01\n", "")
        finally:
            client.close()
    assert socket.gethostname() != "srv-lo-01"


def test_stop_ends_sessions_too(ssh_keys: SSHKeys, test_user: UserInfo) -> None:
    marker = "sleep 30.4343"
    with SSHDHost(ssh_keys, test_user, address="127.0.0.4") as host:
        client = connect(host)
        chan = client.get_transport().open_session()
        chan.exec_command(marker)
        deadline = time.monotonic() + 5
        while not live_processes_with_cmdline(marker):
            assert time.monotonic() < deadline, "the remote sleep never started"
            time.sleep(0.01)
        host.stop()
        assert chan.status_event.wait(5)
        assert live_processes_with_cmdline(marker) == []
        client.close()


# ---------------------------------------------------------------------------------------------- many hosts


def test_fifty_loopback_hosts_each_answer(ssh_keys: SSHKeys, test_user: UserInfo, tmp_path: Path) -> None:
    with loopback_hosts(50, ssh_keys, test_user, per_host_keys=True) as hosts:
        assert len({(h.address, h.port) for h in hosts}) == 50
        assert len({h.address for h in hosts}) == 50
        assert len({h.host_public_key for h in hosts}) == 50
        known = write_known_hosts(tmp_path / "known_hosts", hosts)

        def probe(host: SSHDHost) -> tuple[str, str]:
            client = connect(host, known)
            try:
                rc, out, err = run(client, "echo $SSH_CONNECTION; id -un")
                assert rc == 0, err
                conn, who = out.splitlines()
                return conn.split()[2], who
            finally:
                client.close()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(probe, hosts))
        assert answers == [(h.address, test_user.name) for h in hosts]
    assert all(h.proc is not None and h.proc.poll() is not None for h in hosts)


def test_netns_lab_hosts_report_their_own_hostnames(ssh_keys: SSHKeys, test_user: UserInfo, tmp_path: Path) -> None:
    names = ["srv-cpas-01", "srv-cpas-02", "srv-cpas-03"]
    with NetnsLab(names, ssh_keys, test_user) as lab:
        assert [h.hostname for h in lab.hosts] == names
        assert all(h.port == 22 for h in lab.hosts)
        assert len({h.address for h in lab.hosts}) == 3
        known = write_known_hosts(tmp_path / "known_hosts", lab.hosts)
        assert known.read_text().splitlines() == lab.known_hosts_lines()
        assert all(line.startswith("10.") for line in lab.known_hosts_lines())
        for host in lab.hosts:
            client = connect(host, known)
            try:
                rc, out, _ = run(client, "hostname; echo $SSH_CONNECTION; id -un")
            finally:
                client.close()
            hostname, conn, who = out.splitlines()
            assert (rc, hostname, who) == (0, host.hostname, test_user.name)
            assert conn.split()[0] == lab.gateway and conn.split()[2:] == [host.address, "22"]
        namespaces, bridge = list(lab.namespaces), lab.bridge
    netns_list = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in netns_list for ns in namespaces)
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert bridge not in links


def _lab_leftovers(namespaces: list[str], links: list[str]) -> list[str]:
    """Return which of ``namespaces`` and ``links`` still exist."""
    netns_list = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    link_list = [
        line.split(":")[1].strip().split("@")[0]
        for line in subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()
    ]
    return [n for n in namespaces if n in netns_list] + [n for n in links if n in link_list]


def test_netns_lab_cleans_up_when_sshd_fails(ssh_keys: SSHKeys, test_user: UserInfo) -> None:
    lab = NetnsLab(2, ssh_keys, test_user, extra_config=["NoSuchOption yes"])
    with pytest.raises(PeerStartError, match="NoSuchOption"), lab:
        pass
    assert _lab_leftovers(lab.namespaces, [lab.bridge, *lab.veths]) == []


def test_stale_lab_of_killed_process_is_cleaned_up(tmp_path: Path) -> None:
    code = (
        f"import os, sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
        "from peers.sshd import NetnsLab, SSHKeys, ensure_test_user\n"
        f"lab = NetnsLab(2, SSHKeys({str(tmp_path)!r}), ensure_test_user()).start()\n"
        "print(' '.join([*lab.namespaces, lab.bridge, *lab.veths]))\n"
        "print(' '.join(str(h.workdir) for h in lab.hosts), flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert cp.returncode == -9 and len(cp.stdout.splitlines()) == 2, cp.stderr
    names, workdirs = (line.split() for line in cp.stdout.splitlines())
    assert all(Path(d).is_dir() for d in workdirs)
    leaked = _lab_leftovers(names[:2], names[2:])  # a SIGKILLed run leaks its lab (all 5 names when run alone)...
    removed = cleanup_stale_peers()  # ...until the next NetnsLab.start() (or this) cleans it up
    assert set(leaked) - set(removed) <= set(names[3:])  # veths may vanish with their namespace
    assert _lab_leftovers(names[:2], names[2:]) == []
    assert not any(Path(d).exists() for d in workdirs)
