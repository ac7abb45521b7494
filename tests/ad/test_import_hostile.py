"""Hostile HR exports: every row the directory would refuse, or that makes no sense, is refused before the first
write (and shown escaped, never raw); a file too big is refused in one sentence; the passwords file is never one
that itref did not make."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from itref.core.status import ExitStatus

HEADER = "Prénom;Nom;Modèle;Matricule;Identifiant;Service\n"


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes("".join(lines).encode(encoding))
    return path


def accounts(samba_dc, tag: str) -> list[str]:
    """Return the CNs of every object whose surname or CN holds ``tag`` (whatever the import left)."""
    from itref.lab.peers.samba import ldap_connection

    conn = ldap_connection(samba_dc)
    try:
        conn.search(samba_dc.base_dn, f"(|(sn=*{tag}*)(cn=*{tag}*)(sAMAccountName=*{tag}*))", attributes=["cn"])
        return sorted(str(e.cn.value) for e in conn.entries)
    finally:
        conn.unbind()


def all_users(samba_dc) -> list[str]:
    """Return the DN of every user of the test DC."""
    from itref.lab.peers.samba import ldap_connection

    conn = ldap_connection(samba_dc)
    try:
        conn.search(samba_dc.base_dn, "(objectClass=user)", attributes=["cn"], paged_size=1000)
        return sorted(e.entry_dn for e in conn.entries)
    finally:
        conn.unbind()


def located(result, csv: Path) -> dict[int, str]:
    """Return line → message of the ``FILE:LINE:1:`` lines of stderr."""
    out: dict[int, str] = {}
    for line in result.err.splitlines():
        if line.startswith(f"{csv}:"):
            number, _sep, message = line[len(f"{csv}:"):].partition(":1: ")
            out[int(number)] = message
    return out


# --------------------------------------------------------------------- 6. rows the directory would refuse


def hostile_rows(tag: str) -> list[tuple[str, str]]:
    """Return (CSV line, what the refusal says) for rows that must never reach the directory."""
    long = "x" * 30
    return [
        (f"Anne;Space{tag};commune/clerk;{tag}-01;a b{tag[:3]};RH\n", "space"),
        (f"Anne;Long{tag};commune/clerk;{tag}-02;{long};RH\n", "20 characters"),
        (f'Anne;Slash{tag};commune/clerk;{tag}-03;"x/y{tag[:3]}";RH\n', "'/'"),
        (f'Anne;Semi{tag};commune/clerk;{tag}-04;"x;y{tag[:3]}";RH\n', "';'"),
        (f"Anne;Star{tag};commune/clerk;{tag}-05;x*{tag[:3]};RH\n", "'*'"),
        (f"Anne;Dot{tag};commune/clerk;{tag}-06;anne{tag[:3]}.;RH\n", "ends with a dot"),
        (f"Anne;At{tag};commune/clerk;{tag}-07;anne@{tag[:3]};RH\n", "'@'"),
        (f"Anne;Dots{tag};commune/clerk;{tag}-08;an..ne{tag[:3]};RH\n", "user principal name"),
        (f"Marie-Christine-Alexandra-Joséphine;Van den Broeck-Dumoulin{tag}xx;commune/clerk;{tag}-09;;RH\n",
         "64"),  # a CN of 67 characters, which Samba accepts and Windows refuses
        (f"Es\x1b[2Jc;Esc{tag};commune/clerk;{tag}-10;;RH\n", "control character"),
        (f'Multi;"Line\nNl{tag}";commune/clerk;{tag}-11;;RH\n', "control character"),
        (f"Nu\x00l;Nul{tag};commune/clerk;{tag}-12;;RH\n", "control character"),
        (f"Bell\x07;Bel{tag};commune/clerk;{tag}-13;;RH\n", "control character"),
        (f"Anne;Rtl\u202e{tag};commune/clerk;{tag}-14;;RH\n", "control character"),
        (f"Anne;Matricule{tag};commune/clerk;{tag}-15-much-too-long;;RH\n", "16 characters"),
        (f"Anne;Service{tag};commune/clerk;{tag}-16;;{'Service des travaux ' * 4}\n", "64 characters"),
        (f"Anne;Ctl{tag};commune/clerk;{tag}-17;;Accueil\x9b2J\n", "control character"),
    ]


@pytest.mark.peer
def test_rows_the_directory_would_refuse_are_all_reported_and_nothing_is_written(ad_project, cli, samba_dc,
                                                                                 tmp_path) -> None:
    tag = uuid.uuid4().hex[:6]
    cases = hostile_rows(tag)
    good = [f"Paul;Good{tag};commune/clerk;{tag}-00;;RH\n"]
    csv = write(tmp_path / "hr.csv", [HEADER, *good, *(line for line, _why in cases)])
    pw = tmp_path / "pw.txt"
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--passwords-file", str(pw), "--yes")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    found = located(result, csv)
    line, expected = 3, []
    for text, why in cases:
        assert line in found and why in found[line], (line, text, why, result.err)
        expected.append(line)
        line += text.count("\n")  # a quoted field holding a newline spans two lines: the row is where it starts
    assert sorted(found) == expected, result.err
    assert accounts(samba_dc, tag) == [] and not pw.exists()  # not even the valid row: nothing is written


@pytest.mark.peer
def test_dry_run_lists_refused_rows_as_errors_never_as_create(ad_project, cli, tmp_path) -> None:
    tag = uuid.uuid4().hex[:6]
    cases = hostile_rows(tag)
    csv = write(tmp_path / "hr.csv", [HEADER, *(line for line, _why in cases)])
    for fmt in ("table", "json"):
        result = cli("-i", str(ad_project), "-f", fmt, "ad", "user", "import", str(csv), "--dry-run")
        assert result.rc == ExitStatus.INVALID_CONFIG, result.all
        assert "create" not in result.out and len(located(result, csv)) == len(cases)


@pytest.mark.peer
@pytest.mark.parametrize(("options", "why"), [
    (["--first", "Anne", "--last", "Space", "--login", "a b"], "space"),
    (["--first", "Anne", "--last", "Long", "--login", "y" * 21], "20 characters"),
    (["--first", "Anne", "--last", "Dot", "--login", "anne."], "ends with a dot"),
    (["--first", "Anne", "--last", "Bar", "--login", "an|ne"], "'|'"),
    (["--first", "Anne", "--last", "Empty", "--login", ""], "empty"),
    (["--first", "Es\x1bc", "--last", "Esc"], "control character"),
    (["--first", "New", "--last", "Line\nX"], "control character"),
    (["--first", "A" * 40, "--last", "B" * 30], "64"),
    (["--first", "Anne", "--last", "Attr", "--attr", "department=" + "d" * 65], "64 characters"),
    (["--first", "Anne", "--last", "Attr", "--attr", "employeeID=" + "1" * 17], "16 characters"),
], ids=["space", "too-long", "trailing-dot", "pipe", "empty-login", "escape", "newline", "cn-70", "department-65",
        "employee-id-17"])
def test_user_create_refuses_the_same_values_before_any_write(ad_project, cli, samba_dc, tmp_path, options,
                                                              why) -> None:
    before = all_users(samba_dc)
    result = cli("-i", str(ad_project), "ad", "user", "create", "--template", "commune/clerk", *options,
                 "--password-file", str(tmp_path / "pw"), "--yes")
    assert result.rc == ExitStatus.USAGE, result.all
    assert why in result.err and "\x1b" not in result.all
    assert all_users(samba_dc) == before and not (tmp_path / "pw").exists()


def test_every_character_windows_forbids_in_a_login_is_refused() -> None:
    from itref.ad.naming import login_problems

    for ch in '"/\\[]:;|=,+*?<>@':
        problems = login_problems(f"ab{ch}cd")
        assert problems and f"'{ch}'" in problems[0], ch
    assert login_problems("anne.dupont") == [] and login_problems("é-lodie_2") == []


def test_a_rule_made_login_cut_at_20_characters_never_ends_with_a_dot() -> None:
    from itref.ad.naming import login_problems, render_login

    login = render_login("{first}.{last}", "Maximiliennnnnnnnnn", "Dupont")  # 19 letters, then the dot
    assert login == "maximiliennnnnnnnnn" and login_problems(login) == []


# --------------------------------------------------------------------- 7. a header twice, a column twice


@pytest.mark.peer
def test_a_header_repeated_inside_the_file_is_an_error_not_a_person(ad_project, cli, samba_dc, tmp_path) -> None:
    tag = uuid.uuid4().hex[:6]
    lines = [HEADER, f"Anne;Head{tag};commune/clerk;{tag}-1;;RH\n", HEADER,
             f"Paul;Head{tag};commune/clerk;{tag}-2;;RH\n", "prenom;NOM;modele;matricule;login;service\n"]
    csv = write(tmp_path / "hr.csv", lines)
    for extra in (["--dry-run"], ["--passwords-file", str(tmp_path / "pw"), "--yes"]):
        result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), *extra)
        assert result.rc == ExitStatus.INVALID_CONFIG, result.all
        found = located(result, csv)
        assert sorted(found) == [3, 5] and all("repeats the header" in m for m in found.values()), result.err
    assert accounts(samba_dc, tag) == []  # before: "Prénom Nom" became the account pnom


@pytest.mark.parametrize("header", ["first;last;first;template", "Prénom;Nom;firstname;Modèle",
                                    "first;last;Service;department", "first;last;login;Identifiant"],
                         ids=["same-name", "alias", "attribute-alias", "login-alias"])
def test_a_column_given_twice_is_an_error_on_the_header_line(tmp_path, cli, make_inventory, header) -> None:
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY, {"shared.yaml": """\
        entity: shared
        accounts: {templates: {clerk: {ou: "OU=X,DC=x"}}}
        """})
    width = header.count(";") + 1
    csv = write(tmp_path / "hr.csv", [header + "\n", ";".join(["Anne", "Dupont", "Annie", "shared/clerk"][:width])
                                      + "\n"])
    result = cli("-i", str(inv), "ad", "user", "import", str(csv), "--template", "shared/clerk", "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert f"{csv}:1:1:" in result.err and "twice" in result.err


# --------------------------------------------------------------------- 8. a file too big


def test_a_file_beyond_the_size_limit_is_refused_in_one_sentence_before_anything(tmp_path, cli,
                                                                                 make_inventory) -> None:
    from itref.ad.importer import MAX_BYTES
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY, {"shared.yaml": """\
        entity: shared
        accounts: {templates: {clerk: {ou: "OU=X,DC=x"}}}
        """})
    csv = tmp_path / "huge.csv"
    with csv.open("wb") as fh:
        fh.write(b"first;last\n")
        fh.truncate(MAX_BYTES + 1)  # sparse: the size is what counts
    result = cli("-i", str(inv), "ad", "user", "import", str(csv), "--template", "shared/clerk", "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert result.err.count("\n") == 1 and f"{csv}:1:1:" in result.err and "at most" in result.err


def test_a_file_beyond_the_row_limit_is_refused_at_the_first_row_too_many(tmp_path, cli, make_inventory) -> None:
    from itref.ad.importer import MAX_ROWS
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY, {"shared.yaml": """\
        entity: shared
        accounts: {templates: {clerk: {ou: "OU=X,DC=x"}}}
        """})
    csv = tmp_path / "many.csv"
    with csv.open("w", encoding="utf-8") as fh:
        fh.write("first;last;id\n")
        for i in range(MAX_ROWS + 5):
            fh.write(f"A{i};B{i};{i}\n")
    result = cli("-i", str(inv), "ad", "user", "import", str(csv), "--template", "shared/clerk", "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert len(result.err.splitlines()) == 1 and f"{csv}:{MAX_ROWS + 2}:1:" in result.err  # one sentence


def test_a_device_that_never_ends_is_read_only_up_to_the_limit(tmp_path, cli, make_inventory) -> None:
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY, {"shared.yaml": """\
        entity: shared
        accounts: {templates: {clerk: {ou: "OU=X,DC=x"}}}
        """})
    result = cli("-i", str(inv), "ad", "user", "import", "/dev/zero", "--template", "shared/clerk", "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert "/dev/zero:1:1:" in result.err and "at most" in result.err


@pytest.mark.peer
def test_dry_run_reports_each_row_before_the_next_one_is_planned(ad_project, cli, tmp_path, capsys,
                                                                 monkeypatch) -> None:
    from itref.ad import importer

    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, *(f"Agent{i};Flow{tag};commune/clerk;{tag}-{i};;RH\n"
                                                for i in range(5))])
    seen_before: dict[str, str] = {}
    real = importer.plan_row_create

    def watch(client, project, row, view):
        seen_before[row.first] = capsys.readouterr().out  # what was printed before this row was planned
        print(seen_before[row.first], end="")  # put it back for the final result
        return real(client, project, row, view)

    monkeypatch.setattr(importer, "plan_row_create", watch)
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--dry-run")
    assert result.rc == 0, result.all
    assert f"create Agent3 Flow{tag}" in seen_before["Agent4"]  # row 4 was on the screen before row 5 was planned
    assert f"create Agent4 Flow{tag}" not in seen_before["Agent4"]


# --------------------------------------------------------------------- 9. terminal control sequences


@pytest.mark.peer
def test_control_sequences_in_the_file_are_shown_escaped_in_errors(ad_project, cli, tmp_path) -> None:
    csv = write(tmp_path / "hr.csv", ["Prénom;Nom;Modèle;Cou\x1b[31mleur\n",
                                      "Anne;Dupont;commune/clerk\x07;bleu\n"])
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG
    assert "\x1b" not in result.all and "\x07" not in result.all
    assert "Cou\\x1b[31mleur" in result.err
    csv = write(tmp_path / "hr.csv", [HEADER, "Clear\x1b[2J;Screen;\"commune/cl\x1b]0;pwned\x07erk\";1;;RH\n"])
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG
    assert "\x1b" not in result.all and "\x07" not in result.all
    assert "Clear\\x1b[2J" in result.err and "\\x07" in result.err


@pytest.mark.peer
def test_control_sequences_from_the_directory_are_shown_escaped_in_rows_and_plans(ad_project, cli, samba_dc,
                                                                                  tmp_path) -> None:
    """An account another tool made half (disabled, no password) with control characters in its name and login
    (Samba refuses ESC there, not the 8-bit CSI nor a right-to-left override) reaches the dry run's row line and
    its "finish" plan escaped."""
    from itref.lab.peers.samba import ldap_connection, ou_dn

    tag = uuid.uuid4().hex[:6]
    conn = ldap_connection(samba_dc)
    assert conn.add(f"CN=Other\u202e {tag},{ou_dn('OU=Commune')}", ["top", "person", "organizationalPerson", "user"],
                    {"sAMAccountName": f"x\x9b2J\u202e{tag[:4]}", "employeeID": f"{tag}-1",
                     "userAccountControl": "514"})
    conn.unbind()
    csv = write(tmp_path / "hr.csv", [HEADER, f"Anne;Known{tag};commune/clerk;{tag}-1;;RH\n"])
    for fmt in ("table", "json"):
        result = cli("-i", str(ad_project), "-f", fmt, "ad", "user", "import", str(csv), "--dry-run")
        assert result.rc == 0, result.all
        assert not any(ch in result.all for ch in "\x9b\u202e"), result.all
    table = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--dry-run")
    assert f"finish Anne Known{tag} (commune/clerk) → x\\x9b2J\\u202e{tag[:4]}" in table.out, table.out
    assert f"Finish the account x\\x9b2J\\u202e{tag[:4]}" in table.out and f"CN=Other\\u202e {tag}" in table.out
    data = json.loads(cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--dry-run").out)
    assert data["rows"][0]["login"] == f"x\x9b2J\u202e{tag[:4]}"  # JSON escapes them, and keeps the data


@pytest.mark.peer
def test_a_template_value_holding_an_escape_sequence_refuses_the_rows_and_is_shown_escaped(ad_project, cli,
                                                                                          tmp_path) -> None:
    book = ad_project.parent / "playbooks" / "commune.yaml"
    data = json.loads(book.read_text(encoding="utf-8"))
    data["accounts"]["templates"]["clerk"]["attributes"]["title"] = "Clerk\x1b[2J\x07"
    book.write_text(json.dumps(data), encoding="utf-8")  # JSON "\u001b": YAML reads the escape character
    csv = write(tmp_path / "hr.csv", [HEADER, "Anne;Title;commune/clerk;t-1;;RH\n"])
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert "\x1b" not in result.all and "attribute title 'Clerk\\x1b[2J\\x07' holds a control character" in result.err


def test_printable_escapes_every_control_character_and_keeps_text() -> None:
    from itref.core.text import printable

    assert printable("Émilie Lefèvre-D'Hondt") == "Émilie Lefèvre-D'Hondt"
    assert printable("a\x1b[2Jb\x07\x00\n\t\x7f\x9b\u202e\u2028") == \
        "a\\x1b[2Jb\\x07\\x00\\n\\t\\x7f\\x9b\\u202e\\u2028"


# --------------------------------------------------------------------- 10. the passwords file


@pytest.mark.peer
def test_passwords_file_in_a_missing_folder_is_one_sentence_before_any_write(ad_project, cli, samba_dc,
                                                                            tmp_path) -> None:
    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, f"Anne;Nofolder{tag};commune/clerk;{tag}-1;;RH\n"])
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--passwords-file",
                 str(tmp_path / "missing" / "pw.txt"), "--yes")
    assert result.rc == ExitStatus.USAGE, result.all
    assert "does not exist" in result.err and "bug" not in result.err and len(result.err.splitlines()) == 1
    assert accounts(samba_dc, tag) == []


@pytest.mark.peer
@pytest.mark.parametrize("kind", ["symlink-to-file", "dangling-symlink", "foreign-file", "open-to-others"])
def test_passwords_file_that_itref_did_not_make_is_refused_and_left_untouched(ad_project, cli, samba_dc, tmp_path,
                                                                             kind) -> None:
    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, f"Anne;Pwfile{tag};commune/clerk;{tag}-1;;RH\n"])
    victim = tmp_path / "victim.txt"
    pw = tmp_path / "pw.txt"
    if kind == "symlink-to-file":
        victim.write_text("precious\n")
        victim.chmod(0o644)
        pw.symlink_to(victim)
    elif kind == "dangling-symlink":
        pw.symlink_to(victim)
    elif kind == "foreign-file":
        pw.write_text("someone's notes\n")
        pw.chmod(0o644)
    else:
        first = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--passwords-file", str(pw), "--yes")
        assert first.rc == 0, first.all
        pw.chmod(0o644)
        csv = write(tmp_path / "hr.csv", [HEADER, f"Paul;Pwfile{tag};commune/clerk;{tag}-2;;RH\n"])
    before = {p: (p.read_bytes(), p.stat().st_mode) for p in (victim, pw) if p.exists()}
    made = accounts(samba_dc, tag)
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--passwords-file", str(pw), "--yes")
    assert result.rc == ExitStatus.USAGE, result.all
    assert str(pw) in result.err and "bug" not in result.err
    assert {p: (p.read_bytes(), p.stat().st_mode) for p in (victim, pw) if p.exists()} == before
    assert not (kind == "dangling-symlink" and victim.exists())
    assert accounts(samba_dc, tag) == made


@pytest.mark.peer
def test_passwords_file_is_made_exclusively_0600_with_its_header_and_a_rerun_appends(ad_project, cli,
                                                                                    tmp_path) -> None:
    from itref.ad.passfile import HEADER as PW_HEADER

    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, f"Anne;Own{tag};commune/clerk;{tag}-1;;RH\n"])
    pw = tmp_path / "pw.txt"
    old_umask = os.umask(0)
    try:
        first = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--passwords-file", str(pw), "--yes")
    finally:
        os.umask(old_umask)
    assert first.rc == 0, first.all
    assert pw.stat().st_mode & 0o777 == 0o600
    lines = pw.read_text().splitlines()
    assert lines[0] == PW_HEADER.rstrip("\n") and [x.split(";")[0] for x in lines[1:]] == [f"anne.own{tag}"]
    csv = write(tmp_path / "hr.csv", [HEADER, f"Paul;Own{tag};commune/clerk;{tag}-2;;RH\n"])
    second = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--passwords-file", str(pw), "--yes")
    assert second.rc == 0, second.all
    assert [x.split(";")[0] for x in pw.read_text().splitlines()[1:]] == [f"anne.own{tag}", f"paul.own{tag}"]


@pytest.mark.peer
def test_row_100_is_shown_as_line_100_not_as_an_emoji(ad_project, cli, tmp_path) -> None:
    """Rich turns ":100:" (and ":1234:") into an emoji; a row line keeps its number."""
    tag = uuid.uuid4().hex[:6]
    csv = write(tmp_path / "hr.csv", [HEADER, *(f"Agent{i};Hundred{tag};commune/clerk;{tag}-{i};;RH\n"
                                                for i in range(100))])
    result = cli("-i", str(ad_project), "ad", "user", "import", str(csv), "--dry-run")
    assert result.rc == 0, result.all
    assert f"{csv}:100: create Agent98 Hundred{tag}" in result.out and "\U0001f4af" not in result.out


@pytest.mark.peer
def test_at_a_terminal_rows_keep_their_numbers_and_data_from_the_directory_is_escaped(ad_project, samba_dc,
                                                                                      state_dir, tmp_path) -> None:
    """The terminal path (Rich, in colour): line 100 is not an emoji, a login holding an 8-bit CSI and a
    right-to-left override (made by another tool) reaches the screen escaped."""
    import sys

    import pexpect

    from itref.lab.peers.samba import ldap_connection, ou_dn
    from tests.conftest import like_a_terminal

    tag = uuid.uuid4().hex[:6]
    conn = ldap_connection(samba_dc)
    assert conn.add(f"CN=Other {tag},{ou_dn('OU=Departed')}", ["top", "person", "organizationalPerson", "user"],
                    {"sAMAccountName": f"x\x9b2J\u202e{tag[:4]}", "employeeID": f"{tag}-0",
                     "userAccountControl": "514"})
    conn.unbind()
    csv = write(tmp_path / "hr.csv", [HEADER, *(f"Agent{i};Tty{tag};commune/clerk;{tag}-{i};;RH\n"
                                                for i in range(100))])
    child = pexpect.spawn(sys.executable, ["-m", "itref", "-i", str(ad_project), "ad", "user", "import", str(csv),
                                           "--dry-run"],
                          env={**os.environ, "ITREF_STATE_DIR": str(state_dir), "TERM": "xterm", "COLUMNS": "200"},
                          encoding="utf-8", timeout=120, dimensions=(50, 200), preexec_fn=like_a_terminal)
    child.expect(pexpect.EOF)
    child.close()
    screen = child.before
    assert child.exitstatus == 0, screen
    assert f"{csv}:100: create Agent98 Tty{tag}" in screen and "\U0001f4af" not in screen
    assert f"exists Agent0 Tty{tag} (commune/clerk) → x\\x9b2J\\u202e{tag[:4]}" in screen
    assert "\x9b" not in screen and "\u202e" not in screen and "\x1b[" in screen  # Rich's own colours only


@pytest.mark.peer
def test_a_namesake_of_64_characters_gets_a_cn_that_still_fits_in_64(ad_project, cli, samba_dc, tmp_path) -> None:
    """Two people with one long name in one OU: the second account's CN, "First Last (login)", is shortened to
    fit Windows' 64 characters (it was the full name plus the login, 87 characters here, which Samba takes and
    Windows refuses)."""
    tag = uuid.uuid4().hex[:6]
    first, last = "Marie-Christine-Alexandra", f"Van den Broeck-Dumoulin-Lefèvre{tag}x"
    assert len(f"{first} {last}") == 64
    csv = write(tmp_path / "hr.csv", [HEADER, f"{first};{last};commune/clerk;{tag}-1;;RH\n",
                                      f"{first};{last};commune/clerk;{tag}-2;;RH\n"])
    result = cli("-i", str(ad_project), "-f", "json", "ad", "user", "import", str(csv), "--passwords-file",
                 str(tmp_path / "pw"), "--yes")
    assert result.rc == 0, result.all
    names = accounts(samba_dc, tag)
    assert len(names) == 2 and all(len(n) <= 64 for n in names), names
    assert any(n.endswith(")") for n in names)


@pytest.mark.peer
@pytest.mark.parametrize("kind", ["symlink", "missing-folder"])
def test_user_create_password_file_through_a_symlink_or_in_a_missing_folder_is_refused_before_any_write(
        ad_project, cli, samba_dc, tmp_path, kind) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = tmp_path / "pw"
    if kind == "symlink":
        target.symlink_to(victim)
    else:
        target = tmp_path / "missing" / "pw"
    tag = uuid.uuid4().hex[:6]
    result = cli("-i", str(ad_project), "ad", "user", "create", "--template", "commune/clerk", "--first", "Anne",
                 "--last", f"Link{tag}", "--password-file", str(target), "--yes")
    assert result.rc == ExitStatus.USAGE, result.all
    assert "bug" not in result.err and victim.read_text() == "precious\n"
    assert accounts(samba_dc, tag) == []


def test_one_login_on_two_rows_is_an_error_on_the_second(tmp_path, cli, make_inventory) -> None:
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY, {"shared.yaml": """\
        entity: shared
        accounts: {templates: {clerk: {ou: "OU=X,DC=x"}}}
        """})
    csv = write(tmp_path / "hr.csv", ["first;last;login;id\n", "Anne;Dupont;adupont;1\n", "Alain;Dupont;ADupont;2\n"])
    result = cli("-i", str(inv), "ad", "user", "import", str(csv), "--template", "shared/clerk", "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert located(result, csv) == {3: "the login 'ADupont' is also on line 2"}


def test_a_file_of_bad_rows_lists_the_first_hundred_and_counts_the_others(tmp_path, cli, make_inventory) -> None:
    from tests.conftest import LOCAL_INVENTORY

    inv = make_inventory(LOCAL_INVENTORY, {"shared.yaml": """\
        entity: shared
        accounts: {templates: {clerk: {ou: "OU=X,DC=x"}}}
        """})
    csv = write(tmp_path / "hr.csv", ["first;last\n", *(f"Anne{i};\n" for i in range(250))])  # no last names
    result = cli("-i", str(inv), "ad", "user", "import", str(csv), "--template", "shared/clerk", "--dry-run")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    found = located(result, csv)
    assert len(found) == 101 and "150 more bad rows from this line on" in found[102], found.get(102)
