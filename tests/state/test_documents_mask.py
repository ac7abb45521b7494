"""A secret value inside a state document is masked and the document stays readable YAML."""

from __future__ import annotations

from pathlib import Path

from itref.secrets import Secret
from itref.state.documents import Documents
from itref.state.folder import StateFolder


def test_a_masked_value_at_the_start_of_a_scalar_leaves_the_document_readable(state_dir: Path) -> None:
    Secret("Zq9-canary-start", "test")  # revealed once: masked everywhere from now on
    docs = Documents(StateFolder(state_dir), "routines")
    docs.write("run1", {"run_id": "Zq9-canary-start-42", "params": {"who": "Ann", "note": "Zq9-canary-start"},
                        "finished": False, "cancelled": None})
    text = (state_dir / "routines" / "run1.yaml").read_text(encoding="utf-8")
    assert "Zq9-canary-start" not in text
    data = docs.read("run1")  # before values were masked one by one, '***-42' read as a YAML alias and failed
    assert data == {"run_id": "***-42", "params": {"who": "Ann", "note": "***"}, "finished": False,
                    "cancelled": None}
    assert [name for name, _data in docs.all()] == ["run1"] and docs.problems == []
