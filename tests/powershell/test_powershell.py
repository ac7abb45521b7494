"""Every PowerShell text itref sends, or prints for a person to type, is read by a real PowerShell grammar
(tree-sitter-powershell) without an ERROR or MISSING node, and uses nothing Windows PowerShell 5.1 lacks.

The texts are collected from the product, not from a list kept here:

* each audit check's Windows body, from the check registry (a new check is covered when it is registered);
* what itref really sends over WinRM: a commune whose Windows server has one backup of every registered kind,
  audited, its backups checked, a command run (argument list, shell line, with standard input), a file put and
  fetched, the host checked by ``itref hosts check``; the in-suite WS-Management endpoint records every script it
  receives, decoded from ``-EncodedCommand`` exactly as powershell.exe would get it (prelude and epilogue included);
* the PowerShell lines of the handover pack (how to reach a Windows host by hand, a routine's command on one),
  from the pack's own collecting function.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from itref.audit.registry import all_checks, register
from itref.connectors.base import Command
from itref.lab.peers.winrm_endpoint import CommandReply, ShellInfo, WinRMEndpoint
from itref.lab.peers.winrm_fixtures import FakeWindows
from tests.powershell.grammar import GRAMMAR_VERSION, parse, problems, ps7_only

USER, PASSWORD, PW_ENV = "itref", "S3cret!", "ITREF_TEST_PS_WINRM_PASSWORD"
WINDOWS = "srv-win"
AWKWARD_PATH = "C:\\Données\\l'export `$(x) ; ‘q’.bak"
"""A path with a quote, a backtick, a subexpression, a semicolon and typographic quotes: it must stay a literal."""


@dataclass(frozen=True)
class Text:
    """One PowerShell text and where it comes from (``kind``: what sent or printed it)."""

    kind: str
    origin: str
    text: str


def verdict(texts: list[Text]) -> list[str]:
    """Return one paragraph per text the grammar cannot read or that uses PowerShell 7 syntax (empty: all good)."""
    out = []
    for t in texts:
        tree = parse(t.text)
        bad = [str(p) for p in problems(tree)] + [str(f) for f in ps7_only(tree)]
        if bad:
            out.append(f"{t.kind} {t.origin}: " + "; ".join(bad))
    return out


def check_bodies() -> list[Text]:
    """Return every registered check's Windows body."""
    return [Text("check body", c.id, c.windows) for c in all_checks() if c.windows]


class Recorder:
    """Endpoint handler: remembers every script it receives and lets FakeWindows answer it."""

    def __init__(self) -> None:
        self.fake = FakeWindows(WINDOWS.upper())
        self.scripts: list[str] = []
        self.kind = "?"
        self.seen: list[Text] = []

    def __call__(self, command: str, args: list[str], shell: ShellInfo) -> CommandReply:
        assert shell.current is not None
        script = shell.current.script
        if script is not None:
            self.seen.append(Text(self.kind, f"#{len(self.seen) + 1}", script))
        return self.fake(command, args, shell)


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Text]]:
    """Return every script itref sent to a Windows host while auditing it, checking its backups, running commands,
    copying files and checking the host (each tagged with what sent it)."""
    from itref.backup import kinds
    from itref.cli.main import run
    from itref.config.project import load_project
    from itref.secrets import SecretResolver

    folder = tmp_path_factory.mktemp("ps-sent")
    recorder = Recorder()
    mp = pytest.MonkeyPatch()
    mp.setenv(PW_ENV, PASSWORD)
    mp.setenv("ITREF_STATE_DIR", str(folder / "state"))
    with WinRMEndpoint(users={USER: PASSWORD}, handler=recorder) as ep:
        inventory = folder / "inventory.yaml"
        inventory.write_text(json.dumps({
            "version": 1, "organisation": "Test",
            "entities": {"shared": {"title": "Shared", "hosts": {WINDOWS: {
                "connection": "winrm", "address": "127.0.0.1", "port": ep.port, "scheme": "http",
                "transport": "basic", "user": USER, "password": {"env": PW_ENV}, "tags": ["windows"]}}}}}),
            encoding="utf-8")
        backups = [{"name": f"every-{kind}", "kind": kind, "host": WINDOWS, "repository": AWKWARD_PATH,
                    "password": {"env": PW_ENV}, "path": AWKWARD_PATH, "pattern": "*.bak", "job": "Nuit l'été"}
                   for kind in kinds.names()]
        (folder / "playbooks").mkdir()
        (folder / "playbooks" / "shared.yaml").write_text(json.dumps({"entity": "shared", "backups": backups}),
                                                           encoding="utf-8")
        base = ["-i", str(inventory)]
        try:
            for kind, argv in [("audit host script", ["audit", "--no-notify"]),
                               ("backup check", ["backup", "check", "--fresh"]),
                               ("command (argument list)", ["run", "--", "Get-Service", "it's", "$env:x"]),
                               ("command (shell line)", ["run", "--shell", "--", "Get-Date | Out-String"]),
                               ("hosts check probe", ["hosts", "check"])]:
                recorder.kind = kind
                run([*base, *argv])
            project = load_project(inventory)
            from itref.connectors.winrm import WinRMConnector

            conn = WinRMConnector(project.hosts[0], SecretResolver(interactive=False))
            with conn:
                recorder.kind = "command with standard input"
                conn.run(Command.of(["findstr", "x"], stdin=b"x\n"))
                recorder.kind = "file put"
                src = folder / "put.txt"
                src.write_bytes(b"data")
                conn.put(src, AWKWARD_PATH)
                recorder.kind = "file get"
                conn.get(AWKWARD_PATH, folder / "got.txt")
        finally:
            mp.undo()
    yield recorder.seen


def handover_lines(tmp_path: Path) -> list[Text]:
    """Return the PowerShell lines the handover pack prints for a person (built by the pack itself)."""
    from itref.config.project import load_project
    from itref.handover.pack import collect

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(textwrap.dedent(f"""\
        version: 1
        organisation: Test
        entities:
          shared:
            title: Shared
            hosts:
              {WINDOWS}: {{connection: winrm, address: win.example, user: "EXEMPLE\\\\l'admin", tags: [windows]}}
              srv-http: {{connection: winrm, address: 192.0.2.7, scheme: http, transport: kerberos}}
              srv-basic: {{connection: winrm, address: basic.example, port: 15986, transport: basic, user: adm}}
        """), encoding="utf-8")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "shared.yaml").write_text(textwrap.dedent(f"""\
        entity: shared
        routines:
          restart-spooler:
            description: Restart the print spooler
            steps:
              - description: Restart it
                run: {{command: [Restart-Service, "Spooler l'été", "$env:x"], limit: {WINDOWS}}}
              - description: Show the services
                run: {{command: "Get-Service | Where-Object Status -eq 'Stopped'", shell: true, limit: {WINDOWS}}}
        """), encoding="utf-8")
    project = load_project(inventory)
    pack = collect(project)
    lines = []
    windows_hosts = {h.name for h in project.hosts if h.connection == "winrm"}
    for entity in pack.entities:
        lines += [Text("handover line", f"{entity.name}/{h.name} (to reach it)", h.reach)
                  for h in entity.hosts if h.connection == "winrm" and h.reach]
        for routine in entity.routines:
            for step in routine.steps:
                if step.command and step.hosts and set(step.hosts) <= windows_hosts:
                    lines.append(Text("handover line", f"{entity.name}/{routine.name} step {step.number}",
                                      step.command))
    return lines


# ------------------------------------------------------------------ the texts


def test_every_windows_check_body_is_read_by_the_grammar_and_is_windows_powershell_5_1() -> None:
    bodies = check_bodies()
    assert len(bodies) >= 7
    assert verdict(bodies) == [], f"tree-sitter-powershell {GRAMMAR_VERSION}"


def test_everything_sent_to_a_windows_host_is_read_by_the_grammar_and_is_windows_powershell_5_1(sent) -> None:
    kinds = Counter(t.kind for t in sent)
    bodies = check_bodies()
    audits = [t for t in sent if t.kind == "audit host script" and all(b.text in t.text for b in bodies)]
    assert len(audits) == 1  # every check's body, in one script (the audit's backup checks come beside it)
    assert kinds["backup check"] >= 3 and kinds["file put"] == kinds["file get"] == 1
    assert kinds["hosts check probe"] >= 1
    assert all(k in kinds for k in ("command (argument list)", "command (shell line)", "command with standard input"))
    assert verdict(sent) == [], f"tree-sitter-powershell {GRAMMAR_VERSION}"
    print("PowerShell texts sent, by what sent them:", dict(sorted(kinds.items())))


def test_the_powershell_lines_of_the_handover_pack_are_read_by_the_grammar(tmp_path: Path) -> None:
    lines = handover_lines(tmp_path)
    assert len(lines) == 5, lines  # three ways to reach a host, two commands of a routine on a Windows host
    assert any("''" in t.text for t in lines)  # the quote in a user name and in an argument is doubled
    assert verdict(lines) == [], f"tree-sitter-powershell {GRAMMAR_VERSION}"


def test_values_in_what_is_sent_stay_single_quoted_literals(sent) -> None:
    """The awkward path reaches PowerShell as one string literal, never as code (found in the tree)."""
    from tests.powershell.grammar import text_of, walk

    put = next(t for t in sent if t.kind == "file put")
    literals = [text_of(n) for n in walk(parse(put.text)) if n.type == "verbatim_string_characters"]
    assert "'C:\\Données\\l''export `$(x) ; ‘‘q’’.bak'" in literals
    assert not any(n.type == "sub_expression" for n in walk(parse(put.text)))  # put's body has none of its own


def test_the_docs_name_the_grammar_version_the_suite_parses_with() -> None:
    from tests.conftest import ROOT

    assert f"tree-sitter-powershell {GRAMMAR_VERSION}" in (ROOT / "docs" / "powershell.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------ the test proves what it says


def test_a_new_check_body_the_grammar_cannot_read_fails_with_its_line_and_column() -> None:
    from itref.audit.base import Check
    from itref.audit.registry import _checks

    bad = Check("windows.test.unreadable", "t", "w", "f", windows="$e | Group-Object LogName,ProviderName | Out-Null")
    register(bad)
    try:
        failures = verdict(check_bodies())
    finally:
        del _checks[bad.id]
    assert len(failures) == 1 and failures[0].startswith("check body windows.test.unreadable: 1:")
    assert "missing" in failures[0] and "Group-Object LogName,ProviderName" in failures[0]


@pytest.mark.parametrize(("sample", "rule"), [
    ("$v = $a ?? 'default'", "null-coalescing"),
    ("$a ??= 1", "null-coalescing"),
    ("${a}?.Name", "null-conditional"),
    ("${a}?[0]", "null-conditional"),
    ("$v = $ok ? 'yes' : 'no'", "ternary"),
    ("Get-Item x && Write-Output done", "pipeline chain"),
    ("Get-Item x || Write-Output failed", "pipeline chain"),
    ("1, 2 | ForEach-Object -Parallel { $_ }", "ForEach-Object -Parallel"),
    ("1, 2 | % -Par { $_ }", "ForEach-Object -Parallel"),
    ("$t | ConvertFrom-Json -AsHashtable", "ConvertFrom-Json -AsHashtable"),
    ("$t | ConvertFrom-Json -Depth 5", "ConvertFrom-Json -Depth"),
])
def test_each_powershell_7_rule_fires_on_a_sample(sample: str, rule: str) -> None:
    found = ps7_only(parse(sample))
    assert [f.rule.split(" (")[0] for f in found if rule in f.rule], found
    assert verdict([Text("sample", "", sample)]), sample


@pytest.mark.parametrize("sample", [
    "'a ?? b && c ? d : e'",  # inside a string: text, not syntax
    "Get-Process | ? { $_.Id -gt 4 } | % { $_.Name }",  # ? and % are Where-Object and ForEach-Object
    "$e | Group-Object Name -AsHashTable",  # Group-Object has -AsHashTable in 5.1
    "$j | ConvertFrom-Json",
    "1, 2 | ForEach-Object -Process { $_ }",
])
def test_windows_powershell_5_1_syntax_is_not_flagged(sample: str) -> None:
    assert ps7_only(parse(sample)) == [] and problems(parse(sample)) == []
