"""Bulk onboarding from CSV: every bad row first, then row by row, idempotent, resumable."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from itref.core.status import ExitStatus

HEADER = "Prénom;Nom;Modèle;Matricule;Service\n"


def rows(n: int, tag: str, template: str = "commune/clerk") -> list[str]:
    return [f"Agent{i};Import{tag};{template};{tag}-{i:04d};Accueil\n" for i in range(n)]


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes("".join(lines).encode(encoding))
    return path


def test_bad_rows_are_all_reported_with_their_lines_and_nothing_is_checked_against_ad(tmp_path, cli,
                                                                                       make_inventory) -> None:
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY, {"shared.yaml": """\
        entity: shared
        accounts: {templates: {clerk: {ou: "OU=X,DC=x", username: "{first}.{last}"}}}
        """})
    csv = write(tmp_path / "hr.csv", [
        HEADER.replace("Modèle", "Modele"),
        "Anne;Dupont;shared/clerk;1;RH\n",
        ";Durand;shared/clerk;2;RH\n",             # line 3: no first name
        "Paul;Martin;shared/nurse;3;RH\n",          # line 4: unknown template
        "Anne;Dupont;shared/clerk;1;RH\n",          # line 5: same person as line 2
        "Luc;Petit;shared/clerk;4\n",               # line 6: 4 fields
        "***;***;shared/clerk;5;RH\n",                 # line 7: login rule gives nothing
    ])
    result = cli("-i", str(inv), "ad", "user", "import", str(csv), "--passwords-file", str(tmp_path / "pw"))
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    lines = result.err.splitlines()
    for line, text in ((3, "first name is empty"), (4, "unknown account template"), (5, "same person as line 2"),
                       (6, "4 fields where the header has 5"), (7, "empty name")):
        assert any(x.startswith(f"{csv}:{line}:1:") and text in x for x in lines), (line, result.err)
    assert len([x for x in lines if x.startswith(str(csv))]) == 5
    assert not (tmp_path / "pw").exists()


def test_windows_1252_with_commas_and_unknown_column(tmp_path, cli, make_inventory) -> None:
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY, {"shared.yaml": """\
        entity: shared
        accounts: {templates: {clerk: {ou: "OU=X,DC=x"}}}
        """})
    csv = write(tmp_path / "hr.csv", ["Prénom,Nom,Couleur\n", "Élodie,Gérard,bleu\n"], "cp1252")
    result = cli("-i", str(inv), "ad", "user", "import", str(csv), "--template", "shared/clerk")
    assert result.rc == ExitStatus.INVALID_CONFIG
    assert f"{csv}:1:1: unknown column 'Couleur'" in result.err  # the header was decoded and split right


@pytest.mark.peer
def test_import_creates_then_a_rerun_creates_nothing(ad_project, cli, samba_dc, tmp_path) -> None:
    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, *rows(12, tag)], "cp1252")
    pw = tmp_path / "passwords.txt"
    dry = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--dry-run")
    assert dry.rc == 0 and "12 account(s) would be created" in dry.err
    # each row's account as it would be made: OU, attributes, groups
    assert dry.out.count(f"+ create CN=Agent0 Import{tag},OU=Commune,") == 1 and "department: Accueil" in dry.out
    assert f"sAMAccountName: agent11.import{tag}" in dry.out and dry.out.count("joins CN=GG-Commune") == 12
    first = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--passwords-file", str(pw),
                "--yes")
    assert first.rc == 0, first.all
    assert [r["status"] for r in json.loads(first.out)] == ["created"] * 12
    assert (pw.stat().st_mode & 0o777) == 0o600 and len(pw.read_text().splitlines()) == 1 + 12  # header + 12
    again = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--passwords-file", str(pw),
                "--yes")
    assert [r["status"] for r in json.loads(again.out)] == ["exists"] * 12
    assert len(pw.read_text().splitlines()) == 1 + 12
    journal = [r["target"].split(" ")[0] for r in json.loads(cli("journal", "-f", "json").out)]
    assert sorted(set(journal)) == ["add-member", "create", "password"]  # password and enabling: one modify
    assert [journal.count(k) for k in ("create", "password", "add-member")] == [12, 12, 12]
    from itref.lab.peers.samba import ldap_connection

    conn = ldap_connection(samba_dc)
    conn.search(samba_dc.base_dn, f"(sn=Import{tag})", attributes=["employeeID", "department"])
    assert len(conn.entries) == 12 and {e.department.value for e in conn.entries} == {"Accueil"}
    conn.unbind()


@pytest.mark.peer
def test_dry_run_gives_two_namesakes_of_one_file_two_logins_as_a_real_run_would(ad_project, cli, tmp_path) -> None:
    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, f"Anne;Twin{tag};commune/clerk;{tag}-1;RH\n",
                                      f"Anne;Twin{tag};commune/clerk;{tag}-2;Accueil\n"])
    dry = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--dry-run")
    rows = json.loads(dry.out)["rows"]
    assert dry.rc == 0 and [r["login"] for r in rows] == [f"anne.twin{tag}", f"anne.twin{tag}2"]
    assert rows[1]["plan"]["changes"][0]["attributes"]["department"] == "Accueil"
    pw = tmp_path / "pw"
    real = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--passwords-file", str(pw),
               "--yes")
    assert [r["login"] for r in json.loads(real.out)] == [r["login"] for r in rows]


@pytest.mark.peer
def test_dry_run_and_real_run_agree_on_a_row_found_among_the_files_own_accounts(ad_project, cli, tmp_path) -> None:
    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, f"Marc;Same{tag};commune/clerk;{tag}-1;RH\n",
                                      f"Marc;Same{tag};commune/clerk;;RH\n"])  # no matricule: found by name
    dry = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--dry-run")
    assert [r["action"] for r in json.loads(dry.out)["rows"]] == ["create", "exists"], dry.out
    real = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--passwords-file",
               str(tmp_path / "pw"), "--yes")
    assert [r["status"] for r in json.loads(real.out)] == ["created", "exists"], real.out


@pytest.mark.peer
def test_500_rows_with_5_broken_write_nothing_then_fixed_import_500_and_a_rerun_creates_none(
        ad_project, cli, samba_dc, tmp_path) -> None:
    """The issue's acceptance: the 5 bad rows are reported with their lines and nothing is written; fixed,
    the file imports; run again, it creates nothing."""
    from itref.lab.peers.samba import ldap_connection

    tag = uuid.uuid4().hex[:6]
    good = [HEADER, *rows(500, tag)]  # lines 2..501
    broken = list(good)
    broken[10] = f";Import{tag};commune/clerk;{tag}-x1;Accueil\n"             # line 11: no first name
    broken[100] = f"Agent100;Import{tag};commune/nurse;{tag}-x2;Accueil\n"    # line 101: unknown template
    broken[200] = broken[2]                                                    # line 201: same person as line 3
    broken[300] = f"Agent300;Import{tag};commune/clerk\n"                     # line 301: 3 fields of 5
    broken[500] = f"***;***;commune/clerk;{tag}-x5;Accueil\n"                 # line 501: the login rule gives nothing
    csv = write(tmp_path / "hr.csv", broken)
    pw = tmp_path / "passwords.txt"
    refused = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--passwords-file", str(pw), "--yes")
    assert refused.rc == ExitStatus.INVALID_CONFIG, refused.all
    reported = sorted(int(x.split(":")[1]) for x in refused.err.splitlines() if x.startswith(f"{csv}:"))
    assert reported == [11, 101, 201, 301, 501], refused.err
    conn = ldap_connection(samba_dc)
    conn.search(samba_dc.base_dn, f"(sn=Import{tag})", attributes=["sAMAccountName"])
    assert conn.entries == [] and not pw.exists()  # nothing written, not even the passwords file

    write(csv, good)
    first = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--passwords-file", str(pw),
                "--yes")
    assert first.rc == 0, first.err
    assert [r["status"] for r in json.loads(first.out)] == ["created"] * 500
    again = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--passwords-file", str(pw),
                "--yes")
    assert again.rc == 0 and [r["status"] for r in json.loads(again.out)] == ["exists"] * 500
    conn.search(samba_dc.base_dn, f"(sn=Import{tag})", attributes=["sAMAccountName"], paged_size=1000)
    assert len(conn.entries) == 500 and len(pw.read_text().splitlines()) == 1 + 500
    conn.unbind()


@pytest.mark.peer
def test_import_interrupted_by_a_dc_failure_is_finished_by_a_rerun(ad_project, samba_dc, tmp_path) -> None:
    from itref.ad.client import DirectoryClient
    from itref.ad.importer import ImportStopped, import_rows, read_rows
    from itref.config.project import load_project
    from itref.lab.peers.samba import ldap_connection
    from itref.secrets import SecretResolver

    tag = uuid.uuid4().hex[:6]
    project = load_project(ad_project)
    todo = read_rows(write(tmp_path / "hr.csv", [HEADER, *rows(20, tag)]), project, None)
    passwords: dict[str, str] = {}

    def keep(login, secret) -> None:
        passwords[login] = secret.reveal()

    def stop_dc_after_eight(result) -> None:
        if result.row.line == 9:
            samba_dc.kill()

    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    with pytest.raises(ImportStopped) as stopped:
        import_rows(client, project, todo, on_password=keep, on_row=stop_dc_after_eight)
    client.close()
    assert stopped.value.status == ExitStatus.UNREACHABLE and stopped.value.line == 10
    # what the 8 rows made reached: their accounts, not yet their groups (sent per chunk of rows)
    assert [(r.row.line, r.status) for r in stopped.value.results] == [(n, "partial") for n in range(2, 10)]
    samba_dc.start()
    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    try:
        results = import_rows(client, project, todo, on_password=keep)
    finally:
        client.close()
    # the first 8 were made but their group additions (sent per chunk of rows) were not: the rerun adds them
    assert [(r.status, r.login) for r in results[:8]] == [("completed", r.login) for r in results[:8]]
    assert all(r.login for r in results[:8])
    assert {r.status for r in results[8:]} <= {"created", "completed"}
    conn = ldap_connection(samba_dc)
    conn.search(samba_dc.base_dn, f"(sn=Import{tag})", attributes=["userAccountControl", "sAMAccountName", "memberOf"])
    accounts = {e.sAMAccountName.value: e.userAccountControl.value for e in conn.entries}
    groups = {e.sAMAccountName.value: [g.split(",")[0] for g in e.memberOf.values] for e in conn.entries}
    conn.unbind()
    assert len(accounts) == 20 and set(accounts.values()) == {512}  # all 20, once each, all enabled
    assert all(g == ["CN=GG-Commune"] for g in groups.values()), groups  # all 20 in the template's group
    for login in (results[0].login, results[-1].login):
        assert ldap_connection(samba_dc, f"{login}@{samba_dc.dns_domain}", passwords[login]).bound
    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    try:
        third = import_rows(client, project, todo, on_password=keep)
    finally:
        client.close()
    assert [r.status for r in third] == ["exists"] * 20


@pytest.mark.peer
def test_import_interrupted_inside_a_chunk_after_some_group_additions(ad_project, samba_dc, tmp_path) -> None:
    from itref.ad.client import DirectoryClient
    from itref.ad.importer import ImportStopped, import_rows, read_rows
    from itref.config.project import load_project
    from itref.lab.peers.samba import ldap_connection
    from itref.secrets import SecretResolver

    tag = uuid.uuid4().hex[:6]
    project = load_project(ad_project)
    todo = read_rows(write(tmp_path / "hr.csv", [HEADER, *rows(10, tag, "cpas/social-worker")]), project, None)
    changes: list[str] = []

    def journal(change, dn) -> None:
        changes.append(change.kind)
        if change.kind == "password" and changes.count("password") == 7:
            samba_dc.kill()  # rows 1-4 are in their groups (chunk of 4), rows 5-7 are not

    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    with pytest.raises(ImportStopped) as stopped:
        import_rows(client, project, todo, on_password=lambda login, secret: None, on_change=journal, chunk=4)
    client.close()
    # rows 1-4 (lines 2-5) were done and handed out; rows 5-7 have their accounts, not their groups; row 8 wrote
    # nothing before the DC went, so it is not claimed as half-done
    assert [(r.row.line, r.status) for r in stopped.value.results] == [(6, "partial"), (7, "partial"), (8, "partial")]
    assert stopped.value.line == 9
    assert changes.count("add-member") == 8  # 4 accounts x 2 groups, journaled one by one
    samba_dc.start()
    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    try:
        results = import_rows(client, project, todo, on_password=lambda login, secret: None)
    finally:
        client.close()
    assert [r.status for r in results] == ["exists"] * 4 + ["completed"] * 3 + ["created"] * 3
    conn = ldap_connection(samba_dc)
    conn.search(samba_dc.base_dn, f"(sn=Import{tag})", attributes=["memberOf", "userAccountControl"])
    assert len(conn.entries) == 10
    assert all(len(e.memberOf.values) == 2 and e.userAccountControl.value == 512 for e in conn.entries)
    conn.unbind()


@pytest.mark.peer
def test_logins_taken_meanwhile_or_by_a_upn_still_get_the_next_digit(ad_project, samba_dc, tmp_path) -> None:
    from itref.ad.client import DirectoryClient
    from itref.ad.importer import import_rows, load_index, read_rows
    from itref.config.project import load_project
    from itref.lab.peers.samba import ldap_connection, ou_dn
    from itref.secrets import SecretResolver

    tag = uuid.uuid4().hex[:6]
    project = load_project(ad_project)
    lines = [HEADER, f"Anne;Mw{tag};commune/clerk;{tag}-1;RH\n", f"Paul;Up{tag};commune/clerk;{tag}-2;RH\n",
             f"Luc;Sa{tag};commune/clerk;{tag}-3;RH\n", f"Luc;Sa{tag};cpas/social-worker;{tag}-4;RH\n",
             f"Lea;Tw{tag};commune/clerk;{tag}-5;RH\n"]
    todo = read_rows(write(tmp_path / "hr.csv", lines), project, None)
    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    try:
        index = load_index(client, project, todo)
        # after the index was read: another tool takes anne's login, creates lea itself (same employee id, in
        # the template's OU but not in its group), and an account whose UPN (not its login) is paul's
        conn = ldap_connection(samba_dc)
        classes = ["top", "person", "organizationalPerson", "user"]
        assert conn.add(f"CN=Other {tag},{ou_dn('OU=Commune')}", classes,
                        {"sAMAccountName": f"anne.mw{tag}", "userAccountControl": "514"})
        assert conn.add(f"CN=Lea Tw{tag},{ou_dn('OU=Commune')}", classes,
                        {"sAMAccountName": f"lea.el{tag}", "employeeID": f"{tag}-5", "userAccountControl": "512",
                         "givenName": "Lea", "sn": f"Tw{tag}"})
        index_upn = f"paul.up{tag}@{samba_dc.dns_domain}"
        assert conn.add(f"CN=Upn holder {tag},{ou_dn('OU=Commune')}", classes,
                        {"sAMAccountName": f"holder{tag}", "userPrincipalName": index_upn, "userAccountControl": "514"})
        conn.unbind()
        results = import_rows(client, project, todo, on_password=lambda login, secret: None, index=index)
        again = import_rows(client, project, todo, on_password=lambda login, secret: None)
    finally:
        client.close()
    assert [(r.status, r.login) for r in results] == [
        ("created", f"anne.mw{tag}2"), ("created", f"paul.up{tag}2"), ("created", f"luc.sa{tag}"),
        ("created", f"lsa{tag}"), ("completed", f"lea.el{tag}")], [r.message for r in results]
    assert [r.status for r in again] == ["exists"] * 5


@pytest.mark.peer
def test_an_account_a_group_refuses_fails_its_row_and_is_deleted_again(ad_project, samba_dc, tmp_path,
                                                                       monkeypatch) -> None:
    from itref.ad.client import DirectoryClient
    from itref.ad.errors import DirectoryError
    from itref.ad.importer import import_rows, read_rows
    from itref.config.project import load_project
    from itref.lab.peers.samba import ldap_connection
    from itref.secrets import SecretResolver

    tag = uuid.uuid4().hex[:6]
    project = load_project(ad_project)
    todo = read_rows(write(tmp_path / "hr.csv", [HEADER, *rows(3, tag)]), project, None)
    real_add_member = DirectoryClient.add_member

    def refuse_batch(self, group_dn, member_dns) -> None:
        raise DirectoryError("refused (test)", 53)

    def refuse_agent1(self, group_dn, member_dn) -> None:
        if member_dn.startswith("CN=Agent1 "):
            raise DirectoryError("Agent1 refused (test)", 53)
        real_add_member(self, group_dn, member_dn)

    monkeypatch.setattr(DirectoryClient, "add_members", refuse_batch)
    monkeypatch.setattr(DirectoryClient, "add_member", refuse_agent1)
    changes: list[str] = []
    client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
    try:
        results = import_rows(client, project, todo, on_password=lambda login, secret: None,
                              on_change=lambda change, dn: changes.append(f"{change.kind} {dn.split(',')[0]}"))
    finally:
        client.close()
    assert [(r.status, r.message) for r in results] == [
        ("created", ""), ("failed", "Agent1 refused (test)"), ("created", "")]
    assert f"delete CN=Agent1 Import{tag}" in changes
    conn = ldap_connection(samba_dc)
    conn.search(samba_dc.base_dn, f"(sn=Import{tag})", attributes=["givenName", "memberOf"])
    assert sorted((e.givenName.value, len(e.memberOf.values)) for e in conn.entries) == [("Agent0", 1), ("Agent2", 1)]
    conn.unbind()


@pytest.mark.peer
def test_a_rerun_leaves_offboarded_and_disabled_accounts_alone_and_shows_group_repairs(ad_project, cli, samba_dc,
                                                                                     tmp_path) -> None:
    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, *rows(3, tag, "cpas/social-worker")])  # must change password
    pw = tmp_path / "passwords.txt"
    inv = str(ad_project)
    first = cli("-i", inv, "-f", "json", "ad", "user", "import", str(csv), "--passwords-file", str(pw), "--yes")
    logins = [r["login"] for r in json.loads(first.out)]
    assert len(logins) == 3, first.all
    assert cli("-i", inv, "ad", "user", "offboard", logins[0], "--reason", "départ", "--yes").rc == 0
    assert cli("-i", inv, "ad", "user", "disable", logins[1], "--yes").rc == 0
    assert cli("-i", inv, "ad", "group", "remove", "GG-Tous", logins[2], "--yes").rc == 0
    dry = cli("-i", inv, "ad", "user", "import", str(csv), "--dry-run")
    assert f"add to the groups GG-Tous Agent2 Import{tag}" in dry.out, dry.out
    assert f"exists Agent1 Import{tag}" in dry.out  # finished with "must change password", then disabled
    again = json.loads(cli("-i", inv, "-f", "json", "ad", "user", "import", str(csv), "--passwords-file", str(pw),
                           "--yes").out)
    assert [r["status"] for r in again][:2] == ["exists", "exists"]
    shown = [json.loads(cli("-i", inv, "-f", "json", "ad", "user", "show", login).out) for login in logins[:2]]
    shown = [s[0] if isinstance(s, list) else s for s in shown]
    assert [s["enabled"] for s in shown] == [False, False]  # neither the offboarded nor the disabled is re-enabled
    assert "OU=Departed" in shown[0]["dn"]
    assert len(pw.read_text().splitlines()) == 1 + 3  # no new password for anyone


@pytest.mark.peer
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_an_import_cut_by_a_lost_dc_says_per_row_what_was_done_and_that_a_rerun_finishes_it(
        ad_project, cli, samba_dc, tmp_path, monkeypatch, fmt) -> None:
    from itref.ad.client import DirectoryClient
    from itref.lab.peers.samba import ldap_connection

    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, *rows(20, tag)])
    pw = tmp_path / "passwords.txt"
    real_add = DirectoryClient.add
    made: list[str] = []

    def add_then_lose_the_dc(self, dn, object_class, attributes) -> None:
        real_add(self, dn, object_class, attributes)
        made.append(dn)
        if len(made) == 9:
            samba_dc.kill()  # the 9th account exists, still without its password; rows 1-8 wait for their groups

    monkeypatch.setattr(DirectoryClient, "add", add_then_lose_the_dc)
    cut = cli("-i", str(ad_project), "-f", fmt, "ad", "user", "import", str(csv), "--passwords-file", str(pw),
              "--yes")
    monkeypatch.setattr(DirectoryClient, "add", real_add)
    assert cut.rc == ExitStatus.UNREACHABLE, cut.all
    if fmt == "json":
        done = json.loads(cut.out)  # still one valid document
        assert [(r["line"], r["status"]) for r in done] == [(n, "partial") for n in range(2, 11)]
        messages = [r["message"] for r in done]
    else:
        shown = [x for x in cut.out.splitlines() if x.startswith(f"{csv}:")]
        assert [x.split(":")[1] for x in shown] == [str(n) for n in range(2, 11)], cut.out
        assert all(f": partial Agent{n} Import{tag} → agent{n}.import{tag} (" in x for n, x in enumerate(shown))
        messages = shown
    assert all("not yet in its groups" in m for m in messages[:8]), messages
    assert "no password yet" in messages[8] and "a rerun finishes it" in messages[8]
    assert "line 10" in cut.err and "11 not started" in cut.err and "run the same command again" in cut.err, cut.err
    assert len(pw.read_text().splitlines()) == 1 + 9  # the header, the 8 passwords set, the 9th's (never set)

    samba_dc.start()
    again = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--passwords-file", str(pw),
                "--yes")
    assert again.rc == 0, again.all
    assert [r["status"] for r in json.loads(again.out)] == ["completed"] * 9 + ["created"] * 11
    conn = ldap_connection(samba_dc)
    conn.search(samba_dc.base_dn, f"(sn=Import{tag})", attributes=["userAccountControl", "memberOf"])
    assert len(conn.entries) == 20 and {e.userAccountControl.value for e in conn.entries} == {512}
    assert all([g.split(",")[0] for g in e.memberOf.values] == ["CN=GG-Commune"] for e in conn.entries)
    conn.unbind()


@pytest.mark.peer
def test_ctrl_c_while_rows_are_shown_still_reports_every_row_and_where_it_stopped(ad_project, cli, samba_dc,
                                                                                  tmp_path, monkeypatch) -> None:
    from itref.cli import ad as cli_ad

    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, *rows(6, tag)])
    real_line = cli_ad._Rows.line
    calls: list[str] = []

    def line_then_ctrl_c(self, text: str) -> None:
        calls.append(text)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if Ctrl-C came while the third row was printed
        real_line(self, text)

    monkeypatch.setattr(cli_ad._Rows, "line", line_then_ctrl_c)
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--passwords-file", str(tmp_path / "pw"),
                 "--yes")
    assert result.rc == ExitStatus.INTERRUPTED, result.all
    shown = [x.split(":")[1] for x in result.out.splitlines() if x.startswith(f"{csv}:")]
    assert shown == ["2", "3", "4", "5", "6", "7"], result.out  # none lost, none twice
    assert "interrupted (Ctrl-C)" in result.err and "0 not started" in result.err
