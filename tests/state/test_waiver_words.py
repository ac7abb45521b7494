"""A waiver is a decision a reviewer must find: journaled under the entity of its host (so `itref journal
--entity` and the pack's per-entity journal show it), and a waiver given over someone else's says whose it
replaces. The journal reads in the person's language (its outcome words and dates)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from itref.core.status import ExitStatus

pytestmark = pytest.mark.usefixtures("english")


def test_a_waiver_on_a_host_is_journaled_under_its_entity_and_a_replacement_is_said(starter: Path, cli) -> None:
    inv = str(starter)
    first = cli("-i", inv, "audit", "waive", "linux.disk.free", "--host", "admin-workstation", "--until",
                "2099-01-31", "--reason", "new disk ordered")
    assert first.rc == ExitStatus.SUCCESS and "replaces" not in first.err, first.all
    assert "linux.disk.free waived on admin-workstation until 2099-01-31" in first.out
    second = cli("-i", inv, "audit", "waive", "linux.disk.free", "--host", "admin-workstation", "--until",
                 "2099-06-30", "--reason", "disk delayed")
    assert second.rc == ExitStatus.SUCCESS, second.all
    assert "This replaces the waiver" in second.err and "until 2099-01-31: new disk ordered" in second.err
    shared = json.loads(cli("-i", inv, "journal", "--entity", "shared", "-f", "json").out)
    assert [r["action"] for r in shared].count("audit waive") == 2, shared
    assert cli("-i", inv, "audit", "unwaive", "linux.disk.free", "--host", "admin-workstation").rc == 0
    shared = json.loads(cli("-i", inv, "journal", "--entity", "shared", "-f", "json").out)
    assert "audit unwaive" in [r["action"] for r in shared]


def test_the_journal_reads_in_french(starter: Path, cli, monkeypatch) -> None:
    from itref.i18n import set_language

    inv = str(starter)
    assert cli("-i", inv, "audit", "waive", "linux.disk.free", "--host", "admin-workstation", "--until",
               "2099-01-31", "--reason", "disque commandé").rc == 0
    assert cli("-i", inv, "audit", "--checks", "linux.load").rc in (0, 6, 7)
    monkeypatch.setenv("ITREF_LANG", "fr")
    set_language("fr")
    monkeypatch.setenv("COLUMNS", "250")
    out = cli("-i", inv, "journal").out
    line = next(line for line in out.splitlines() if "dérogation donnée" in line)  # stored as "audit waive"
    assert "modifié (jusqu'au 2099-01-31 : disque commandé)" in line and "changed" not in line, line
    assert "T" not in line.split("│")[1], line  # a date as people write it, not 2026-12-03T15:04:00+00:00
    audit = next(line for line in out.splitlines() if re.search(r"│ audit +│", line))
    assert "audit waive" not in out and "routine start" not in out
    assert "1 machine(s), 1 contrôle(s)" in audit and "nouveau(x)" in audit and "host(s)" not in audit, audit
    assert "dérogation pour linux.disk.free sur admin-workstation" in cli(
        "-i", inv, "audit", "waive", "linux.disk.free", "--host", "admin-workstation", "--until", "2099-02-01",
        "--reason", "x").out
