"""The lab's playbooks are the starter playbooks adapted: same routines, same kinds of steps in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from itref.lab.files import Live, playbooks
from itref.lab.layout import LabPaths

ROOT = Path(__file__).resolve().parents[2]
ENTITY_IN_LAB = {"commune": "commune", "cpas": "cpas", "asbl": "asbl-sports", "shared": "shared"}
KINDS = ("run", "ad", "backup", "audit", "manual", "playbook")


def lab_playbooks() -> dict[str, dict]:
    live = Live({}, [], "127.0.0.1", 1, "127.0.0.1", 2, "ldaps://127.0.0.1", "/ca.pem", "dc1.lab.example.test")
    return playbooks(LabPaths(Path("/tmp/itref-lab-playbooks")), live)


def starters() -> list[tuple[str, str, dict]]:
    found = []
    for path in sorted((ROOT / "playbooks").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        found += [(data["entity"], name, routine) for name, routine in (data.get("routines") or {}).items()]
    return found


def shape(routine: dict) -> tuple[list[str], list[str]]:
    """Return the kinds of the routine's steps, in order, and the names of what it asks."""
    return [next(k for k in KINDS if k in step) for step in routine["steps"]], sorted(routine.get("ask") or {})


@pytest.mark.parametrize(("entity", "name", "routine"), starters(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_starter_routine_is_in_the_lab_with_the_same_steps(entity: str, name: str, routine: dict) -> None:
    lab = lab_playbooks()[ENTITY_IN_LAB[entity]]["routines"]
    assert name in lab, f"{entity}/{name} is missing from the lab's playbooks"
    assert shape(lab[name]) == shape(routine), f"{entity}/{name} drifted from the starter playbook"
