"""The docs say what the code does: generated references and the exit-code table stay in sync."""

from __future__ import annotations

import re

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
