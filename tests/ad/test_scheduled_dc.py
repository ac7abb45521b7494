"""Directory changes scheduled for a date, against the real Samba AD DC: shown and confirmed when scheduled,
recomputed at their time by ``itref schedule run`` (the clock passed in with --now, never slept), applied in the
name of the person who scheduled them, held for a person when the directory changed meanwhile, never applied
once cancelled."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from itref.lab.peers.samba import ldap_connection
from tests.ad.test_accounts_dc import create, find
from tests.conftest import journal_records, state_text

pytestmark = pytest.mark.peer


@pytest.fixture
def moment() -> datetime:
    """T+2 minutes, to the minute, in local time: when the tests' changes are due."""
    return (datetime.now(UTC).astimezone() + timedelta(minutes=3)).replace(second=0, microsecond=0)


@pytest.fixture
def crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "crontab"
    monkeypatch.setenv("ITREF_CRONTAB_FILE", str(path))
    return path


def schedule_run(cli, inv: Path, when: datetime, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[dict]]:
    """Run ``itref schedule run --now WHEN`` as cron would (another person installed the schedule)."""
    monkeypatch.setenv("ITREF_OPERATOR", "Installateur du cron")
    monkeypatch.setenv("ITREF_VIA", "cron")
    try:
        result = cli("-i", str(inv), "-f", "json", "schedule", "run", "--now", when.isoformat())
    finally:
        monkeypatch.delenv("ITREF_VIA")
        monkeypatch.setenv("ITREF_OPERATOR", "Jean Dupont")
    assert "Traceback" not in result.all
    return result.rc, json.loads(result.out or "[]")


def at_text(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


def uac(dc, login: str) -> int:
    return int(find(dc, login)["userAccountControl"][0])


def test_an_offboarding_scheduled_for_t_plus_2_is_applied_then_and_not_before(
        ad_project, cli, samba_dc, tmp_path, state_dir, moment, crontab, monkeypatch) -> None:
    monkeypatch.setenv("ITREF_OPERATOR", "Jean Dupont")
    login, _pw = create(cli, ad_project, tmp_path, "Paul", f"Depart{moment:%H%M%S}")
    before = find(samba_dc, login)
    scheduled = cli("-i", str(ad_project), "-f", "json", "ad", "user", "offboard", login, "--reason", "fin de contrat",
                    "--at", at_text(moment), "--yes")
    assert scheduled.rc == 0, scheduled.all
    shown = json.loads(scheduled.out)
    assert shown["at"].startswith(moment.strftime("%Y-%m-%dT%H:%M"))
    assert shown["plan"]["changes"][0]["kind"] == "modify"
    assert any(c["kind"] == "move" and c["target"].startswith("OU=Departed") for c in shown["plan"]["changes"])
    assert f"Departed {moment.date().isoformat()}: fin de contrat" in json.dumps(shown, ensure_ascii=False)
    assert find(samba_dc, login)["dn"] == before["dn"] and uac(samba_dc, login) == 512  # nothing changed yet
    change = json.loads(cli("-i", str(ad_project), "-f", "json", "pending", "list").out)
    assert [(c["action"], c["params"]["login"], c["scheduled_by"]) for c in change] == [
        ("user offboard", login, "Jean Dupont")]
    change_id = change[0]["id"]
    status = json.loads(cli("-i", str(ad_project), "-f", "json", "status").out)
    lines = [i for e in status["entities"] for i in e["items"] if i["kind"] == "change"]
    assert [(i["entity"], i["severity"], i["data"]["change"]) for i in lines] == [("cpas", "info", change_id)]

    rc, outcomes = schedule_run(cli, ad_project, moment - timedelta(minutes=1), monkeypatch)
    assert rc == 0 and outcomes == []
    assert find(samba_dc, login)["dn"] == before["dn"] and uac(samba_dc, login) == 512

    rc, outcomes = schedule_run(cli, ad_project, moment, monkeypatch)
    assert rc == 0, outcomes
    assert [(o["id"], o["result"]) for o in outcomes] == [(change_id, "applied")]
    after = find(samba_dc, login)
    assert after["dn"].endswith(f"OU=Departed,{samba_dc.base_dn}") and uac(samba_dc, login) & 2
    assert not after.get("memberOf")
    ad = [r for r in journal_records(state_dir) if r.get("via") == "schedule"]
    assert ad and all(r["operator"] == "Jean Dupont" for r in ad)
    assert all("applied by the schedule at" in r["detail"] for r in ad if r["action"] == "ad")
    # the snapshot kept for a restore is journaled too, signed by the person who scheduled the change
    assert {r["action"] for r in ad} == {"ad", "ad scheduled", "ad snapshot"}
    assert "operator: Jean Dupont" in (state_dir / "departed" / f"{login.lower()}.yaml").read_text()
    assert schedule_run(cli, ad_project, moment + timedelta(minutes=5), monkeypatch) == (0, [])  # applied once
    restored = cli("-i", str(ad_project), "ad", "user", "restore", login, "--yes")  # the snapshot was kept
    assert restored.rc == 0, restored.all
    assert find(samba_dc, login)["dn"] == before["dn"]


def test_a_cancelled_change_is_never_applied(ad_project, cli, samba_dc, tmp_path, state_dir, moment, crontab,
                                             monkeypatch) -> None:
    login, _pw = create(cli, ad_project, tmp_path, "Anne", f"Reste{moment:%H%M%S}")
    assert cli("-i", str(ad_project), "ad", "user", "offboard", login, "--reason", "départ", "--at", at_text(moment),
               "--yes").rc == 0
    change_id = json.loads(cli("-i", str(ad_project), "-f", "json", "pending", "list").out)[0]["id"]
    cancelled = cli("-i", str(ad_project), "pending", "cancel", change_id, "--reason", "contrat prolongé")
    assert cancelled.rc == 0, cancelled.all
    assert schedule_run(cli, ad_project, moment + timedelta(days=1), monkeypatch) == (0, [])
    assert uac(samba_dc, login) == 512 and "OU=Departed" not in find(samba_dc, login)["dn"]
    record = [r for r in journal_records(state_dir) if r["action"] == "ad schedule cancel"]
    assert [(r["outcome"], r["detail"]) for r in record] == [("cancelled", f"change {change_id}: contrat prolongé")]
    assert json.loads(cli("-i", str(ad_project), "-f", "json", "pending", "list").out) == []


def test_a_change_about_an_account_with_a_change_already_scheduled_says_so(ad_project, cli, samba_dc, tmp_path,
                                                                             moment, crontab) -> None:
    """Two people, one account: the second change (scheduled or made now) names the first one, who planned it,
    when, and how to cancel it; before, both were accepted without a word."""
    login, _pw = create(cli, ad_project, tmp_path, "Luc", f"Deux{moment:%H%M%S}")
    assert cli("-i", str(ad_project), "ad", "user", "offboard", login, "--reason", "départ", "--at", at_text(moment),
               "--yes").rc == 0
    change_id = json.loads(cli("-i", str(ad_project), "-f", "json", "pending", "list").out)[0]["id"]
    again = cli("-i", str(ad_project), "ad", "user", "offboard", login, "--reason", "départ avancé", "--at",
                at_text(moment + timedelta(hours=1)), "--yes")
    assert again.rc == 0, again.all
    note = f"change {change_id} about {login} is already scheduled for"
    assert note in again.err and f"itref pending cancel {change_id}" in again.err, again.all
    now = cli("-i", str(ad_project), "ad", "user", "disable", login, "--yes")
    assert now.rc == 0 and note in now.err, now.all
    other = cli("-i", str(ad_project), "ad", "user", "enable", login, "--yes")  # still noted, never refused
    assert other.rc == 0 and note in other.err, other.all


def test_a_scheduled_create_leaves_the_account_disabled_until_its_time(ad_project, cli, samba_dc, tmp_path,
                                                                      state_dir, moment, crontab,
                                                                      monkeypatch) -> None:
    pw = tmp_path / "pw"
    last = f"Lundi{moment:%H%M%S}"
    created = cli("-i", str(ad_project), "-f", "json", "ad", "user", "create", "--template", "cpas/social-worker",
                  "--first", "Marie", "--last", last, "--password-file", str(pw), "--at", at_text(moment), "--yes")
    assert created.rc == 0, created.all
    shown = json.loads(created.out)
    login = shown["now"]["login"]
    assert [c["kind"] for c in shown["plan"]["changes"]] == ["modify"]
    assert shown["plan"]["changes"][0]["attributes"] == {"userAccountControl": "512"}
    user = find(samba_dc, login)
    assert uac(samba_dc, login) == 514  # made now, disabled
    assert {g.split(",")[0] for g in user["memberOf"]} == {"CN=GG-CPAS-Social", "CN=GG-Tous"}
    assert str(user["pwdLastSet"][0]).startswith("1601") or user["pwdLastSet"][0] in (0, "0")  # change at logon
    assert pw.read_text().strip() and pw.read_text().strip() not in state_text(state_dir)

    assert schedule_run(cli, ad_project, moment - timedelta(minutes=1), monkeypatch) == (0, [])
    assert uac(samba_dc, login) == 514
    rc, outcomes = schedule_run(cli, ad_project, moment, monkeypatch)
    assert rc == 0 and [o["result"] for o in outcomes] == ["applied"]
    assert uac(samba_dc, login) == 512


def test_cancelling_a_scheduled_arrival_says_the_account_stays_disabled(ad_project, cli, samba_dc, tmp_path,
                                                                        moment, crontab) -> None:
    last = f"Absent{moment:%H%M%S}"
    created = cli("-i", str(ad_project), "-f", "json", "ad", "user", "create", "--template", "cpas/social-worker",
                  "--first", "Paul", "--last", last, "--password-file", str(tmp_path / "pw"), "--at",
                  at_text(moment), "--yes")
    assert created.rc == 0, created.all
    login = json.loads(created.out)["now"]["login"]
    change_id = next(c["id"] for c in json.loads(cli("-i", str(ad_project), "-f", "json", "pending", "list").out)
                     if c["params"]["login"] == login)
    cancelled = cli("-i", str(ad_project), "pending", "cancel", change_id, "--reason", "ne vient pas")
    assert cancelled.rc == 0, cancelled.all
    assert f"The account {login} was created when this arrival was scheduled and stays in the directory, disabled" \
        in cancelled.err and f"itref ad user offboard {login}" in cancelled.err, cancelled.all
    assert uac(samba_dc, login) == 514  # what the sentence says


def test_a_plan_that_changed_meanwhile_is_not_applied_and_shows_in_status(ad_project, cli, samba_dc, tmp_path,
                                                                          state_dir, moment, crontab,
                                                                          monkeypatch) -> None:
    login, _pw = create(cli, ad_project, tmp_path, "Luc", f"Bouge{moment:%H%M%S}")
    assert cli("-i", str(ad_project), "ad", "user", "offboard", login, "--reason", "départ", "--at", at_text(moment),
               "--yes").rc == 0
    dn = find(samba_dc, login)["dn"]
    conn = ldap_connection(samba_dc)  # someone moves the account by hand meanwhile
    try:
        assert conn.modify_dn(dn, dn.split(",", 1)[0], new_superior=f"OU=Commune,{samba_dc.base_dn}"), conn.result
    finally:
        conn.unbind()
    moved = find(samba_dc, login)["dn"]
    rc, outcomes = schedule_run(cli, ad_project, moment, monkeypatch)
    assert rc == ExitStatus.FAILURE
    assert [o["result"] for o in outcomes] == ["held"] and "directory changed" in outcomes[0]["message"]
    assert find(samba_dc, login)["dn"] == moved and uac(samba_dc, login) == 512  # not applied
    status = cli("-i", str(ad_project), "-f", "json", "status")
    assert status.rc == ExitStatus.CHECK_CRITICAL
    held = [i for e in json.loads(status.out)["entities"] for i in e["items"] if i["kind"] == "change"]
    assert [(i["severity"], i["command"]) for i in held] == [("critical", f"itref pending show {outcomes[0]['id']}")]
    shown = cli("-i", str(ad_project), "pending", "show", outcomes[0]["id"])
    assert "Plan as confirmed" in shown.out and "Plan as it would be now" in shown.out and "OU=Commune" in shown.out
    assert schedule_run(cli, ad_project, moment + timedelta(minutes=5), monkeypatch) == (0, [])  # never retried alone
    held_records = [r for r in journal_records(state_dir) if r["action"] == "ad scheduled"]
    assert [r["outcome"] for r in held_records] == ["held"]


def test_a_routine_step_with_at_schedules_its_change_from_an_ask_answer(ad_project, cli, samba_dc, tmp_path,
                                                                        moment, crontab, monkeypatch) -> None:
    login, _pw = create(cli, ad_project, tmp_path, "Eva", f"Routine{moment:%H%M%S}")
    book_path = ad_project.parent / "playbooks" / "cpas.yaml"
    book = json.loads(book_path.read_text())
    book["routines"] = {"offboard-leaver": {
        "description": "Close the account of someone leaving, on their last evening",
        "ask": {"login": {"prompt": "Login"}, "leave_day": {"prompt": "Last day", "type": "date"},
                "leave_time": {"prompt": "Time", "default": "18:00"}},
        "steps": [{"description": "Offboard on the last evening",
                   "ad": {"action": "user offboard", "params": {"login": "{login}", "reason": "départ"},
                          "at": "{leave_day} {leave_time}"}}]}}
    book_path.write_text(json.dumps(book))
    run = cli("-i", str(ad_project), "playbook", "run", "cpas/offboard-leaver", "--yes", "--set", f"login={login}",
              "--set", f"leave_day={moment.date().isoformat()}", "--set", f"leave_time={moment:%H:%M}")
    assert run.rc == 0, run.all
    assert "scheduled for" in run.err
    pending = json.loads(cli("-i", str(ad_project), "-f", "json", "pending", "list").out)
    assert [(p["action"], p["params"]["login"]) for p in pending] == [("user offboard", login)]
    assert pending[0]["origin"].startswith("routine cpas/offboard-leaver")
    assert uac(samba_dc, login) == 512
    rc, outcomes = schedule_run(cli, ad_project, moment, monkeypatch)
    assert rc == 0 and [o["result"] for o in outcomes] == ["applied"]
    assert "OU=Departed" in find(samba_dc, login)["dn"]


def test_a_date_already_past_or_not_a_date_is_refused_in_one_line(ad_project, cli, tmp_path) -> None:
    login, _pw = create(cli, ad_project, tmp_path, "Tom", f"Passe{datetime.now(UTC):%H%M%S}")
    past = cli("-i", str(ad_project), "ad", "user", "offboard", login, "--reason", "x", "--at", "2020-01-01 18:00",
               "--yes")
    assert past.rc == ExitStatus.USAGE and "already past" in past.err and len(past.err.strip().splitlines()) == 1
    wrong = cli("-i", str(ad_project), "ad", "user", "offboard", login, "--reason", "x", "--at", "vendredi soir",
                "--yes")
    assert wrong.rc == ExitStatus.USAGE and "is not a date and time" in wrong.err
