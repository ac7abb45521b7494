"""Read one YAML file safely into plain Python values, remembering where each value came from.

Guards against what a hand-edited or hostile file can contain: huge files, binary files,
tabs, duplicate keys, alias bombs and runaway nesting. Every problem becomes a
:class:`~itref.core.errors.ConfigIssue` with the file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from itref.core.errors import ConfigIssue
from itref.i18n import _

MAX_BYTES = 1_000_000
"""Largest YAML file itref reads; an inventory is a few kilobytes."""
MAX_VALUES = 20_000
"""Most values a document may expand to (stops 'billion laughs' alias bombs)."""
MAX_DEPTH = 64
"""Deepest nesting accepted (stops recursive aliases and pathological nesting)."""

Loc = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed YAML file: its data, plus the line/column of every value and mapping key."""

    display: str
    data: Any
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def real_path(self, loc: Loc) -> Loc:
        """Return the part of ``loc`` that exists in the data, skipping validator-only steps."""
        node: Any = self.data
        out: list[str | int] = []
        for step in loc:
            in_dict = isinstance(node, dict) and step in node
            in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
            if in_dict or in_list:
                node = node[step]
                out.append(step)
            elif step == "[key]" and out:  # the key itself is wrong: keep pointing at that entry
                break
            elif isinstance(node, dict) and isinstance(step, str) and step not in node and _is_field(step):
                out.append(step)  # a missing or unknown key: point at the mapping that should hold it
                break
        return tuple(out)

    def position(self, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
        """Return (line, column) for ``loc``: its value (or, with ``at_key``, its key), else the nearest
        enclosing value that exists."""
        if loc in self.key_marks and (at_key or loc not in self.marks):
            return self.key_marks[loc]
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.marks:
                return self.marks[loc[:end]]
        return (1, 1)

    def issue(self, loc: Loc, message: str, *, at_key: bool = False) -> ConfigIssue:
        """Return a ConfigIssue located at the value of ``loc`` (or at its key, with ``at_key``)."""
        path = self.real_path(loc)
        line, col = self.position(path, at_key=at_key)
        return ConfigIssue(self.display, line, col, dotted(path), message)


_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


def _is_field(step: str) -> bool:
    """Return True for a schema key name, False for a validator tag such as 'SecretRef' or 'str'."""
    return step.isidentifier() and step[:1].islower() and step not in _TYPE_TAGS


def dotted(loc: Loc) -> str:
    """Return ``loc`` as ``a.b[2].c``."""
    out = ""
    for step in loc:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out


class _Budget:
    def __init__(self) -> None:
        self.values = 0


def load(path: Path, display: str | None = None) -> tuple[Document | None, list[ConfigIssue]]:
    """Read and parse ``path``.

    Returns the document (None when it could not be read at all) and the problems found.
    Never raises for bad content; an unreadable file is reported as an issue too.
    """
    name = display or str(path)

    def fail(message: str, line: int = 1, col: int = 1) -> tuple[None, list[ConfigIssue]]:
        return None, [ConfigIssue(name, line, col, "", message)]

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return fail(_("file is too large ({size} bytes; at most {limit} are read)").format(
                size=size, limit=MAX_BYTES))
        raw = path.read_bytes()
    except FileNotFoundError:
        return fail(_("file not found"))
    except IsADirectoryError:
        return fail(_("is a directory, not a YAML file"))
    except OSError as exc:
        return fail(_("cannot read the file: {reason}").format(reason=exc.strerror or exc))
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        return fail(_("this is a binary file, not YAML text"), line)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return fail(_("not valid UTF-8 text (save the file as UTF-8)"), line, col)
    try:
        node, loader = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark and "<stream end>" in (exc.problem or ""):
            mark = exc.context_mark  # "unexpected end of file": point where the open bracket/quote began
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return fail(_describe_yaml_error(exc), line, col)
    except yaml.YAMLError as exc:
        return fail(_("not valid YAML: {reason}").format(reason=exc))
    except RecursionError:  # thousands of nested brackets: too deep for the parser before any limit is seen
        return fail(_("values are nested more than {n} levels deep (or an alias refers to itself)").format(
            n=MAX_DEPTH))
    if node is None:
        return fail(_("file is empty"))
    doc = Document(name, None)
    issues: list[ConfigIssue] = []
    try:
        doc.data = _construct(node, (), doc, issues, loader, _Budget(), 0)
    except _TooBig as exc:
        return fail(str(exc), exc.line, exc.col)
    return doc, issues


_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
"""PyYAML's libyaml-backed loader when PyYAML was built with it (several times faster on a long state
history), else None."""


def _compose(text: str, fast: bool = True) -> tuple[yaml.Node | None, yaml.SafeLoader]:
    """Parse ``text`` into its node tree; return the root node (None for an empty file) and the loader (whose
    constructor turns scalar nodes into values).

    libyaml is used when present and ``fast``; a file it refuses is parsed again by the pure-Python parser, so
    the words and the line:column of a syntax error are the same whichever PyYAML is installed.
    Raises yaml.YAMLError (a MarkedYAMLError when the position is known) for text that is not YAML."""
    if fast and _FAST_LOADER is not None:
        loader = _FAST_LOADER(text)
        try:
            return loader.get_single_node(), loader
        except yaml.YAMLError:
            pass
        finally:
            loader.dispose()
    loader = yaml.SafeLoader(text)
    try:
        return loader.get_single_node(), loader
    finally:
        loader.dispose()


class _TooBig(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.line, self.col = line, col


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or str(exc)
    if "'\\t'" in problem or "\\t" in problem:
        return _("a tab character is used here; indent YAML with spaces, never tabs")
    context = f"{exc.context}, " if exc.context else ""
    return _("YAML syntax error: {detail}").format(detail=f"{context}{problem}")


def _construct(node: yaml.Node, loc: Loc, doc: Document, issues: list[ConfigIssue],
               loader: yaml.SafeLoader, budget: _Budget, depth: int) -> Any:
    line, col = node.start_mark.line + 1, node.start_mark.column + 1
    budget.values += 1
    if budget.values > MAX_VALUES:
        raise _TooBig(_("the document expands to more than {n} values (anchors and aliases are "
                        "used too heavily)").format(n=MAX_VALUES), line, col)
    if depth > MAX_DEPTH:
        raise _TooBig(_("values are nested more than {n} levels deep (or an alias refers to "
                        "itself)").format(n=MAX_DEPTH), line, col)
    doc.marks.setdefault(loc, (line, col))
    if isinstance(node, yaml.ScalarNode):
        try:
            return loader.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            issues.append(ConfigIssue(doc.display, line, col, dotted(loc),
                                      _("value cannot be read: {reason}").format(reason=exc.problem)))
            return None
        except (ValueError, OverflowError) as exc:  # a date that looks like one but is not (2026-13-45)
            message = (_("{value} is not a date that exists").format(value=node.value)
                       if node.tag == "tag:yaml.org,2002:timestamp" else
                       _("value cannot be read: {reason}").format(reason=exc))
            issues.append(ConfigIssue(doc.display, line, col, dotted(loc), message))
            return None
    if isinstance(node, yaml.SequenceNode):
        return [_construct(child, (*loc, i), doc, issues, loader, budget, depth + 1)
                for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        return _construct_mapping(node, loc, doc, issues, loader, budget, depth)
    return None


def _construct_mapping(node: yaml.MappingNode, loc: Loc, doc: Document, issues: list[ConfigIssue],
                       loader: yaml.SafeLoader, budget: _Budget, depth: int) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            key = key_node.value
            if key in seen:
                issues.append(ConfigIssue(
                    doc.display, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                    dotted((*loc, key)),
                    _("duplicate key '{key}' (first defined on line {line})").format(key=key, line=seen[key])))
            else:
                seen[key] = key_node.start_mark.line + 1
    try:
        loader.flatten_mapping(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark or node.start_mark
        issues.append(ConfigIssue(doc.display, mark.line + 1, mark.column + 1, dotted(loc),
                                  _("invalid merge ('<<'): {reason}").format(reason=exc.problem)))
        return {}
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            issues.append(ConfigIssue(doc.display, key_node.start_mark.line + 1,
                                      key_node.start_mark.column + 1, dotted(loc),
                                      _("a mapping key must be a plain value, not a list or mapping")))
            continue
        key = loader.construct_object(key_node)
        if not isinstance(key, str | int):
            key = str(key)
        child = (*loc, key)
        doc.key_marks.setdefault(child, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
        out[key] = _construct(value_node, child, doc, issues, loader, budget, depth + 1)
    return out
