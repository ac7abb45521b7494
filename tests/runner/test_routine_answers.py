"""``--set NAME=VALUE`` goes through exactly the checks of an answer typed at the ``ask:`` prompt (one function
for both): a value the routine would refuse at the prompt is refused on the command line, before any step runs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from itref.core.status import ExitStatus
from tests.conftest import like_a_terminal

ASK = {
    "login": {"prompt": "Login", "pattern": "[a-z]{2,8}"},
    "count": {"prompt": "How many", "type": "int"},
    "mail": {"prompt": "Mail", "type": "email"},
    "site": {"prompt": "Site", "type": "choice", "choices": ["cpas", "commune"]},
    "day": {"prompt": "Day", "type": "date"},
    "urgent": {"prompt": "Urgent", "type": "bool"},
}
GOOD = {"login": "emilie", "count": "3", "mail": "e.l@exemple.example", "site": "cpas", "day": "2025-03-01",
        "urgent": "no"}

REFUSED = [  # (parameter, value, what the one-line message says)
    ("login", "Bad!", "'Bad!' does not have the expected form"),
    ("login", "a; touch PWNED", "'a; touch PWNED' does not have the expected form"),
    ("count", "douze", "'douze' is not a whole number"),
    ("count", "1e3", "'1e3' is not a whole number"),
    ("mail", "not-an-address", "'not-an-address' is not an e-mail address"),
    ("mail", "a@b", "'a@b' is not an e-mail address"),
    ("site", "elsewhere", "choose one of: cpas, commune"),
    ("day", "2025-13-45", "'2025-13-45' is not a date (write it as YYYY-MM-DD)"),
    ("urgent", "maybe", "answer yes or no"),
]


def write(tmp_path: Path) -> tuple[str, Path]:
    marker = tmp_path / "step-ran"
    routine = {"description": "d", "ask": ASK, "steps": [
        {"description": "mark", "run": {"command": ["sh", "-c", 'printf "%s|" "$@" > "$0"', str(marker),
                                                    "{login}", "{count}", "{mail}", "{site}", "{day}", "{urgent}"]}}]}
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "commune.yaml").write_text(json.dumps({"entity": "commune", "routines": {"r": routine}}))
    inv = {"version": 1, "organisation": "T", "entities": {"commune": {
        "title": "Commune", "hosts": {"here": {"connection": "local"}}}}}
    (tmp_path / "inventory.yaml").write_text(json.dumps(inv))
    return str(tmp_path / "inventory.yaml"), marker


def sets(values: dict[str, str]) -> list[str]:
    return [arg for name, value in values.items() for arg in ("--set", f"{name}={value}")]


@pytest.mark.parametrize(("name", "value", "reason"), REFUSED, ids=[f"{n}={v}" for n, v, _r in REFUSED])
def test_a_set_value_the_ask_check_refuses_is_a_usage_error_before_any_step(tmp_path, cli, name, value,
                                                                            reason) -> None:
    inv, marker = write(tmp_path)
    result = cli("-i", inv, "playbook", "run", "commune/r", "--yes", *sets({**GOOD, name: value}))
    assert result.rc == ExitStatus.USAGE, result.all
    assert result.err.strip() == f"--set {name}: {reason}"  # one line
    assert not marker.exists()
    assert json.loads(cli("journal", "-f", "json").out) == []


def test_a_set_for_a_parameter_the_routine_does_not_have_is_refused(tmp_path, cli) -> None:
    inv, marker = write(tmp_path)
    result = cli("-i", inv, "playbook", "run", "commune/r", "--yes", *sets({**GOOD, "logn": "emilie"}))
    assert result.rc == ExitStatus.USAGE
    assert "--set logn: the routine has no such parameter" in result.err and "login" in result.err
    assert not marker.exists()


def test_valid_set_values_are_used_as_checked(tmp_path, cli) -> None:
    inv, marker = write(tmp_path)
    result = cli("-i", inv, "playbook", "run", "commune/r", "--yes", *sets({**GOOD, "count": " 42 ", "urgent": "oui"}))
    assert result.rc == 0, result.all
    assert marker.read_text() == "emilie|42|e.l@exemple.example|cpas|2025-03-01|True|"


@pytest.mark.peer
@pytest.mark.parametrize(("name", "value", "reason"), REFUSED[:1] + REFUSED[2:3] + REFUSED[4:5] + REFUSED[6:7],
                         ids=["pattern", "int", "email", "choice"])
def test_the_same_value_typed_at_the_prompt_gets_the_same_refusal(tmp_path, state_dir, name, value, reason) -> None:
    inv, marker = write(tmp_path)
    given = {k: v for k, v in GOOD.items() if k != name}
    child = pexpect.spawn(sys.executable, ["-m", "itref", "-i", inv, "playbook", "run", "commune/r", "--guided",
                                           *sets(given)],
                          env={**os.environ, "ITREF_STATE_DIR": str(state_dir), "NO_COLOR": "1", "TERM": "dumb"},
                          encoding="utf-8", timeout=30, dimensions=(40, 200), preexec_fn=like_a_terminal)
    child.expect(ASK[name]["prompt"])
    child.sendline(value)
    child.expect_exact(reason)
    child.expect(ASK[name]["prompt"])  # asked again
    child.sendline(GOOD[name])
    child.expect(r"\[Enter\] do it")
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    assert not marker.exists()
