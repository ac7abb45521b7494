"""Render findings (audits, backup checks, AD report): grouped by entity, worst first. Formatting only."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.text import Text

from itref.core.findings import Finding, Severity, no_entity_heading, severity_label
from itref.i18n import _

SEVERITY_STYLE = {Severity.OK: "green", Severity.INFO: "cyan", Severity.WARNING: "yellow",
                  Severity.CRITICAL: "bold red", Severity.UNKNOWN: "magenta"}


def findings_view(findings: list[Finding]) -> Group:
    """Return findings grouped by entity, worst first, with why and how to fix."""
    parts: list[Any] = []
    entities = sorted({f.entity or "" for f in findings})
    for entity in entities:
        rows = sorted([f for f in findings if (f.entity or "") == entity], key=lambda f: -f.severity.rank)
        parts.append(Text(entity or no_entity_heading(f.check for f in findings if not f.entity),
                          style="bold underline"))
        for f in rows:
            line = Text(f"  [{severity_label(f.severity)}] ", style=SEVERITY_STYLE[f.severity])
            line.append(f"{f.check}: {f.message}")
            parts.append(line)
            if f.severity.rank >= Severity.WARNING.rank:
                if f.why:
                    parts.append(Text("      " + _("Why it matters: ") + f.why, style="dim"))
                if f.fix:
                    parts.append(Text("      " + _("What to do: ") + f.fix, style="dim"))
    return Group(*parts)


def findings_json(findings: list[Finding]) -> str:
    """Return the findings as a JSON array."""
    return json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=2, default=str)
