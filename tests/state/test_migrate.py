"""Moving in: the per-user state of earlier itref versions goes into the project's state folder, once, saying what
moved; any command meanwhile says how."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from itref.journal import Journal
from itref.state.folder import StateFolder
from tests.conftest import LOCAL_INVENTORY

OLD_AUDITS = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, time TEXT NOT NULL, worst TEXT NOT NULL, scope TEXT NOT NULL DEFAULT '');
CREATE TABLE findings (run_id TEXT NOT NULL, key TEXT NOT NULL, check_id TEXT NOT NULL, severity TEXT NOT NULL,
  entity TEXT, host TEXT, subject TEXT, message TEXT NOT NULL, waived INTEGER NOT NULL);
INSERT INTO runs VALUES ('run-a', '2026-10-01T07:00:00+00:00', 'critical', 'here|linux.disk.free');
INSERT INTO findings VALUES ('run-a', 'linux.disk.free|shared|here|/srv', 'linux.disk.free', 'critical', 'shared',
  'here', '/srv', '/srv is 97% full', 0);
INSERT INTO runs VALUES ('run-b', '2026-10-02T07:00:00+00:00', 'ok', 'here|linux.disk.free');
INSERT INTO findings VALUES ('run-b', 'linux.disk.free|shared|here|/srv', 'linux.disk.free', 'ok', 'shared',
  'here', '/srv', '/srv is 40% full', 0);
"""
OLD_BACKUPS = """
CREATE TABLE checks (time TEXT NOT NULL, backup TEXT NOT NULL, entity TEXT NOT NULL, kind TEXT NOT NULL,
  status TEXT NOT NULL, snapshot_id TEXT, snapshot_time TEXT, size INTEGER, files INTEGER, count INTEGER,
  problem TEXT, fingerprint TEXT, config TEXT, opened TEXT, facts TEXT);
CREATE TABLE verifies (time TEXT NOT NULL, backup TEXT NOT NULL, entity TEXT NOT NULL, ok INTEGER NOT NULL,
  detail TEXT);
CREATE TABLE drills (time TEXT NOT NULL, backup TEXT NOT NULL, entity TEXT NOT NULL, ok INTEGER NOT NULL,
  files TEXT, detail TEXT);
INSERT INTO checks VALUES ('2026-10-01T08:00:00+00:00', 'nas', 'shared', 'restic', 'ok', 'abc',
  '2026-10-01T02:00:00+00:00', 1000, 10, 3, NULL, NULL, NULL, NULL, NULL);
INSERT INTO verifies VALUES ('2026-10-03T08:00:00+00:00', 'nas', 'shared', 0, 'pack 1234 is missing');
INSERT INTO drills VALUES ('2026-10-04T08:00:00+00:00', 'nas', 'shared', 1, '/etc/hosts
/etc/passwd', '2 files identical');
"""


def old_state(folder: Path) -> None:
    """Write the state of an earlier itref, as it kept it per user."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "journal.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"action": "run", "target": "df -h", "outcome": "ok", "host": "here", "entity": "shared", "rc": 0,
         "operator": "jdupont@pc-referent", "time": "2026-10-01T09:00:00+02:00", "run_id": "r1"},
        {"action": "ad", "target": "modify CN=Luc", "outcome": "changed", "operator": "root@srv-admin",
         "time": "2026-10-02T09:00:00+02:00", "run_id": "r2"},
    ]) + "\n")
    (folder / "waivers.json").write_text(json.dumps([{"check": "linux.disk.free", "host": "here",
                                                      "until": "2099-01-31", "reason": "disque commandé",
                                                      "by": "jdupont@pc-referent", "created": "2026-10-01"}]))
    (folder / "ad-departed").mkdir()
    (folder / "ad-departed" / "lmartin.json").write_text(json.dumps({
        "login": "lmartin", "dn": "CN=Luc Martin,OU=Departed,DC=x", "ou": "OU=Social,DC=x", "groups": ["CN=G,DC=x"],
        "attributes": {"description": None, "userAccountControl": "512"}, "entity": "cpas", "reason": "fin",
        "date": "2026-10-02"}))
    (folder / "routines").mkdir()
    (folder / "routines" / "abc123.json").write_text(json.dumps({
        "run_id": "abc123", "target": "shared/check", "params": {"who": "x"}, "next_step": 2, "records": [
            {"number": 1, "status": "ok", "message": "done", "at": "2026-10-03T10:00:00+00:00"}],
        "finished": False, "started": "2026-10-03T10:00:00+00:00"}))
    for name, sql in (("audits.sqlite", OLD_AUDITS), ("backups.sqlite", OLD_BACKUPS)):
        db = sqlite3.connect(folder / name)
        db.executescript(sql)
        db.commit()
        db.close()


def test_old_per_user_state_moves_in_once_and_every_command_says_how_until_then(itref_bin, tmp_path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    inv = project / "inventory.yaml"
    inv.write_text(LOCAL_INVENTORY)
    old = tmp_path / "home" / ".local" / "state" / "itref"
    old_state(old)
    env = {"ITREF_STATE_DIR": "", "XDG_STATE_HOME": str(tmp_path / "home" / ".local" / "state")}
    before = itref_bin("-i", str(inv), "playbook", "list", env=env)
    assert f"Note: {old} holds the journal and histories of an earlier itref" in before.err
    assert before.err.count("itref state migrate") == 1

    moved = itref_bin("-i", str(inv), "state", "migrate", env=env)
    assert moved.rc == 0, moved.all
    for line in ("journal records: 2 moved, 0 already there", "waivers: 1 moved", "offboarding snapshots: 1 moved",
                 "routine runs: 1 moved", "audit runs: 2 moved", "backup records: 3 moved"):
        assert line in moved.out, line
    again = itref_bin("-i", str(inv), "state", "migrate", env=env)
    assert "journal records: 0 moved, 2 already there" in again.out and "audit runs: 0 moved, 2 already there" in \
        again.out
    assert "Note:" not in itref_bin("-i", str(inv), "playbook", "list", env=env).err  # the project has records now

    journal = json.loads(itref_bin("-i", str(inv), "-f", "json", "journal", env=env).out)
    moved_records = [r for r in journal if r["action"] in ("run", "ad")]
    assert [(r["target"], r["who"]) for r in moved_records] == [("df -h", "jdupont"),
                                                                 ("modify CN=Luc", "root, person unknown")]
    waivers = itref_bin("-i", str(inv), "audit", "waivers", env=env).out
    assert "linux.disk.free here" in waivers and "disque commandé (jdupont)" in waivers
    diff = json.loads(itref_bin("-i", str(inv), "-f", "json", "audit", "diff", env=env).out)
    assert diff["from"] == "run-a" and diff["to"] == "run-b"
    assert [r["key"] for r in diff["resolved"]] == ["linux.disk.free|shared|here|/srv"]
    state = project / "state"
    assert (state / "departed" / "lmartin.yaml").is_file() and (state / "routines" / "abc123.yaml").is_file()
    backups = [json.loads(line) for p in state.glob("backups/*/*.jsonl") for line in p.read_text().splitlines()]
    assert sorted(r["type"] for r in backups) == ["check", "drill", "verify"]
    assert old.joinpath("journal.jsonl").is_file()  # the old files are left as they were


def test_an_earlier_itref_state_in_the_folder_itref_state_dir_names_is_moved_in_place(cli, make_inventory,
                                                                                     state_dir) -> None:
    old_state(state_dir)
    inv = make_inventory(LOCAL_INVENTORY)
    hint = cli("-i", str(inv), "playbook", "list")
    assert "itref state migrate" in hint.err
    assert cli("-i", str(inv), "state", "migrate").rc == 0
    assert [r.target for r in Journal(StateFolder(state_dir)).query(host="here")] == ["df -h"]
    assert "itref state migrate" not in cli("-i", str(inv), "playbook", "list").err
