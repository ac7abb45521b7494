"""Format a handover :class:`~itref.handover.doc.Page` as Markdown (CommonMark, readable as plain text)."""

from __future__ import annotations

import re

from itref.handover.doc import (
    Bullets,
    Code,
    Fields,
    Line,
    Link,
    Page,
    Para,
    Steps,
    Strong,
    Table,
)

_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_LINE_START = re.compile(r"(?m)^(\s*)(#|[-+]|\d+[.)])(?=\s|$)")


def text(value: str) -> str:
    """Return ``value`` with the characters Markdown would interpret escaped (a heading, list or quote mark
    only at the start of a line)."""
    value = _SPECIAL.sub(r"\\\1", value)
    return _LINE_START.sub(lambda m: m[1] + (m[2][:-1] + "\\" + m[2][-1] if m[2][0].isdigit() else "\\" + m[2]),
                           value)


def code(value: str) -> str:
    """Return ``value`` as an inline code span, whatever backticks it holds."""
    value = value.replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value.strip() else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def inline(line: Line, indent: str = "") -> str:
    """Return a line of inline parts as Markdown; line breaks inside texts stay line breaks."""
    out = []
    for part in line:
        if isinstance(part, Code):
            out.append(code(part.text))
        elif isinstance(part, Strong):
            out.append(f"**{text(part.text)}**" if part.text else "")
        elif isinstance(part, Link):
            out.append(f"[{text(part.text)}](<{part.href.replace('>', '%3E').replace(' ', '%20')}>)")
        else:
            out.append(text(part))
    return "".join(out).replace("\n", "  \n" + indent)


def _cell(line: Line) -> str:
    return inline(line).replace("  \n", "<br>").replace("\n", " ")


def block(b: object) -> str:
    """Return one block as Markdown."""
    if isinstance(b, Para):
        body = inline(b.parts)
        return f"> {inline(b.parts, '> ')}" if b.style == "note" else (f"*{body}*" if b.style == "muted" and body
                                                                       else body)
    if isinstance(b, Fields):
        return "\n".join(f"- **{text(label)}:** {inline(value, '  ')}" for label, value in b.rows)
    if isinstance(b, Bullets):
        return "\n".join(f"- {inline(item, '  ')}" for item in b.items)
    if isinstance(b, Steps):
        lines = []
        for s in b.items:
            head = f"{s.number}. "
            pad = " " * len(head)
            lines.append(f"{head}**{text(s.title)}**  \n{pad}{inline(s.action, pad)}")
            for label, value in s.details:
                lines.append(f"{pad}- *{text(label)}:* {inline(value, pad + '  ')}")
            lines.append("")
        return "\n".join(lines).rstrip("\n")
    if isinstance(b, Table):
        rows = [" | ".join(text(h) for h in b.header), " | ".join("---" for _h in b.header)]
        rows += [" | ".join(_cell(c) for c in row) for row in b.rows]
        return "\n".join(f"| {r} |" for r in rows)
    raise TypeError(f"unknown block {b!r}")


def render(doc: Page) -> str:
    """Return the whole document as Markdown."""
    parts = [f"# {text(doc.title)}", *[block(b) for b in doc.intro]]
    parts.append(f"**{text(doc.contents_title)}**")
    parts.append("\n".join(f"{s.number}. [{text(s.title)}](#{s.anchor})" for s in doc.sections))
    for s in doc.sections:
        parts.append(f'<a id="{s.anchor}"></a>\n\n## {s.number}. {text(s.title)}')
        parts += [block(b) for b in s.blocks]
        for sub in s.subsections:
            parts.append(f'<a id="{sub.anchor}"></a>\n\n### {sub.number} {text(sub.title)}')
            parts += [block(b) for b in sub.blocks]
    return "\n\n".join(p for p in parts if p) + "\n"
