"""The journal is append-only, safe under concurrent writers, and filterable."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itref.journal import Journal, JournalRecord


def _writer(path: str, worker: int, count: int) -> None:
    journal = Journal(Path(path))
    for i in range(count):
        journal.append(JournalRecord(action="run", target=f"w{worker}-{i} " + "x" * 3000, outcome="ok",
                                     host=f"h{worker}", run_id=f"r{worker}"))


def test_concurrent_writers_never_interleave_records(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    procs = [multiprocessing.Process(target=_writer, args=(str(path), w, 200)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 1200
    records = [json.loads(line) for line in lines]  # every line is one whole JSON record
    for w in range(6):
        mine = [r["target"].split()[0] for r in records if r["host"] == f"h{w}"]
        assert mine == [f"w{w}-{i}" for i in range(200)]  # each writer's order is kept


def test_journal_file_is_private(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j" / "journal.jsonl")
    journal.append(JournalRecord(action="run", target="true", outcome="ok"))
    assert (journal.path.stat().st_mode & 0o777) == 0o600


def test_query_filters_by_time_entity_and_host(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    old = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    journal.append(JournalRecord(action="run", target="a", outcome="ok", host="h1", entity="cpas", time=old))
    journal.append(JournalRecord(action="run", target="b", outcome="ok", host="h2", entity="cpas"))
    journal.append(JournalRecord(action="run", target="c", outcome="failed", host="h3", entity="commune"))
    week = datetime.now(UTC) - timedelta(days=7)
    assert [r.target for r in journal.query(since=week)] == ["b", "c"]
    assert [r.target for r in journal.query(entity="cpas")] == ["a", "b"]
    assert [r.target for r in journal.query(host="h3")] == ["c"]


def test_damaged_line_is_skipped_and_counted(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append(JournalRecord(action="run", target="a", outcome="ok"))
    with journal.path.open("a") as fh:
        fh.write('{"action": "run", "tar')
    journal.append(JournalRecord(action="run", target="b", outcome="ok"))
    assert [r.target for r in journal.records()] == ["a", "b"]
    assert journal.damaged == 1


def test_journal_command_filters_and_rejects_bad_since(cli, make_inventory) -> None:
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY)
    assert cli("-i", str(inv), "run", "--", "true").rc == 0
    out = json.loads(cli("journal", "--entity", "cpas", "-f", "json").out)
    assert [r["host"] for r in out] == ["cpas-pc"]
    assert len(json.loads(cli("journal", "--since", "1h", "-f", "json").out)) == 3
    assert cli("journal", "--since", "yesterday-ish").rc == 2
