"""The handover pack: everything about each entity, on paper or on screen, and never a secret value."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import html5lib
import pytest

from itref.core.status import ExitStatus
from tests.conftest import EXAMPLE

CANARY_ENV = "Canary-env-7f3a9c2e"
CANARY_FILE = "Canary-file-51d0be84"
CANARY_URL = "Canary-url-0c4e11aa"
CANARY_KEY = "Canary-keyfile-9e2d7b3c"


# ------------------------------------------------------------------ helpers


def load(inv: Path):
    from itref.config.project import load_project

    return load_project(inv)


def collect(inv: Path, entities: list[str] | None = None):
    from itref.handover.pack import collect as collect_pack

    return collect_pack(load(inv), entities)


def html_text(markup: str) -> str:
    """Return the visible text of an HTML page, whitespace collapsed."""
    markup = re.sub(r">\s*<", "> <", markup)  # cells, labels and values are read apart
    tree = html5lib.parse(markup, treebuilder="etree", namespaceHTMLElements=False)
    for dropped in tree.iter("style"):
        dropped.text = ""
    return re.sub(r"\s+", " ", "".join(tree.itertext()))


def md_text(markdown: str) -> str:
    """Return Markdown without its escapes and marks, whitespace collapsed (good enough to look for words)."""
    plain = re.sub(r"\[((?:[^\]\\]|\\.)*)\]\(<[^>]*>\)", r"\1", markdown)  # a link reads as its text
    pieces = re.split(r"(?<!\\)(`+)(.*?)\1", plain)  # text, fence, code, text, fence, code, text...
    out = []
    for i in range(0, len(pieces), 3):
        out.append(re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)\*", "", pieces[i])))
        if i + 2 < len(pieces):
            out.append(pieces[i + 2])
    return re.sub(r"\s+", " ", "".join(out))


def strict_parse(markup: str) -> None:
    """Raise if the page is not well-formed HTML5 (html5lib strict mode stops at the first parse error)."""
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(markup)


def page_texts(folder: Path, name: str) -> tuple[str, str]:
    """Return the visible text of NAME.md and NAME.html."""
    return (md_text((folder / f"{name}.md").read_text(encoding="utf-8")),
            html_text((folder / f"{name}.html").read_text(encoding="utf-8")))


RICH_INVENTORY = """\
version: 1
organisation: Commune de Test <&> "quotes"
defaults:
  ssh: {{user: itref, identity: {key}}}
secrets:
  nas-key: {{env: ITREF_TEST_CANARY}}
  app-sudo: {{file: {secret_file}}}
  vault: {{keepass: {{database: /srv/itref.kdbx, keyfile: {key}, entry: IT/nas, password: {{prompt: "Master?"}}}}}}
directory:
  url: ldaps://dc.test.example
  base_dn: DC=test,DC=example
  bind_user: svc-itref@test.example
  bind_password: {{secret: nas-key}}
entities:
  shared:
    title: Shared infrastructure
    hosts:
      bastion: {{address: bastion.test.example, port: 2200, tags: [jump]}}
      nas: {{address: nas.test.example, via: bastion, password: {{secret: nas-key}}, tags: [backup]}}
  cpas:
    title: CPAS <b>de Test</b> *bold*
    description: Centre public d'action sociale
    ou: OU=CPAS,DC=test,DC=example
    contacts:
      - {{name: Marie Dupont, role: directrice générale, email: marie@test.example, phone: "+32 4 111 11 11"}}
    hosts:
      srv-cpas-app: {{address: 10.0.0.5, user: admin, sudo_password: {{secret: app-sudo}}, tags: [linux, app],
                     description: Social software server}}
      cpas-dc: {{address: cpas-dc.test.example, connection: winrm, user: 'TEST\\adm', scheme: http,
                password: {{file: {secret_file}}}}}
  asbl:
    title: ASBL sans playbook
"""

RICH_CPAS = """\
entity: cpas
contacts: [{name: Supplier SA, role: social software, phone: "+32 4 222 22 22"}]
routines:
  monthly:
    description: Monthly check of the CPAS
    why: Catch problems before users do.
    schedule: "30 6 1 * *"
    ask: {who: {prompt: "Your initials?"}}
    steps:
      - description: Disk space of the app server
        id: disk
        why: A full disk stops the social software.
        if_fails: Delete old dumps in /srv/dumps, keep the last 7.
        run: {command: [df, -h], limit: srv-cpas-app}
      - description: Reboot needed?
        run: {command: [needs-restarting, -r], sudo: true}
        on_failure: continue
      - description: Look at the RAID lights
        manual: {instruction: "Go to the server room; all lights must be green."}
      - description: The NAS routine
        include: shared/nas-check
      - description: Create the trainee account
        ad: {action: user create, params: {template: cpas/social-worker, first: Jean, last: Stagiaire}}
      - description: Backups are there
        backup: {action: check}
      - description: Restore drill
        backup: {action: drill, names: [sql]}
        when: disk failed
      - description: Audit the disks
        audit: {checks: [linux.disk.free]}
      - description: Copy the configuration
        copy: {src: files/app.conf, dest: /etc/app.conf, mode: "0640", limit: srv-cpas-app}
      - description: Do the weekly one as well
        include: weekly
  weekly:
    description: Weekly uptime look
    steps:
      - {description: Uptime of the app server, run: {command: [uptime], limit: srv-cpas-app}}
backups:
  - {name: sql, kind: files, host: srv-cpas-app, path: /srv/dumps, pattern: "*.sql.gz", max_age: 26h,
     drill: {files: [/srv/dumps/a.sql.gz], random: 2, every: 30d}}
  - {name: nas-restic, kind: restic, host: nas, repository: "rest:https://u:@CANARY@@nas.test.example/r",
     password: {secret: vault}}
accounts:
  templates:
    social-worker: {ou: "OU=Social,OU=CPAS,DC=test,DC=example", groups: [GG-Social], must_change_password: true}
handover:
  notes:
    - The CPAS server's RAID controller beeps; it is harmless.
    - "Two lines:\\nthe second one has <script>alert(1)</script> & an ampersand"
""".replace("@CANARY@", CANARY_URL)

RICH_SHARED = """\
entity: shared
routines:
  nas-check:
    description: NAS health
    steps: [{description: Free space on the NAS, run: {command: [df, -h], limit: nas}}]
"""


@pytest.fixture
def rich(make_inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test-made inventory using every step kind, secrets of every store, with canary secret values."""
    secret_file = tmp_path / "sudo.pass"
    secret_file.write_text(CANARY_FILE + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    key = tmp_path / "id_test"
    key.write_text(CANARY_KEY + "\n", encoding="utf-8")
    key.chmod(0o600)
    monkeypatch.setenv("ITREF_TEST_CANARY", CANARY_ENV)
    return make_inventory(RICH_INVENTORY.format(secret_file=secret_file, key=key),
                          {"cpas.yaml": RICH_CPAS, "shared.yaml": RICH_SHARED})


# ------------------------------------------------------------------ the example commune, through the CLI


def test_example_commune_pack_holds_every_entity_host_routine_backup_note_and_contact(cli, tmp_path: Path) -> None:
    from itref.config.project import load_project

    project = load_project(EXAMPLE)
    out = tmp_path / "pack"
    result = cli("-i", str(EXAMPLE), "handover", "--output", str(out))
    assert result.rc == 0, result.all
    listed = [Path(line) for line in result.out.splitlines() if line.strip()]
    assert sorted(p.name for p in listed) == sorted(p.name for p in out.iterdir())
    assert {"index.md", "index.html"} <= {p.name for p in listed}

    inv = project.inventory
    index_md, index_html = page_texts(out, "index")
    for name, entity in inv.entities.items():
        assert (out / f"{name}.md").is_file() and (out / f"{name}.html").is_file()
        assert entity.title in index_md and entity.title in index_html
        assert f"{name}.html" in index_html and f"{name}.md" in index_md
        md, html = page_texts(out, name)
        for text in (md, html):
            assert entity.title in text
            for host in entity.hosts:
                assert host in text
            for contact in entity.contacts:
                assert contact.name in text
                assert all(v in text for v in (contact.email, contact.phone) if v)
        book = project.playbooks.get(name)
        if book is None:
            continue
        for text in (md, html):
            for c in book.contacts:
                assert c.name in text and (c.role or "") in text
            for note in book.handover.notes:
                assert note in text
            for b in book.backups:
                assert b.name in text
            for r in book.routines.values():
                assert r.description in text
                for step in r.steps:
                    assert step.description in text
        raw_md = (out / f"{name}.md").read_text(encoding="utf-8")
        raw_html = (out / f"{name}.html").read_text(encoding="utf-8")
        for r in book.routines.values():  # steps are numbered, in order
            for i, step in enumerate(r.steps, 1):
                assert re.search(rf"^ *{i}\. \*\*{re.escape(step.description)}\*\*", raw_md, re.M), step.description
                assert re.search(rf'<li value="{i}"><span class="num">{i}\.</span>.*?'
                                 rf"{re.escape(escape(step.description))}", raw_html), step.description
    cpas_md, cpas_html = page_texts(out, "cpas")
    assert "The CPAS server's RAID controller beeps once at boot; it is harmless." in cpas_html
    assert "Run df -h on srv-cpas-app" in cpas_html and "Run df -h on srv-cpas-app" in cpas_md
    assert "at 07:00, Monday to Friday" in cpas_html
    # every backup of the example, with its (absent) history said plainly
    assert "never checked" in cpas_html and "nas-restic" in cpas_html and "sql-dumps" in cpas_html
    assert "No audit recorded for this entity yet" in cpas_html


def test_every_html_page_is_strict_html5_standalone_and_printable(cli, rich: Path, tmp_path: Path) -> None:
    from itref.handover.layout import day
    from itref.handover.pack import current_language

    out = tmp_path / "pack"
    for inv in (EXAMPLE, rich):
        before = datetime.now(UTC)  # the pack's day is today's, or yesterday's if midnight passed meanwhile
        result = cli("-i", str(inv), "handover", "--output", str(out), "--force")
        assert result.rc == 0, result.all
        pages = sorted(out.glob("*.html"))
        assert len(pages) >= 4
        for page in pages:
            markup = page.read_text(encoding="utf-8")
            strict_parse(markup)
            assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", markup, re.I), page
            assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", markup, re.I), page
            assert f'<html lang="{current_language()}">' in markup
            assert "@page { size: A4;" in markup and "break-before: page" in markup
            # the date of the pack, written DD/MM/YYYY, and no ISO date in what a person reads
            text = html_text(markup)
            assert day(before) in text or day(datetime.now(UTC)) in text
            assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)
            for href in re.findall(r'href="([^"]*)"', markup):  # every link's target is also in the text
                if href.startswith("mailto:"):
                    assert href.removeprefix("mailto:") in text
                elif not href.startswith(("#", "tel:")):
                    assert href in text


def test_no_secret_value_ever_reaches_the_pack(cli, rich: Path, tmp_path: Path, state_dir: Path) -> None:
    out = tmp_path / "pack"
    result = cli("-i", str(rich), "handover", "--output", str(out))
    assert result.rc == 0, result.all
    as_json = cli("-i", str(rich), "--format", "json", "handover")
    assert as_json.rc == 0, as_json.all
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 7
    everything = [p.read_text(encoding="utf-8") for p in files] + [result.all, as_json.all]
    everything += [p.read_text(encoding="utf-8") for p in state_dir.rglob("*.jsonl")]
    for canary in (CANARY_ENV, CANARY_FILE, CANARY_URL, CANARY_KEY):
        assert not any(canary in text for text in everything), canary
    # ... while saying where each secret lives
    cpas_md, cpas_html = page_texts(out, "cpas")
    index_md, index_html = page_texts(out, "index")
    for text in (cpas_html, cpas_md, index_html, index_md):
        assert "app-sudo" in text and str(tmp_path / "sudo.pass") in text
        assert "/srv/itref.kdbx" in text and "IT/nas" in text and "Master?" in text
        assert "$ITREF_TEST_CANARY" in text
    assert "rest:https://u:***@nas.test.example/r" in cpas_html
    assert "host srv-cpas-app (sudo password)" in cpas_html


def test_routines_become_numbered_instructions_built_from_each_step_kind(rich: Path) -> None:
    from itref.handover import markdown
    from itref.handover.layout import entity_document
    from itref.handover.output import pages

    pack = collect(rich)
    texts = pages(pack)
    html = html_text(texts["cpas.html"])
    md = md_text(texts["cpas.md"])
    monthly = next(r for r in next(e for e in pack.entities if e.name == "cpas").routines if r.name == "monthly")
    assert [s.number for s in monthly.steps] == list(range(1, 11)) and monthly.number == "5.1"
    for text in (html, md):
        assert "5.1 Monthly check of the CPAS" in text and "5.2 Weekly uptime look" in text
        assert "at 06:30, on day 1 of the month (30 6 1 * *)" in text
        assert "Your initials?" in text
        # run: the command on its hosts, and the itref way
        assert "Run df -h on srv-cpas-app. With itref: itref run --limit srv-cpas-app -- df -h" in text
        assert "Run sudo needs-restarting -r on srv-cpas-app, cpas-dc" in text  # the entity's hosts by default
        # why and if_fails, then what follows a failure
        assert "A full disk stops the social software." in text
        assert "Delete old dumps in /srv/dumps, keep the last 7. — then stop the routine here." in text
        assert "Go on with the next step." in text
        # manual: the instruction itself
        assert "Go to the server room; all lights must be green." in text
        # include: the routine and where it is described
        assert "Do routine shared/nas-check — NAS health (see section 5.1 of the pack of shared" in text
        assert "Do routine weekly — Weekly uptime look (see section 5.2)" in text
        # ad, backup, audit, copy
        assert "Create the account — template: cpas/social-worker, first: Jean, last: Stagiaire" in text
        assert "Check that the latest backup of sql, nas-restic is there" in text
        assert "itref backup check sql nas-restic" in text and "itref backup drill sql" in text
        assert "Only if disk failed" in text.replace(":", "")  # a label, then its value
        assert "Audit linux.disk.free (" in text and "itref audit --checks linux.disk.free" in text
        assert "Copy the file files/app.conf to /etc/app.conf on srv-cpas-app (permissions 0640)" in text
        # whom to call
        assert "If a step fails and this page does not say what to do, call:" in text
        assert "Marie Dupont" in text and "+32 4 222 22 22" in text
    assert "shared.html" in html and "shared.md" in md
    assert "10. **Do the weekly one as well**" in markdown.render(entity_document(pack, pack.entities[1], "md"))


def test_hosts_say_how_they_are_reached(rich: Path) -> None:
    from itref.handover.output import pages

    pack = collect(rich)
    shared = next(e for e in pack.entities if e.name == "shared")
    nas = next(h for h in shared.hosts if h.name == "nas")
    assert nas.via == ["bastion"] and nas.port == 22 and nas.user == "itref"
    assert nas.reach is not None and nas.reach.startswith("ssh -i ") and nas.reach.endswith(
        "-J itref@bastion.test.example:2200 itref@nas.test.example")
    texts = pages(pack)
    cpas = html_text(texts["cpas.html"])
    for expected in ("10.0.0.5", "SSH, port 22", "admin", "linux", "Social software server",
                     "WinRM over HTTP, port 5985", "TEST\\adm",
                     "Enter-PSSession -ComputerName 'cpas-dc.test.example' -Port 5985"):
        assert expected in cpas, expected
    assert "Its routines and backups also use machines of other entities: nas" in cpas
    shared_html = html_text(texts["shared.html"])
    assert "Through the jump host(s) bastion" in shared_html and "Tags backup" in shared_html


def test_entity_texts_are_escaped_in_html_and_markdown(rich: Path) -> None:
    from itref.handover.output import pages

    texts = pages(collect(rich))
    raw = texts["cpas.html"]
    assert "<script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<b>de Test</b>" not in raw and "CPAS &lt;b&gt;de Test&lt;/b&gt; *bold*" in raw
    assert "Commune de Test &lt;&amp;&gt; &quot;quotes&quot;" in raw
    assert "Two lines:\nthe second one" in raw  # a line break stays one (white-space: pre-line)
    md = texts["cpas.md"]
    assert r"CPAS \<b\>de Test\</b\> \*bold\*" in md and "<script>" not in md
    assert "Two lines:  \n  the second one" in md


def test_backup_and_audit_histories_appear_when_present(cli, rich: Path, tmp_path: Path, state_dir: Path) -> None:
    from itref.audit.history import AuditHistory
    from itref.audit.registry import get
    from itref.backup.base import Facts
    from itref.backup.history import History
    from itref.core.findings import Finding, Severity
    from itref.handover.layout import day
    from itref.state.folder import StateFolder

    history = History(StateFolder(state_dir))
    before = datetime.now(UTC)  # the day of the check and drill below (or the next one, past midnight)
    snapshot = datetime.now(UTC) - timedelta(hours=5)
    history.record_check("cpas", "sql", "files", "warning", Facts(latest=snapshot, size=123_456_789, files=3))
    history.record_check("cpas", "nas-restic", "restic", "critical", Facts(problem="wrong-password"))
    history.record_drill("cpas", "sql", True, ["/srv/dumps/a.sql.gz"], "1 file identical")
    history.record_drill("cpas", "sql", False, ["/srv/dumps/a.sql.gz"], "a.sql.gz differs from the original")
    history.record_verify("cpas", "nas-restic", True, "no errors were found")
    audits = AuditHistory(StateFolder(state_dir))
    audits.record("old", [Finding("linux.disk.free", Severity.CRITICAL, "stale finding of an older audit",
                                  entity="cpas", host="srv-cpas-app")], Severity.CRITICAL)
    audits.record("new", [
        Finding("linux.disk.free", Severity.CRITICAL, "/srv is 97% full", entity="cpas", host="srv-cpas-app"),
        Finding("linux.disk.free", Severity.WARNING, "/var is 85% full", entity="cpas", host="cpas-dc",
                waiver={"reason": "disk ordered", "until": "2099-01-01", "by": "me"}),
        Finding("linux.disk.free", Severity.OK, "/ has room", entity="cpas", host="cpas-dc", subject="/"),
        Finding("linux.disk.free", Severity.WARNING, "/data is 88% full", entity="shared", host="nas"),
    ], Severity.CRITICAL)
    out = tmp_path / "pack"
    assert cli("-i", str(rich), "handover", "--output", str(out)).rc == 0
    md, html = page_texts(out, "cpas")
    fix = get("linux.disk.free").fix
    for text in (md, html):
        assert any("Last check " + day(when) in text.replace(":", "") for when in (before, datetime.now(UTC)))
        assert "WARNING — latest backup made on " + day(snapshot) in text and "123.5 MB" in text
        assert "CRITICAL — problem: wrong-password" in text
        assert "FAILED — 1 file restored and compared — a.sql.gz differs from the original" in text
        assert any("last successful drill: " + day(when) in text for when in (before, datetime.now(UTC)))
        assert "no errors were found" in text
        assert "[CRITICAL] srv-cpas-app: /srv is 97% full" in text
        assert fix[:40] in text and "itref audit explain linux.disk.free" in text
        assert "1 open problem." in text and "1 accepted for a while (waived)" in text
        for absent in ("/var is 85% full", "/ has room", "stale finding", "/data is 88% full"):
            assert absent not in text
    assert "/data is 88% full" in page_texts(out, "shared")[1]
    index = page_texts(out, "index")[1]
    assert "(cpas): 2 machines, 2 routines, 2 backups, 1 open problem" in index
    assert "never audited" in index  # the ASBL


def test_the_last_30_journal_records_of_the_entity_only(cli, rich: Path, tmp_path: Path, state_dir: Path) -> None:
    from itref.journal import Journal, JournalRecord
    from itref.state.folder import StateFolder

    journal = Journal(StateFolder(state_dir))
    for i in range(35):
        journal.append(JournalRecord(action="run", target=f"cpas-command-{i:02d}", outcome="ok", entity="cpas",
                                     host="srv-cpas-app"))
    journal.append(JournalRecord(action="run", target="shared-command", outcome="failed", entity="shared",
                                 host="nas", rc=2))
    out = tmp_path / "pack"
    assert cli("-i", str(rich), "handover", "--output", str(out)).rc == 0
    md, html = page_texts(out, "cpas")
    for text in (md, html):
        assert "The 30 most recent of 35 records, newest first" in text
        assert all(f"cpas-command-{i:02d}" in text for i in range(5, 35))
        assert not any(f"cpas-command-{i:02d}" in text for i in range(5))
        assert "shared-command" not in text
        assert text.index("cpas-command-34") < text.index("cpas-command-05")
    assert "shared-command" in page_texts(out, "shared")[1] and "failed (rc 2)" in page_texts(out, "shared")[1]
    last = Journal(StateFolder(state_dir)).query()[-1]  # the generation itself is journaled
    assert last.action == "handover" and last.target == str(out) and last.outcome == "ok"


def test_the_index_lists_each_entity_with_a_one_line_summary(rich: Path) -> None:
    from itref.handover.output import pages

    texts = pages(collect(rich))
    md, html = md_text(texts["index.md"]), html_text(texts["index.html"])
    for text in (md, html):
        assert "Shared infrastructure (shared): 2 machines, 1 routine, 0 backups, never audited" in text
        assert "(cpas): 2 machines, 2 routines, 2 backups, never audited" in text
        assert "ASBL sans playbook (asbl): 0 machines, 0 routines, 0 backups, never audited" in text
        assert "ldaps://dc.test.example" in text and "svc-itref@test.example" in text
        assert "$ITREF_TEST_CANARY" in text
    assert "file shared.html" in html and "file shared.md" in md


def test_json_prints_the_data_model(cli, rich: Path, tmp_path: Path) -> None:
    result = cli("-i", str(rich), "--format", "json", "handover", "--entity", "cpas")
    assert result.rc == 0, result.all
    data = json.loads(result.out)
    assert [e["name"] for e in data["entities"]] == ["cpas"]
    cpas = data["entities"][0]
    assert [s["number"] for s in cpas["routines"][0]["steps"]] == list(range(1, 11))
    assert cpas["routines"][0]["steps"][0]["command"] == "df -h"
    assert {h["name"] for h in cpas["hosts"]} == {"srv-cpas-app", "cpas-dc"}
    assert {b["name"] for b in cpas["backups"]} == {"sql", "nas-restic"}
    assert data["files"] == [] and not list(tmp_path.glob("pack*"))
    datetime.fromisoformat(data["generated"])


def test_the_output_folder_is_protected(cli, rich: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    out.mkdir()
    (out / "letter.txt").write_text("not a pack", encoding="utf-8")
    refused = cli("-i", str(rich), "handover", "--output", str(out))
    assert refused.rc == ExitStatus.USAGE and "--force" in refused.err and refused.out == ""
    assert [p.name for p in out.iterdir()] == ["letter.txt"]
    assert cli("-i", str(rich), "handover", "--output", str(out), "--force").rc == 0
    # a previous pack is replaced; pages of entities no longer asked for go; other files stay
    again = cli("-i", str(rich), "handover", "--output", str(out), "--entity", "cpas")
    assert again.rc == 0, again.all
    assert sorted(p.name for p in out.iterdir()) == [".itref-handover.json", "cpas.html", "cpas.md", "index.html",
                                                     "index.md", "letter.txt"]
    assert (out / "cpas.html").stat().st_mode & 0o077 == 0
    assert cli("-i", str(rich), "handover").rc == ExitStatus.USAGE  # where to?
    assert cli("-i", str(rich), "handover", "-o", str(tmp_path / "x"), "--entity", "nope").rc == ExitStatus.USAGE
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert cli("-i", str(rich), "handover", "-o", str(tmp_path / "file")).rc == ExitStatus.USAGE


def test_collecting_only_reads(rich: Path, state_dir: Path) -> None:
    collect(rich)
    assert list(state_dir.iterdir()) == []  # no history database created, no journal written


@pytest.mark.parametrize(("cron", "words"), [
    ("0 7 * * 1-5", "at 07:00, Monday to Friday"),
    ("30 6 1 * *", "at 06:30, on day 1 of the month"),
    ("0 22 * * 0,6", "at 22:00, Sunday, Saturday"),
    ("15 * * * *", "every hour at minute 15, every day"),
    ("@daily", "every day at midnight"),
    ("*/5 * * * *", None),
])
def test_schedules_in_words(cron: str, words: str | None) -> None:
    from itref.handover.layout import schedule_words

    assert schedule_words(cron) == words


def test_passwords_written_inside_addresses_are_hidden() -> None:
    from itref.handover.pack import hide_credentials, shorten_webhook

    assert hide_credentials("rest:https://user:s3cret@host/repo") == "rest:https://user:***@host/repo"
    assert hide_credentials("sftp:backup@nas:/srv/repo") == "sftp:backup@nas:/srv/repo"
    assert shorten_webhook("https://hooks.slack.example/services/T0/B0/SECRET") == "https://hooks.slack.example/…"
