"""``itref status``: what needs a person today, read from the shared state (written here by itref's own writers and
commands) and the inventory only: the last audit and what is new, backups and drills against their policy, routines
due by their schedule, unfinished runs, scheduled changes, waivers and certificates ending soon, this machine's
schedule; one line each with the command to continue; exit code by the worst line; JSON, Markdown, French."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from itref.core.findings import Finding, Severity
from itref.core.status import ExitStatus
from tests.conftest import journal_records

INVENTORY = """\
version: 1
organisation: Commune de Test
operators:
  - {name: Jean Dupont, role: referent}
entities:
  commune:
    title: Administration communale
    hosts:
      here: {connection: local}
  cpas:
    title: CPAS
    hosts:
      cpas-pc: {connection: local}
  asbl:
    title: ASBL du sport
"""

COMMUNE = """\
entity: commune
routines:
  monthly-check:
    description: Monthly check
    schedule: "0 7 1 * *"
    steps:
      - {description: Look, run: {command: ["true"]}}
  by-hand:
    description: Only by hand
    steps:
      - {description: Look, run: {command: ["true"]}}
"""

CPAS = """\
entity: cpas
routines:
  handover-call:
    description: Call someone
    ask:
      who: {prompt: Who}
      pin: {prompt: PIN, secret: true}
    steps:
      - {description: Note it, run: {command: ["true"]}}
      - {id: call, description: Call the person, manual: "Call {who} about the files"}
backups:
  - {name: nas-restic, kind: restic, repository: /srv/restic/cpas, max_age: 26h, drill: {every: 90d}}
  - {name: dumps, kind: files, path: /srv/dumps, max_age: 26h}
"""


@pytest.fixture
def crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This machine's crontab, as a plain file (empty: nothing installed)."""
    path = tmp_path / "crontab"
    monkeypatch.setenv("ITREF_CRONTAB_FILE", str(path))
    return path


@pytest.fixture
def project(make_inventory, crontab: Path) -> Path:
    return make_inventory(INVENTORY, {"commune.yaml": COMMUNE, "cpas.yaml": CPAS})


def status(cli, inv: Path, *args: str) -> tuple[int, dict, list[dict]]:
    """Run ``itref status -f json`` and return its exit code, data and every item."""
    result = cli("-i", str(inv), "-f", "json", "status", *args)
    assert result.rc in (0, 6, 7, 8), result.all
    data = json.loads(result.out)
    return result.rc, data, [i for e in data["entities"] for i in e["items"]]


def of(items: list[dict], kind: str, entity: str | None = "any") -> list[dict]:
    return [i for i in items if i["kind"] == kind and (entity == "any" or i["entity"] == entity)]


def state_folder(state_dir: Path, person: str = "Jean Dupont"):
    from itref.state.folder import StateFolder
    from itref.state.operator import Operator

    folder = StateFolder(state_dir)
    folder.__dict__["operator"] = Operator(person, "jdupont", "pc-referent")
    return folder


def test_a_fresh_project_says_what_was_never_done_each_line_with_its_command(cli, project: Path) -> None:
    rc, _data, items = status(cli, project)
    assert rc == ExitStatus.CHECK_WARNING
    never = of(items, "audit")
    assert {(i["entity"], i["text"], i["command"]) for i in never} == {
        ("commune", "Never audited.", "itref audit --limit entity:commune"),
        ("cpas", "Never audited.", "itref audit --limit entity:cpas")}  # the ASBL has no machine to audit
    backups = {i["data"]["backup"]: i for i in of(items, "backup", "cpas")}
    assert "never checked" in backups["nas-restic"]["text"] and "never restore-tested" in backups["nas-restic"]["text"]
    assert "OVERDUE" in backups["nas-restic"]["text"]
    assert backups["dumps"]["command"] == "itref backup check --entity cpas dumps"
    machine = of(items, "schedule", None)
    assert len(machine) == 1 and machine[0]["severity"] == "warning"
    assert machine[0]["command"] == "itref schedule install"
    assert all(i["command"].startswith("itref ") for i in items)


def test_it_reads_and_creates_nothing_in_a_state_folder_that_does_not_exist(cli, project: Path, state_dir: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    missing = state_dir / "not-yet"
    monkeypatch.setenv("ITREF_STATE_DIR", str(missing))
    rc, _data, _items = status(cli, project)
    assert rc == ExitStatus.CHECK_WARNING
    assert not missing.exists()


def test_the_last_audit_says_when_by_whom_its_open_problems_and_what_is_new(cli, project: Path,
                                                                            state_dir: Path) -> None:
    from itref.audit.history import AuditHistory

    history = AuditHistory(state_folder(state_dir))
    now = datetime.now(UTC)
    old = [Finding("linux.disk.free", Severity.WARNING, "/srv is 91% full", entity="commune", host="here",
                   subject="/srv"),
           Finding("linux.load", Severity.OK, "load fine", entity="commune", host="here")]
    history.record("run1", old, Severity.WARNING, "all", when=now - timedelta(days=2))
    new = [*old, Finding("linux.systemd.failed", Severity.CRITICAL, "apache2.service failed", entity="commune",
                         host="here", subject="apache2.service"),
           Finding("linux.load", Severity.OK, "load fine", entity="cpas", host="cpas-pc")]
    history.record("run2", new, Severity.CRITICAL, "all", when=now - timedelta(hours=1), via="cron")
    rc, _data, items = status(cli, project)
    assert rc == ExitStatus.CHECK_CRITICAL
    summary = of(items, "audit", "commune")[0]
    assert "by cron (Jean Dupont)" in summary["text"]
    assert "2 open problems, 1 new since the previous one" in summary["text"]
    assert summary["severity"] == "critical" and summary["data"]["new"] == 1
    new_lines = of(items, "finding", "commune")
    assert [(i["text"], i["command"]) for i in new_lines] == [
        ("New: here: apache2.service failed", "itref audit explain linux.systemd.failed")]
    cpas = of(items, "audit", "cpas")[0]
    assert cpas["severity"] == "ok" and "0 open problems" in cpas["text"]


def test_certificates_expiring_within_30_days_come_from_the_last_audit(cli, project: Path, state_dir: Path) -> None:
    from itref.audit.history import AuditHistory

    now = datetime.now(UTC)

    def cert(name: str, days: float, severity: Severity) -> Finding:
        return Finding("network.tls.expiry", severity, f"{name}: the certificate expires", entity="commune",
                       subject=f"https://{name}.exemple.example",
                       evidence={"not_after": (now + timedelta(days=days)).isoformat()})

    findings = [cert("intranet", 10.5, Severity.WARNING), cert("webmail", 3.5, Severity.CRITICAL),
                cert("portail", 60, Severity.OK), cert("old", -2, Severity.CRITICAL)]
    AuditHistory(state_folder(state_dir)).record("run1", findings, Severity.CRITICAL, "all",
                                                 when=now - timedelta(hours=2))
    _rc, _data, items = status(cli, project)
    certs = {i["data"]["subject"]: i for i in of(items, "certificate", "commune")}
    assert set(certs) == {"https://intranet.exemple.example", "https://webmail.exemple.example",
                          "https://old.exemple.example"}
    assert certs["https://intranet.exemple.example"]["severity"] == "warning"
    assert "(in 10 days)" in certs["https://intranet.exemple.example"]["text"]
    assert certs["https://webmail.exemple.example"]["severity"] == "critical"
    assert "EXPIRED" in certs["https://old.exemple.example"]["text"]
    assert not of(items, "finding")  # said once, with its date, not twice


def test_backups_say_the_age_of_the_last_backup_the_last_verify_and_the_drill_against_its_policy(
        cli, project: Path, state_dir: Path) -> None:
    from itref.backup.base import Facts
    from itref.backup.history import History

    history = History(state_folder(state_dir))
    now = datetime.now(UTC)
    history.record_check("cpas", "nas-restic", "restic", "ok", Facts(latest=now - timedelta(hours=5), latest_id="a1",
                                                                     size=10**9))
    history.record_verify("cpas", "nas-restic", True, "no errors")
    history.record_check("cpas", "dumps", "files", "ok", Facts(latest=now - timedelta(hours=30), latest_id="d",
                                                               size=10**6))
    _rc, _data, items = status(cli, project)
    backups = {i["data"]["backup"]: i for i in of(items, "backup", "cpas")}
    restic = backups["nas-restic"]
    assert restic["severity"] == "warning"  # drilled never, every 90 days
    assert "last backup 5 hours ago" in restic["text"] and "verified 0 minutes ago" in restic["text"]
    assert "never restore-tested (due every 90 days) — OVERDUE" in restic["text"]
    assert restic["command"] == "itref backup drill --entity cpas nas-restic"
    assert backups["dumps"]["severity"] == "critical" and "(max 26h)" in backups["dumps"]["text"]

    history.record_drill("cpas", "nas-restic", True, ["a.txt"], "1 file restored and identical")
    _rc, _data, items = status(cli, project)
    restic = {i["data"]["backup"]: i for i in of(items, "backup", "cpas")}["nas-restic"]
    assert restic["severity"] == "ok" and "OVERDUE" not in restic["text"]
    assert restic["command"] == "itref backup check --entity cpas nas-restic"


def test_the_drill_policy_is_read_through_one_function() -> None:
    from itref.config.schema import Backup
    from itref.status.collect import drill_every

    assert drill_every(Backup(name="a", kind="restic", repository="/r", drill={"every": "30d"})) == timedelta(days=30)
    assert drill_every(Backup(name="a", kind="restic", repository="/r")) is None


def test_a_monthly_routine_not_run_since_it_fired_is_due_and_run_by_hand_it_is_no_longer(cli, project: Path) -> None:
    from itref.cron import previous_fire

    now = datetime.now(UTC).astimezone() + timedelta(minutes=1)
    fired = previous_fire("0 7 1 * *", now)
    assert fired is not None
    _rc, _data, items = status(cli, project, "--now", now.isoformat())
    due = of(items, "routine", "commune")
    expected = "due" if fired.date() == now.date() else "overdue"
    assert [(i["data"]["routine"], i["data"]["state"]) for i in due] == [("commune/monthly-check", expected)]
    assert due[0]["severity"] == ("info" if expected == "due" else "warning")
    assert due[0]["command"] == "itref playbook run commune/monthly-check --guided"

    ran = cli("-i", str(project), "playbook", "run", "commune/monthly-check")
    assert ran.rc == 0, ran.all
    _rc, _data, items = status(cli, project, "--now", now.isoformat())
    assert not of(items, "routine")


def test_due_today_overdue_on_a_later_day_and_a_cron_run_counts_as_a_run(cli, project: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    soon = datetime.now(UTC).astimezone()
    first = (soon.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)
    _rc, _data, items = status(cli, project, "--now", first.replace(hour=12).isoformat())
    assert [i["data"]["state"] for i in of(items, "routine")] == ["due"]
    assert "due today" in of(items, "routine")[0]["text"]
    _rc, _data, items = status(cli, project, "--now", first.replace(day=2, hour=12).isoformat())
    assert [i["data"]["state"] for i in of(items, "routine")] == ["overdue"]

    monkeypatch.setenv("ITREF_VIA", "cron")  # as itref's cron line runs it
    assert cli("-i", str(project), "playbook", "run", "commune/monthly-check", "--yes").rc == 0
    later = datetime.now(UTC).astimezone() + timedelta(minutes=1)
    _rc, _data, items = status(cli, project, "--now", later.isoformat())
    assert not of(items, "routine")


def test_routines_due_this_week_are_listed_only_when_asked_ahead(cli, project: Path) -> None:
    from itref.config.project import load_project
    from itref.status.collect import collect

    assert cli("-i", str(project), "playbook", "run", "commune/monthly-check").rc == 0  # done this month
    proj = load_project(project)
    first = (datetime.now(UTC).astimezone().replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
    today = collect(proj, first - timedelta(days=3))
    week = collect(proj, first - timedelta(days=3), ahead=timedelta(days=7))
    assert [i for i in today.items() if i.kind == "routine" and i.data["state"] == "upcoming"] == []
    upcoming = [i for i in week.items() if i.kind == "routine"]
    assert [i.data["state"] for i in upcoming] == ["upcoming"] and upcoming[0].severity is Severity.INFO


def test_unfinished_runs_say_who_when_where_and_what_they_wait_for_never_a_secret_answer(
        cli, project: Path, state_dir: Path) -> None:
    for who in ("Ann", "Bob"):
        run = cli("-i", str(project), "playbook", "run", "cpas/handover-call", "--set", f"who={who}",
                  "--set", "pin=4242-SECRET")
        assert run.rc == ExitStatus.FAILURE and "with 'itref playbook resume " in run.err
    _rc, _data, items = status(cli, project)
    runs = sorted(of(items, "run", "cpas"), key=lambda i: i["data"]["params"]["who"])
    assert len(runs) == 2
    for line, who in zip(runs, ("Ann", "Bob"), strict=True):
        assert "stopped at step 2/2: Call the person" in line["text"]
        assert f"waits for a person to do: Call {who} about the files" in line["text"]
        assert line["command"] == f"itref playbook resume {line['data']['id']}"
        assert line["data"]["params"] == {"who": who}
    listed = json.loads(cli("-i", str(project), "-f", "json", "playbook", "runs").out)
    assert sorted(r["params"]["who"] for r in listed) == ["Ann", "Bob"]
    assert all(set(r["params"]) == {"who"} for r in listed)
    assert {r["next_step"] for r in listed} == {2}
    waiting = [r for r in journal_records(state_dir) if r["action"] == "routine waiting"]
    assert sorted(r["detail"] for r in waiting) == ["Call Ann about the files", "Call Bob about the files"]
    assert all(r["outcome"] == "waiting" and r["target"] == "cpas/handover-call #2" for r in waiting)
    everything = cli("-i", str(project), "-f", "json", "status").out + json.dumps(listed)
    assert "4242-SECRET" not in everything


def test_resume_without_an_id_and_without_a_terminal_refuses_naming_the_runs_and_cancel_closes_one(
        cli, project: Path, state_dir: Path) -> None:
    for who in ("Ann", "Bob"):
        cli("-i", str(project), "playbook", "run", "cpas/handover-call", "--set", f"who={who}", "--set", "pin=1")
    runs = json.loads(cli("-i", str(project), "-f", "json", "playbook", "runs").out)
    ids = [r["id"] for r in sorted(runs, key=lambda r: r["params"]["who"])]
    refused = cli("-i", str(project), "playbook", "resume")
    assert refused.rc == ExitStatus.USAGE
    assert len(refused.err.strip().splitlines()) == 1
    assert all(i in refused.err for i in ids) and "itref playbook resume ID" in refused.err

    cancelled = cli("-i", str(project), "playbook", "cancel", ids[0], "--reason", "Ann left")
    assert cancelled.rc == 0, cancelled.all
    record = [r for r in journal_records(state_dir) if r["action"] == "routine cancel"]
    assert [(r["run_id"], r["detail"], r["outcome"]) for r in record] == [(ids[0], "Ann left", "cancelled")]
    again = cli("-i", str(project), "playbook", "cancel", ids[0], "--reason", "twice")
    assert again.rc == ExitStatus.USAGE and "already cancelled" in again.err
    assert cli("-i", str(project), "playbook", "resume", ids[0]).rc == ExitStatus.USAGE
    _rc, _data, items = status(cli, project)
    assert [i["data"]["id"] for i in of(items, "run")] == [ids[1]]
    everything = json.loads(cli("-i", str(project), "-f", "json", "playbook", "runs", "--all").out)
    assert {r["id"]: r["state"] for r in everything} == {ids[0]: "cancelled", ids[1]: "open"}

    resumed = cli("-i", str(project), "playbook", "resume")  # the only open one: no question to ask
    assert "Resuming cpas/handover-call at step 2" in resumed.err


def test_waivers_ending_within_14_days_are_listed_with_their_reason(cli, project: Path) -> None:
    soon = (date.today() + timedelta(days=5)).isoformat()
    later = (date.today() + timedelta(days=40)).isoformat()
    assert cli("-i", str(project), "audit", "waive", "linux.disk.free", "--host", "here", "--until", soon,
               "--reason", "new disk ordered").rc == 0
    assert cli("-i", str(project), "audit", "waive", "linux.load", "--until", later, "--reason", "known").rc == 0
    _rc, _data, items = status(cli, project)
    waivers = of(items, "waiver")
    assert len(waivers) == 1
    assert waivers[0]["entity"] == "commune" and waivers[0]["severity"] == "warning"
    assert "linux.disk.free on here" in waivers[0]["text"] and "(in 5 days): new disk ordered" in waivers[0]["text"]


def scheduled(state_dir: Path, action: str, login: str, at: datetime, status_: str = "pending") -> str:
    from itref.ad.plan import Change, Plan
    from itref.ad.scheduled import ScheduledChanges, prepare

    plan = Plan(f"Offboard {login}", login, [Change("modify", f"CN={login},OU=CPAS,DC=test,DC=example",
                                                    {"userAccountControl": "514"}, {"userAccountControl": "512"})])
    change = prepare(action, {"login": login, "reason": "end of contract"}, at, "cpas", plan, "test")
    change.status = status_
    if status_ == "held":
        change.problem = "the directory changed since it was scheduled"
    ScheduledChanges(state_folder(state_dir)).add(change)
    return change.id


def test_scheduled_changes_waiting_late_and_held_each_get_their_line(cli, project: Path, state_dir: Path) -> None:
    now = datetime.now(UTC).astimezone()
    waiting = scheduled(state_dir, "user offboard", "jmartin", now + timedelta(days=2))
    late = scheduled(state_dir, "user offboard", "plate", now - timedelta(hours=1))
    held = scheduled(state_dir, "user offboard", "hmoved", now - timedelta(days=1), "held")
    rc, _data, items = status(cli, project)
    assert rc == ExitStatus.CHECK_CRITICAL
    lines = {i["data"]["change"]: i for i in of(items, "change", "cpas")}
    assert lines[waiting]["severity"] == "info" and "offboard jmartin (by Jean Dupont)" in lines[waiting]["text"]
    assert lines[late]["severity"] == "warning" and lines[late]["command"] == "itref schedule run"
    assert lines[held]["severity"] == "critical" and "NOT applied" in lines[held]["text"]
    assert lines[held]["command"] == f"itref pending show {held}"
    listed = json.loads(cli("-i", str(project), "-f", "json", "pending", "list").out)
    assert [c["id"] for c in listed] == [held, late, waiting]  # by date


def test_the_pending_line_is_in_the_crontab_only_while_changes_wait(cli, project: Path, state_dir: Path,
                                                                  crontab: Path) -> None:
    assert cli("-i", str(project), "schedule", "install").rc == 0
    assert "schedule run" not in crontab.read_text()
    change = scheduled(state_dir, "user offboard", "jmartin", datetime.now(UTC) + timedelta(days=2))
    assert cli("-i", str(project), "schedule", "install").rc == 0
    line = [ln for ln in crontab.read_text().splitlines() if "schedule run" in ln]
    assert len(line) == 1 and line[0].startswith("*/5 * * * * ") and line[0].endswith(":pending-changes")
    cancelled = cli("-i", str(project), "pending", "cancel", change, "--reason", "stays after all")
    assert cancelled.rc == 0, cancelled.all
    assert "schedule run" not in crontab.read_text()  # the installed block follows: no change waits any more
    assert "line running itref schedule run was removed" in cancelled.err
    assert cli("-i", str(project), "pending", "cancel", change, "--reason", "again").rc == ExitStatus.USAGE


def test_this_machine_runs_the_schedule_and_its_last_cron_run_is_shown(cli, project: Path, state_dir: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("-i", str(project), "schedule", "install").rc == 0
    now = datetime.now(UTC).astimezone()
    _rc, _data, items = status(cli, project, "--now", now.isoformat())
    machine = of(items, "schedule", None)
    assert machine[0]["severity"] == "ok" and "runs itref's schedule for this project (1 entry)" in machine[0]["text"]
    assert "no cron run is recorded yet" in machine[0]["text"]
    monkeypatch.setenv("ITREF_VIA", "cron")
    cli("-i", str(project), "playbook", "run", "commune/monthly-check", "--yes")
    monkeypatch.delenv("ITREF_VIA")
    _rc, _data, items = status(cli, project, "--now", (datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    machine = of(items, "schedule", None)[0]
    assert "last cron run" in machine["text"] and "routine commune/monthly-check → ok" in machine["text"]
    # two months on, cron never ran again: someone must look
    _rc, _data, items = status(cli, project, "--now", (now + timedelta(days=62)).isoformat())
    machine = of(items, "schedule", None)[0]
    assert machine["severity"] == "warning" and "is cron running?" in machine["text"]


def test_status_is_french_with_language_fr_and_markdown_and_entity_filter_work(cli, make_inventory, crontab: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    inv = make_inventory(INVENTORY.replace("operators:", "language: fr\noperators:"),
                         {"commune.yaml": COMMUNE, "cpas.yaml": CPAS})
    french = cli("-i", str(inv), "status")
    assert "Jamais audité." in french.out and "→ itref audit --limit entity:commune" in french.out
    assert "Never audited" not in french.out
    monkeypatch.setenv("ITREF_LANG", "en")  # what --lang en does before the commands are imported
    english = cli("-i", str(inv), "status")
    assert "Never audited." in english.out
    markdown = cli("-i", str(inv), "-f", "markdown", "status", "--entity", "cpas")
    assert markdown.out.startswith("# Commune de Test — what needs a person on ")
    assert "## CPAS (cpas)" in markdown.out and "## Administration communale" not in markdown.out
    assert "- **WARNING** Never audited. — `itref audit --limit entity:cpas`" in markdown.out
    assert cli("-i", str(inv), "status", "--entity", "nowhere").rc == ExitStatus.USAGE


def test_nothing_to_do_is_exit_0(cli, make_inventory, crontab: Path) -> None:
    inv = make_inventory("version: 1\norganisation: Calme\nentities:\n  asbl: {title: ASBL}\n")
    result = cli("-i", str(inv), "status")
    assert result.rc == 0, result.all
    assert "Nothing needs a person." in result.out


def test_the_handover_pack_shows_the_same_lines_as_status(cli, project: Path, state_dir: Path, tmp_path: Path) -> None:
    cli("-i", str(project), "playbook", "run", "cpas/handover-call", "--set", "who=Ann", "--set", "pin=1")
    change = scheduled(state_dir, "user offboard", "jmartin", datetime.now(UTC) + timedelta(days=2))
    _rc, _data, items = status(cli, project)
    pack = tmp_path / "pack"
    assert cli("-i", str(project), "handover", "--output", str(pack)).rc == 0
    index = (pack / "index.md").read_text(encoding="utf-8")
    for title in ("Due this week", "Unfinished routines", "Scheduled changes"):
        assert title in index
    for item in [*of(items, "run"), *of(items, "change")]:
        assert item["text"].replace("[", "\\[") in index.replace("\\_", "_")
        assert f"`{item['command']}`" in index
    assert index.count(change) >= 2  # under "due this week" (in two days) and "scheduled changes"


def test_a_due_change_whose_directory_cannot_be_reached_stays_pending_and_says_why(
        cli, make_inventory, crontab: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on: the DC is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ITREF_TEST_AD_PW", "not-used")
    inv = make_inventory(INVENTORY.replace("entities:", f"""directory:
  url: ldaps://127.0.0.1:{port}
  base_dn: DC=test,DC=example
  bind_user: svc
  bind_password: {{env: ITREF_TEST_AD_PW}}
  timeout: 5
entities:"""), {"commune.yaml": COMMUNE, "cpas.yaml": CPAS})
    change = scheduled(state_dir, "user offboard", "jmartin", datetime.now(UTC) + timedelta(minutes=5))
    run = cli("-i", str(inv), "-f", "json", "schedule", "run", "--now",
              (datetime.now(UTC) + timedelta(minutes=6)).isoformat())
    assert run.rc == ExitStatus.UNREACHABLE, run.all
    assert [(o["id"], o["result"]) for o in json.loads(run.out)] == [(change, "waiting")]
    _rc, _data, items = status(cli, inv, "--now", (datetime.now(UTC) + timedelta(minutes=7)).isoformat())
    line = of(items, "change", "cpas")[0]
    assert line["severity"] == "warning" and "is not applied yet: " in line["text"]
    assert line["data"]["status"] == "pending" and line["data"]["problem"]


def test_finished_runs_are_remembered_by_this_machine_and_not_read_again(state_dir: Path, monkeypatch) -> None:
    """A finished run is never rewritten by itref: this machine remembers it (with its file's size and time) and
    does not open it again, until the file changes (a `git revert`, a merge): then it is read again."""
    from itref.runner.routine import RunState, save, saved_runs
    from itref.state.documents import Documents

    folder = state_folder(state_dir)
    save(folder, RunState("done00000001", "cpas/handover-call", {}, next_step=3, finished=True))
    save(folder, RunState("open00000001", "cpas/handover-call", {}, next_step=2))
    assert [r.run_id for r in saved_runs(folder, open_only=True)] == ["open00000001"]
    memo = list(folder.cache_dir("documents").glob("routines.*"))
    assert len(memo) == 1 and memo[0].read_text().split()[0] == "done00000001"
    opened: list[str] = []
    real_open = open

    def watching_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(Path(str(file)).name)
        return real_open(file, *args, **kwargs)

    save(folder, RunState("open00000002", "cpas/handover-call", {}, next_step=2))
    with monkeypatch.context() as patched:
        patched.setattr("builtins.open", watching_open)
        assert [r.run_id for r in saved_runs(folder, open_only=True)] == ["open00000001", "open00000002"]
    assert "done00000001.yaml" not in opened and "open00000002.yaml" in opened, opened
    finished = state_dir / "routines" / "done00000001.yaml"
    finished.write_text("not: [yaml", encoding="utf-8")  # changed by hand: read again, and reported as damaged
    docs = Documents(folder, "routines")
    docs.all(keep=lambda text: "finished: true" not in text, memo="open")
    assert [p.path.name for p in docs.problems] == ["done00000001.yaml"]
