"""A secret value inside a state document is masked and the document stays readable YAML."""

from __future__ import annotations

from pathlib import Path

from itref.secrets import Secret
from itref.state.documents import Documents
from itref.state.folder import StateFolder


def test_a_masked_value_at_the_start_of_a_scalar_leaves_the_document_readable(state_dir: Path) -> None:
    Secret("Zq9-canary-start", "test")  # revealed once: masked everywhere from now on
    docs = Documents(StateFolder(state_dir), "routines")
    docs.write("run1", {"run_id": "run1", "target": "Zq9-canary-start-42",
                        "params": {"who": "Ann", "note": "Zq9-canary-start"}, "finished": False, "cancelled": None})
    text = (state_dir / "routines" / "run1.yaml").read_text(encoding="utf-8")
    assert "Zq9-canary-start" not in text
    data = docs.read("run1")  # before values were masked one by one, '***-42' read as a YAML alias and failed
    assert data == {"run_id": "run1", "target": "***-42", "params": {"who": "Ann", "note": "***"},
                    "finished": False, "cancelled": None}
    assert [name for name, _data in docs.all()] == ["run1"] and docs.problems == []


def test_a_short_secret_inside_an_id_itref_made_leaves_the_id_whole(state_dir: Path) -> None:
    """Seen in CI: a test had revealed the password 'abc'; the scheduled change 'abcd1234' was then written as
    id '***d1234', and `itref pending cancel abcd1234` ended in an internal error. Ids itref makes (``id``,
    ``run_id``) are written as they are; every other value is still masked."""
    Secret("abc", "test")
    docs = Documents(StateFolder(state_dir), "scheduled")
    docs.write("abcd1234", {"id": "abcd1234", "action": "user disable", "params": {"login": "abc.def"}})
    assert docs.read("abcd1234") == {"id": "abcd1234", "action": "user disable", "params": {"login": "***.def"}}
