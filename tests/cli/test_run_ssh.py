"""``itref run`` and ``itref hosts trust`` against real sshd hosts started by the suite."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from tests.conftest import inventory_yaml, ssh_host_entry

pytestmark = pytest.mark.peer


def write(tmp_path: Path, hosts: dict[str, dict[str, object]]) -> str:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(inventory_yaml(hosts), encoding="utf-8")
    return str(inv)


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_hostname_on_namespace_hosts_returns_each_hosts_own_name(ssh_keys, ssh_user, tmp_path, cli) -> None:
    from tests.peers.sshd import NetnsLab, write_known_hosts

    names = ["srv-cpas-01", "srv-cpas-02", "srv-commune-01"]
    with NetnsLab(names, ssh_keys, ssh_user) as lab:
        kh = write_known_hosts(tmp_path / "known_hosts", lab.hosts)
        hosts = {h.hostname: ssh_host_entry(h, known_hosts=str(kh), tags=["linux"]) for h in lab.hosts}
        result = cli("-i", write(tmp_path, hosts), "-f", "json", "run", "--limit", "tag:linux", "--", "hostname")
    assert result.rc == ExitStatus.SUCCESS, result.all
    data = json.loads(result.out)
    assert {d["host"]: d["stdout"].strip() for d in data} == {n: n for n in names}


def test_a_down_host_fails_alone_within_its_timeout(sshd, tmp_path, cli) -> None:
    hosts = {"up": ssh_host_entry(sshd), "down": ssh_host_entry(sshd, port=closed_port()),
             "mute": ssh_host_entry(sshd, address="127.0.0.99", port=closed_port())}
    start = time.monotonic()
    result = cli("-i", write(tmp_path, hosts), "-f", "json", "run", "--", "echo", "alive")
    elapsed = time.monotonic() - start
    data = {d["host"]: d for d in json.loads(result.out)}
    assert data["up"]["stdout"] == "alive\n" and data["up"]["outcome"] == "ok"
    assert data["down"]["outcome"] == "unreachable" and "refused" in data["down"]["error"]
    assert data["mute"]["outcome"] == "unreachable"
    assert result.rc == ExitStatus.UNREACHABLE
    assert elapsed < 10


def test_a_host_that_accepts_but_never_answers_fails_alone_after_its_connect_timeout(sshd, tmp_path, cli) -> None:
    silent = socket.socket()  # the TCP handshake completes (the kernel's backlog), no SSH banner ever comes:
    silent.bind(("127.0.0.98", 0))  # what a frozen server or a hung host looks like from outside
    silent.listen(8)
    try:
        hosts = {"up": ssh_host_entry(sshd),
                 "frozen": ssh_host_entry(sshd, address="127.0.0.98", port=silent.getsockname()[1], connect_timeout=2)}
        start = time.monotonic()
        result = cli("-i", write(tmp_path, hosts), "-f", "json", "run", "--", "echo", "alive")
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    data = {d["host"]: d for d in json.loads(result.out)}
    assert data["up"]["stdout"] == "alive\n" and data["up"]["outcome"] == "ok"
    assert data["frozen"]["outcome"] == "unreachable" and data["frozen"]["error"], data["frozen"]
    assert data["up"]["duration"] < 2 <= data["frozen"]["duration"]  # the others did not wait for it
    assert result.rc == ExitStatus.UNREACHABLE and elapsed < 10


def test_unknown_host_key_is_refused_until_trusted(sshd, tmp_path, cli) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text("# my notes\n")
    inv = write(tmp_path, {"nas": ssh_host_entry(sshd, known_hosts=str(kh))})
    refused = cli("-i", inv, "-f", "json", "run", "--", "true")
    row = json.loads(refused.out)[0]
    assert refused.rc == ExitStatus.UNREACHABLE
    assert row["outcome"] == "unreachable" and sshd.keys.host_fingerprint() in row["error"]
    assert "itref hosts trust nas" in row["error"]

    no_tty = cli("-i", inv, "hosts", "trust", "nas")
    assert no_tty.rc == ExitStatus.USAGE and "--yes" in no_tty.err
    trusted = cli("-i", inv, "hosts", "trust", "nas", "--yes")
    assert trusted.rc == 0, trusted.all
    assert sshd.keys.host_fingerprint() in trusted.err + trusted.out
    assert kh.read_text().startswith("# my notes\n")  # the user's own lines are kept
    assert cli("-i", inv, "run", "--", "true").rc == 0
    again = cli("-i", inv, "hosts", "trust", "nas", "--yes")
    assert "already trusted" in again.out
    journal = json.loads(cli("journal", "-f", "json").out)
    assert [r["action"] for r in journal].count("trust-host-key") == 1


def test_trust_refuses_a_changed_key_without_replace(sshd, ssh_keys, tmp_path, cli) -> None:
    from tests.peers.sshd import read_public_key, write_known_hosts

    kh = write_known_hosts(tmp_path / "known_hosts", [sshd],
                           public_key=read_public_key(ssh_keys.other_host_key("old-server")))
    inv = write(tmp_path, {"nas": ssh_host_entry(sshd, known_hosts=str(kh))})
    refused = cli("-i", inv, "hosts", "trust", "nas", "--yes")
    assert refused.rc == ExitStatus.UNREACHABLE and "DIFFERENT" in refused.err
    assert cli("-i", inv, "hosts", "trust", "nas", "--yes", "--replace").rc == 0
    assert len([x for x in kh.read_text().splitlines() if x.strip()]) == 1
    assert cli("-i", inv, "run", "--", "true").rc == 0


def test_fifty_hosts_in_one_run(ssh_keys, ssh_user, tmp_path, cli) -> None:
    from tests.peers.sshd import loopback_hosts, write_known_hosts

    with loopback_hosts(50, ssh_keys, ssh_user) as hosts:
        kh = write_known_hosts(tmp_path / "known_hosts", hosts)
        entries = {f"h{i:02d}": ssh_host_entry(h, known_hosts=str(kh)) for i, h in enumerate(hosts)}
        result = cli("-i", write(tmp_path, entries), "-f", "json", "run", "--", "sh", "-c",
                     "echo $SSH_CONNECTION")
    assert result.rc == 0, result.err
    data = json.loads(result.out)
    assert len(data) == 50 and {d["outcome"] for d in data} == {"ok"}
    assert {d["stdout"].split()[2] for d in data} == {h.address for h in hosts}
    journal = json.loads(cli("journal", "-f", "json").out)
    assert len(journal) == 50


def test_progress_lines_when_not_a_terminal(sshd, tmp_path, cli) -> None:
    result = cli("-i", write(tmp_path, {"a": ssh_host_entry(sshd), "b": ssh_host_entry(sshd)}), "run", "--", "true")
    lines = [x for x in result.err.splitlines() if x.startswith("[")]
    assert sorted(x.split("]")[0] for x in lines) == ["[1/2", "[2/2"]


def test_at_a_terminal_a_live_view_shows_each_waiting_host_its_state_and_time(sshd, tmp_path, state_dir) -> None:
    import os
    import sys

    import pexpect

    from tests.conftest import like_a_terminal

    silent = socket.socket()
    silent.bind(("127.0.0.97", 0))
    silent.listen(8)
    try:
        inv = write(tmp_path, {"quick": ssh_host_entry(sshd), "slow": ssh_host_entry(
            sshd, address="127.0.0.97", port=silent.getsockname()[1], connect_timeout=3)})
        child = pexpect.spawn(sys.executable, ["-m", "itref", "-i", inv, "run", "--", "echo", "alive"],
                              env={**os.environ, "ITREF_STATE_DIR": str(state_dir), "TERM": "xterm",
                                   "COLUMNS": "120"},
                              encoding="utf-8", timeout=30, dimensions=(40, 120), preexec_fn=like_a_terminal)
        child.expect(r"1/2 hosts done")  # quick is done while slow still waits, and the view says so
        child.expect(r"slow\s+connecting\s+\d+\.\d s")
        child.expect(pexpect.EOF)
        child.close()
    finally:
        silent.close()
    assert child.exitstatus == ExitStatus.UNREACHABLE
    screen = child.before
    assert "alive" in screen and "unreachable" in screen  # the result table replaced the live view


def test_a_malformed_known_hosts_line_is_named_by_run_and_by_trust_which_records_nothing(sshd, tmp_path,
                                                                                       cli) -> None:
    from tests.peers.sshd import write_known_hosts

    kh = write_known_hosts(tmp_path / "known_hosts", [sshd])
    kh.write_text(kh.read_text() + "broken.example ssh-ed25519 AAAA!!!!\n")
    inv = write(tmp_path, {"nas": ssh_host_entry(sshd, known_hosts=str(kh))})
    ran = cli("-i", inv, "-f", "json", "run", "--", "true")
    row = json.loads(ran.out)[0]
    assert ran.rc == ExitStatus.UNREACHABLE and row["outcome"] == "unreachable", ran.all
    assert f"{kh}:2:" in row["error"] and "InvalidHostKey" not in ran.all
    before = kh.read_bytes()
    trust = cli("-i", inv, "hosts", "trust", "nas", "--yes")
    assert trust.rc == ExitStatus.UNREACHABLE, trust.all
    assert f"{kh}:2:" in trust.err and "bug" not in trust.err
    assert kh.read_bytes() == before
