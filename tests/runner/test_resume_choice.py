"""Two routine runs left waiting at a manual step: ``itref playbook resume`` without an id asks which one, through a
real terminal (pseudo-terminal), and never picks one silently."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

from itref.core.status import ExitStatus
from tests.conftest import journal_records, like_a_terminal

INVENTORY = """\
version: 1
organisation: Commune de Test
entities:
  cpas:
    title: CPAS
    hosts:
      cpas-pc: {connection: local}
"""

CPAS = """\
entity: cpas
routines:
  key-handover:
    description: Hand the keys over
    ask:
      who: {prompt: Who}
    steps:
      - {description: Note it, run: {command: ["true"]}}
      - {description: Hand the keys, manual: "Give the keys to {who}"}
"""


@pytest.fixture
def two_waiting(make_inventory, cli) -> tuple[Path, dict[str, str]]:
    """A project whose two runs (for Ann and for Bob) wait at their manual step; return it and who → run id."""
    inv = make_inventory(INVENTORY, {"cpas.yaml": CPAS})
    for who in ("Ann", "Bob"):
        result = cli("-i", str(inv), "playbook", "run", "cpas/key-handover", "--set", f"who={who}")
        assert result.rc == ExitStatus.FAILURE and "with 'itref playbook resume " in result.err
    runs = json.loads(cli("-i", str(inv), "-f", "json", "playbook", "runs").out)
    return inv, {r["params"]["who"]: r["id"] for r in runs}


def spawn(args: list[str], state_dir: Path) -> pexpect.spawn:
    env = {**os.environ, "ITREF_STATE_DIR": str(state_dir), "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    return pexpect.spawn(sys.executable, ["-m", "itref", *args], env=env, encoding="utf-8", timeout=60,
                         dimensions=(50, 200), preexec_fn=like_a_terminal)


def test_resume_without_an_id_asks_which_run_and_resumes_the_one_chosen(two_waiting, state_dir: Path, cli) -> None:
    inv, ids = two_waiting
    child = spawn(["-i", str(inv), "playbook", "resume", "--guided"], state_dir)
    child.expect("2 routine runs are unfinished:")
    listed = {}
    for _ in range(2):
        child.expect(r"  (\d)\. ([0-9a-f]{12})  cpas/key-handover — started [^\n]* at step 2/2: Hand the keys; it "
                     r"waits for a person to do: Give the keys to (\w+)")
        listed[child.match.group(3)] = (child.match.group(1), child.match.group(2))
    assert {who: run for who, (_n, run) in listed.items()} == ids
    child.expect(re.escape("Which one? [1-2] (q: none) "))
    child.sendline("7")
    child.expect("Type a number from 1 to 2, or q.")
    child.expect(re.escape("Which one? [1-2]"))
    child.sendline(listed["Bob"][0])
    child.expect("Resuming cpas/key-handover at step 2")
    child.expect("Give the keys to Bob")
    child.expect(r"\[Enter\] do it")
    child.sendline("")
    child.expect(r"\[Enter\] once it is done")
    child.sendline("")
    child.expect("Next: nothing; every step is done.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    runs = {r["id"]: r["state"] for r in json.loads(cli("-i", str(inv), "-f", "json", "playbook", "runs",
                                                        "--all").out)}
    assert runs == {ids["Ann"]: "open", ids["Bob"]: "finished"}
    finished = [r for r in journal_records(state_dir) if r["action"] == "routine finish"]
    assert [(r["run_id"], r["outcome"]) for r in finished] == [(ids["Bob"], "ok")]


def test_answering_q_resumes_nothing(two_waiting, state_dir: Path, cli) -> None:
    inv, ids = two_waiting
    child = spawn(["-i", str(inv), "playbook", "resume"], state_dir)
    child.expect(re.escape("Which one? [1-2] (q: none) "))
    child.sendline("q")
    child.expect("nothing resumed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == ExitStatus.USAGE
    runs = {r["id"]: r["state"] for r in json.loads(cli("-i", str(inv), "-f", "json", "playbook", "runs").out)}
    assert runs == {ids["Ann"]: "open", ids["Bob"]: "open"}
    assert not [r for r in journal_records(state_dir) if r["action"] == "routine resume"]


def test_without_a_terminal_it_refuses_in_one_sentence_naming_every_open_run(two_waiting, itref_bin) -> None:
    inv, ids = two_waiting
    result = itref_bin("-i", str(inv), "playbook", "resume")
    assert result.rc == ExitStatus.USAGE
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert all(f"{run} (cpas/key-handover)" in result.err for run in ids.values())
