"""The audit output formats (JUnit, Markdown, HTML, Nagios, Prometheus), each read back with a real parser."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import html5lib
import pytest
from junitparser import Failure, JUnitXml, Skipped
from markdown_it import MarkdownIt
from prometheus_client.parser import text_string_to_metric_families

from itref.audit.history import Past
from itref.core.audits import AuditReport
from itref.core.findings import Finding, Severity
from itref.report.audit import RENDERERS, renderer

FORMATS = ("junit", "markdown", "html", "nagios", "prometheus")

HOSTILE = 'Sauvegarde « Aide sociale » <script>alert("x")</script> & "cité" | a\\b\nseconde ligne \x1b[31m'
"""A message as a remote command could produce: markup, quotes, a pipe, a backslash, a newline, an escape."""
HOSTILE_SUBJECT = 'C:\\Partage "Social"\nligne 2'
WAIVER = {"reason": "Mise à jour prévue — « fenêtre » de maintenance <b>", "until": "2026-12-31", "by": "jdupont"}
STARTED = datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC)

ENTITIES = {"commune": "Administration communale", "cpas": "CPAS de Thuin-sur-Sambre",
            "asbl": "ASBL Sport & Loisirs <Élan>", "shared": "Infrastructure partagée"}


def sample_report() -> AuditReport:
    """Several entities; OK, info, warning, critical, unknown and waived findings; one finding without entity;
    accented French text; a hostile message and subject; one resolved finding."""
    f = Finding
    findings = [
        f("audit.host.reachable", Severity.OK, "joignable (ssh)", entity="commune", host="srv-commune"),
        f("linux.disk.free", Severity.CRITICAL, "/srv est plein à 95 % (1,2 Go libres)",
          why="Quand le disque est plein, l'application de l'état civil s'arrête.",
          fix="Supprimez les anciens exports dans /srv/exports ou agrandissez le disque.",
          entity="commune", host="srv-commune", subject="/srv", evidence={"used_percent": 95, "type": "ext4"},
          change="new"),
        f("linux.load", Severity.WARNING, "charge 3,1 pour 2 cœurs", why="Tout devient lent.",
          fix="Regardez les processus (top).", entity="commune", host="srv-commune", change="regressed"),
        f("backups.age", Severity.UNKNOWN, HOSTILE, why="Sans sauvegarde récente, un sinistre efface le dossier.",
          fix="Vérifiez le dépôt restic.", entity="cpas", host="srv-cpas", subject=HOSTILE_SUBJECT,
          evidence={"repo": "/srv/backup", "note": '<img src="http://evil.example/x.png">'}, change="unchanged"),
        f("windows.updates", Severity.CRITICAL, "37 mises à jour en attente", why="Failles connues.",
          fix="Installez les mises à jour.", entity="cpas", host="srv-cpas", waiver=WAIVER, change="unchanged"),
        f("linux.disk.free", Severity.OK, "/ est plein à 40 %", entity="cpas", host="srv-cpas", subject="/"),
        f("audit.host.reachable", Severity.OK, "joignable (local)", entity="asbl", host="pc-asbl"),
        f("linux.kernel", Severity.INFO, "noyau 6.1 (à jour)", entity="asbl", host="pc-asbl"),
        f("directory.accounts.stale", Severity.WARNING, "compte « jdupont » inutilisé depuis 120 jours",
          why="Un compte oublié est une porte ouverte.", fix="Désactivez-le.", entity="shared",
          subject="CN=Jean Dupont,OU=CPAS"),
        f("network.endpoint", Severity.OK, "https://intranet.example répond en 120 ms", subject="intranet"),
    ]
    resolved = [Past("linux.memory|commune|srv-commune|", "linux.memory", Severity.WARNING, "commune", "srv-commune",
                     None, "mémoire utilisée à 92 %", False)]
    return AuditReport("run42", "Commune de Thuin-sur-Sambre", STARTED, 1.234, findings, dict(ENTITIES), resolved,
                       "run41")


def empty_report() -> AuditReport:
    return AuditReport("run0", "Commune vide", STARTED, 0.01, [], {"commune": "Commune"})


def test_every_format_is_registered_and_renders_an_empty_report():
    for name in FORMATS:
        assert name in RENDERERS
        text = renderer(name)(empty_report())
        assert isinstance(text, str) and text.endswith("\n")


def by_key(report: AuditReport) -> dict[str, Finding]:
    return {f.key: f for f in report.findings}


def one_line(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------ JUnit


def read_junit(path: Path) -> JUnitXml:
    xml = JUnitXml.fromfile(str(path))
    assert xml._tag == "testsuites"
    return xml


def check_junit_counts(xml: JUnitXml) -> None:
    """The counts written on every suite and on the root are the ones junitparser computes from the cases
    (this rewrites the counts and times of ``xml``)."""
    written = [(s.name, s.tests, s.failures, s.errors, s.skipped) for s in xml]
    root = (xml.tests, xml.failures, xml.errors, xml.skipped)
    for suite in xml:
        suite.update_statistics()
    assert [(s.name, s.tests, s.failures, s.errors, s.skipped) for s in xml] == written
    xml.update_statistics()
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == root


def test_junit(tmp_path):
    report = sample_report()
    path = tmp_path / "audit.xml"
    path.write_text(renderer("junit")(report), encoding="utf-8")
    ET.parse(path)  # well-formed for the standard library too
    xml = read_junit(path)
    assert xml.time == pytest.approx(1.234)
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (10, 4, 0, 1)
    check_junit_counts(xml)
    suites = {s.name: s for s in xml}
    assert list(suites) == [*ENTITIES.values(), "All entities (shared)"]  # inventory order, escaping round-trips
    assert [(s.tests, s.failures, s.skipped) for s in suites.values()] == [(3, 2, 0), (3, 1, 1), (2, 0, 0),
                                                                             (1, 1, 0), (1, 0, 0)]
    assert all(datetime.fromisoformat(s.timestamp) == STARTED for s in xml)
    assert {p.name: p.value for p in suites["CPAS de Thuin-sur-Sambre"].properties()}["entity"] == "cpas"

    expected = by_key(report)
    seen = set()
    for suite in xml:
        for case in suite:
            f = next(f for f in expected.values() if f.check == case.classname and case.name.startswith(
                f"{f.host}: " if f.host else (f.subject or "")) and (f.subject is None or f.subject in case.name
                                                                   or f.subject == case.name))
            seen.add(f.key)
            results = case.result
            if f.waiver:
                assert case.is_skipped and isinstance(results[0], Skipped)
                assert WAIVER["reason"] in results[0].message and WAIVER["until"] in results[0].message
            elif f.failing:
                assert case.is_failure and isinstance(results[0], Failure)
                assert results[0].type == f.severity.value
                body = results[0].text
                assert f.why in body and f.fix in body
                for key in f.evidence:
                    assert key in body
            else:
                assert case.is_passed and results == []
    assert seen == set(expected)

    cpas = suites["CPAS de Thuin-sur-Sambre"]
    hostile = next(c for c in cpas if c.classname == "backups.age")
    assert hostile.name == f"srv-cpas: {HOSTILE_SUBJECT}"
    failure = hostile.result[0]
    # the escape character cannot be carried by XML: it becomes U+FFFD, everything else round-trips
    assert failure.message == HOSTILE.replace("\x1b", "\ufffd")
    assert '<img src="http://evil.example/x.png">' in failure.text


# ------------------------------------------------------------------ Prometheus


def metrics(text: str) -> dict[str, list]:
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names))
    for family in families:
        assert family.type == "gauge" and family.documentation
        labelsets = [tuple(sorted(s.labels.items())) for s in family.samples]
        assert len(labelsets) == len(set(labelsets)), f"duplicate series in {family.name}"
    return {f.name: f.samples for f in families}


def test_prometheus():
    report = sample_report()
    text = renderer("prometheus")(report)
    assert text.endswith("\n") and "\r" not in text
    data = metrics(text)
    assert set(data) >= {"itref_audit_findings", "itref_audit_check_status", "itref_audit_last_run_timestamp_seconds",
                         "itref_audit_duration_seconds"}

    counts = {(s.labels["entity"], s.labels["severity"]): s.value for s in data["itref_audit_findings"]}
    assert counts[("commune", "critical")] == 1 and counts[("commune", "warning")] == 1
    assert counts[("cpas", "unknown")] == 1 and counts[("cpas", "waived")] == 1 and counts[("cpas", "critical")] == 0
    assert counts[("asbl", "info")] == 1 and counts[("", "ok")] == 1
    assert sum(counts.values()) == len(report.findings)
    totals = report.counts()
    for severity, n in totals.items():
        assert sum(v for (_e, s), v in counts.items() if s == severity) == n

    status = {(s.labels["check"], s.labels["entity"], s.labels["host"], s.labels["subject"]): s.value
              for s in data["itref_audit_check_status"]}
    assert len(status) == len(report.findings)
    for f in report.findings:
        assert status[(f.check, f.entity or "", f.host or "", f.subject or "")] == (0 if f.waiver else f.severity.rank)
    # backslash, double quote and line feed in a label value round-trip through the reference parser
    assert status[("backups.age", "cpas", "srv-cpas", HOSTILE_SUBJECT)] == 3
    assert status[("windows.updates", "cpas", "srv-cpas", "")] == 0  # waived

    (stamp,) = data["itref_audit_last_run_timestamp_seconds"]
    assert stamp.value == STARTED.timestamp() and stamp.timestamp is None  # no sample timestamps (textfile)
    (duration,) = data["itref_audit_duration_seconds"]
    assert duration.value == pytest.approx(1.234)


# ------------------------------------------------------------------ HTML

HTML_NS = "{http://www.w3.org/1999/xhtml}"


def parse_html(text: str) -> ET.Element:
    """Parse with html5lib in strict mode: any parse error (WHATWG rules) raises."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), strict=True, namespaceHTMLElements=False)
    return parser.parse(text)


def text_of(el: ET.Element) -> str:
    return one_line("".join(el.itertext()))


def check_standalone(root: ET.Element, text: str) -> None:
    """No script, no event handler, nothing loaded from elsewhere."""
    assert list(root.iter("script")) == []
    for tag in ("link", "img", "iframe", "object", "embed", "video", "audio", "source", "base", "form"):
        assert list(root.iter(tag)) == [], tag
    for el in root.iter():
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name)
            if name.lower() in ("src", "href", "srcset", "action", "data", "poster"):
                assert value.startswith("#"), (el.tag, name, value)
    styles = " ".join(text_of(s) for s in root.iter("style"))
    assert "url(" not in styles and "@import" not in styles and "@font-face" not in styles
    # in the source too: every "<" of a text is escaped, so any "<" here opens a real tag
    assert not re.search(r"""<[^>]*\s(src|href)\s*=\s*["']?\s*(https?:|//)""", text, re.IGNORECASE)


def test_html():
    report = sample_report()
    text = renderer("html")(report)
    assert text.startswith("<!DOCTYPE html>")
    root = parse_html(text)
    assert root.tag == "html" and root.get("lang") == "en"
    check_standalone(root, text)

    day = STARTED.astimezone().strftime("%d/%m/%Y")
    title = text_of(root.find("head/title"))
    assert report.organisation in title and day in title
    h1 = root.find("body/header/h1")
    assert report.organisation in text_of(h1) and day in text_of(root.find("body/header"))
    assert root.find("head/meta").get("charset") == "utf-8"

    sections = root.findall("body/section")
    classes = [s.get("class") for s in sections]
    assert classes == ["summary", *["entity"] * 5, "resolved"]  # plain-words summary first, then the details

    cards = sections[0].findall("div")
    by_title = {text_of(c.find("h3")): c for c in cards}
    assert list(by_title) == [*ENTITIES.values(), "All entities (shared)"]
    badge = [text_of(b) for b in by_title["Administration communale"].iter("span")]
    assert badge == ["1 problem to fix, 1 to watch"]
    assert by_title["Administration communale"].get("class") == "card critical"
    cpas = [text_of(b) for b in by_title["CPAS de Thuin-sur-Sambre"].iter("span")]
    assert cpas == ["1 could not be checked", "1 accepted for now"]
    assert [text_of(b) for b in by_title["ASBL Sport & Loisirs <Élan>"].iter("span")] == ["All in order"]
    for card in cards:  # a sentence under every badge
        assert len(card.findall("p")) == 2 and text_of(card.findall("p")[1]).endswith(".")
        target = card.find("h3/a").get("href")
        assert any(s.get("id") == target[1:] for s in sections)

    details = {text_of(s.find("h2")): s for s in sections[1:-1]}
    assert list(details) == [*ENTITIES.values(), "All entities (shared)"]
    commune = text_of(details["Administration communale"])
    assert commune.index("95 %") < commune.index("charge 3,1") < commune.index("joignable")  # worst first
    assert "New" in commune and "Worse" in commune
    assert "Quand le disque est plein, l'application de l'état civil s'arrête." in commune
    cpas_text = text_of(details["CPAS de Thuin-sur-Sambre"])
    assert one_line(HOSTILE.replace("\x1b", "\ufffd")) in cpas_text  # shown as text, not markup
    assert '<img src="http://evil.example/x.png">' in cpas_text
    assert "Accepted until 31/12/2026" in cpas_text and WAIVER["reason"] in cpas_text and "jdupont" in cpas_text
    assert "mémoire utilisée à 92 %" in text_of(sections[-1])

    css = text_of(root.find("head/style"))
    print_css = css[css.index("@media print"):]
    assert "break-before: page" in print_css and "background: none" in print_css


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """Write a GNU gettext catalogue (.mo) holding ``messages``."""
    items = sorted(messages.items())
    ids = b"".join(k.encode() + b"\0" for k, _v in items)
    strs = b"".join(v.encode() + b"\0" for _k, v in items)
    n = len(items)
    start = 7 * 4 + 16 * n
    offsets, pos = [], 0
    for k, _v in items:
        offsets += [len(k.encode()), start + pos]
        pos += len(k.encode()) + 1
    toffsets, pos = [], 0
    for _k, v in items:
        toffsets += [len(v.encode()), start + len(ids) + pos]
        pos += len(v.encode()) + 1
    header = struct.pack("<7I", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(header + struct.pack(f"<{2 * n}I", *offsets) + struct.pack(f"<{2 * n}I", *toffsets) + ids
                     + strs)


def test_html_lang_follows_the_catalogue_in_use(tmp_path, monkeypatch):
    from itref import i18n

    monkeypatch.setenv("ITREF_LANG", "de")  # no catalogue: the text stays English, and so does lang
    monkeypatch.setattr(i18n, "_translation", None)
    assert parse_html(renderer("html")(empty_report())).get("lang") == "en"

    write_mo(tmp_path / "fr_BE" / "LC_MESSAGES" / "itref.mo",
             {"": "Content-Type: text/plain; charset=UTF-8\nLanguage: fr_BE\n", "At a glance": "En bref"})
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setenv("ITREF_LANG", "fr_BE.UTF-8")
    monkeypatch.setattr(i18n, "_translation", None)
    root = parse_html(renderer("html")(sample_report()))
    assert root.get("lang") == "fr-BE"
    assert text_of(root.find("body/section/h2")) == "En bref"


# ------------------------------------------------------------------ Markdown


def inline_texts(tokens: list, kind: str) -> list[str]:
    """Return the text of every inline token directly inside an opening token of ``kind`` (e.g. heading_open)."""
    out = []
    for i, tok in enumerate(tokens):
        if tok.type == kind:
            out.append("".join(c.content for c in tokens[i + 1].children if c.type in ("text", "code_inline")))
    return out


def test_markdown():
    report = sample_report()
    text = renderer("markdown")(report)
    parser = MarkdownIt("commonmark").enable("table")
    tokens = parser.parse(text)

    headings = [(t.tag, t) for t in tokens if t.type == "heading_open"]
    titles = inline_texts(tokens, "heading_open")
    assert [tag for tag, _t in headings] == ["h1", *["h2"] * 7]
    assert report.organisation in titles[0]
    assert titles[1:] == ["Summary", *ENTITIES.values(), "All entities (shared)", "Resolved since the previous audit"]

    types = [t.type for t in tokens]
    assert types.count("table_open") == 1
    assert types.index("table_open") < [i for i, t in enumerate(tokens) if t.type == "heading_open"][2]
    rows, row = [], []
    for i, tok in enumerate(tokens):
        if tok.type in ("th_open", "td_open"):
            row.append("".join(c.content for c in tokens[i + 1].children))
        elif tok.type == "tr_close":
            rows.append(row)
            row = []
    assert rows[0] == ["Entity", "CRITICAL", "WARNING", "UNKNOWN", "OK", "WAIVED"]
    assert rows[1:] == [["Administration communale", "1", "1", "0", "1", "0"],
                        ["CPAS de Thuin-sur-Sambre", "0", "0", "1", "1", "1"],
                        ["ASBL Sport & Loisirs <Élan>", "0", "0", "0", "2", "0"],
                        ["Infrastructure partagée", "0", "1", "0", "0", "0"],
                        ["All entities (shared)", "0", "0", "0", "1", "0"]]

    items = [one_line("".join(c.content for c in tokens[i + 2].children if c.type in ("text", "code_inline")))
             for i, t in enumerate(tokens) if t.type == "list_item_open" and tokens[i + 1].type == "paragraph_open"]
    first = items.index(next(i for i in items if i.startswith("CRITICAL srv-commune")))
    assert "NEW" in items[first] and "linux.disk.free" in items[first]
    assert items[first + 1] == "Why it matters: Quand le disque est plein, l'application de l'état civil s'arrête."
    assert items[first + 2].startswith("What to do: Supprimez")
    assert items[first + 3].startswith("WARNING srv-commune: charge 3,1") and "WORSE" in items[first + 3]
    assert items[first + 6].startswith("OK srv-commune: joignable")
    hostile = next(i for i in items if i.startswith("UNKNOWN srv-cpas"))
    assert one_line(HOSTILE.replace("\x1b", "\ufffd")) in hostile  # every character survives as text
    waived = next(i for i in items if i.startswith("WAIVED srv-cpas"))
    assert "31/12/2026" in waived and WAIVER["reason"] in waived and "jdupont" in waived
    assert items[-1] == "srv-commune: mémoire utilisée à 92 % (linux.memory)"

    rendered = parser.render(text)
    assert "<script" not in rendered and "<b>" not in rendered and "<Élan>" not in rendered
    assert "&lt;script&gt;" in rendered


# ------------------------------------------------------------------ Nagios

# The Nagios plugin guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]; the label is quoted when it holds
# a space (a quote inside doubled, no '='); value, min and max in [-0-9.]; warn and crit are ranges.
PERF_ITEM = (r"(?:'(?:[^'=]|'')+'|[^'=\s]+)=[-0-9.]+(?:s|ms|us|%|B|KB|MB|TB|c)?"
             r"(?:;[-0-9.:~@]*(?:;[-0-9.:~@]*(?:;[-0-9.]*(?:;[-0-9.]*)?)?)?)?")
STATUS_LINE = re.compile(rf"^ITREF (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?) \| ({PERF_ITEM}(?: {PERF_ITEM})*)$")
PERF = re.compile(r"(?:'((?:[^'=]|'')+)'|([^'=\s]+))=([-0-9.]+)(s|ms|us|%|B|KB|MB|TB|c)?((?:;[-0-9.:~@]*)*)")


def parse_nagios(text: str) -> tuple[str, str, dict[str, tuple[float, str, str]], list[str]]:
    first, *rest = text.rstrip("\n").split("\n")
    match = STATUS_LINE.match(first)
    assert match, first
    perf = {}
    for item in match[3].split(" "):
        m = PERF.fullmatch(item)
        assert m, item
        perf[m[1] or m[2]] = (float(m[3]), m[4] or "", m[5])
    for line in rest:
        assert "|" not in line  # a pipe in long output would start performance data
    return match[1], match[2], perf, rest


def test_nagios():
    report = sample_report()
    word, summary, perf, rest = parse_nagios(renderer("nagios")(report))
    assert word == "CRITICAL"
    assert summary == "1 critical, 2 warning, 1 unknown on 3 hosts"
    assert perf == {"critical": (1, "", ";;;0"), "warning": (2, "", ";;;0"), "unknown": (1, "", ";;;0"),
                    "ok": (5, "", ";;;0"), "waived": (1, "", ";;;0"), "duration": (1.23, "s", "")}
    assert [line.split(":")[0] for line in rest] == ["CRITICAL", "UNKNOWN", "WARNING", "WARNING"]
    assert "[NEW]" in rest[0] and "\x1b" not in rest[1] and "seconde ligne" in rest[1]
    assert not any("37 mises à jour" in line for line in rest)  # waived: not failing


@pytest.mark.parametrize(("severity", "waived", "word"), [
    (Severity.OK, False, "OK"), (Severity.INFO, False, "OK"), (Severity.WARNING, False, "WARNING"),
    (Severity.UNKNOWN, False, "UNKNOWN"), (Severity.CRITICAL, False, "CRITICAL"), (Severity.CRITICAL, True, "OK")])
def test_nagios_status_word_is_the_worst(severity, waived, word):
    findings = [Finding("linux.load", Severity.OK, "ok", entity="commune", host="a"),
                Finding("linux.disk.free", severity, "x", entity="commune", host="b",
                        waiver={"reason": "r", "until": "2099-01-01", "by": "me"} if waived else None)]
    report = AuditReport("r", "Org", STARTED, 0.5, findings, {"commune": "Commune"})
    got, _summary, perf, rest = parse_nagios(renderer("nagios")(report))
    assert got == word
    assert perf["waived"][0] == int(waived) and len(rest) == (0 if word == "OK" else 1)


def test_nagios_perf_label_quoting():
    from itref.report.nagios import perf

    assert perf("disk free", 3, minimum=0) == "'disk free'=3;;;0"
    assert perf("it's", 1) == "'it''s'=1"
    assert re.fullmatch(PERF_ITEM, perf("disk free", 3, minimum=0))
    with pytest.raises(ValueError):
        perf("a=b", 1)


# ------------------------------------------------------------------ every format on an empty report


def test_empty_report_in_every_format(tmp_path):
    report = empty_report()
    path = tmp_path / "empty.xml"
    path.write_text(renderer("junit")(report), encoding="utf-8")
    xml = read_junit(path)
    assert xml.tests == 0 and list(xml) == []
    word, _summary, perf, rest = parse_nagios(renderer("nagios")(report))
    assert (word, perf["ok"][0], rest) == ("OK", 0, [])
    data = metrics(renderer("prometheus")(report))
    assert data["itref_audit_check_status"] == []
    assert {s.value for s in data["itref_audit_findings"]} == {0}
    root = parse_html(renderer("html")(report))
    check_standalone(root, renderer("html")(report))
    assert [s.get("class") for s in root.findall("body/section")] == ["summary"]
    tokens = MarkdownIt("commonmark").enable("table").parse(renderer("markdown")(report))
    assert inline_texts(tokens, "heading_open")[1] == "Summary"


# ------------------------------------------------------------------ end to end: the real CLI, local connector

LOCAL = """\
version: 1
organisation: Commune de Lasne-Chapelle
entities:
  cpas:
    title: CPAS — service social
    hosts:
      ici: {connection: local, tags: [linux]}
"""


def test_cli_writes_every_format(cli, tmp_path):
    inv = tmp_path / "inventory.yaml"
    inv.write_text(LOCAL, encoding="utf-8")
    out = {}
    for fmt in FORMATS:
        path = tmp_path / f"audit.{fmt}"
        result = cli("-i", str(inv), "audit", "--checks", "linux.disk.*,linux.memory,linux.uptime", "--format", fmt,
                     "--output", str(path))
        assert path.exists(), (fmt, result.all)
        assert str(path) in result.err and result.out == ""
        out[fmt] = (result.rc, path.read_text(encoding="utf-8"))

    xml = read_junit(tmp_path / "audit.junit")
    check_junit_counts(xml)
    (suite,) = list(xml)
    assert suite.name == "CPAS — service social" and suite.tests >= 1
    assert any(c.classname == "audit.host.reachable" and c.is_passed for c in suite)

    rc, text = out["nagios"]
    word, _summary, perf, _rest = parse_nagios(text)
    assert rc in (0, 1, 2, 3)
    assert rc == {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[word]
    assert perf["ok"][0] >= 1

    data = metrics(out["prometheus"][1])
    assert any(s.labels == {"check": "audit.host.reachable", "entity": "cpas", "host": "ici", "subject": ""}
               and s.value == 0 for s in data["itref_audit_check_status"])
    assert 0 < data["itref_audit_duration_seconds"][0].value < 600

    html_text = out["html"][1]
    root = parse_html(html_text)
    check_standalone(root, html_text)
    assert "Commune de Lasne-Chapelle" in text_of(root.find("head/title"))
    assert [s.get("class") for s in root.findall("body/section")][:2] == ["summary", "entity"]

    tokens = MarkdownIt("commonmark").enable("table").parse(out["markdown"][1])
    assert inline_texts(tokens, "heading_open")[:3] == ["Audit of Commune de Lasne-Chapelle", "Summary",
                                                        "CPAS — service social"]
