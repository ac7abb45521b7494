"""Inventory and playbooks are parsed with libyaml when PyYAML has it, and read exactly as the pure-Python parser
reads them: same values, same line:column for every value and key, same problems with the same words."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from itref.config import yamlfile

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted({*ROOT.glob("inventory.yaml"), *ROOT.glob("playbooks/**/*.yaml"), *ROOT.glob("docs/**/*.yaml"),
                  *ROOT.glob("tests/config/corpus/*.yaml")})

TRICKY = {
    "unicode-before-values": "title: Commune de Léglise — CPAS ✓\nhosts: {nas: {address: n.example}}\n",
    "anchors-and-merge": "base: &b {user: a, port: 22}\nhosts:\n  x: {<<: *b, port: 2222}\n  y:\n    <<: *b\n",
    "duplicate-key": "a: 1\nb: 2\na: 3\n",
    "tab-indent": "a:\n\tb: 1\n",
    "unclosed-bracket": "hosts: [a, b\nother: 1\n",
    "unclosed-quote": "title: \"never closed\nnext: 1\n",
    "bad-indent": "a:\n  b: 1\n c: 2\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "bad-timestamp": "when: 2026-13-45\n",
    "complex-key": "? [a, b]\n: 1\n",
    "bad-merge": "a: {<<: 3}\n",
    "undefined-alias": "a: *nowhere\n",
    "only-comments": "# nothing here\n",
    "bom-and-crlf": "\ufeffa: 1\r\nb: [x, y]\r\n",
    "dates-and-numbers": "d: 2026-12-03\nt: 2026-12-03T08:00:00Z\no: 0o17\nh: 0x1f\nf: 1.5e3\nb: yes\nn: ~\n",
}


def _read(path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object, object, object]:
    monkeypatch.setattr(yamlfile, "_FAST_LOADER", getattr(yaml, "CSafeLoader", None) if fast else None)
    doc, issues = yamlfile.load(path)
    if doc is None:
        return None, None, None, [str(i) for i in issues]
    return doc.data, dict(doc.marks), dict(doc.key_marks), [str(i) for i in issues]


def test_this_pyyaml_has_libyaml() -> None:
    """Otherwise the comparisons below compare the pure-Python parser with itself."""
    assert yaml.__with_libyaml__, "PyYAML was installed without libyaml: the fast path is not exercised"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_shipped_yaml_file_reads_the_same_with_and_without_libyaml(path: Path, monkeypatch) -> None:
    assert _read(path, True, monkeypatch) == _read(path, False, monkeypatch)


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_text_reads_the_same_with_and_without_libyaml(name: str, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(TRICKY[name].encode("utf-8"))
    fast, slow = _read(path, True, monkeypatch), _read(path, False, monkeypatch)
    assert fast == slow
    assert fast != (None, None, None, [])  # something was read or something was said


def test_a_syntax_error_names_its_line_and_column_with_the_pure_python_words(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("hosts:\n  a: 1\n\tb: 2\n", encoding="utf-8")
    monkeypatch.setattr(yamlfile, "_FAST_LOADER", getattr(yaml, "CSafeLoader", None))
    doc, issues = yamlfile.load(path)
    assert doc is None
    (issue,) = issues
    assert (issue.line, issue.column) == (3, 1)
    assert "tab" in issue.message


def test_a_date_that_does_not_exist_is_a_located_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("version: 1\nwhen: 2026-13-45\n", encoding="utf-8")
    doc, issues = yamlfile.load(path)
    assert doc is not None and doc.data == {"version": 1, "when": None}
    (issue,) = issues
    assert (issue.line, issue.column, issue.where) == (2, 7, "when")
    assert issue.message == "2026-13-45 is not a date that exists"


def test_brackets_nested_thousands_deep_are_one_located_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("version: 1\ndeep: " + "[" * 20000 + "]" * 20000 + "\n", encoding="utf-8")
    doc, issues = yamlfile.load(path)
    assert doc is None
    (issue,) = issues
    assert issue.line >= 1 and "nested more than" in issue.message, issue
