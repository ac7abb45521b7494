"""The journal is append-only, signed by a person, safe under concurrent writers, and filterable."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itref.journal import Journal, JournalRecord
from itref.state.folder import StateFolder


def _writer(path: str, worker: int, count: int) -> None:
    journal = Journal(StateFolder(Path(path)))
    for i in range(count):
        journal.append(JournalRecord(action="run", target=f"w{worker}-{i} " + "x" * 3000, outcome="ok",
                                     host=f"h{worker}", run_id=f"r{worker}"))


def test_concurrent_writers_of_one_account_never_interleave_records(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    procs = [multiprocessing.Process(target=_writer, args=(str(folder), w, 200)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    (path,) = folder.glob("journal/*/*.jsonl")  # one account on one machine: one file
    lines = path.read_text().splitlines()
    assert len(lines) == 1200
    records = [json.loads(line) for line in lines]  # every line is one whole JSON record
    for w in range(6):
        mine = [r["target"].split()[0] for r in records if r["host"] == f"h{w}"]
        assert mine == [f"w{w}-{i}" for i in range(200)]  # each writer's order is kept


def test_state_folder_and_journal_are_private(tmp_path: Path) -> None:
    journal = Journal(StateFolder(tmp_path / "state"))
    journal.append(JournalRecord(action="run", target="true", outcome="ok"))
    (path,) = (tmp_path / "state").glob("journal/*/*.jsonl")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert ((tmp_path / "state").stat().st_mode & 0o777) == 0o700


def test_every_record_is_signed_with_the_person_account_and_machine(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ITREF_OPERATOR", "Sophie Martin")
    journal = Journal(StateFolder(tmp_path / "state"))
    journal.append(JournalRecord(action="run", target="true", outcome="ok"))
    (record,) = journal.records()
    assert record.operator == "Sophie Martin" and record.who == "Sophie Martin"
    assert record.account and record.machine


def test_root_without_a_name_is_recorded_as_person_unknown(tmp_path: Path, monkeypatch) -> None:
    from itref.state import operator

    monkeypatch.delenv("ITREF_OPERATOR", raising=False)
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setattr(operator, "login", lambda: "root")
    monkeypatch.setattr(operator, "_git_user", lambda folder: None)
    journal = Journal(StateFolder(tmp_path / "state"))
    journal.append(JournalRecord(action="run", target="true", outcome="ok"))
    (record,) = journal.records()
    assert record.operator is None and record.account == "root"
    assert record.who == "root, person unknown"


def test_who_acts_follows_operator_then_sudo_then_git_then_login(tmp_path: Path, monkeypatch) -> None:
    import subprocess

    from itref.state import operator

    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "config", "user.name", "Git Person"], check=True)
    monkeypatch.setattr(operator, "login", lambda: "jdupont")
    operator._git_user.cache_clear()
    monkeypatch.setenv("ITREF_OPERATOR", "Named Person")
    monkeypatch.setenv("SUDO_USER", "sudoer")
    assert operator.current(project).name == "Named Person"
    monkeypatch.delenv("ITREF_OPERATOR")
    assert operator.current(project).name == "sudoer"
    monkeypatch.delenv("SUDO_USER")
    assert operator.current(project).name == "Git Person"
    assert operator.current(None).name == "jdupont"


def test_query_filters_by_time_entity_host_and_operator(tmp_path: Path, monkeypatch) -> None:
    journal = Journal(StateFolder(tmp_path / "state"))
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    journal.append(JournalRecord(action="run", target="a", outcome="ok", host="h1", entity="cpas", time=old,
                                 operator="Jean", account="jean", machine="pc"))
    journal.append(JournalRecord(action="run", target="b", outcome="ok", host="h2", entity="cpas",
                                 operator="Sophie", account="sophie", machine="pc"))
    journal.append(JournalRecord(action="run", target="c", outcome="failed", host="h3", entity="commune",
                                 operator="Jean", account="jean", machine="pc"))
    week = datetime.now(UTC) - timedelta(days=7)
    assert [r.target for r in journal.query(since=week)] == ["b", "c"]
    assert [r.target for r in journal.query(entity="cpas")] == ["a", "b"]
    assert [r.target for r in journal.query(host="h3")] == ["c"]
    assert [r.target for r in journal.query(operator="jean")] == ["a", "c"]
    # the record of 40 days ago is in its own month folder: a read since last week never opens it
    assert len({p.parent.name for p in (tmp_path / "state").glob("journal/*/*.jsonl")}) >= 1


def test_damaged_line_is_skipped_and_located(tmp_path: Path) -> None:
    journal = Journal(StateFolder(tmp_path / "state"))
    journal.append(JournalRecord(action="run", target="a", outcome="ok"))
    (path,) = (tmp_path / "state").glob("journal/*/*.jsonl")
    with path.open("a") as fh:
        fh.write('{"action": "run", "tar')
    journal.append(JournalRecord(action="run", target="b", outcome="ok"))  # starts on a line of its own
    assert [r.target for r in journal.records()] == ["a", "b"]
    assert journal.damaged == 1
    assert journal.stream.damage.places == [(path, 2)]


def test_journal_command_filters_and_rejects_bad_since(cli, make_inventory) -> None:
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY)
    assert cli("-i", str(inv), "run", "--", "true").rc == 0
    out = json.loads(cli("-i", str(inv), "journal", "--entity", "cpas", "-f", "json").out)
    assert [r["host"] for r in out] == ["cpas-pc"]
    assert len(json.loads(cli("-i", str(inv), "journal", "--since", "1h", "-f", "json").out)) == 3
    assert cli("-i", str(inv), "journal", "--since", "yesterday-ish").rc == 2
