"""Fixtures of the state-folder tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """English, whatever the starter inventory's ``language: fr`` says (as ``--lang en`` would)."""
    from itref.i18n import set_language

    monkeypatch.setenv("ITREF_LANG", "en")
    set_language("en")


@pytest.fixture
def starter(tmp_path: Path) -> Path:
    """A copy of this repository's starter project (inventory and playbooks); returns its inventory."""
    shutil.copy(REPO / "inventory.yaml", tmp_path / "inventory.yaml")
    shutil.copytree(REPO / "playbooks", tmp_path / "playbooks")
    return tmp_path / "inventory.yaml"
