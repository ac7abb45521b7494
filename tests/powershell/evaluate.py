"""What a PowerShell script received by the in-suite WinRM endpoint would do, read with a real PowerShell grammar
(:mod:`tests.powershell.grammar`), so a test can prove that no value given to itref became a command.

The grammar knows only the ASCII quotes; PowerShell's tokenizer treats ‘ ’ ‚ ‛ exactly as ' and “ ” „ exactly
as " (and – — ― as -), in strings, around them and when doubled. So the script is read with those characters
replaced by their ASCII twins (one character for one: the structure is PowerShell's), and values are taken from
the original text at the same places.

:func:`run` goes as far as this suite needs: it lists every command the script would call (name and
arguments, evaluated), after defining the variables of itref's parameter reader from the command's standard
input as the script itself would. :class:`GrammarWindows` is an endpoint handler that does it for each script and
answers ``Write-Output`` with its arguments.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from tree_sitter import Node

from itref.lab.peers.winrm_endpoint import CommandReply, ShellInfo
from itref.lab.peers.winrm_fixtures import FakeWindows
from tests.powershell import grammar

_ASCII = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                        "\u201c": '"', "\u201d": '"', "\u201e": '"',
                        "\u2013": "-", "\u2014": "-", "\u2015": "-"})
_SINGLE = "'\u2018\u2019\u201a\u201b"
_DOUBLE = '"\u201c\u201d\u201e'
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


@dataclass
class Call:
    """One command the script calls: its name and its arguments, evaluated."""

    name: str
    args: list[str]
    node: Node = field(repr=False)


@dataclass
class Reading:
    """The script as PowerShell would read it."""

    script: str
    calls: list[Call]
    variables: dict[str, str]
    """Variables set by itref's parameter reader (name as written, without ``$``/braces)."""
    references: list[Node]
    """Every reference to a variable ``ITREF_P_*``."""

    def in_command_position(self) -> list[Node]:
        """Return the ``ITREF_P_*`` references that stand where a command name is (should be none)."""
        return [n for n in self.references if _has_ancestor(n, ("command_name", "command_name_expr"))]


def parse(script: str) -> tuple[Node, bytes, list[int]]:
    """Return the syntax tree of ``script`` (with ASCII quotes), its bytes and, per byte, the character index in
    ``script``. Raises AssertionError when PowerShell could not parse it (an ERROR or MISSING node)."""
    ascii_text = script.translate(_ASCII)
    data = ascii_text.encode("utf-8")
    char_at: list[int] = []
    for index, ch in enumerate(ascii_text):
        char_at += [index] * len(ch.encode("utf-8"))
    char_at.append(len(ascii_text))
    tree = grammar.parse(ascii_text)
    bad = grammar.problems(tree)
    assert not bad, "PowerShell cannot parse this script:\n" + "\n".join(str(b) for b in bad)
    return tree.root_node, data, char_at


class _Source:
    """The original script seen through the byte offsets of the tree (parsed from its ASCII twin)."""

    def __init__(self, script: str, char_at: list[int]) -> None:
        self.script, self.char_at = script, char_at

    def start(self, node: Node) -> int:
        return self.char_at[node.start_byte]

    def end(self, node: Node) -> int:
        return self.char_at[node.end_byte]

    def text(self, node: Node) -> str:
        return self.script[self.start(node):self.end(node)]


def run(script: str, stdin: bytes = b"") -> Reading:
    """Return what ``script`` does: the commands it calls, once itref's parameter reader has read ``stdin``."""
    root, _data, char_at = parse(script)
    src = _Source(script, char_at)
    lines = [x for x in stdin.decode("utf-8").split("\r\n") if x]
    variables: dict[str, str] = {}
    for node in grammar.walk(root):
        if node.type != "assignment_expression":
            continue
        target = _name(src.text(node.children[0]))
        value_text = src.text(node).split("=", 1)[1]
        index = re.fullmatch(r"\s*\[Text\.Encoding\]::UTF8\.GetString\(\[Convert\]::FromBase64String\("
                             r"\$itrefIn\[(\d+)\]\.Substring\(1\)\)\)\s*", value_text)
        if index is not None:
            line = lines[int(index.group(1))]
            assert line.startswith("v")
            variables[target] = base64.b64decode(line[1:]).decode("utf-8")
    calls = [Call(_command_name(n, src, variables), [_value(a, src, variables) for a in _arguments(n)], n)
             for n in grammar.walk(root) if n.type == "command"]
    references = [n for n in grammar.walk(root) if n.type == "variable" and _name(src.text(n)).startswith("ITREF_P_")]
    return Reading(script, calls, variables, references)


def _has_ancestor(node: Node, types: tuple[str, ...]) -> bool:
    current = node.parent
    while current is not None:
        if current.type in types:
            return True
        current = current.parent
    return False


def _name(variable: str) -> str:
    """Return the name of ``$x`` / ``${x}`` / ``$env:x`` (as ``env:x``)."""
    text = variable.strip()
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text[1:]


def _command_name(command: Node, src: _Source, variables: dict[str, str]) -> str:
    name = command.child_by_field_name("command_name")
    if name is None:
        return ""
    literal = next((n for n in grammar.walk(name) if n.type == "string_literal"), None)
    return _value(literal, src, variables) if literal is not None else src.text(name)


def _arguments(command: Node) -> list[Node]:
    elements = command.child_by_field_name("command_elements")
    if elements is None:
        return []
    return [c for c in elements.named_children if c.type != "command_argument_sep"]


def _value(node: Node, src: _Source, variables: dict[str, str]) -> str:
    """Return the value of an argument: a string literal, a variable, a bare word (what this suite sends)."""
    while node.type in ("array_literal_expression", "unary_expression") and node.named_child_count == 1:
        node = node.named_children[0]
    text = src.text(node)
    if node.type == "variable":
        return variables.get(_name(text), "")
    if node.type == "string_literal":
        if text[:1] in _SINGLE:
            return _verbatim(text[1:-1])
        if text[:1] in _DOUBLE:
            return _expandable(node, src, variables)
    return text


def _verbatim(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        if body[i] in _SINGLE and i + 1 < len(body) and body[i + 1] in _SINGLE:
            out.append(body[i + 1])
            i += 2
            continue
        out.append(body[i])
        i += 1
    return "".join(out)


def _expandable(node: Node, src: _Source, variables: dict[str, str]) -> str:
    """Return a double-quoted string with its variables replaced by their values and its escapes applied."""
    start, text = src.start(node), src.text(node)
    holes = sorted((src.start(v) - start, src.end(v) - start) for v in grammar.walk(node) if v.type == "variable")
    out, i = [], 1
    for a, b in holes:
        out.append(_unescape(text[i:a]))
        out.append(variables.get(_name(text[a:b]), ""))
        i = b
    out.append(_unescape(text[i:len(text) - 1]))
    return "".join(out)


def _unescape(part: str) -> str:
    out, i = [], 0
    while i < len(part):
        ch = part[i]
        if ch == "`" and i + 1 < len(part):
            out.append(_ESCAPES.get(part[i + 1], part[i + 1]))
            i += 2
            continue
        if ch in _DOUBLE and i + 1 < len(part) and part[i + 1] in _DOUBLE:
            out.append(part[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class GrammarWindows(FakeWindows):
    """A FakeWindows that reads each itref script with the PowerShell grammar (:func:`run`): ``readings`` keeps
    what every script would do; a script whose only command besides itref's own is ``Write-Output`` is answered
    with its arguments, one per line, as PowerShell would print them."""

    ITREF_OWN = ("New-Object", "Remove-Variable")

    def __init__(self) -> None:
        super().__init__()
        self.readings: list[Reading] = []

    def __call__(self, command: str, args: list[str], shell: ShellInfo) -> CommandReply:
        info = shell.current
        assert info is not None and info.script is not None
        reading = run(info.script, bytes(info.stdin))
        self.readings.append(reading)
        own = [c for c in reading.calls if c.name not in self.ITREF_OWN]
        if own and all(c.name == "Write-Output" for c in own):
            return CommandReply(stdout="".join(arg + "\r\n" for c in own for arg in c.args))
        return super().__call__(command, args, shell)
