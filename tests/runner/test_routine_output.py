"""A failed routine step shows what the command said (its standard error included), as ``itref run`` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from tests.conftest import inventory_yaml, ssh_host_entry

pytestmark = pytest.mark.peer


def project(tmp_path: Path, sshd, steps: list[dict]) -> str:
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    book = {"entity": "shared", "routines": {"r": {"description": "d", "steps": steps}}}
    (tmp_path / "playbooks" / "shared.yaml").write_text(json.dumps(book), encoding="utf-8")
    inv = tmp_path / "inventory.yaml"
    inv.write_text(inventory_yaml({"srv": ssh_host_entry(sshd)}), encoding="utf-8")
    return str(inv)


def test_a_failed_step_shows_the_commands_error_message(sshd, tmp_path, cli) -> None:
    inv = project(tmp_path, sshd, [{"description": "list it", "run": {"command": ["ls", "/nonexistent"]}}])
    result = cli("-i", inv, "playbook", "run", "shared/r", "--yes")
    assert result.rc == ExitStatus.FAILURE
    assert "exit code 2" in result.err
    assert "ls: cannot access '/nonexistent': No such file or directory" in result.err


def test_a_long_error_output_shows_its_last_lines(sshd, tmp_path, cli) -> None:
    script = "i=1; while [ $i -le 60 ]; do echo line-$i >&2; i=$((i+1)); done; echo the-real-cause >&2; exit 1"
    inv = project(tmp_path, sshd, [{"description": "noisy", "run": {"command": ["sh", "-c", script]}}])
    result = cli("-i", inv, "playbook", "run", "shared/r", "--yes")
    assert result.rc == ExitStatus.FAILURE
    assert "the-real-cause" in result.err and "line-60" in result.err
    assert "line-1\n" not in result.err and "earlier lines" in result.err


def test_the_journal_keeps_the_error_lines_of_a_failed_step(sshd, tmp_path, cli) -> None:
    inv = project(tmp_path, sshd, [{"description": "list it", "run": {"command": ["ls", "/nonexistent"]}}])
    cli("-i", inv, "playbook", "run", "shared/r", "--yes")
    steps = [r for r in json.loads(cli("journal", "-f", "json").out) if r["action"] == "routine step"]
    assert len(steps) == 1 and "No such file or directory" in steps[0]["detail"]
