"""Every broken inventory or playbook gives file:line:col, the right message and exit code 3, never a traceback.

Each corpus file starts with ``# expect: LINE:COL message`` naming where the problem is.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from itref.core.status import ExitStatus

CORPUS = Path(__file__).with_name("corpus")
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (.+)$")

BASE_INVENTORY = """\
version: 1
organisation: Test
entities:
  shared:
    title: Shared
    hosts:
      nas: {address: nas.example, tags: [backup]}
  cpas: {title: CPAS}
"""


def _expectation(path: Path) -> tuple[int, int, str]:
    m = EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert m, f"{path.name} lacks its '# expect: LINE:COL message' header"
    return int(m.group(1)), int(m.group(2)), m.group(3)


def _assert_located(result, shown_path: str, line: int, col: int, message: str) -> None:
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert "Traceback" not in result.all
    prefix = f"{shown_path}:{line}:{col}:"
    lines = [x for x in result.err.splitlines() if x.startswith(prefix)]
    assert lines, f"no line starting with {prefix!r} in:\n{result.err}"
    assert any(message in x for x in lines), f"{message!r} not in {lines}"


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.yaml")))
def test_broken_inventory_is_reported_at_its_line(name: str, cli, tmp_path: Path, monkeypatch) -> None:
    line, col, message = _expectation(CORPUS / name)
    shutil.copy(CORPUS / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    result = cli("-i", name, "inventory", "validate")
    _assert_located(result, name, line, col, message)


@pytest.mark.parametrize("name", sorted(p.name for p in (CORPUS / "playbooks").glob("*.yaml")))
def test_broken_playbook_is_reported_at_its_line(name: str, cli, tmp_path: Path, monkeypatch) -> None:
    line, col, message = _expectation(CORPUS / "playbooks" / name)
    (tmp_path / "inventory.yaml").write_text(BASE_INVENTORY, encoding="utf-8")
    (tmp_path / "playbooks").mkdir()
    shutil.copy(CORPUS / "playbooks" / name, tmp_path / "playbooks" / name)
    monkeypatch.chdir(tmp_path)
    result = cli("inventory", "validate")
    _assert_located(result, f"playbooks/{name}", line, col, message)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "file is empty"),
    (b"# only a comment\n\n", "file is empty"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "binary file"),
    (b"version: 1\norganisation: Caf\xe9\n", "not valid UTF-8"),
    (b"a: [" * 40 + b"]" * 40, "nested more than"),
], ids=["empty", "comments-only", "binary", "latin-1", "deep-nesting"])
def test_unreadable_files_are_reported_not_crashed(content: bytes, message: str, cli, tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_bytes(content)
    result = cli("-i", str(inv), "inventory", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG
    assert f"{inv}:" in result.err and message in result.err
    assert "Traceback" not in result.all


def test_five_megabyte_file_is_refused_before_parsing(cli, tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("version: 1\n" + "# padding\n" * 520_000, encoding="utf-8")
    assert inv.stat().st_size > 5_000_000
    result = cli("-i", str(inv), "inventory", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG
    assert f"{inv}:1:1: file is too large" in result.err


def test_missing_inventory_says_how_to_point_at_one(cli, tmp_path: Path) -> None:
    result = cli("-i", str(tmp_path / "nope.yaml"), "inventory", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG
    assert "nope.yaml:1:1:" in result.err and "-i PATH" in result.err


def test_every_problem_of_every_file_is_reported_at_once(cli, tmp_path: Path) -> None:
    (tmp_path / "inventory.yaml").write_text(BASE_INVENTORY.replace("tags: [backup]", "tags: [backup], prot: 22")
                                             + "  asbl: {titel: ASBL}\n", encoding="utf-8")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "cpas.yaml").write_text("entity: cpas\nroutines: []\n", encoding="utf-8")
    (tmp_path / "playbooks" / "shared.yaml").write_text("entity: shared\ntitle: [x]\n", encoding="utf-8")
    result = cli("-i", str(tmp_path / "inventory.yaml"), "inventory", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG
    problems = [x for x in result.err.splitlines() if re.match(r"^\S+\.yaml:\d+:\d+: ", x)]
    assert len(problems) == 5, result.err  # prot, titel, missing title, routines type, title type
    assert any("playbooks/cpas.yaml:2:11:" in p and "expected a mapping" in p for p in problems)
    assert any("playbooks/shared.yaml:2:8:" in p and "expected text" in p for p in problems)


def test_json_format_lists_the_errors_on_stdout(cli, tmp_path: Path) -> None:
    import json

    inv = tmp_path / "inventory.yaml"
    inv.write_text(BASE_INVENTORY.replace("title: CPAS", "title: CPAS, colour: red"), encoding="utf-8")
    result = cli("-i", str(inv), "--format", "json", "inventory", "validate")
    data = json.loads(result.out)
    assert result.rc == ExitStatus.INVALID_CONFIG
    assert data["valid"] is False
    assert data["errors"][0]["line"] == 8 and "unknown key 'colour'" in data["errors"][0]["message"]
