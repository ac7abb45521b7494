"""Account lifecycle against a real Samba AD DC started by the suite (LDAPS, CA-validated)."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from itref.lab.peers.samba import kinit, ldap_connection
from tests.conftest import journal_text

pytestmark = pytest.mark.peer


def tag() -> str:
    return uuid.uuid4().hex[:6]


def find(dc, login: str) -> dict | None:
    conn = ldap_connection(dc)
    try:
        conn.search(dc.base_dn, f"(sAMAccountName={login})", attributes=["*"])
        if not conn.entries:
            return None
        entry = conn.entries[0]
        return {"dn": entry.entry_dn, **{k: entry[k].values for k in entry.entry_attributes}}
    finally:
        conn.unbind()


def create(cli, inv: Path, tmp_path: Path, first: str, last: str, template: str = "cpas/social-worker",
           *extra: str) -> tuple[str, str]:
    pw_file = tmp_path / f"pw-{tag()}"
    result = cli("-i", str(inv), "-f", "json", "ad", "user", "create", "--template", template, "--first", first,
                 "--last", last, "--password-file", str(pw_file), "--yes", *extra)
    assert result.rc == 0, result.all
    login = json.loads(result.out)["plan"]["login"]
    return login, pw_file.read_text().strip()


def test_dry_run_prints_the_plan_and_changes_nothing(ad_project, cli, samba_dc) -> None:
    last = f"Lefèvre{tag()}"
    result = cli("-i", str(ad_project), "ad", "user", "create", "--template", "cpas/social-worker",
                 "--first", "Émilie", "--last", last, "--dry-run")
    assert result.rc == 0, result.all
    login = f"elefevre{last[7:]}"
    for text in (f"+ create CN=Émilie {last},OU=Social,OU=CPAS", f"sAMAccountName: {login}",
                 "department: Service social", "joins CN=GG-CPAS-Social", "password of", "pwdLastSet"):
        assert text in result.out, text
    assert "Dry run" in result.err
    assert find(samba_dc, login) is None
    assert json.loads(cli("journal", "-f", "json").out) == []


def test_create_puts_the_account_in_its_ou_and_groups_and_the_password_works(ad_project, cli, samba_dc,
                                                                               tmp_path) -> None:
    login, password = create(cli, ad_project, tmp_path, "Émilie", "Lefèvre")
    assert login.startswith("elefevre")
    user = find(samba_dc, login)
    assert user["dn"].endswith(f",OU=Social,OU=CPAS,{samba_dc.base_dn}")
    assert {g.split(",")[0] for g in user["memberOf"]} == {"CN=GG-CPAS-Social", "CN=GG-Tous"}
    assert user["userAccountControl"] == [512]
    assert user["department"] == ["Service social"] and user["company"] == ["CPAS"]
    assert user["userPrincipalName"] == [f"{login}@{samba_dc.dns_domain}"]
    assert user["givenName"] == ["Émilie"]
    # must change at next logon: kinit with the shown password is accepted and asks for a new one.
    new = "Nouv3au-" + tag() + "!"
    proc = kinit(samba_dc, f"{login}@{samba_dc.realm}", f"{password}\n{new}\n{new}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "expired" in (proc.stdout + proc.stderr).lower()


def test_password_file_holds_only_the_password_with_mode_600(ad_project, cli, tmp_path) -> None:
    path = tmp_path / "pw"
    result = cli("-i", str(ad_project), "ad", "user", "create", "--template", "commune/clerk", "--first", "Marc",
                 "--last", f"Leroy{tag()}", "--password-file", str(path), "--yes")
    assert result.rc == 0, result.all
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and len(lines[0]) >= 16
    journal = journal_text(Path(__import__("os").environ["ITREF_STATE_DIR"]))
    assert lines[0] not in journal and lines[0] not in result.all


def test_created_account_binds_over_ldaps_and_gets_a_kerberos_ticket(ad_project, cli, samba_dc, tmp_path) -> None:
    login, password = create(cli, ad_project, tmp_path, "Marc", f"Dubois{tag()}", "commune/clerk")
    assert "." in login
    conn = ldap_connection(samba_dc, f"{login}@{samba_dc.dns_domain}", password)
    assert conn.bound
    conn.unbind()
    proc = kinit(samba_dc, f"{login}@{samba_dc.realm}", password)
    assert proc.returncode == 0, proc.stderr
    user = find(samba_dc, login)
    assert user["mail"][0].startswith("marc.dubois")


def test_without_a_terminal_the_password_must_go_to_a_file(ad_project, cli, samba_dc) -> None:
    last = f"Noterm{tag()}"
    result = cli("-i", str(ad_project), "ad", "user", "create", "--template", "commune/clerk", "--first", "Ann",
                 "--last", last, "--yes")
    assert result.rc == ExitStatus.USAGE and "--password-file" in result.err
    assert find(samba_dc, f"ann.{last.lower()}") is None


def test_a_taken_login_gets_the_next_digit(ad_project, cli, tmp_path) -> None:
    last = f"Martin{tag()}"
    first_login, _ = create(cli, ad_project, tmp_path, "Sophie", last)
    second_login, _ = create(cli, ad_project, tmp_path, "Simon", last)
    assert second_login == first_login + "2"


def test_hostile_characters_create_exactly_that_name_and_match_nothing_else(ad_project, cli, samba_dc,
                                                                            tmp_path) -> None:
    hostile_last = f"O'Brien*(x)\\,+=<>#;\"{tag()}"
    login, _ = create(cli, ad_project, tmp_path, "Jean*", hostile_last, "commune/clerk")
    user = find(samba_dc, login)
    assert user["sn"] == [hostile_last] and user["givenName"] == ["Jean*"]
    assert user["cn"] == [f"Jean* {hostile_last}"]
    found = json.loads(cli("-i", str(ad_project), "-f", "json", "ad", "user", "find", "*").out)
    assert found and all("*" in (a.get("displayName", "") + a.get("sAMAccountName", "")) for a in found)
    injected = cli("-i", str(ad_project), "-f", "json", "ad", "user", "find", "x)(sAMAccountName=Administrator")
    assert injected.rc == 1 and json.loads(injected.out) == []  # the filter cannot be escaped from
    found = cli("-i", str(ad_project), "-f", "json", "ad", "user", "find", "Jean*")
    assert [a["sAMAccountName"] for a in json.loads(found.out)] == [login]


def test_a_weak_password_is_refused_with_the_policy_sentence(ad_project, samba_dc, tmp_path, cli) -> None:
    from itref.ad.client import DirectoryClient
    from itref.ad.errors import PasswordRejected
    from itref.config.project import load_project
    from itref.secrets import Secret, SecretResolver

    login, _ = create(cli, ad_project, tmp_path, "Paul", f"Weak{tag()}", "commune/clerk")
    project = load_project(ad_project)
    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    try:
        dn = client.find_user(login).dn
        with pytest.raises(PasswordRejected, match="at least 7 characters"):
            client.set_password(dn, Secret("abc", "test"))
        with pytest.raises(PasswordRejected, match="not complex enough"):
            client.set_password(dn, Secret("password123", "test"))
    finally:
        client.close()


def test_forced_login_that_exists_is_refused(ad_project, cli, tmp_path) -> None:
    login, _ = create(cli, ad_project, tmp_path, "Eva", f"Taken{tag()}", "commune/clerk")
    result = cli("-i", str(ad_project), "ad", "user", "create", "--template", "commune/clerk", "--first", "X",
                 "--last", "Y", "--login", login, "--password-file", str(tmp_path / "p"), "--yes")
    assert result.rc == ExitStatus.USAGE and "already used" in result.err


def test_offboard_then_restore_gives_back_groups_ou_and_attributes(ad_project, cli, samba_dc, tmp_path) -> None:
    login, _ = create(cli, ad_project, tmp_path, "Luc", f"Depart{tag()}")
    before = find(samba_dc, login)
    off = cli("-i", str(ad_project), "ad", "user", "offboard", login, "--reason", "fin de contrat", "--yes")
    assert off.rc == 0, off.all
    gone = find(samba_dc, login)
    assert gone["dn"].endswith(f",OU=Departed,{samba_dc.base_dn}")
    assert gone["userAccountControl"] == [514] and "memberOf" not in gone
    assert "fin de contrat" in gone["description"][0]
    back = cli("-i", str(ad_project), "ad", "user", "restore", login, "--yes")
    assert back.rc == 0, back.all
    after = find(samba_dc, login)
    for key in ("dn", "userAccountControl", "department", "company"):
        assert after[key] == before[key], key
    assert sorted(after["memberOf"]) == sorted(before["memberOf"])
    assert after.get("description") == before.get("description")
    records = json.loads(cli("journal", "-f", "json").out)
    assert "ad snapshot" in [r["action"] for r in records]
    moves = [r["target"] for r in records if r["action"] == "ad" and r["target"].startswith("move ")]
    # each move is said from where the account was to where it went (before: the DN it had after the move)
    assert moves[-2:] == [f"move {before['dn']} → OU=Departed,{samba_dc.base_dn}",
                          f"move {gone['dn']} → {parent(before['dn'])}"], moves
    cn = before["dn"].split(",", 1)[0]
    mine = [r for r in records if r["action"] == "ad" and cn in r["target"]]
    assert mine and {r["entity"] for r in mine} == {"cpas"}, mine  # before: no entity for immediate changes
    table = cli("journal").out
    snapshot_lines = [line for line in table.splitlines() if "annuaire : compte gardé" in line]  # French inventory
    assert snapshot_lines and all("gardé pour itref" in line and '{"' not in line
                                  for line in snapshot_lines), snapshot_lines  # before: the snapshot's raw JSON
    assert '"groups"' not in table


def parent(dn: str) -> str:
    return dn.split(",", 1)[1]


def test_purge_deletes_departed_accounts_past_retention_after_a_plan(ad_project, cli, samba_dc, tmp_path) -> None:
    login, _ = create(cli, ad_project, tmp_path, "Old", f"Leaver{tag()}", "commune/clerk")
    assert cli("-i", str(ad_project), "ad", "user", "offboard", login, "--reason", "left", "--yes").rc == 0
    plan = cli("-i", str(ad_project), "ad", "purge", "--older-than", "90d", "--dry-run")
    assert login not in plan.out  # departed today: kept
    plan = cli("-i", str(ad_project), "ad", "purge", "--older-than", "0s", "--dry-run")
    assert f"✗ delete CN=Old {login.split('.')[1].title()}" in plan.out or login.split(".")[1] in plan.out.lower()
    assert find(samba_dc, login) is not None
    done = cli("-i", str(ad_project), "ad", "purge", "--older-than", "0s", "--yes")
    assert done.rc == 0, done.all
    assert find(samba_dc, login) is None


def test_small_operations_are_idempotent(ad_project, cli, samba_dc, tmp_path) -> None:
    login, _ = create(cli, ad_project, tmp_path, "Ines", f"Ops{tag()}", "commune/clerk")
    inv = str(ad_project)
    assert cli("-i", inv, "ad", "user", "disable", login, "--yes").rc == 0
    assert find(samba_dc, login)["userAccountControl"] == [514]
    again = cli("-i", inv, "ad", "user", "disable", login, "--yes")
    assert "nothing to change" in again.out
    assert cli("-i", inv, "ad", "user", "enable", login, "--yes").rc == 0
    assert cli("-i", inv, "ad", "user", "set", login, "title=Agent d'accueil", "office=B12", "--yes").rc == 0
    user = find(samba_dc, login)
    assert user["title"] == ["Agent d'accueil"] and user["physicalDeliveryOfficeName"] == ["B12"]
    assert cli("-i", inv, "ad", "user", "move", login, f"OU=CPAS,{samba_dc.base_dn}", "--yes").rc == 0
    assert find(samba_dc, login)["dn"].endswith(f",OU=CPAS,{samba_dc.base_dn}")
    assert cli("-i", inv, "ad", "group", "add", "GG-Tous", login, "--yes").rc == 0
    members = json.loads(cli("-i", inv, "-f", "json", "ad", "group", "members", "GG-Tous").out)["members"]
    assert find(samba_dc, login)["dn"] in members
    assert "nothing to change" in cli("-i", inv, "ad", "group", "add", "GG-Tous", login, "--yes").out
    assert cli("-i", inv, "ad", "group", "remove", "GG-Tous", login, "--yes").rc == 0
    assert cli("-i", inv, "ad", "user", "unlock", login, "--yes").rc == 0
    shown = json.loads(cli("-i", inv, "-f", "json", "ad", "user", "show", login).out)
    assert shown["enabled"] is True and shown["title"] == "Agent d'accueil"
    reset = cli("-i", inv, "ad", "user", "reset-password", login, "--password-file", str(tmp_path / "r"), "--yes")
    assert reset.rc == 0 and find(samba_dc, login)["pwdLastSet"][0].year == 1601  # must change: pwdLastSet=0


def test_unknown_template_and_group_are_refused_before_any_change(ad_project, cli, samba_dc) -> None:
    result = cli("-i", str(ad_project), "ad", "user", "create", "--template", "cpas/nurse", "--first", "A",
                 "--last", "B", "--yes")
    assert result.rc == ExitStatus.USAGE and "cpas/social-worker" in result.err


def test_report_lists_risky_accounts_as_findings(ad_project, cli, samba_dc, tmp_path) -> None:
    from ldap3 import MODIFY_REPLACE

    login, _ = create(cli, ad_project, tmp_path, "Forever", f"Pw{tag()}", "commune/clerk")
    conn = ldap_connection(samba_dc)
    conn.modify(find(samba_dc, login)["dn"], {"userAccountControl": [(MODIFY_REPLACE, [512 | 0x10000])]})
    conn.unbind()
    result = cli("-i", str(ad_project), "-f", "json", "ad", "report")
    findings = json.loads(result.out)
    never = [f for f in findings if f["check"] == "ad.password-never-expires" and f["entity"] == "commune"]
    assert never and login in never[0]["evidence"]["accounts"] and never[0]["why"] and never[0]["fix"]
    privileged = next(f for f in findings if f["check"] == "ad.privileged-members")
    assert "Administrator" in privileged["evidence"]["groups"]["Domain Admins"]
    assert any(f["check"] == "ad.krbtgt-age" for f in findings)
    assert result.rc == ExitStatus.CHECK_WARNING  # warnings, nothing critical
    table = cli("-i", str(ad_project), "ad", "report")
    assert "Why it matters" in table.out


@pytest.mark.parametrize(("change", "expected", "status"), [
    ({"tls_name": "wrong.example.test"}, "set directory.tls_name", ExitStatus.UNREACHABLE),
    ({"ca_file": "/etc/ssl/certs/ca-certificates.crt"}, "could not be verified", ExitStatus.UNREACHABLE),
    ({"url": "ldaps://127.0.0.1:1"}, "cannot be reached", ExitStatus.UNREACHABLE),
    ({"url": "ldap://127.0.0.1"}, "not encrypted", ExitStatus.USAGE),
])
def test_connection_problems_are_explained(ad_project, cli, samba_dc, change, expected, status) -> None:
    data = json.loads(ad_project.read_text())
    data["directory"].update(change)
    ad_project.write_text(json.dumps(data))
    result = cli("-i", str(ad_project), "ad", "user", "show", "Administrator")
    assert result.rc == status, result.all
    assert expected in result.err and "Traceback" not in result.all
    if "tls_name" in change:
        assert samba_dc.tls_name in result.err  # names the certificate's real name


def test_start_tls_on_the_plain_port_serves_reads_and_password_changes(ad_project, cli, samba_dc, tmp_path) -> None:
    login, _ = create(cli, ad_project, tmp_path, "Start", f"Tls{tag()}", "commune/clerk")
    data = json.loads(ad_project.read_text())
    data["directory"].update({"url": f"ldap://{samba_dc.host}", "start_tls": True})
    ad_project.write_text(json.dumps(data))
    shown = cli("-i", str(ad_project), "-f", "json", "ad", "user", "show", login)
    assert shown.rc == 0 and json.loads(shown.out)["sAMAccountName"] == login, shown.all
    reset = cli("-i", str(ad_project), "ad", "user", "reset-password", login, "--password-file",
                str(tmp_path / "new-pw"), "--no-must-change", "--yes")
    assert reset.rc == 0, reset.all  # unicodePwd is only accepted over an encrypted connection
    ldap_connection(samba_dc, f"{login}@{samba_dc.dns_domain}", (tmp_path / "new-pw").read_text().strip()).unbind()


def test_a_service_account_without_rights_is_told_so_and_changes_nothing(ad_project, cli, samba_dc,
                                                                         tmp_path, monkeypatch) -> None:
    login, password = create(cli, ad_project, tmp_path, "Plain", f"User{tag()}", "commune/clerk")
    victim, _ = create(cli, ad_project, tmp_path, "Victim", f"User{tag()}", "commune/clerk")
    data = json.loads(ad_project.read_text())
    data["directory"]["bind_user"] = f"{login}@{samba_dc.dns_domain}"
    ad_project.write_text(json.dumps(data))
    monkeypatch.setenv("ITREF_TEST_AD_PASSWORD", password)
    result = cli("-i", str(ad_project), "ad", "user", "disable", victim, "--yes")
    assert result.rc != 0 and "insufficient rights" in result.err and "Traceback" not in result.all, result.all
    assert find(samba_dc, victim)["userAccountControl"] == [512]  # still enabled


def test_wrong_bind_password_is_an_authentication_failure(ad_project, cli, monkeypatch) -> None:
    monkeypatch.setenv("ITREF_TEST_AD_PASSWORD", "not-the-Passw0rd")
    result = cli("-i", str(ad_project), "ad", "user", "show", "Administrator")
    assert result.rc == ExitStatus.UNREACHABLE
    assert "AD refused the service account" in result.err and "not-the-Passw0rd" not in result.all


def test_template_paths_description_and_expiry_for_temporary_staff(ad_project, cli, samba_dc, tmp_path) -> None:
    from datetime import UTC, datetime, timedelta

    playbook = ad_project.parent / "playbooks" / "commune.yaml"
    data = json.loads(playbook.read_text(encoding="utf-8"))
    base = samba_dc.base_dn
    data["accounts"]["templates"]["summer-job"] = {
        "ou": f"OU=Commune,{base}", "groups": ["GG-Commune"], "username": "{first}.{last}",
        "home_directory": "\\\\nas01.exemple.example\\home\\{login}", "home_drive": "H:",
        "profile_path": "\\\\nas01.exemple.example\\profils\\{login}", "description": "Job étudiant (été)",
        "expires_after": "60d"}
    playbook.write_text(json.dumps(data), encoding="utf-8")
    before = datetime.now(UTC)
    login, _password = create(cli, ad_project, tmp_path, "Zoé", f"Étudiante{tag()}", "commune/summer-job")
    account = find(samba_dc, login)
    assert account is not None
    assert account["homeDirectory"] == [f"\\\\nas01.exemple.example\\home\\{login}"]
    assert account["homeDrive"] == ["H:"]
    assert account["profilePath"] == [f"\\\\nas01.exemple.example\\profils\\{login}"]
    assert account["description"] == ["Job étudiant (été)"]
    expires = account["accountExpires"][0]  # ldap3 reads the FILETIME as a datetime
    assert before + timedelta(days=60) - timedelta(minutes=1) <= expires <= datetime.now(UTC) + timedelta(days=60)


def test_report_finds_stale_never_used_passwordless_and_disabled_but_grouped_accounts(ad_project, cli, samba_dc,
                                                                                      tmp_path) -> None:
    from datetime import UTC, datetime, timedelta

    from ldap3 import MODIFY_REPLACE

    from itref.ad.client import DirectoryClient
    from itref.ad.report import directory_findings
    from itref.config.project import load_project
    from itref.secrets import SecretResolver

    t = tag()
    used, used_pw = create(cli, ad_project, tmp_path, "Used", f"Rep{t}", "commune/clerk")  # no change asked
    never, _ = create(cli, ad_project, tmp_path, "Never", f"Rep{t}", "commune/clerk")
    open_door, _ = create(cli, ad_project, tmp_path, "Open", f"Rep{t}", "commune/clerk")
    gone, _ = create(cli, ad_project, tmp_path, "Gone", f"Rep{t}", "commune/clerk")
    ldap_connection(samba_dc, f"{used}@{samba_dc.dns_domain}", used_pw).unbind()  # a real logon
    admin = ldap_connection(samba_dc)
    admin.modify(find(samba_dc, open_door)["dn"], {"userAccountControl": [(MODIFY_REPLACE, [512 | 0x20])]})
    admin.unbind()
    assert cli("-i", str(ad_project), "ad", "user", "disable", gone, "--yes").rc == 0  # its groups stay

    project = load_project(ad_project)
    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    try:
        today = {f.check: f for f in directory_findings(client, project) if f.entity == "commune"}
        later = {f.check: f for f in directory_findings(client, project, now=datetime.now(UTC) + timedelta(days=400))
                 if f.entity == "commune"}
    finally:
        client.close()

    def accounts(found: dict, check: str) -> list[str]:
        return found[check].evidence.get("accounts", []) if check in found else []

    assert open_door in accounts(today, "ad.password-not-required")
    assert today["ad.password-not-required"].severity.value == "critical"
    assert gone in accounts(today, "ad.disabled-in-groups") and gone not in accounts(today, "ad.stale-accounts")
    assert used not in accounts(today, "ad.stale-accounts") and never not in accounts(today, "ad.never-logged-on")
    assert used in accounts(later, "ad.stale-accounts")  # its last logon is now 400 days old
    assert never in accounts(later, "ad.never-logged-on") and used not in accounts(later, "ad.never-logged-on")


def test_at_a_terminal_the_plan_is_confirmed_and_the_password_shown_once_works(ad_project, samba_dc,
                                                                               state_dir) -> None:
    """The acceptance as a person does it: no --yes, no --password-file; answer y, read the password, kinit."""
    import os
    import re
    import sys

    import pexpect

    from tests.conftest import like_a_terminal

    last = f"Terminal{tag()}"
    child = pexpect.spawn(sys.executable, ["-m", "itref", "-i", str(ad_project), "ad", "user", "create",
                                           "--template", "cpas/social-worker", "--first", "Émilie", "--last", last],
                          env={**os.environ, "ITREF_STATE_DIR": str(state_dir), "NO_COLOR": "1", "TERM": "dumb",
                               "COLUMNS": "200"},
                          encoding="utf-8", timeout=60, dimensions=(50, 200), preexec_fn=like_a_terminal)
    child.expect(r"Apply these changes\?")
    assert "GG-CPAS-Social" in child.before  # the plan came first
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    shown = re.search(r"Initial password of (\S+) \(shown once, write it down now\): (\S+)",
                      " ".join(child.before.split()))  # as read on the screen, whatever the line breaks
    assert shown, child.before
    login, password = shown.group(1), shown.group(2)
    assert child.exitstatus == 0
    new = "Nouv3au-" + tag() + "!"
    proc = kinit(samba_dc, f"{login}@{samba_dc.realm}", f"{password}\n{new}\n{new}")
    assert proc.returncode == 0 and "expired" in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr
    journal = journal_text(state_dir)
    assert last in journal and password not in journal  # the creation is recorded, the password is not
