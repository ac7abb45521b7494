"""Stopped means stopped: on a timeout or Ctrl-C every process of the command ends ON THE HOST (the sshd hosts run
as real processes of this machine, so /proc shows what is left of them), and itref says which hosts were stopped
and which could not be. WinRM: the in-suite endpoint records the terminate signal and the deleted shell."""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from itref.config.schema import SecretRef
from itref.connectors.base import Command
from itref.core.status import ExitStatus
from itref.lab.peers.winrm_endpoint import SIGNAL_TERMINATE, CommandReply, WinRMEndpoint
from itref.lab.peers.winrm_fixtures import FakeWindows
from tests.conftest import inventory_yaml, journal_records, like_a_terminal, shared_tmp, ssh_host_entry
from tests.connectors.test_ssh import connect

pytestmark = pytest.mark.peer


def token() -> str:
    """A sleep duration no other process of the machine has in its command line."""
    return f"{random.randint(5000, 9000)}.{random.randint(10**8, 10**9)}"


def processes_with(text: str) -> list[str]:
    """Return the command lines of the living processes of this machine (and so of the sshd hosts) with ``text``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                line = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line and "pytest" not in line:
            found.append(f"{entry.name}: {line}")
    return found


def wait_for(text: str, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len([p for p in processes_with(text) if p.split(": ", 1)[1].startswith("sleep")]) < count:
        assert time.monotonic() < deadline, f"the command never started: {processes_with(text)}"
        time.sleep(0.05)


def tree(t: str) -> list[str]:
    """A command that starts two processes (one in the background), like a real script would."""
    return ["sh", "-c", f"sleep {t} & sleep {t}; wait"]


def write(tmp_path: Path, hosts: dict) -> str:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(inventory_yaml(hosts), encoding="utf-8")
    return str(inv)


# --------------------------------------------------------------------------- timeouts


def test_a_timeout_stops_every_process_of_the_command_on_the_ssh_host(sshd, tmp_path, cli) -> None:
    t = token()
    result = cli("-i", write(tmp_path, {"srv": ssh_host_entry(sshd)}), "-f", "json", "run", "--timeout", "1",
                 "--", *tree(t))
    [row] = json.loads(result.out)
    assert result.rc == ExitStatus.FAILURE
    assert row["error"] == "stopped after 1 s (timeout)"
    assert processes_with(t) == []


def test_a_timeout_stops_every_process_on_this_machine(tmp_path, cli) -> None:
    t = token()
    result = cli("-i", write(tmp_path, {"here": {"connection": "local"}}), "-f", "json", "run", "--timeout", "1",
                 "--", *tree(t))
    [row] = json.loads(result.out)
    assert row["error"] == "stopped after 1 s (timeout)"
    assert processes_with(t) == []


@pytest.fixture(scope="module")
def sudo_host(ssh_keys, ssh_user) -> Iterator:
    """An sshd host with its own sudoers: the test user may run anything as root with its password."""
    from tests.peers.sshd import SSHDHost

    if shutil.which("sudo") is None:
        pytest.fail("sudo is missing: apt-get install sudo (scripts/test installs it)")
    with shared_tmp("stop-sudo") as root:
        sudoers = root / "sudoers"
        sudoers.write_text(f"Defaults !lecture\nroot ALL=(ALL:ALL) ALL\n{ssh_user.name} ALL=(ALL:ALL) ALL\n")
        sudoers.chmod(0o440)
        with SSHDHost(ssh_keys, ssh_user, address="127.0.0.35", setup=[f"mount --bind {sudoers} /etc/sudoers"]) as h:
            yield h


def test_a_timeout_stops_the_root_processes_of_a_sudo_command(sudo_host, monkeypatch) -> None:
    t = token()
    monkeypatch.setenv("ITREF_T_STOP_SUDO", sudo_host.password)
    conn = connect(sudo_host, sudo_password=SecretRef(env="ITREF_T_STOP_SUDO"))
    try:
        res = conn.run(Command.of(["sh", "-c", f"id -u; sleep {t} & sleep {t}; wait"], sudo=True, timeout=2))
    finally:
        conn.close()
    assert res.stdout == "0\n"  # they ran as root: the test user alone could not stop them
    assert res.timed_out and res.stop_error is None
    assert processes_with(t) == []


def test_a_host_that_refuses_to_stop_the_command_is_named(tmp_path, cli, monkeypatch) -> None:
    windows = FakeWindows()
    windows.replies["& 'long.exe'"] = CommandReply(delay=3600)
    monkeypatch.setenv("ITREF_T_STOP_PW", "S3cret!")
    with WinRMEndpoint(users={"itref": "S3cret!"}, handler=windows) as ep:
        ep.refuse_signals = True
        hosts = {"win": {"connection": "winrm", "address": "127.0.0.1", "port": ep.port, "scheme": "http",
                         "transport": "basic", "user": "itref", "password": {"env": "ITREF_T_STOP_PW"}}}
        result = cli("-i", write(tmp_path, hosts), "-f", "json", "run", "--timeout", "1", "--", "long.exe")
    [row] = json.loads(result.out)
    assert result.rc == ExitStatus.FAILURE
    assert row["error"].startswith("timed out after 1 s and could not be stopped: the host refused the terminate "
                                   "signal")


# --------------------------------------------------------------------------- Ctrl-C


def spawn(args: list[str], state_dir: Path) -> pexpect.spawn:
    env = {**os.environ, "ITREF_STATE_DIR": str(state_dir), "NO_COLOR": "1", "TERM": "dumb",
           "ITREF_T_STOP_PW": "S3cret!"}
    return pexpect.spawn(sys.executable, ["-m", "itref", *args], env=env, encoding="utf-8", timeout=60,
                         dimensions=(40, 200), preexec_fn=like_a_terminal)


def test_ctrl_c_stops_the_commands_on_every_host_and_says_so(sshd, tmp_path, state_dir) -> None:
    t = token()
    inv = write(tmp_path, {"srv": ssh_host_entry(sshd), "here": {"connection": "local"}})
    child = spawn(["-i", inv, "run", "--", *tree(t)], state_dir)
    wait_for(t, 4)  # two processes on each host
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == ExitStatus.INTERRUPTED
    screen = child.before
    assert "Interrupted (Ctrl-C)." in screen and "Stopped on: " in screen
    stopped = screen.split("Stopped on: ", 1)[1].split(".", 1)[0]
    assert sorted(stopped.split(", ")) == ["here", "srv"]
    assert "unreachable" not in screen and "could not be stopped" not in screen
    assert processes_with(t) == []
    journal = journal_records(state_dir)
    assert sorted((r["host"], r["detail"]) for r in journal) == [("here", "stopped (Ctrl-C)"),
                                                                 ("srv", "stopped (Ctrl-C)")]


def test_ctrl_c_on_a_winrm_host_terminates_the_command_and_deletes_the_shell(tmp_path, state_dir) -> None:
    windows = FakeWindows()
    windows.replies["& 'long.exe'"] = CommandReply(delay=3600)
    with WinRMEndpoint(users={"itref": "S3cret!"}, handler=windows) as ep:
        hosts = {"win": {"connection": "winrm", "address": "127.0.0.1", "port": ep.port, "scheme": "http",
                         "transport": "basic", "user": "itref", "password": {"env": "ITREF_T_STOP_PW"}}}
        child = spawn(["-i", write(tmp_path, hosts), "run", "--", "long.exe"], state_dir)
        deadline = time.monotonic() + 20
        while "Receive" not in ep.actions():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child.sendintr()
        child.expect(pexpect.EOF)
        child.close()
        [shell] = ep.shell_history
        [command] = shell.commands.values()
    assert child.exitstatus == ExitStatus.INTERRUPTED
    assert "Stopped on: win." in child.before and "unreachable" not in child.before
    assert command.signals == [SIGNAL_TERMINATE] and shell.closed


def test_ctrl_c_in_a_routine_stops_the_step_and_says_how_to_resume(tmp_path, state_dir) -> None:
    t = token()
    inv = write(tmp_path, {"here": {"connection": "local"}})
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "shared.yaml").write_text(json.dumps({"entity": "shared", "routines": {"r": {
        "description": "d", "steps": [{"description": "wait", "run": {"command": tree(t)}}]}}}))
    child = spawn(["-i", inv, "playbook", "run", "shared/r", "--yes"], state_dir)
    wait_for(t, 2)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == ExitStatus.INTERRUPTED
    assert "Stopped on: here." in child.before and "Continue with: itref playbook resume" in child.before
    assert processes_with(t) == []
    import yaml

    saved = yaml.safe_load(next((state_dir / "routines").glob("*.yaml")).read_text())
    assert saved["next_step"] == 1 and not saved["finished"]  # resume runs the step again
