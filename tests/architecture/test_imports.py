"""The packages of itref form layers: no package imports, even from inside a function, a package that imports it
back. Imports under ``if TYPE_CHECKING:`` are for type checkers only and are left out."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "itref"


def unit_of(module: str) -> str:
    """Return the unit of ``module`` (``itref.audit.engine`` → ``audit``; a top-level module is its own unit)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports_of(path: Path, module: str) -> list[str]:
    """Return every itref module ``path`` imports at run time (top level and inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for n in ast.walk(node))
    found: list[str] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.append(base)
            found += [f"{base}.{a.name}" for a in node.names]
    return [m for m in found if m == "itref" or m.startswith("itref.")]


def graph(root: Path) -> dict[str, set[str]]:
    """Return unit → the units it imports, for the package at ``root``."""
    edges: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        here = unit_of(module)
        for target in imports_of(path, module):
            there = unit_of(target)
            if there != here and there != root.name:
                edges.setdefault(here, set()).add(there)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the groups of units that import each other (strongly connected components of two or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_package_of_itref_imports_a_package_that_imports_it_back() -> None:
    edges = graph(SRC)
    assert "core" in edges and "cli" in edges  # the graph was read
    assert cycles(edges) == [], {u: sorted(v) for u, v in edges.items()}


def test_the_core_depends_on_nothing_but_translation() -> None:
    assert graph(SRC)["core"] <= {"i18n"}


def test_an_import_inside_a_function_that_closes_a_circle_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / "itref"
    for name, text in {"__init__.py": "", "a/__init__.py": "", "b/__init__.py": "",
                       "a/one.py": "from itref.b.two import x\n",
                       "b/two.py": """
                           from typing import TYPE_CHECKING
                           if TYPE_CHECKING:
                               from itref.a.one import y
                           def later():
                               from itref.a import one
                           """}.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(textwrap.dedent(text))
    assert cycles(graph(pkg)) == [["a", "b"]]
    type_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from itref.a import one\n"
    (pkg / "b" / "two.py").write_text(type_only)
    assert cycles(graph(pkg)) == []  # an import for the type checker alone is no circle
