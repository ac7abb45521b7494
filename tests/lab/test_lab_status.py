"""Acceptance on the practice lab: after a week of the referent's work (audits, scenarios breaking the lab, backup
checks, routines left waiting, departures scheduled, one of them overtaken by a change made by hand, a waiver),
the stand-in's first command of the day, ``itref status``, lists exactly that, one line each with the command to
continue, in French (the lab's inventory says ``language: fr``)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from itref.cron import previous_fire
from tests.lab.test_lab import Lab, started_lab

pytestmark = pytest.mark.peer

SCHEDULED = {"commune/monthly-audit": "0 7 1 * *", "cpas/weekly-backup-check": "0 8 * * 1",
             "cpas/quarterly-restore-drill": "0 9 1 1,4,7,10 *", "shared/workstation-health": "0 8 * * 1-5",
             "shared/monthly-audit": "0 7 1 * *"}
BACKUPS = {"commune": {"commune-borg", "image-systeme"}, "cpas": {"cpas-restic", "sql-dumps"},
           "asbl-sports": {"asbl-restic"}}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with started_lab("labstatus", 4, tmp_path_factory.mktemp("lab-status-state")) as the_lab:
        yield the_lab


def ok(proc, *codes: int) -> str:
    assert proc.returncode in (codes or (0,)), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def status(lab: Lab, now: datetime) -> tuple[int, list[dict]]:
    """Return the exit code and the items of ``itref status --now NOW``, in French as the lab's inventory says."""
    proc = lab.itref("--lang", "fr", "-i", lab.inventory, "-f", "json", "status", "--now", now.isoformat())
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    return proc.returncode, [i for e in data["entities"] for i in e["items"]]


def key(item: dict) -> tuple:
    """Return what identifies a status line, whatever its wording."""
    d = item["data"]
    return {
        "audit": lambda: ("audit", item["entity"]),
        "finding": lambda: ("finding", item["entity"], d["check"], d["host"]),
        "certificate": lambda: ("certificate", item["entity"], d["days"] <= 7),
        "backup": lambda: ("backup", item["entity"], d["backup"]),
        "routine": lambda: ("routine", d["routine"], d["state"]),
        "run": lambda: ("run", d["routine"]),
        "change": lambda: ("change", d["params"]["login"], d["status"]),
        "waiver": lambda: ("waiver", item["entity"], d["check"], d["host"]),
        "schedule": lambda: ("schedule",),
    }[item["kind"]]()


def routine_state(schedule: str, now: datetime) -> str:
    fired = previous_fire(schedule, now)
    assert fired is not None
    return "due" if fired.date() == now.astimezone().date() else "overdue"


def test_the_stand_ins_first_command_lists_exactly_what_the_week_left_in_french(
        lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITREF_CRONTAB_FILE", str(tmp_path / "crontab"))  # itref's schedule is not installed here
    monkeypatch.setenv("ITREF_OPERATOR", "Jean Dupont")
    inv = lab.inventory
    ok(lab.itref("-i", inv, "audit"), 0, 6, 7, 8)  # the referent's first audit of the lab
    for scenario in ("disk-full", "cert-expiring"):
        ok(lab.itref("lab", "scenario", scenario, "--dir", str(lab.directory)))
    second = json.loads(ok(lab.itref("-i", inv, "-f", "json", "audit"), 6, 7, 8))  # the scenarios' damage is new
    audited = {f["entity"] for f in second["findings"]}  # the directory's findings are about entities too (by OU)
    assert {"commune", "cpas", "shared", None} <= audited
    ok(lab.itref("-i", inv, "backup", "check"), 0, 6, 7, 8)

    now = datetime.now(UTC).astimezone() + timedelta(minutes=1)
    _rc, items = status(lab, now)
    assert ("routine", "shared/monthly-audit", routine_state("0 7 1 * *", now)) in {key(i) for i in items}
    ok(lab.itref("-i", inv, "playbook", "run", "shared/monthly-audit", "--yes"), 0, 1, 6)  # 6: its audit warns

    # two routines left waiting at a manual step (nobody at the terminal to confirm it)
    ok(lab.itref("-i", inv, "playbook", "run", "commune/printer-room-check"), 1)
    ok(lab.itref("-i", inv, "playbook", "run", "cpas/offboard-leaver", "--set", "login=dwauters",
                 "--set", "reason=mutation"), 1)
    # a departure on Friday evening, and one overtaken by a move made meanwhile
    friday = (datetime.now(UTC).astimezone() + timedelta(days=2)).strftime("%Y-%m-%d 18:00")
    ok(lab.itref("-i", inv, "ad", "user", "offboard", "thomas.leroy", "--reason", "fin de contrat", "--at", friday,
                 "--yes"))
    soon = (datetime.now(UTC).astimezone() + timedelta(minutes=3)).replace(second=0, microsecond=0)
    ok(lab.itref("-i", inv, "ad", "user", "offboard", "lmaes", "--reason", "mutation", "--at",
                 soon.strftime("%Y-%m-%d %H:%M"), "--yes"))
    ok(lab.itref("-i", inv, "ad", "user", "move", "lmaes", "OU=Administration,OU=CPAS,DC=lab,DC=example,DC=test",
                 "--yes"))
    held = lab.itref("-i", inv, "-f", "json", "schedule", "run", "--now", soon.isoformat())
    assert held.returncode == ExitStatus.FAILURE and json.loads(held.stdout)[0]["result"] == "held", held.stdout
    until = (date.today() + timedelta(days=10)).isoformat()
    ok(lab.itref("-i", inv, "audit", "waive", "windows.updates.age", "--host", "srv-fichiers", "--until", until,
                 "--reason", "mises à jour prévues avec le prestataire"))

    morning = max(datetime.now(UTC).astimezone() + timedelta(minutes=1), soon)
    rc, items = status(lab, morning)
    assert rc == ExitStatus.CHECK_CRITICAL
    expected = {
        *(("audit", e) for e in audited),
        ("finding", "cpas", "linux.disk.free", "srv-app"),
        ("certificate", "commune", True),
        *(("backup", e, b) for e, names in BACKUPS.items() for b in names),
        *(("routine", r, routine_state(s, morning)) for r, s in SCHEDULED.items() if r != "shared/monthly-audit"),
        ("run", "commune/printer-room-check"), ("run", "cpas/offboard-leaver"),
        ("change", "thomas.leroy", "pending"), ("change", "lmaes", "held"),
        ("waiver", "commune", "windows.updates.age", "srv-fichiers"),
        ("schedule",),
    }
    got = Counter(key(i) for i in items)
    assert got == Counter(expected), (got - Counter(expected), Counter(expected) - got)  # each once, nothing more
    assert all(i["command"].startswith("itref ") for i in items)

    # on screen, in French: one line per item, each with its command
    screen = ok(lab.itref("--lang", "fr", "-i", inv, "status", "--now", morning.isoformat()),
                ExitStatus.CHECK_CRITICAL)
    lines = [line for line in screen.splitlines() if " → itref " in line]
    assert len(lines) == len(items)
    for item in items:
        assert any(line.endswith("→ " + item["command"]) and item["text"] in line for line in lines), item
    for french in ("ce qui demande une personne le", "Dernier audit le", "Exécution inachevée",
                   "n'a PAS été appliqué", "La dérogation de windows.updates.age sur srv-fichiers prend fin",
                   "Le certificat de", "Cette machine ne fait pas tourner la planification d'itref",
                   "Nouveau : srv-app:", "[CRITIQUE]", "[AVERTISSEMENT]"):
        assert french in screen, french
    assert "routine commune/monthly-audit" in screen.lower()
