"""A state file broken by hand (a merge left with conflict markers, a date typed that does not exist, a field of
the wrong kind) is named with its line, changes nothing, and never hides the records beside it: ``itref state
check`` lists each one and exits 6; ``itref status``, ``itref playbook runs`` and ``itref pending list`` say
that something was left out of what they show."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from itref.i18n import set_language

BAD_DATE = "check: linux.mem.used\nhost: admin-workstation\nuntil: 2027-13-45\nreason: hand-edited\n"
CONFLICT = """\
<<<<<<< HEAD
run_id: 20261201-aaaa
target: shared/workstation-health
=======
run_id: 20261201-bbbb
target: shared/workstation-health
>>>>>>> stand-in
params: {}
"""
WRONG_KIND = "run_id: 20261202-cccc\ntarget: shared/workstation-health\nparams: {}\nnext_step: two\n"
NOT_A_CHANGE = "id: deadbeef\naction: user disable\nstatus: pending\nat: next tuesday\n"


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def project(starter: Path, state_dir: Path, cli) -> tuple[Path, Path]:
    """The starter project with one readable waiver and one readable paused run, then four files broken by
    hand beside them. Returns (inventory, state folder)."""
    from itref.runner.routine import RunState, save
    from itref.state.folder import StateFolder

    inventory = starter
    until = (date.today() + timedelta(days=5)).isoformat()
    result = cli("-i", str(inventory), "audit", "waive", "linux.disk.free", "--until", until, "--reason",
                 "new disk ordered")
    assert result.rc == ExitStatus.SUCCESS, result.all
    save(StateFolder(state_dir), RunState(run_id="20261130-good", target="shared/workstation-health", params={},
                                          waiting_for="the referent's yes"))
    (state_dir / "waivers" / "hand-edited.yaml").write_text(BAD_DATE, encoding="utf-8")
    (state_dir / "routines" / "20261201-aaaa.yaml").write_text(CONFLICT, encoding="utf-8")
    (state_dir / "routines" / "20261202-cccc.yaml").write_text(WRONG_KIND, encoding="utf-8")
    (state_dir / "scheduled").mkdir(mode=0o700)
    (state_dir / "scheduled" / "deadbeef.yaml").write_text(NOT_A_CHANGE, encoding="utf-8")
    return inventory, state_dir


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "journal" not in p.parts}


def test_state_check_names_each_broken_file_with_its_line_and_exits_6(project, cli) -> None:
    inventory, folder = project
    before = contents(folder)
    result = cli("-i", str(inventory), "state", "check")
    assert result.rc == ExitStatus.CHECK_WARNING, result.all
    lines = result.out.splitlines()
    assert f"{folder}/waivers/hand-edited.yaml:3: 2027-13-45 is not a date that exists" in lines
    assert (f"{folder}/routines/20261201-aaaa.yaml:1: a merge left its conflict markers here (<<<<<<<, =======, "
            ">>>>>>>): keep the right lines and remove the markers") in lines
    assert any(line.startswith(f"{folder}/routines/20261202-cccc.yaml:1: not a routine run") for line in lines), lines
    assert any(line.startswith(f"{folder}/scheduled/deadbeef.yaml:1: not a scheduled change") for line in lines), lines
    assert lines[-1] == (f"{folder}: 1 journal lines, 1 waivers, 1 routine runs, 0 scheduled changes, "
                         "0 offboarding snapshots read; 4 cannot be read."), lines
    assert "Traceback" not in result.all
    assert contents(folder) == before  # nothing repaired, moved or removed behind the person's back


def test_state_check_in_french(project, cli, monkeypatch) -> None:
    inventory, folder = project
    monkeypatch.setenv("ITREF_LANG", "fr")
    set_language("fr")
    result = cli("-i", str(inventory), "state", "check")
    assert result.rc == ExitStatus.CHECK_WARNING, result.all
    assert f"{folder}/waivers/hand-edited.yaml:3: 2027-13-45 n'est pas une date qui existe" in result.out
    assert "not a " not in result.out and "cannot be read" not in result.out, result.out


def test_status_shows_the_readable_records_and_one_warning_per_broken_file(project, cli) -> None:
    inventory, _folder = project
    result = cli("-i", str(inventory), "status")
    assert "Traceback" not in result.all
    assert "The waiver of linux.disk.free ends on" in result.out  # the readable waiver beside the broken one
    assert "20261130-good" in result.out  # the readable paused run beside the broken ones
    broken = [line for line in result.out.splitlines() if "This state file cannot be read" in line]
    assert len(broken) == 4, result.out
    assert all(line.rstrip().endswith("→ itref state check") for line in broken), broken
    assert any("hand-edited.yaml:3: 2027-13-45 is not a date that exists" in line for line in broken), broken
    assert result.rc == ExitStatus.CHECK_WARNING, result.all


def test_playbook_runs_and_pending_say_what_they_left_out(project, cli) -> None:
    inventory, folder = project
    runs = cli("-i", str(inventory), "playbook", "runs")
    assert runs.rc == ExitStatus.SUCCESS, runs.all
    assert "20261130-good" in runs.out
    assert f"{folder}/routines/20261201-aaaa.yaml:" in runs.err
    assert f"{folder}/routines/20261202-cccc.yaml:1: not a routine run" in runs.err
    assert runs.err.count("this state file cannot be read and is left out (see itref state check)") == 2, runs.err
    pending = cli("-i", str(inventory), "pending", "list", "--all")
    assert pending.rc == ExitStatus.SUCCESS, pending.all
    assert f"{folder}/scheduled/deadbeef.yaml:1: not a scheduled change" in pending.err, pending.all
