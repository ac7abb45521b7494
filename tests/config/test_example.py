"""The schema documents itself: every field has a description and an example, and `itref inventory example` /
`itref playbook example` print a commented example that explains every field and validates as it is."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, Field, TypeAdapter

from itref.config import yamlfile
from itref.config.example import ENTRIES, inventory_data, inventory_example, model_for, playbook_example, section_models
from itref.config.reference import models
from itref.config.schema import Inventory, Playbook
from itref.config.validate import validate
from itref.core.model import Strict
from itref.core.status import ExitStatus

ROOTS = (Inventory, Playbook)


def undocumented(*roots: type[BaseModel]) -> list[str]:
    """Return 'Model.key: what is missing' for every field, in every model reachable from ``roots``, that lacks a
    description, or an example (a section, whose value is a model, needs none: its keys carry theirs)."""
    missing = []
    for root in roots:
        for model in models(root):
            for name, field in model.model_fields.items():
                if not (field.description or "").strip():
                    missing.append(f"{model.__name__}.{name}: no description")
                if not field.examples and not section_models(field.annotation):
                    missing.append(f"{model.__name__}.{name}: no example")
    return sorted(set(missing))


def test_every_field_reachable_from_inventory_and_playbook_has_a_description_and_an_example() -> None:
    assert undocumented(*ROOTS) == []


def test_a_field_added_without_description_or_example_is_caught() -> None:
    class Inner(Strict):
        documented: str = Field(description="Said.", examples=["x"])
        silent: int = 0

    class Outer(Strict):
        inner: Inner = Field(default_factory=Inner, description="A section: its keys carry the examples.")
        bare: str | None = Field(None, description="Described, no example.")

    assert undocumented(Outer) == ["Inner.silent: no description", "Inner.silent: no example",
                                   "Outer.bare: no example"]


def test_every_example_is_a_valid_value_of_its_field() -> None:
    wrong = []
    for root in ROOTS:
        for model in models(root):
            for name, field in model.model_fields.items():
                adapter = TypeAdapter(Annotated[(field.annotation, *field.metadata)] if field.metadata
                                      else field.annotation)
                for example in field.examples or ():
                    try:
                        adapter.validate_python(example)
                    except ValueError as exc:
                        wrong.append(f"{model.__name__}.{name} = {example!r}: {exc}")
    assert wrong == []


def test_the_example_table_names_real_fields() -> None:
    keys = {(m.__name__, f.alias or n) for root in ROOTS for m in models(root) for n, f in m.model_fields.items()}
    assert set(ENTRIES) <= keys, set(ENTRIES) - keys


@pytest.fixture
def examples(cli, tmp_path: Path) -> tuple[Path, str, str]:
    """Write `itref inventory example` and `itref playbook example`, as printed, into a project folder."""
    inventory = cli("inventory", "example")
    playbook = cli("playbook", "example")
    assert inventory.rc == playbook.rc == ExitStatus.SUCCESS, inventory.err + playbook.err
    entity = yaml.safe_load(playbook.out)["entity"]
    (tmp_path / "inventory.yaml").write_text(inventory.out, encoding="utf-8")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / f"{entity}.yaml").write_text(playbook.out, encoding="utf-8")
    return tmp_path / "inventory.yaml", inventory.out, playbook.out


def test_the_printed_examples_validate_together_with_the_real_loader(cli, examples, monkeypatch) -> None:
    monkeypatch.setenv("ITREF_LANG", "en")  # the example inventory says language: fr
    path, _inventory, _playbook = examples
    checked = cli("--lang", "en", "-i", str(path), "inventory", "validate")
    assert checked.rc == ExitStatus.SUCCESS, checked.err
    assert "2 entities, 4 hosts, 1 playbook" in checked.out
    books = cli("--lang", "en", "-i", str(path), "playbook", "validate")
    assert books.rc == ExitStatus.SUCCESS, books.err
    assert "(entity cpas)" in books.out
    routines = cli("-i", str(path), "--format", "json", "playbook", "list")
    assert {"cpas/weekly-check", "cpas/onboard-employee"} <= {r["routine"] for r in __import__("json").loads(
        routines.out)}


def _comments(text: str) -> str:
    """Return the text of every '#' comment of ``text``, joined by spaces."""
    return " ".join(" ".join(m.group(1) for m in re.finditer(r"^\s*# ?(.*)$", text, re.M)).split())


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r.__name__)
def test_the_example_explains_every_field_in_a_comment(root: type[BaseModel], examples) -> None:
    """Each field's description is a comment of its file's example; a model the playbook shares with the
    inventory (a secret reference) may be explained in the inventory's example only."""
    own, inventory = _comments(examples[1] if root is Inventory else examples[2]), _comments(examples[1])
    shared = models(Inventory)
    unexplained = [f"{m.__name__}.{n}" for m in models(root) for n, f in m.model_fields.items()
                   if " ".join((f.description or "").split()) not in own
                   and not (m in shared and " ".join((f.description or "").split()) in inventory)]
    assert unexplained == []


def test_the_example_has_a_host_of_every_connection_kind() -> None:
    from itref.registries import connectors

    hosts = [h for e in inventory_data()["entities"].values() for h in e["hosts"].values()]
    assert {h["connection"] for h in hosts} == set(connectors.names())


# ------------------------------------------------------------------ empty values (#19, point 9)


def _texts(data: Any, tp: Any, where: str = "") -> list[tuple[str, tuple[Any, ...], Any]]:
    """Return (where, path in data, field) of every text value a model field holds in ``data`` (for a list of
    texts: its first item)."""
    found = []
    model = model_for(tp, data)
    if model is None:
        return found
    fields = {f.alias or n: f for n, f in model.model_fields.items()}
    for key, value in data.items():
        field = fields[key]
        here = f"{where}.{key}" if where else key
        inside = section_models(field.annotation)
        if isinstance(value, str) and field.annotation is not Any:
            found.append((here, (key,), field))
        elif isinstance(value, list) and value and isinstance(value[0], str) and key != "command":
            found.append((f"{here}[0]", (key, 0), field))
        elif isinstance(value, dict) and model_for(field.annotation, value) is not None:
            found += [(w, (key, *p), f) for w, p, f in _texts(value, field.annotation, here)]
        elif isinstance(value, dict) and inside:
            for name, entry in value.items():
                found += [(w, (key, name, *p), f) for w, p, f in _texts(entry, _entry_type(field), f"{here}.{name}")]
        elif isinstance(value, list) and inside:
            for i, item in enumerate(value):
                found += [(w, (key, i, *p), f) for w, p, f in _texts(item, _entry_type(field), f"{here}[{i}]")]
    return found


def _entry_type(field: Any) -> Any:
    import typing

    tp = field.annotation
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return typing.get_args(tp)[-1]


def _emptied(data: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = ""
    return changed


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: r.__name__)
def test_every_text_of_the_example_emptied_is_refused_at_its_line(root: type[BaseModel], tmp_path: Path) -> None:
    """'' is not "left out": each text of the printed example, emptied in turn, is an error on that key's line
    (the file is parsed once; each emptied copy keeps its line marks)."""
    path = tmp_path / "example.yaml"
    path.write_text(inventory_example() if root is Inventory else playbook_example(), encoding="utf-8")
    doc, problems = yamlfile.load(path, "example.yaml")
    assert doc is not None and problems == []
    texts = _texts(doc.data, root)
    assert len(texts) > 40
    accepted, unclear = [], []
    for where, steps, field in texts:
        _model, issues = validate(root, replace(doc, data=_emptied(doc.data, steps)))
        here = [i for i in issues if i.where == where and i.line == doc.position(steps)[0]]
        if not issues:
            if steps[-1] != "default":  # an ask's default may be the empty answer
                accepted.append(f"{where}: accepted")
        elif not here:
            accepted.append(f"{where}: reported elsewhere: {issues}")
        elif "min_length=1" in repr(field.annotation) + repr(field.metadata) and not any(
                i.message.startswith("must not be empty") for i in here):
            unclear.append(f"{where}: {here[0].message}")
    assert accepted == [] and unclear == []


def test_an_empty_required_text_does_not_say_to_leave_the_key_out(make_inventory, cli) -> None:
    path = make_inventory("version: 1\norganisation: ''\nentities:\n  shared: {title: Shared}\n")
    result = cli("--lang", "en", "-i", str(path), "inventory", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG
    assert result.err.strip().endswith("inventory.yaml:2:15: organisation: must not be empty")


def test_an_empty_text_where_a_list_is_also_allowed_says_it_is_empty(tmp_path: Path, cli) -> None:
    (tmp_path / "inventory.yaml").write_text("version: 1\norganisation: Test\nentities:\n  shared: {title: S}\n",
                                             encoding="utf-8")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "shared.yaml").write_text(
        "entity: shared\nroutines:\n  weekly:\n    description: Weekly\n    steps:\n"
        "      - {description: Disks, run: {command: ''}}\n      - {description: Badge, manual: ''}\n",
        encoding="utf-8")
    result = cli("--lang", "en", "-i", str(tmp_path / "inventory.yaml"), "inventory", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG
    lines = result.err.strip().splitlines()
    assert any(x.endswith("steps[0].run.command: must not be empty") for x in lines), lines
    assert any(x.endswith("steps[1].manual: must not be empty: write a value, or leave the key out") for x in lines)
