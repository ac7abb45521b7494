"""The project's state folder is the shared memory: beside the inventory, signed by a person, safe for two
Unix accounts writing at once, never readable by others, and mergeable between clones without conflict."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from itref.state.folder import StateFolder
from tests.conftest import LOCAL_INVENTORY, journal_records
from tests.state.accounts import as_account, ensure_account, ensure_group, python_as_others

GROUP = "itref-state-test"


def test_the_state_lives_beside_the_inventory_unless_the_inventory_names_another_folder(
        itref_bin, tmp_path: Path) -> None:
    env = {"ITREF_STATE_DIR": ""}  # no override: the project decides
    project = tmp_path / "project"
    project.mkdir()
    (project / "inventory.yaml").write_text(LOCAL_INVENTORY, encoding="utf-8")
    assert itref_bin("-i", str(project / "inventory.yaml"), "run", "--", "true", env=env).rc == 0
    assert list((project / "state").glob("journal/*/*.jsonl"))
    (project / "inventory.yaml").write_text(LOCAL_INVENTORY + "state: ../memory\n", encoding="utf-8")
    assert itref_bin("-i", str(project / "inventory.yaml"), "run", "--", "true", env=env).rc == 0
    assert list((tmp_path / "memory").glob("journal/*/*.jsonl"))
    shown = json.loads(itref_bin("-i", str(project / "inventory.yaml"), "-f", "json", "state", "show", env=env).out)
    assert shown["state"] == str(tmp_path / "project" / ".." / "memory") or Path(shown["state"]).resolve() == (
        tmp_path / "memory").resolve()
    assert "projects" in shown["cache"]  # caches stay on this machine, not in the shared folder


def test_a_state_folder_other_accounts_can_read_is_refused_in_one_sentence(cli, make_inventory, tmp_path) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    assert cli("-i", str(inv), "run", "--", "true").rc == 0
    folder = Path(os.environ["ITREF_STATE_DIR"])
    folder.chmod(0o755)  # as a git clone leaves it
    result = cli("-i", str(inv), "journal")
    assert result.rc == 9
    assert result.err.strip() == (f"other accounts of this machine can read the state folder {folder} (mode 0755): "
                                  f"it holds the journal and the histories. Run: chmod o-rwx {folder}")
    folder.chmod(0o700)
    assert cli("-i", str(inv), "journal").rc == 0


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from itref.journal import Journal, JournalRecord
    from itref.state.folder import StateFolder

    journal = Journal(StateFolder(Path(sys.argv[1]), group=sys.argv[2]))
    for i in range(int(sys.argv[3])):
        journal.append(JournalRecord(action="run", target=f"{sys.argv[4]}-{i:04d} " + "x" * 2000, outcome="ok"))
""")


def test_two_unix_accounts_writing_one_state_folder_at_once_lose_and_interleave_nothing(tmp_path: Path) -> None:
    referent = ensure_account("itref-t-referent", GROUP)
    standin = ensure_account("itref-t-standin", GROUP)
    gid = ensure_group(GROUP)
    project = Path(f"/tmp/itref-shared-{uuid.uuid4().hex[:8]}")
    project.mkdir(mode=0o755)
    try:
        (project / "inventory.yaml").write_text(LOCAL_INVENTORY + f"state_group: {GROUP}\n", encoding="utf-8")
        (project / "inventory.yaml").chmod(0o644)
        folder = StateFolder(project / "state", group=GROUP)
        folder.ensure()  # made by root, as the referent's first command would: 2770, group GROUP
        python, env = python_as_others()
        script = project / "writer.py"
        script.write_text(WRITER, encoding="utf-8")
        script.chmod(0o644)
        count = 400
        procs = [as_account(who, [python, str(script), str(folder.path), GROUP, str(count), who.name], env)
                 for who in (referent, standin, referent, standin)]
        # and the real command line, by both, at the same time
        cli_env = {**env, "ITREF_STATE_DIR": ""}
        procs += [as_account(who, [python, "-m", "itref", "-i", str(project / "inventory.yaml"), "run", "--",
                                   "true"], cli_env) for who in (referent, standin)]
        for p in procs:
            _out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        records = journal_records(folder.path)
        for who in (referent, standin):
            mine = [r["target"].split()[0] for r in records if r["account"] == who.name and r["action"] == "run"
                    and r["target"].startswith(who.name)]
            assert sorted(mine) == sorted([f"{who.name}-{i:04d}" for i in range(count)] * 2)
            assert sum(1 for r in records if r["account"] == who.name and r["target"] == "true") == 3
        assert len(records) == 4 * count + 6
        files = list(folder.path.glob("journal/*/*.jsonl"))
        assert {p.name.split("@")[0] for p in files} == {referent.name, standin.name}  # one file each
        for path in [folder.path, *folder.path.rglob("*")]:
            st = path.stat()
            assert st.st_gid == gid, path
            assert stat.S_IMODE(st.st_mode) & 0o007 == 0, path  # never readable by others
            if path.is_dir():
                assert stat.S_IMODE(st.st_mode) == 0o2770, path
            elif path.suffix == ".jsonl":
                assert stat.S_IMODE(st.st_mode) == 0o660, path
    finally:
        subprocess.run(["rm", "-rf", str(project)], check=False)


def test_an_account_outside_the_state_group_is_told_so(tmp_path: Path) -> None:
    outsider = ensure_account("itref-t-outsider")
    ensure_group(GROUP)
    project = Path(f"/tmp/itref-shared-{uuid.uuid4().hex[:8]}")
    project.mkdir(mode=0o755)
    try:
        (project / "inventory.yaml").write_text(LOCAL_INVENTORY + f"state_group: {GROUP}\n", encoding="utf-8")
        (project / "inventory.yaml").chmod(0o644)
        StateFolder(project / "state", group=GROUP).ensure()
        python, env = python_as_others()
        proc = as_account(outsider, [python, "-m", "itref", "-i", str(project / "inventory.yaml"), "run", "--",
                                     "true"], {**env, "ITREF_STATE_DIR": ""})
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 9, err
        assert "itref may not write in" in err and "Traceback" not in err
    finally:
        subprocess.run(["rm", "-rf", str(project)], check=False)


def on_a_full_disk(project: Path, command: str, tmp_path: Path, after: str = "") -> tuple[int, str]:
    """Run ``itref COMMAND`` in ``project`` whose ``state/`` is a tmpfs of 64 KiB, filled after a first record
    (in a private mount namespace); ``after`` is shell run before the tmpfs goes away. Return (exit, stderr)."""
    import sys

    state = project / "state"
    script = textwrap.dedent(f"""
        set -e
        mount -t tmpfs -o size=64k,mode=0700 tmpfs {state}
        {sys.executable} -m itref -i {project / 'inventory.yaml'} run -- true
        head -c 1000000 /dev/zero > {state}/filler 2>/dev/null || true
        set +e
        {sys.executable} -m itref -i {project / 'inventory.yaml'} {command} >/dev/null 2>{tmp_path / 'err'}
        echo $? > {tmp_path / 'rc'}
        {after}
        true
    """)
    subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], check=True,
                   env={**os.environ, "ITREF_STATE_DIR": ""}, timeout=120)
    return int((tmp_path / "rc").read_text()), (tmp_path / "err").read_text()


@pytest.mark.parametrize("what", ["journal", "audit"])
def test_a_full_disk_leaves_no_half_record_and_says_so(tmp_path: Path, what: str) -> None:
    """A state folder on a full file system: exit 9, one sentence naming the folder and its free space, and every
    record either whole or absent (a tmpfs of 64 KiB, filled, in a private mount namespace)."""
    import shutil

    project = tmp_path / "project"
    project.mkdir()
    (project / "inventory.yaml").write_text(LOCAL_INVENTORY, encoding="utf-8")
    state = project / "state"
    state.mkdir(mode=0o700)
    # a record longer than what is left of the journal file's last page: the write stops half-way
    command = f"run -- echo {'x' * 9000}" if what == "journal" else "audit --checks linux.load"
    rc, err = on_a_full_disk(project, command, tmp_path, after=f"""
        cp -r {state}/journal {tmp_path / 'journal-copy'}
        [ -d {state}/audits ] && cp -r {state}/audits {tmp_path / 'audits-copy'}""")
    assert rc == 9, err
    assert f"the disk holding {state}" in err and "is full" in err and "free" in err and "Traceback" not in err
    lines = [line for path in (tmp_path / "journal-copy").rglob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(lines) == 3  # the first run's three records, whole; nothing of the second
    for line in lines:
        assert json.loads(line)["target"] == "true"
    if (tmp_path / "audits-copy").exists():
        assert not list((tmp_path / "audits-copy").rglob("*.jsonl"))  # an audit run file is whole or absent
    shutil.rmtree(tmp_path / "journal-copy", ignore_errors=True)


@pytest.mark.parametrize("command", ["run -- touch {marker}", "playbook run shared/mark --yes"])
def test_on_a_full_disk_nothing_is_run_that_could_not_be_journaled(tmp_path: Path, command: str) -> None:
    """Before: `itref run` ran the command on the host, showed its output, and only then exited 9 because its
    journal line could not be written. Work that cannot be recorded is refused first."""

    project = tmp_path / "project"
    (project / "playbooks").mkdir(parents=True)
    marker = tmp_path / "ran"
    (project / "inventory.yaml").write_text(LOCAL_INVENTORY, encoding="utf-8")
    (project / "playbooks" / "shared.yaml").write_text(textwrap.dedent(f"""\
        entity: shared
        routines:
          mark:
            description: Leave a mark
            steps:
              - description: Touch the marker
                run: {{command: [touch, "{marker}"]}}
        """), encoding="utf-8")
    state = project / "state"
    state.mkdir(mode=0o700)
    rc, err = on_a_full_disk(project, command.format(marker=marker), tmp_path)
    assert rc == 9, err
    assert f"the disk holding {state}" in err and "is full" in err and "Traceback" not in err
    assert not marker.exists()  # refused before running, not after
