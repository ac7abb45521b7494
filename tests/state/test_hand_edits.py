"""What a person (or git) may do to the state folder by hand, and what itref does then: a file put back by
``git revert`` is read again whatever this machine's cache remembers; a field of the wrong kind, a step number
out of range, an alias bomb or an id too long for a file name is one readable line, never a crash, and changes
nothing; a routine run is resumed by one itref at a time; a sub-folder that is a symbolic link is refused.
Each of these failed before (exit 70, a silent skip, a hidden record, or steps run twice)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from itref.core.status import ExitStatus

TARGET = "shared/workstation-health"


pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def inventory(starter: Path) -> Path:
    return starter


def paused_run(state_dir: Path, run_id: str = "20261130-good", **fields: object) -> Path:
    """Save a run of shared/workstation-health stopped after its first step; return its file."""
    from itref.runner.routine import RunState, StepRecord, save
    from itref.state.folder import StateFolder

    run = RunState(run_id=run_id, target=TARGET, params={}, next_step=2,
                   records=[StepRecord(1, "ok", "up 3 days")])
    for key, value in fields.items():
        setattr(run, key, value)
    save(StateFolder(state_dir), run)
    return state_dir / "routines" / f"{run_id}.yaml"


def test_a_run_put_back_after_it_was_cancelled_is_seen_again_whatever_the_cache_remembers(
        inventory, state_dir, cli) -> None:
    path = paused_run(state_dir)
    before = path.read_bytes()
    assert cli("-i", str(inventory), "playbook", "cancel", "20261130-good", "--reason", "by mistake").rc == 0
    gone = cli("-i", str(inventory), "playbook", "runs")
    assert "20261130-good" not in gone.out  # cancelled: this machine's cache now remembers it as closed
    time.sleep(0.01)
    path.write_bytes(before)  # what `git revert` of the cancellation does
    back = cli("-i", str(inventory), "playbook", "runs")
    assert back.rc == ExitStatus.SUCCESS and "20261130-good" in back.out, back.all
    assert "20261130-good" in cli("-i", str(inventory), "status").out


def test_a_change_put_back_after_it_was_cancelled_is_pending_again(inventory, state_dir, cli) -> None:
    from itref.ad.scheduled import ScheduledChange, ScheduledChanges
    from itref.state.folder import StateFolder

    store = ScheduledChanges(StateFolder(state_dir))
    change = ScheduledChange(id="abcd1234", action="user disable", params={"login": "jdupont"},
                             at="2027-01-04T08:00:00+00:00", entity="commune", title="disable jdupont", plan=[])
    store.save(change)
    path = state_dir / "scheduled" / "abcd1234.yaml"
    before = path.read_bytes()
    assert cli("-i", str(inventory), "pending", "cancel", "abcd1234", "--reason", "oops").rc == 0
    assert "abcd1234" not in cli("-i", str(inventory), "pending", "list").out
    time.sleep(0.01)
    path.write_bytes(before)
    again = cli("-i", str(inventory), "pending", "list")
    assert "abcd1234" in again.out, again.all


@pytest.mark.parametrize(("field", "value"), [("params", [1, 2]), ("operator", ["a"]), ("next_step", "3"),
                                              ("records", 5), ("started", 20261130)])
def test_a_run_with_a_field_of_the_wrong_kind_is_named_and_nothing_crashes(
        inventory, state_dir, cli, field, value) -> None:
    import yaml

    path = paused_run(state_dir)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data[field] = value
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    before = path.read_bytes()
    for args in (("status",), ("playbook", "runs"), ("playbook", "resume", "20261130-good", "--yes"),
                 ("state", "check")):
        result = cli("-i", str(inventory), *args)
        assert result.rc != ExitStatus.INTERNAL_ERROR and "Traceback" not in result.all, (args, result.all)
    check = cli("-i", str(inventory), "state", "check")
    assert f"{path}:1: not a routine run" in check.out and check.rc == ExitStatus.CHECK_WARNING, check.all
    assert path.read_bytes() == before


def test_a_change_with_params_of_the_wrong_kind_is_named_and_nothing_crashes(inventory, state_dir, cli) -> None:
    folder = state_dir / "scheduled"
    folder.mkdir(mode=0o700)
    (folder / "abcd1234.yaml").write_text("id: abcd1234\naction: user disable\nparams: [1, 2]\nstatus: held\n"
                                          "at: '2027-01-04T08:00:00+00:00'\nentity: commune\ntitle: x\nplan: []\n",
                                          encoding="utf-8")
    for args in (("status",), ("pending", "list"), ("state", "check")):
        result = cli("-i", str(inventory), *args)
        assert result.rc != ExitStatus.INTERNAL_ERROR and "Traceback" not in result.all, (args, result.all)
    listed = cli("-i", str(inventory), "pending", "list")
    assert f"{folder}/abcd1234.yaml:1: not a scheduled change" in listed.err, listed.all


@pytest.mark.parametrize("next_step", [99, 0, -2])
def test_a_step_number_out_of_the_routine_is_refused_and_runs_nothing(inventory, state_dir, cli, next_step) -> None:
    path = paused_run(state_dir, next_step=next_step)
    before = path.read_bytes()
    result = cli("-i", str(inventory), "playbook", "resume", "20261130-good", "--yes")
    assert result.rc == ExitStatus.USAGE, result.all
    assert f"its next step, {next_step}, is not a step of {TARGET} (1 to 2)" in result.err
    assert path.read_bytes() == before  # not marked finished, nothing run again


def test_a_run_is_resumed_by_one_itref_at_a_time(inventory, state_dir, cli) -> None:
    from itref.runner.routine import run_lock
    from itref.state.folder import StateFolder

    path = paused_run(state_dir)
    before = path.read_bytes()
    with run_lock(StateFolder(state_dir), "20261130-good"):  # another terminal or account is running it
        result = cli("-i", str(inventory), "playbook", "resume", "20261130-good", "--yes")
    assert result.rc == ExitStatus.USAGE, result.all
    assert "routine run 20261130-good is being run right now by another itref" in result.err
    assert path.read_bytes() == before
    done = cli("-i", str(inventory), "playbook", "resume", "20261130-good", "--yes")  # free again
    assert done.rc == ExitStatus.SUCCESS, done.all
    again = cli("-i", str(inventory), "playbook", "resume", "20261130-good", "--yes")
    assert again.rc == ExitStatus.USAGE and "already finished" in again.err, again.all


def test_a_run_another_itref_moved_on_meanwhile_is_not_run_again(inventory, state_dir) -> None:
    from itref.cli.state import CliState
    from itref.core.errors import UsageError
    from itref.runner.routine import load, run_routine, save
    from itref.state.folder import StateFolder

    path = paused_run(state_dir)
    folder = StateFolder(state_dir)
    mine = load(folder, "20261130-good")  # what this itref read before another one finished the run
    other = load(folder, "20261130-good")
    other.next_step, other.finished = 3, True
    save(folder, other)
    after_other = path.read_bytes()
    with pytest.raises(UsageError, match="moved on meanwhile"):
        run_routine(CliState(inventory=inventory).context(), TARGET, None, state=mine)  # type: ignore[arg-type]
    assert path.read_bytes() == after_other


def test_an_alias_bomb_in_a_waiver_is_refused_at_its_line_at_once(inventory, state_dir, cli) -> None:
    folder = state_dir / "waivers"
    folder.mkdir(mode=0o700)
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(7)]
    (folder / "bomb.yaml").write_text("check: linux.disk.free\nuntil: 2027-01-31\nreason: x\n" + "\n".join(lines)
                                      + "\nby: *h\n", encoding="utf-8")
    started = time.monotonic()
    result = cli("-i", str(inventory), "audit", "waivers")
    assert time.monotonic() - started < 30  # it used to run for minutes, expanding 9**7 values
    assert f"{folder}/bomb.yaml:5: YAML aliases (*a) are not read in state files" in result.err, result.all


@pytest.mark.parametrize("args", [("playbook", "resume", "r" * 300, "--yes"),
                                  ("playbook", "cancel", "r" * 300, "--reason", "x"),
                                  ("audit", "unwaive", "c" * 300),
                                  ("audit", "unwaive", "linux.disk.free", "--host", "h" * 300),
                                  ("pending", "cancel", "p" * 300, "--reason", "x")])
def test_an_id_too_long_for_a_file_name_is_a_usage_error(inventory, cli, args) -> None:
    result = cli("-i", str(inventory), *args)
    assert result.rc == ExitStatus.USAGE, result.all
    assert "Traceback" not in result.all and "File name too long" not in result.all, result.all


def test_a_state_sub_folder_that_is_a_symbolic_link_is_refused(inventory, state_dir, tmp_path, cli) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state_dir.mkdir(exist_ok=True, mode=0o700)
    (state_dir / "waivers").symlink_to(elsewhere)
    result = cli("-i", str(inventory), "audit", "waive", "linux.disk.free", "--until", "2099-01-31",
                 "--reason", "x")
    assert result.rc == ExitStatus.STATE_UNUSABLE, result.all
    assert f"{state_dir}/waivers is a symbolic link" in result.err
    assert list(elsewhere.iterdir()) == []
