"""Steps with ``sudo: true`` over SSH, against real sudo on a real sshd host (its own sudoers, in its own mount
namespace): the password is used when sudo asks for it and never reaches the command when it does not."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from itref.config.schema import SecretRef
from itref.connectors.base import Command
from itref.connectors.sudo import sudo_argv
from tests.conftest import shared_tmp
from tests.connectors.test_ssh import connect

pytestmark = pytest.mark.peer

READS_INPUT = ["sh", "-c", "id -u; cat"]  # proves it runs as root, then echoes exactly the input it was given


class SudoHost:
    """An sshd host whose /etc/sudoers is a file of the test's (bind-mounted in the host's mount namespace)."""

    def __init__(self, host, sudoers: Path) -> None:
        self.host, self.sudoers = host, sudoers

    def rule(self, line: str) -> None:
        """Replace the test user's sudo rule (in place: the bind mount shows the same file)."""
        text = f"Defaults !lecture\nroot ALL=(ALL:ALL) ALL\n{self.host.username} {line}\n"  # passwd_tries: 3
        with self.sudoers.open("w") as f:
            f.write(text)


@pytest.fixture(scope="module")
def sudo_host(ssh_keys, ssh_user) -> Iterator[SudoHost]:
    from tests.peers.sshd import SSHDHost

    if shutil.which("sudo") is None:
        pytest.fail("sudo is missing: apt-get install sudo (scripts/test installs it)")
    with shared_tmp("sudo") as root:
        sudoers = root / "sudoers"
        sudoers.write_text("root ALL=(ALL:ALL) ALL\n")
        sudoers.chmod(0o440)
        with SSHDHost(ssh_keys, ssh_user, address="127.0.0.33", setup=[f"mount --bind {sudoers} /etc/sudoers"]) as h:
            yield SudoHost(h, sudoers)


def run_as_root(sudo_host: SudoHost, monkeypatch, password: str | None, stdin: bytes):
    options: dict[str, object] = {}
    if password is not None:
        monkeypatch.setenv("ITREF_T_SUDO_PW", password)
        options["sudo_password"] = SecretRef(env="ITREF_T_SUDO_PW")
    conn = connect(sudo_host.host, **options)
    try:
        return conn.run(Command.of(READS_INPUT, sudo=True, stdin=stdin, timeout=30))
    finally:
        conn.close()


def test_the_password_opens_sudo_and_the_command_gets_only_its_own_input(sudo_host, monkeypatch) -> None:
    sudo_host.rule("ALL=(ALL:ALL) ALL")
    res = run_as_root(sudo_host, monkeypatch, sudo_host.host.password, b"line one\nline two\n")
    assert (res.rc, res.stdout) == (0, "0\nline one\nline two\n"), res.stderr


def test_under_nopasswd_the_password_never_reaches_the_command(sudo_host, monkeypatch) -> None:
    sudo_host.rule("ALL=(ALL:ALL) NOPASSWD: ALL")
    res = run_as_root(sudo_host, monkeypatch, sudo_host.host.password, b"line one\n")
    assert (res.rc, res.stdout) == (0, "0\nline one\n"), res.stderr
    assert sudo_host.host.password not in res.stdout + res.stderr
    empty = run_as_root(sudo_host, monkeypatch, sudo_host.host.password, b"")
    assert (empty.rc, empty.stdout) == (0, "0\n"), empty.stderr  # the password line was dropped, not echoed


def test_a_wrong_password_runs_nothing_and_is_not_shown(sudo_host, monkeypatch) -> None:
    sudo_host.rule("ALL=(ALL:ALL) ALL")
    res = run_as_root(sudo_host, monkeypatch, "wrong-Passw0rd-canary", b"secret input\n")
    assert res.rc != 0 and "0\n" not in res.stdout and "secret input" not in res.stdout
    assert "wrong-Passw0rd-canary" not in res.stdout + res.stderr


def test_a_wrong_password_for_a_command_without_input_costs_one_attempt_not_three(sudo_host, monkeypatch) -> None:
    sudo_host.rule("ALL=(ALL:ALL) ALL")
    res = run_as_root(sudo_host, monkeypatch, "wrong-Passw0rd-canary", b"")
    assert res.rc != 0 and "0\n" not in res.stdout
    assert "1 incorrect password attempt" in res.stderr, res.stderr  # lockout policies count each attempt


def test_without_a_password_sudo_never_waits_for_one(sudo_host, monkeypatch) -> None:
    sudo_host.rule("ALL=(ALL:ALL) ALL")
    res = run_as_root(sudo_host, monkeypatch, None, b"")
    assert res.rc != 0 and "password is required" in res.stderr
    sudo_host.rule("ALL=(ALL:ALL) NOPASSWD: ALL")
    assert run_as_root(sudo_host, monkeypatch, None, b"").stdout == "0\n"


def test_the_password_is_on_no_command_line() -> None:
    argv, stdin = sudo_argv(["id"], "Passw0rd-canary", b"in")
    assert not [a for a in argv if "Passw0rd-canary" in a]
    assert stdin is not None and stdin.startswith(b"Passw0rd-canary\n") and stdin.endswith(b"\nin")
    assert sudo_argv(["id"], "Passw0rd-canary", None)[1] == b"Passw0rd-canary\n"  # no input: the password alone
    assert sudo_argv(["id"], None, None) == (["sudo", "-n", "--", "id"], None)
