"""The docs say what the code does: generated references and the exit-code table stay in sync."""

from __future__ import annotations

import re
import sys

import pytest

from itref.config.reference import PAGES, render
from itref.core.status import ExitStatus
from tests.conftest import ROOT


def test_reference_pages_match_the_schema() -> None:
    for name, (model, title) in PAGES.items():
        committed = (ROOT / "docs" / "reference" / name).read_text(encoding="utf-8")
        assert committed == render(model, title), (
            f"docs/reference/{name} is stale: run python -m itref.config.reference docs/reference")


def test_every_exit_status_is_documented_with_its_number() -> None:
    table = (ROOT / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    documented = {int(n): name for n, name in re.findall(r"^\| *(\d+) \| `(\w+)`", table, re.M)}
    assert documented == {s.value: s.name for s in ExitStatus}


def test_check_catalogue_matches_the_registry() -> None:
    from itref.audit.catalogue import render

    committed = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/checks.md is stale: run python -m itref.audit.catalogue docs/checks.md"


def test_scripts_fresh_debian_reads_the_readme_two_commands_prerequisites_and_audit_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """scripts/fresh-debian runs what the README says; if the README changes shape, this fails before CI does."""
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader

    loader = SourceFileLoader("fresh_debian", str(ROOT / "scripts" / "fresh-debian"))
    spec = spec_from_loader("fresh_debian", loader)
    assert spec is not None
    module = module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fresh_debian", module)  # its dataclasses look their module up there
    loader.exec_module(module)
    readme = module.parse_readme((ROOT / "README.md").read_text(encoding="utf-8"))
    assert [command for _comment, command in readme.commands] == [
        "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/itref audit", "scripts/test"]
    assert readme.prerequisites == ["python3", "python3-venv"]
    audit = {ExitStatus.SUCCESS, ExitStatus.CHECK_WARNING, ExitStatus.CHECK_CRITICAL, ExitStatus.CHECK_UNKNOWN}
    assert readme.audit_codes == {int(s) for s in audit}
