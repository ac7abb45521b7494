"""Audit outputs. ``table`` and ``json`` live here; the other formats each have a module, found
through :data:`RENDERERS` and imported only when asked for."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.text import Text

from itref.core.audits import AuditReport
from itref.core.findings import Finding
from itref.i18n import _
from itref.report.findings import SEVERITY_STYLE, severity_label

RENDERERS: dict[str, str] = {
    "json": "itref.report.audit:render_json",
    "junit": "itref.report.junit:render",
    "markdown": "itref.report.markdown:render",
    "html": "itref.report.html:render",
    "nagios": "itref.report.nagios:render",
    "prometheus": "itref.report.prometheus:render",
}
"""Format name → ``module:function(report) -> str``."""


def renderer(name: str) -> Callable[[AuditReport], str]:
    """Return the text renderer of format ``name`` (imported now)."""
    module, _sep, attr = RENDERERS[name].partition(":")
    fn: Callable[[AuditReport], str] = getattr(importlib.import_module(module), attr)
    return fn


def _mark(f: Finding) -> str:
    if f.waiver:
        return " " + _("[waived until {until}: {reason}]").format(**f.waiver)
    if f.change in ("new", "regressed") and f.failing:
        return " " + (_("[NEW]") if f.change == "new" else _("[WORSE]"))
    return ""


def table(report: AuditReport, *, failing_only: bool = False) -> Group:
    """Return the report for a terminal: a summary line, then findings grouped by entity, worst first,
    with why it matters and what to do under each problem."""
    counts = report.counts()
    parts: list[Any] = [Text(_("{org}: audit of {date} — {crit} critical, {warn} warning(s), {unk} unknown, "
                               "{ok} OK, {waived} waived").format(
        org=report.organisation, date=report.started.astimezone().strftime("%d/%m/%Y %H:%M"),
        crit=counts["critical"], warn=counts["warning"], unk=counts["unknown"], ok=counts["ok"] + counts["info"],
        waived=counts["waived"]), style="bold")]
    for entity, findings in report.by_entity().items():
        shown = [f for f in findings if f.failing or f.waiver] if failing_only else findings
        if not shown:
            continue
        parts.append(Text(""))
        parts.append(Text(report.title(entity), style="bold underline"))
        for f in shown:
            style = "dim" if f.waiver else SEVERITY_STYLE[f.severity]
            line = Text(f"  [{_('WAIVED') if f.waiver else severity_label(f.severity)}] ", style=style)
            where = f"{f.host}: " if f.host else ""
            line.append(f"{where}{f.message}")
            line.append(_mark(f), style="bold magenta" if not f.waiver else "dim")
            parts.append(line)
            if f.failing:
                if f.why:
                    parts.append(Text("      " + _("Why it matters: ") + f.why, style="dim"))
                if f.fix:
                    parts.append(Text("      " + _("What to do: ") + f.fix, style="dim"))
                parts.append(Text("      " + _("Details: itref audit explain {id}").format(id=f.check), style="dim"))
    if report.resolved:
        parts.append(Text(""))
        parts.append(Text(_("Resolved since the previous audit:"), style="bold green"))
        for p in report.resolved:
            parts.append(Text(f"  {p.host + ': ' if p.host else ''}{p.message}", style="green"))
    return Group(*parts)


def render_json(report: AuditReport) -> str:
    """Return the report as JSON: run, counts, findings (with change and waiver), resolved."""
    return json.dumps({
        "run_id": report.run_id, "organisation": report.organisation, "started": report.started.isoformat(),
        "duration": round(report.duration, 3), "worst": report.worst.value, "counts": report.counts(),
        "previous_run": report.previous_run, "findings": [f.as_dict() for f in report.findings],
        "resolved": [{"check": p.check, "entity": p.entity, "host": p.host, "subject": p.subject,
                      "message": p.message} for p in report.resolved],
    }, ensure_ascii=False, indent=2, default=str)
