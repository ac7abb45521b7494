"""The pack carries the decisions a stand-in must know: every waiver in force with its reason and who decided
it, and whether the schedule that makes the scheduled changes runs at all (before: neither was in the pack, and
it said 'itref schedule run makes them then' on a machine where nothing ran it)."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_pack_lists_waivers_and_says_the_schedule_is_not_installed(cli, tmp_path: Path, monkeypatch) -> None:
    from itref.i18n import set_language

    monkeypatch.setenv("ITREF_LANG", "en")
    set_language("en")
    monkeypatch.setenv("ITREF_CRONTAB_FILE", str(tmp_path / "crontab"))  # this machine's crontab: empty
    shutil.copy(REPO / "inventory.yaml", tmp_path / "inventory.yaml")
    shutil.copytree(REPO / "playbooks", tmp_path / "playbooks")
    inv = str(tmp_path / "inventory.yaml")
    assert cli("-i", inv, "audit", "waive", "linux.disk.free", "--host", "admin-workstation", "--until",
               "2099-01-31", "--reason", "new disk ordered").rc == 0
    assert cli("-i", inv, "audit", "waive", "linux.updates", "--until", "2000-01-01", "--reason", "old").rc == 2
    out = tmp_path / "pack"
    result = cli("-i", inv, "handover", "--output", str(out))
    assert result.rc == 0, result.all
    index = (out / "index.md").read_text(encoding="utf-8")
    waivers = index.split("Waivers in force", 2)[2]  # after the contents' line
    assert "`linux.disk.free` on admin-workstation — until 2099-01-31: new disk ordered (decided by" in waivers
    scheduled = index.split("Scheduled changes", 2)[2].split("Waivers in force", 1)[0]
    assert "This machine does not run itref's schedule for this project" in scheduled, scheduled
    assert "`itref schedule install`" in scheduled
