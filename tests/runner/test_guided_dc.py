"""A stand-in colleague follows the CPAS onboarding routine in guided mode, through a real terminal
(pseudo-terminal), against the real Samba DC: explanations, previews, skip, stop, Ctrl-C and resume."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pexpect
import pytest

from itref.lab.peers.samba import ldap_connection
from tests.conftest import journal_records, like_a_terminal

pytestmark = pytest.mark.peer

PROMPT = r"\[Enter\] do it · s skip this step · q stop here"


def routine_project(ad_project: Path) -> Path:
    book_path = ad_project.parent / "playbooks" / "cpas.yaml"
    book = json.loads(book_path.read_text())
    book["contacts"] = [{"name": "Helpdesk du fournisseur", "phone": "+32 4 000 00 09"}]
    book["routines"] = {"onboard-employee": {
        "description": "Onboard a new CPAS employee",
        "ask": {"first": {"prompt": "First name"}, "last": {"prompt": "Last name"}},
        "steps": [
            {"description": "Check that the CPAS director approved the access",
             "why": "Only the CPAS director may open access to social files.",
             "manual": "Check the signed request of {first} {last}."},
            {"description": "Note the arrival on this machine", "run": {"command": ["true"]}},
            {"id": "account", "description": "Create the account from the social-worker template",
             "why": "The template puts the account in the right OU and groups.",
             "ad": {"action": "user create", "params": {"template": "social-worker", "first": "{first}",
                                                          "last": "{last}"}}},
            {"description": "Hand over the first password", "manual": "Give the password to {first} in person."},
        ]}}
    book_path.write_text(json.dumps(book))
    inv = json.loads(ad_project.read_text())
    inv["entities"]["cpas"]["hosts"] = {"cpas-pc": {"connection": "local"}}
    ad_project.write_text(json.dumps(inv))
    return ad_project


def spawn(args: list[str], state_dir: Path) -> pexpect.spawn:
    env = {**os.environ, "ITREF_STATE_DIR": str(state_dir), "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    return pexpect.spawn(sys.executable, ["-m", "itref", *args], env=env, encoding="utf-8", timeout=60,
                         dimensions=(50, 200), preexec_fn=like_a_terminal)



def users_named(dc, last: str) -> list[str]:
    conn = ldap_connection(dc)
    conn.search(dc.base_dn, f"(sn={last})", attributes=["sAMAccountName"])
    found = [e.sAMAccountName.value for e in conn.entries]
    conn.unbind()
    return found


def test_guided_onboarding_with_ctrl_c_at_step_3_then_resume(ad_project, samba_dc, state_dir, tmp_path) -> None:
    inv = str(routine_project(ad_project))
    last = f"Lefèvre{uuid.uuid4().hex[:5]}"
    pw = tmp_path / "passwords.txt"
    child = spawn(["-i", inv, "playbook", "run", "cpas/onboard-employee", "--guided", "--password-file", str(pw)],
                  state_dir)
    child.expect("First name: ")
    child.sendline("Émilie")
    child.expect("Last name: ")
    child.sendline(last)
    child.expect(r"\[1/4\] Check that the CPAS director approved the access")
    child.expect("Why: Only the CPAS director may open access")
    child.expect(f"What it will do: a person does: Check the signed request of Émilie {last}")
    child.expect(PROMPT)
    child.sendline("")
    child.expect(r"\[Enter\] once it is done · q stop here")
    child.sendline("")
    child.expect(r"\[2/4\] Note the arrival")
    child.expect(PROMPT)
    child.sendline("s")  # skip
    child.expect("skipped by the operator")
    child.expect(r"\[3/4\] Create the account from the social-worker template")
    child.expect(f"CN=Émilie {last},OU=Social,OU=CPAS")  # the preview is the AD plan, read-only
    child.expect(PROMPT)
    child.sendintr()  # Ctrl-C at step 3
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 or child.signalstatus is not None
    assert users_named(samba_dc, last) == []  # nothing created before the Ctrl-C

    child = spawn(["-i", inv, "playbook", "resume", "--guided", "--password-file", str(pw)], state_dir)
    child.expect("Resuming cpas/onboard-employee at step 3")
    child.expect(PROMPT)
    child.sendline("")
    child.expect("done: Create the account")
    child.expect(r"\[4/4\] Hand over the first password")
    child.expect(PROMPT)
    child.sendline("")
    child.expect(r"\[Enter\] once it is done")
    child.sendline("")
    child.expect("finished")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    logins = users_named(samba_dc, last)
    assert len(logins) == 1 and logins[0].startswith("elefevre")
    assert pw.read_text().startswith(f"initial password of {logins[0]}: ")
    journal = journal_records(state_dir)
    assert [r["action"] for r in journal if r["action"].startswith("routine")][:2] == ["routine start",
                                                                                       "routine step"]
    assert any(r["action"] == "routine resume" for r in journal)


def test_guided_stop_with_q_and_dry_run_change_nothing(ad_project, samba_dc, state_dir, cli) -> None:
    inv = str(routine_project(ad_project))
    last = f"Nobody{uuid.uuid4().hex[:5]}"
    dry = cli("-i", inv, "playbook", "run", "cpas/onboard-employee", "--dry-run", "--set", "first=Ann",
              "--set", f"last={last}")
    assert dry.rc == 0 and f"CN=Ann {last}" in dry.err
    child = spawn(["-i", inv, "playbook", "run", "cpas/onboard-employee", "--guided"], state_dir)
    child.sendline("Ann")
    child.sendline(last)
    child.expect(PROMPT)
    child.sendline("q")
    child.expect("Continue with: itref playbook resume")
    child.expect(pexpect.EOF)
    child.close()
    assert users_named(samba_dc, last) == []
