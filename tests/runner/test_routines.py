"""Playbook routines: starter playbooks dry-run, steps, conditions, failures, resume."""

from __future__ import annotations

import json
from pathlib import Path

from itref.core.status import ExitStatus
from tests.conftest import ROOT


def test_every_starter_routine_validates_and_dry_runs(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ITREF_LANG", "en")  # the starter inventory says French; this test reads English
    assert cli("playbook", "validate").rc == 0
    routines = [r["routine"] for r in json.loads(cli("-f", "json", "playbook", "list").out)]
    for wanted in ("commune/onboard-employee", "commune/offboard-leaver", "cpas/weekly-backup-check",
                   "cpas/quarterly-restore-drill", "commune/monthly-audit", "asbl/prepare-workstation"):
        assert wanted in routines
    for routine in routines:
        result = cli("playbook", "run", routine, "--dry-run")
        assert result.rc == 0, (routine, result.all)
        assert "Would:" in result.err
    assert json.loads(cli("journal", "-f", "json").out) == []  # a dry run leaves no trace of action


def write(tmp_path: Path, routines: dict, hosts: dict | None = None) -> str:
    inv = {"version": 1, "organisation": "T", "entities": {"commune": {
        "title": "Commune", "contacts": [{"name": "Directrice générale", "phone": "+32 4 000 00 00"}],
        "hosts": hosts or {"here": {"connection": "local"}}}}}
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "commune.yaml").write_text(json.dumps({"entity": "commune", "routines": routines}))
    (tmp_path / "inventory.yaml").write_text(json.dumps(inv))
    return str(tmp_path / "inventory.yaml")


def test_steps_run_in_order_with_parameters_quoted_for_the_shell(tmp_path, cli) -> None:
    out = tmp_path / "out.txt"
    inv = write(tmp_path, {"r": {"description": "d", "vars": {"who": "O'Brien; rm -rf /"}, "steps": [
        {"description": "argv", "run": {"command": ["sh", "-c", f'printf "%s\\n" "$0" >> {out}', "{who}"]}},
        {"description": "shell", "run": {"command": f"printf '%s\\n' {{who}} >> {out}", "shell": True}},
    ]}})
    result = cli("-i", inv, "playbook", "run", "commune/r", "--yes")
    assert result.rc == 0, result.all
    assert out.read_text() == "O'Brien; rm -rf /\nO'Brien; rm -rf /\n"


def test_a_failed_step_stops_shows_advice_and_resume_retries_it(tmp_path, cli) -> None:
    flag = tmp_path / "fixed"
    inv = write(tmp_path, {"r": {"description": "d", "steps": [
        {"description": "one", "run": {"command": ["true"]}},
        {"description": "two", "run": {"command": ["test", "-e", str(flag)]},
         "if_fails": "Create the flag file, then resume."},
        {"description": "three", "run": {"command": ["true"]}},
    ]}})
    first = cli("-i", inv, "playbook", "run", "commune/r", "--yes")
    assert first.rc == ExitStatus.FAILURE
    assert "If it fails: Create the flag file" in first.err and "Directrice générale" in first.err
    assert "itref playbook resume" in first.err
    flag.touch()
    resumed = cli("-i", inv, "playbook", "resume", "--yes")
    assert resumed.rc == 0, resumed.all
    assert "[2/3] two" in resumed.err and "[1/3] one" not in resumed.err
    steps = [r for r in json.loads(cli("journal", "-f", "json").out) if r["action"] == "routine step"]
    assert [(r["target"].split(":")[0], r["outcome"]) for r in steps] == [
        ("commune/r #1", "ok"), ("commune/r #2", "failed"), ("commune/r #2", "ok"), ("commune/r #3", "ok")]


def test_conditions_includes_and_continue_on_failure(tmp_path, cli) -> None:
    log = tmp_path / "log"
    inv = write(tmp_path, {
        "r": {"description": "d", "steps": [
            {"id": "probe", "description": "probe", "run": {"command": ["false"]}, "on_failure": "continue"},
            {"description": "only if probe failed", "when": "probe failed",
             "run": {"command": ["sh", "-c", f"echo repair >> {log}"]}},
            {"description": "only if probe ok", "when": "probe ok",
             "run": {"command": ["sh", "-c", f"echo wrong >> {log}"]}},
            {"description": "shared part", "include": "common"}]},
        "common": {"description": "c", "steps": [
            {"description": "common step", "run": {"command": ["sh", "-c", f"echo common >> {log}"]}}]}})
    result = cli("-i", inv, "playbook", "run", "commune/r", "--yes")
    assert result.rc == ExitStatus.FAILURE  # the probe failed, the routine went on
    assert log.read_text() == "repair\ncommon\n"
    assert "[4/4] common step" in result.err


def test_a_manual_step_without_a_person_stops_the_routine(tmp_path, cli) -> None:
    inv = write(tmp_path, {"r": {"description": "d", "steps": [
        {"description": "look", "manual": "Check the UPS display."},
        {"description": "after", "run": {"command": ["true"]}}]}})
    result = cli("-i", inv, "playbook", "run", "commune/r", "--yes")
    assert result.rc == ExitStatus.FAILURE and "Nobody is at the terminal" in result.err
    assert "[2/2]" not in result.err


def test_unknown_routine_and_include_cycles_are_refused(tmp_path, cli) -> None:
    inv = write(tmp_path, {"a": {"description": "a", "steps": [{"description": "b", "include": "b"}]},
                           "b": {"description": "b", "steps": [{"description": "a", "include": "a"}]}})
    cycle = cli("-i", inv, "playbook", "run", "commune/a", "--yes")  # found when the playbooks are read
    assert cycle.rc == ExitStatus.INVALID_CONFIG and "commune/a → commune/b → commune/a" in cycle.err
    inv = write(tmp_path, {"a": {"description": "a", "steps": [{"description": "b", "manual": "b"}]}})
    missing = cli("-i", inv, "playbook", "run", "commune/zz", "--yes")
    assert missing.rc == ExitStatus.USAGE and "commune/a" in missing.err
