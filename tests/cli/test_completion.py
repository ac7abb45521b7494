"""Shell completion offers the inventory's hosts, selectors, entities, routines and checks."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def complete(words: str) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {**os.environ, "_ITREF_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    proc = subprocess.run([sys.executable, "-m", "itref"], env=env, cwd=ROOT, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    return proc.stdout.split()


def test_commands_complete() -> None:
    assert complete("itref au") == ["audit"]
    assert "trust" in complete("itref hosts ")


def test_limit_completes_hosts_entities_and_tags_after_a_comma() -> None:
    assert complete("itref run --limit tag:w") == ["tag:workstation"]
    assert complete("itref run --limit admin") == ["admin-workstation"]
    assert complete("itref audit --limit entity:cp") == ["entity:cpas"]
    assert complete("itref run --limit admin-workstation,!tag:l") == ["admin-workstation,!tag:linux"]


def test_routines_entities_and_checks_complete() -> None:
    assert "cpas/onboard-employee" in complete("itref playbook run cpas/")
    assert complete("itref backup check --entity co") == ["commune"]
    assert complete("itref audit explain linux.disk.f") == ["linux.disk.free"]


def test_a_broken_inventory_gives_no_completion_and_no_error(tmp_path) -> None:
    bad = tmp_path / "inventory.yaml"
    bad.write_text("version: [\n")
    env = {**os.environ, "_ITREF_COMPLETE": "complete_bash", "COMP_WORDS": f"itref -i {bad} run --limit a",
           "COMP_CWORD": "5"}
    proc = subprocess.run([sys.executable, "-m", "itref"], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stdout.strip() == "" and "Traceback" not in proc.stderr
