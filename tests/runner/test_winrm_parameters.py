"""A routine parameter sent to a WinRM host is data for PowerShell: the in-suite WS-Management endpoint reads
every script it receives with a real PowerShell grammar (tests/powershell/evaluate.py, quote characters as
PowerShell reads them) and evaluates it far enough to list each command it would call, with its arguments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from itref.lab.peers.winrm_endpoint import WinRMEndpoint
from tests.powershell.evaluate import GrammarWindows, run
from tests.runner.test_routine_parameters import PAYLOADS

pytestmark = pytest.mark.peer

USER, PASSWORD, PW_ENV = "itref", "S3cret!", "ITREF_TEST_WINRM_PASSWORD"
INJECTED = "New-Item C:\\pwned"
ITREF_OWN = ["New-Object", "New-Object"]  # the prelude of every script (UTF-8 output)
READER = ["Remove-Variable"]  # the end of the parameter reader

FORMS = {  # how the author wrote the step (shell: true), and the argument Write-Output gets for value V
    "in-double-quotes": ('Write-Output "Hello {name}"', "Hello {v}"),
    "bare-word": ("Write-Output {name}", "{v}"),
    "in-typographic-double-quotes": ("Write-Output \u201cHello {name}\u201d", "Hello {v}"),
    "in-a-subexpression": ('Write-Output "$(Write-Output {name})!"', None),
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[WinRMEndpoint]:
    with WinRMEndpoint(users={USER: PASSWORD}) as ep:
        yield ep


@pytest.fixture
def windows(endpoint: WinRMEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[GrammarWindows]:
    monkeypatch.setenv(PW_ENV, PASSWORD)
    endpoint.reset()
    handler = GrammarWindows()
    endpoint.handler = handler
    yield handler
    assert endpoint.errors == []


def project(tmp_path: Path, port: int, command: str | list[str]) -> str:
    step: dict = {"description": "greet", "run": {"command": command}}
    if isinstance(command, str):
        step["run"]["shell"] = True
    routine = {"description": "d", "ask": {"name": {"prompt": "Name"}}, "steps": [step]}
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "shared.yaml").write_text(json.dumps({"entity": "shared", "routines": {"r": routine}}))
    inventory = {"version": 1, "organisation": "T", "entities": {"shared": {"title": "Shared", "hosts": {"win": {
        "connection": "winrm", "address": "127.0.0.1", "port": port, "scheme": "http", "transport": "basic",
        "user": USER, "password": {"env": PW_ENV}}}}}}
    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps(inventory), encoding="utf-8")
    return str(inv)


def payload(kind: str) -> str:
    return PAYLOADS[kind].replace("{cmd}", INJECTED)


def test_the_grammar_sees_the_command_an_injected_value_would_run() -> None:
    """The oracle itself: the text itref used to send for `Write-Output '{name}'` (POSIX-quoted) runs New-Item."""
    from itref.connectors.winrm import wrap_script

    reading = run(wrap_script("Write-Output 'x\u2019; New-Item C:\\pwned; \u2019'"))
    assert [c.name for c in reading.calls] == [*ITREF_OWN, "Write-Output", "New-Item"]


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_a_shell_step_gives_powershell_the_value_as_a_variable_never_as_code(endpoint, windows, tmp_path, cli,
                                                                            kind, form) -> None:
    value = payload(kind)
    text, expected = FORMS[form]
    result = cli("-i", project(tmp_path, endpoint.port, text), "playbook", "run", "shared/r", "--yes",
                 "--set", f"name={value}")
    assert result.rc == 0, result.all
    [reading] = windows.readings
    assert value not in reading.script  # the script (on powershell.exe's command line) never holds the value
    assert reading.variables == {"ITREF_P_name": value}  # read from standard input, byte for byte
    names = [c.name for c in reading.calls]
    assert INJECTED.split()[0] not in names
    assert reading.references and reading.in_command_position() == []
    if expected is None:  # the inner Write-Output gets the value, the outer one the result
        assert names == [*ITREF_OWN, *READER, "Write-Output", "Write-Output"]
        assert reading.calls[-1].args == [value]
    else:
        assert names == [*ITREF_OWN, *READER, "Write-Output"]
        assert reading.calls[-1].args == [expected.replace("{v}", value)]


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_an_argument_list_step_gives_powershell_one_literal_argument(endpoint, windows, tmp_path, cli, kind) -> None:
    value = payload(kind)
    result = cli("-i", project(tmp_path, endpoint.port, ["Write-Output", "Hello {name}"]), "playbook", "run",
                 "shared/r", "--yes", "--set", f"name={value}")
    assert result.rc == 0, result.all
    [reading] = windows.readings
    assert [c.name for c in reading.calls] == [*ITREF_OWN, "Write-Output"]
    call = reading.calls[-1]
    assert call.args == [f"Hello {value}"]
    [argument] = [n for n in call.node.child_by_field_name("command_elements").named_children
                  if n.type != "command_argument_sep"]
    assert argument.named_children[0].named_children[0].type == "string_literal"  # one literal, not an expression


def test_the_dry_run_for_a_winrm_host_shows_powershell_quoting(endpoint, windows, tmp_path, cli) -> None:
    value = payload("right-single-quote")
    result = cli("-i", project(tmp_path, endpoint.port, 'Write-Output "Hello {name}"'), "playbook", "run",
                 "shared/r", "--dry-run", "--set", f"name={value}")
    assert result.rc == 0, result.all
    assert 'run `Write-Output "Hello ${ITREF_P_name}"` on win' in result.err
    assert "${ITREF_P_name} = 'x\u2019\u2019; New-Item C:\\pwned; \u2019\u2019'" in result.err
    assert run("${ITREF_P_name} = 'x\u2019\u2019; New-Item C:\\pwned; \u2019\u2019'").calls == []  # one literal
    assert windows.readings == []  # nothing was sent


REFUSED = [
    ("Write-Output \u2019Hello {name}\u2019", "inside single quotes PowerShell does not expand it"),
    ("Write-Output @'\nHello {name}\n'@", "inside single quotes PowerShell does not expand it"),
    ('Invoke-Expression "Write-Output {name}"', "Invoke-Expression runs its argument as PowerShell code"),
    ('iex "Write-Output {name}"', "Invoke-Expression runs its argument as PowerShell code"),
    ("cmd /c echo {name}", "cmd reads its command line as code"),
    ("Write-Output {name}.Length", "PowerShell would read what follows as a property"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[f"case{i}" for i in range(len(REFUSED))])
def test_validate_refuses_a_placeholder_powershell_would_not_treat_as_data(endpoint, windows, tmp_path, cli,
                                                                          text, reason) -> None:
    inv = project(tmp_path, endpoint.port, text)
    result = cli("-i", inv, "playbook", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert "shared.yaml:" in result.err and "routines.r.steps[0].run.command:" in result.err and reason in result.err
    assert cli("-i", inv, "playbook", "run", "shared/r", "--yes", "--set", "name=x").rc == ExitStatus.INVALID_CONFIG
    assert windows.readings == []
