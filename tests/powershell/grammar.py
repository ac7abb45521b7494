"""PowerShell read by a real grammar (``tree-sitter-powershell``), for tests that need to prove what a script is.

Small API, importable from any test::

    tree = parse(text)                 # the syntax tree (tree_sitter.Tree)
    problems(tree)                     # [] when the grammar read every byte; else one Problem per ERROR/MISSING node
    walk(tree)                         # every node, depth first, in source order
    text_of(node)                      # the source text of a node
    commands(tree)                     # every command: Command(name, parameters, node)
    ps7_only(tree)                     # uses of Windows PowerShell 5.1-incompatible syntax: Finding(rule, where, text)

``problems`` and ``ps7_only`` work on the tree, never on the text: a ``??`` inside a string literal is not a
null-coalescing operator, and a parameter is recognised however it is abbreviated.

The grammar is stricter than PowerShell in a few places (docs/powershell.md lists them, with the grammar's
version: :data:`GRAMMAR_VERSION`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version

import tree_sitter
import tree_sitter_powershell

GRAMMAR_VERSION = version("tree-sitter-powershell")
BINDINGS_VERSION = version("tree-sitter")
_LANGUAGE = tree_sitter.Language(tree_sitter_powershell.language())


@dataclass(frozen=True)
class Problem:
    """A place the grammar could not read: ``kind`` is ERROR (unexpected text) or MISSING (a token it expected)."""

    kind: str
    line: int
    column: int
    text: str
    context: str
    """The source line, with the line below it for context."""

    def __str__(self) -> str:
        what = f"missing {self.text!r}" if self.kind == "MISSING" else f"cannot read {self.text!r}"
        return f"{self.line}:{self.column}: {what}\n    {self.context}"


@dataclass(frozen=True)
class Command:
    """One command of a pipeline: its name as written (``ForEach-Object``, ``%``) and its parameters (``-Parallel``)."""

    name: str
    parameters: tuple[str, ...]
    node: tree_sitter.Node


@dataclass(frozen=True)
class Finding:
    """One use of syntax Windows PowerShell 5.1 does not have."""

    rule: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.rule}: {self.text!r}"


def parse(text: str) -> tree_sitter.Tree:
    """Return the syntax tree of ``text`` (never raises: what the grammar cannot read becomes ERROR/MISSING nodes)."""
    parser = tree_sitter.Parser(_LANGUAGE)
    return parser.parse(text.encode("utf-8"))


def walk(tree: tree_sitter.Tree | tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Yield every node under ``tree`` (itself included), depth first, in source order."""
    stack = [tree.root_node if isinstance(tree, tree_sitter.Tree) else tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def text_of(node: tree_sitter.Node) -> str:
    """Return the source text a node covers."""
    return (node.text or b"").decode("utf-8", errors="replace")


def _source_lines(node: tree_sitter.Node) -> list[str]:
    root = node
    while root.parent is not None:
        root = root.parent
    return text_of(root).splitlines() or [""]


def problems(tree: tree_sitter.Tree) -> list[Problem]:
    """Return every ERROR and MISSING node (outermost only), located as 1-based line:column with its line."""
    found: list[Problem] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing or node.type == "ERROR":
            row, col = node.start_point
            lines = _source_lines(node)
            context = "\n    ".join(lines[row:row + 2]) if row < len(lines) else ""
            found.append(Problem("MISSING" if node.is_missing else "ERROR", row + 1, col + 1,
                                 node.type if node.is_missing else text_of(node).strip()[:80], context))
            continue
        stack.extend(reversed(node.children))
    return found


def commands(tree: tree_sitter.Tree) -> list[Command]:
    """Return every command (``command`` node) with its name and the parameters written after it."""
    found = []
    for node in walk(tree):
        if node.type != "command":
            continue
        name_node = node.child_by_field_name("command_name") or next(
            (c for c in node.children if c.type in ("command_name", "command_name_expr")), None)
        name = text_of(name_node) if name_node is not None else ""
        params = tuple(text_of(n) for c in node.children if c.type == "command_elements"
                       for n in c.children if n.type == "command_parameter")
        found.append(Command(name, params, node))
    return found


def _is_parameter(written: str, full: str, shortest: int) -> bool:
    """True when ``written`` (``-Para``, ``-parallel:``) names ``full`` (PowerShell accepts any unambiguous
    prefix; ``shortest`` is the shortest prefix that is unambiguous for that command)."""
    word = written.lstrip("-").split(":", 1)[0].lower()
    return len(word) >= shortest and full.lower().startswith(word)


FOREACH_NAMES = frozenset({"foreach-object", "%", "foreach", "microsoft.powershell.core\\foreach-object"})
CONVERTFROM_JSON = frozenset({"convertfrom-json", "microsoft.powershell.utility\\convertfrom-json"})
# (command names, parameter, shortest unambiguous prefix among that command's parameters in PowerShell 7)
_PARAMETER_RULES = (
    ("ForEach-Object -Parallel", FOREACH_NAMES, "Parallel", 2),  # -P alone is ambiguous with -Process
    ("ConvertFrom-Json -AsHashtable", CONVERTFROM_JSON, "AsHashtable", 1),
    ("ConvertFrom-Json -Depth", CONVERTFROM_JSON, "Depth", 2),  # -D: -DateKind (7.5)
)


def _next_token(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """Return the first leaf after ``node`` in the source, or None."""
    current: tree_sitter.Node | None = node
    while current is not None and current.next_sibling is None:
        current = current.parent
    if current is None:
        return None
    nxt = current.next_sibling
    while nxt is not None and nxt.children:
        nxt = nxt.children[0]
    return nxt


def _question_marks(tree: tree_sitter.Tree) -> Iterator[tuple[tree_sitter.Node, str]]:
    """Yield the innermost ERROR nodes that hold ``?`` or ``??`` (the grammar knows no PowerShell 7 operator,
    so each becomes an ERROR leaf), with their text."""
    for node in walk(tree):
        if node.type == "ERROR" and not any(c.type == "ERROR" for c in node.children):
            text = text_of(node).strip()
            if text in ("?", "??"):
                yield node, text


def ps7_only(tree: tree_sitter.Tree) -> list[Finding]:
    """Return every use of syntax that Windows PowerShell 5.1 lacks, found in the tree.

    Rules: ``??``/``??=`` (null-coalescing), ``?.``/``?[`` (null-conditional access), ``a ? b : c`` (ternary),
    ``&&``/``||`` (pipeline chains), ``ForEach-Object -Parallel``, ``ConvertFrom-Json -AsHashtable`` and
    ``ConvertFrom-Json -Depth`` (``Group-Object -AsHashTable`` exists in 5.1 and is not flagged).
    """
    found: list[Finding] = []

    def add(rule: str, node: tree_sitter.Node, text: str | None = None) -> None:
        row, col = node.start_point
        found.append(Finding(rule, row + 1, col + 1, text if text is not None else text_of(node)))

    for node, text in _question_marks(tree):
        if text == "??":
            add("null-coalescing operator ?? (PowerShell 7)", node, text)
            continue
        after = _next_token(node)
        if after is not None and after.type in (".", "["):
            add("null-conditional access ?. or ?[ (PowerShell 7)", node, text + after.type)
        else:
            add("ternary operator ? : (PowerShell 7)", node, text)
    for node in walk(tree):
        if node.type == "pipeline_chain_tail":
            add("pipeline chain && or || (PowerShell 7)", node)
    for command in commands(tree):
        for rule, names, parameter, shortest in _PARAMETER_RULES:
            if command.name.lower() in names and any(_is_parameter(p, parameter, shortest)
                                                     for p in command.parameters):
                add(rule + " (PowerShell 7)", command.node)
    found.sort(key=lambda f: (f.line, f.column))
    return found
