"""A routine parameter reaches a command only as data: hostile values, given with ``--set`` or typed in guided
mode, run against a real sshd host. Each payload tries to create a file on the host; the tests assert the file
was not created and the command received the value byte for byte. (The WinRM side is in test_winrm_parameters.)"""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from itref.core.status import ExitStatus
from tests.conftest import inventory_yaml, like_a_terminal, shared_tmp, ssh_host_entry

pytestmark = pytest.mark.peer

PAYLOADS = {  # {cmd} is the command that must never run
    "command-substitution": "$({cmd})",
    "backquotes": "`{cmd}`",
    "double-quote": '"; {cmd}; echo "',
    "single-quote": "'; {cmd}; echo '",
    "right-single-quote": "x\u2019; {cmd}; \u2019",
    "left-single-quote": "x\u2018; {cmd}; \u2018",
    "low-single-quote": "x\u201a; {cmd}; \u201a",
    "reversed-single-quote": "x\u201b; {cmd}; \u201b",
    "newline": "x\n{cmd}\necho",
    "semicolon": "x; {cmd}",
    "pipe": "x | {cmd}",
    "ampersand": "x & {cmd}",
}

FORMS = {  # how the author wrote the step (shell: true), and what the file receives for value V
    "in-double-quotes": ("printf '%s' \"Hello {name}\" > {out}", "Hello {v}"),
    "bare-word": ("printf '%s' {name} > {out}", "{v}"),
    "in-command-substitution": ("printf '%s' \"$(printf '%s' {name})\" > {out}", "{v}"),
    "here-document": ("cat > {out} <<EOF\n{name}\nEOF", "{v}\n"),
    "argument-after-sh-c": ("sh -c 'printf \"%s\" \"$1\" > \"$0\"' {out} {name}", "{v}"),
}


@pytest.fixture
def drop() -> Iterator[Path]:
    """A folder the sshd test user can write in (so an injected touch WOULD succeed there)."""
    with shared_tmp("params") as folder:
        folder.chmod(0o1777)
        yield folder


def project(tmp_path: Path, host_entry: dict, command: str | list[str], *, variables: dict | None = None) -> str:
    step: dict = {"description": "greet", "run": {"command": command}}
    if isinstance(command, str):
        step["run"]["shell"] = True
    routine = {"description": "d", "steps": [step]}
    if variables is None:
        routine["ask"] = {"name": {"prompt": "Name of the new colleague"}}
    else:
        routine["vars"] = variables
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "shared.yaml").write_text(json.dumps({"entity": "shared", "routines": {"r": routine}}))
    inv = tmp_path / "inventory.yaml"
    inv.write_text(inventory_yaml({"srv": host_entry}), encoding="utf-8")
    return str(inv)


def payload(kind: str, pwned: Path) -> str:
    return PAYLOADS[kind].replace("{cmd}", f"touch {pwned}")


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_a_shell_step_receives_a_hostile_value_as_data(sshd, tmp_path, drop, cli, kind, form) -> None:
    pwned, out = drop / "PWNED", drop / "got"
    text, expected = FORMS[form]
    value = payload(kind, pwned)
    inv = project(tmp_path, ssh_host_entry(sshd), text.replace("{out}", str(out)))
    result = cli("-i", inv, "playbook", "run", "shared/r", "--yes", "--set", f"name={value}")
    assert result.rc == 0, result.all
    assert not pwned.exists()
    assert out.read_bytes() == expected.replace("{v}", value).encode("utf-8")


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_an_argument_list_step_receives_a_hostile_value_as_one_argument(sshd, tmp_path, drop, cli, kind) -> None:
    pwned, out = drop / "PWNED", drop / "got"
    value = payload(kind, pwned)
    inv = project(tmp_path, ssh_host_entry(sshd), ["sh", "-c", 'printf "%s|" "$@" > "$0"', str(out), "{name}"])
    result = cli("-i", inv, "playbook", "run", "shared/r", "--yes", "--set", f"name={value}")
    assert result.rc == 0, result.all
    assert not pwned.exists()
    assert out.read_bytes() == f"{value}|".encode()


@pytest.mark.parametrize("kind", [k for k in PAYLOADS if k != "newline"])  # Enter ends a typed answer
def test_a_hostile_answer_typed_in_guided_mode_is_data(sshd, tmp_path, drop, state_dir, kind) -> None:
    pwned, out = drop / "PWNED", drop / "got"
    value = payload(kind, pwned)
    inv = project(tmp_path, ssh_host_entry(sshd), FORMS["in-double-quotes"][0].replace("{out}", str(out)))
    child = pexpect.spawn(sys.executable, ["-m", "itref", "-i", inv, "playbook", "run", "shared/r", "--guided"],
                          env={**os.environ, "ITREF_STATE_DIR": str(state_dir), "NO_COLOR": "1", "TERM": "dumb"},
                          encoding="utf-8", timeout=60, dimensions=(40, 400), preexec_fn=like_a_terminal)
    child.expect("Name of the new colleague: ")
    child.sendline(value)
    child.expect("What it will do: run `printf '%s' \"Hello \\$\\{ITREF_P_name\\}\"")
    child.expect(r"\[Enter\] do it")
    child.sendline("")
    child.expect("1 done")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert not pwned.exists()
    assert out.read_text(encoding="utf-8") == f"Hello {value}"


def test_no_value_appears_in_any_process_list_while_the_step_runs(sshd, tmp_path, drop, itref_bin) -> None:
    out = drop / "got"
    secret = f"s3cret-{uuid.uuid4().hex}"
    inv = project(tmp_path, ssh_host_entry(sshd), f"sleep 2; printf '%s' \"{{name}}\" > {out}",
                  variables={"name": secret})  # from the playbook: no command line of the test shows it
    seen: list[str] = []
    saw_the_step = threading.Event()
    done = threading.Event()

    def watch() -> None:  # sshd runs on this machine: /proc shows the host's processes and itref's own
        while not done.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                        line = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if secret in line:
                    seen.append(line)
                if "ITREF_P_name" in line and "sleep 2" in line:
                    saw_the_step.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = itref_bin("-i", inv, "playbook", "run", "shared/r", "--yes")
    finally:
        done.set()
        watcher.join()
    assert result.rc == 0, result.err
    assert saw_the_step.is_set()  # the watcher did see the step's command line on the host...
    assert seen == []  # ...and never the value
    assert out.read_text() == secret


def test_the_dry_run_shows_the_text_as_sent_and_the_value_as_the_shell_reads_it(sshd, tmp_path, drop, cli) -> None:
    inv = project(tmp_path, ssh_host_entry(sshd), "echo \"Hello {name}\"")
    value = payload("double-quote", drop / "PWNED")
    result = cli("-i", inv, "playbook", "run", "shared/r", "--dry-run", "--set", f"name={value}")
    assert result.rc == 0, result.all
    assert 'run `echo "Hello ${ITREF_P_name}"` on srv' in result.err
    assert "with the parameters, sent on its standard input:" in result.err
    assert "ITREF_P_name='\"; touch " in result.err  # POSIX-quoted, as the shell will read it


def test_a_secret_value_is_masked_in_the_dry_run(sshd, tmp_path, cli, monkeypatch) -> None:
    from itref.secrets import Secret

    secret = f"pw-{uuid.uuid4().hex}"
    Secret(secret, "test")  # known to itref as a secret, as one resolved earlier in the run would be
    inv = project(tmp_path, ssh_host_entry(sshd), "echo \"{name}\"")
    result = cli("-i", inv, "playbook", "run", "shared/r", "--dry-run", "--set", f"name={secret}")
    assert result.rc == 0, result.all
    assert secret not in result.all and "ITREF_P_name=***" in result.err


REFUSED = [  # (shell text, what the one-line reason says)
    ("echo '{name}'", "inside single quotes the shell does not expand it"),
    ("eval \"echo {name}\"", "eval runs its arguments as shell code"),
    ("sh -c \"echo {name}\"", "the script of 'sh -c' is read as code"),
    ("sudo -u root bash -c 'true' && bash -c \"{name}\"", "the script of 'bash -c' is read as code"),
    ("echo $(( {name} + 1 ))", "in arithmetic, bash evaluates a value as an expression"),
    ("(( {name} > 3 )) && echo big", "in arithmetic, bash evaluates a value as an expression"),
    ("[[ {name} -eq 3 ]] && echo three", "in arithmetic, bash evaluates a value as an expression"),
    ("let n={name}", "in arithmetic, bash evaluates a value as an expression"),
    ("declare -i n={name}", "in arithmetic, bash evaluates a value as an expression"),
    ("echo ${HOME:-{name}}", "inside ${...} it cannot be used"),
    ("echo `echo {name}`", "write $(...) instead of `...`"),
    ("cat <<'EOF'\n{name}\nEOF", "in a here-document whose end word is quoted"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[r[0].split()[0] + str(i) for i, r in enumerate(REFUSED)])
def test_validate_refuses_a_placeholder_where_its_value_would_be_code_or_would_not_arrive(
        sshd, tmp_path, cli, text, reason) -> None:
    inv = project(tmp_path, ssh_host_entry(sshd), text)
    result = cli("-i", inv, "playbook", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    line = result.err.strip()
    assert line.startswith("playbooks/shared.yaml:") or "shared.yaml:" in line.split()[0]
    assert "routines.r.steps[0].run.command:" in line and reason in line and len(line.splitlines()) == 1
    run = cli("-i", inv, "playbook", "run", "shared/r", "--yes", "--set", "name=x")
    assert run.rc == ExitStatus.INVALID_CONFIG and reason in run.err
    assert json.loads(cli("journal", "-f", "json").out) == []  # refused before the first step


@pytest.fixture(scope="module")
def sudo_host(ssh_keys, ssh_user) -> Iterator:
    """An sshd host with its own sudoers: the test user may run anything as root, with its password."""
    import shutil

    from tests.peers.sshd import SSHDHost

    if shutil.which("sudo") is None:
        pytest.fail("sudo is missing: apt-get install sudo (scripts/test installs it)")
    with shared_tmp("params-sudo") as root:
        sudoers = root / "sudoers"
        sudoers.write_text(f"Defaults !lecture\nroot ALL=(ALL:ALL) ALL\n{ssh_user.name} ALL=(ALL:ALL) ALL\n")
        sudoers.chmod(0o440)
        with SSHDHost(ssh_keys, ssh_user, address="127.0.0.36", setup=[f"mount --bind {sudoers} /etc/sudoers"]) as h:
            yield h


@pytest.mark.parametrize("kind", ["command-substitution", "single-quote", "newline"])
def test_a_sudo_shell_step_receives_a_hostile_value_as_data_and_the_password_stays_out(
        sudo_host, tmp_path, drop, cli, monkeypatch, kind) -> None:
    pwned, out = drop / "PWNED", drop / "got"
    value = payload(kind, pwned)
    monkeypatch.setenv("ITREF_T_PARAMS_SUDO", sudo_host.password)
    entry = ssh_host_entry(sudo_host, sudo_password={"env": "ITREF_T_PARAMS_SUDO"})
    inv = project(tmp_path, entry, f"id -u; printf '%s' \"{{name}}\" > {out}")
    book = tmp_path / "playbooks" / "shared.yaml"
    data = json.loads(book.read_text())
    data["routines"]["r"]["steps"][0]["run"]["sudo"] = True
    book.write_text(json.dumps(data))
    result = cli("-i", inv, "playbook", "run", "shared/r", "--yes", "--set", f"name={value}")
    assert result.rc == 0, result.all
    assert "srv: ok\n      0\n" in result.err  # it ran as root
    assert not pwned.exists()
    assert out.read_bytes() == value.encode()
    assert sudo_host.password not in result.all
