"""Generate the Markdown reference of the inventory and playbook formats from the schema.

``python -m itref.config.reference docs/reference`` rewrites ``inventory.md`` and ``playbook.md``;
a test fails when the committed pages differ from what the schema says.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from itref.config.example import flow, section_models
from itref.config.schema import Inventory, Playbook


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"mapping of name → {_type_name(typing.get_args(tp)[1])}"
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    words = {str: "text", int: "whole number", float: "number", bool: "true/false"}
    return words.get(tp, getattr(tp, "__name__", str(tp)))


def models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Return ``root`` and every model reachable from its fields, each once, in the order of the page."""
    seen: list[type[BaseModel]] = []

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp in seen:
                return
            seen.append(tp)
            for field in tp.model_fields.values():
                walk(field.annotation)
        for arg in typing.get_args(tp):
            walk(arg)

    walk(root)
    return seen


def _example(field: Any) -> str:
    """Return the example cell of ``field``: its examples as YAML, or where the keys of a section are."""
    if field.examples:
        return " or ".join("`{}`".format(flow(e).replace("|", "\\|")) for e in field.examples)
    inside = section_models(field.annotation)
    if inside:
        return "see " + ", ".join(_type_name(m) for m in inside)
    return ""


EXAMPLE_COMMANDS = {Inventory: "itref inventory example", Playbook: "itref playbook example"}


def render(root: type[BaseModel], title: str) -> str:
    """Return the Markdown reference for ``root`` and every model it contains."""
    lines = [f"# {title}", "", "<!-- Generated from src/itref/config/schema.py by "
             "`python -m itref.config.reference docs/reference`; do not edit by hand. -->", ""]
    if root in EXAMPLE_COMMANDS:
        lines += [f"A complete, commented example, valid as it is: `{EXAMPLE_COMMANDS[root]}`.", ""]
    for model in models(root):
        lines += [f"## {model.__name__}", "", " ".join((model.__doc__ or "").split()), "",
                  "| key | type | default | meaning | example |", "|---|---|---|---|---|"]
        for name, field in model.model_fields.items():
            if field.is_required():
                default = "**required**"
            elif field.default_factory is not None or field.default is PydanticUndefined or field.default is None:
                default = ""
            else:
                default = f"`{field.default}`"
            meaning = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{field.alias or name}` | {_type_name(field.annotation)} | {default} | {meaning} "
                         f"| {_example(field)} |")
        lines.append("")
    return "\n".join(lines)


PAGES = {"inventory.md": (Inventory, "inventory.yaml reference"),
         "playbook.md": (Playbook, "Playbook reference (playbooks/<entity>.yaml)")}


def main(argv: list[str]) -> int:
    """Write the reference pages into the folder ``argv[0]``; return 0."""
    out = Path(argv[0] if argv else "docs/reference")
    out.mkdir(parents=True, exist_ok=True)
    for name, (model, title) in PAGES.items():
        (out / name).write_text(render(model, title), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
