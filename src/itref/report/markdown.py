"""Audit as Markdown (CommonMark with GitHub-style tables), for a ticket, a wiki page or an e-mail.

A summary table per entity first, then each entity's findings worst first, then what was resolved.
Every text from a finding is escaped, so a message can neither inject HTML nor break the layout.
Formatting only.
"""

from __future__ import annotations

import re
from datetime import date

from itref.core.audits import AuditReport
from itref.core.findings import Finding, Severity
from itref.i18n import _, format_number
from itref.report.findings import severity_label

_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")
"""What can start emphasis, a link, raw HTML, an entity, a code span or a table cell inside a line (line-start
syntax cannot occur: escaped text never starts a line)."""


def md(text: object) -> str:
    """Return ``text`` on one line with every Markdown-active character backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(_CONTROL.sub("\ufffd", str(text)).split()))


def _code(text: str) -> str:
    return "`" + " ".join(text.replace("`", "'").split()) + "`"


def day(value: str) -> str:
    """Return an ISO date as DD/MM/YYYY (anything else unchanged)."""
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    except (TypeError, ValueError):
        return value


def _marks(f: Finding) -> str:
    if f.waiver:
        text = _("until {until}: {reason}").format(until=day(f.waiver.get("until", "?")),
                                                         reason=f.waiver.get("reason", ""))
        if f.waiver.get("by"):
            text += " " + _("(accepted by {by})").format(by=f.waiver["by"])
        return " — _" + md(text) + "_"
    if f.failing and f.change == "new":
        return " **" + md(_("NEW")) + "**"
    if f.failing and f.change == "regressed":
        return " **" + md(_("WORSE")) + "**"
    return ""


def _finding(f: Finding) -> list[str]:
    word = _("WAIVED") if f.waiver else severity_label(f.severity)
    where = f"{md(f.host)}: " if f.host else ""
    head = f"**{md(word)}**" if f.failing else md(word)
    lines = [f"- {head} {where}{md(f.message)}{_marks(f)} ({_code(f.check)})"]
    if f.failing:
        if f.why:
            lines.append(f"  - {md(_('Why it matters: '))} {md(f.why)}")
        if f.fix:
            lines.append(f"  - {md(_('What to do: '))} {md(f.fix)}")
    return lines


def render(report: AuditReport) -> str:
    """Return the report as a Markdown document."""
    counts = report.counts()
    when = report.started.astimezone().strftime("%d/%m/%Y %H:%M")
    out = [f"# {md(_('Audit of {org}').format(org=report.organisation))}", ""]
    out.append(md(_("Audit of {date}, worst result: {worst}. {crit} critical, {warn} warning(s), {unk} unknown, "
                    "{ok} OK, {waived} waived ({seconds} s, run {run}).").format(
        date=when, worst=severity_label(report.worst), crit=counts["critical"], warn=counts["warning"],
        unk=counts["unknown"], ok=counts["ok"] + counts["info"], waived=counts["waived"],
        seconds=format_number(report.duration, 1), run=report.run_id)))
    out += ["", f"## {md(_('Summary'))}", ""]
    columns = [_("Entity"), severity_label(Severity.CRITICAL), severity_label(Severity.WARNING),
               severity_label(Severity.UNKNOWN), severity_label(Severity.OK), _("WAIVED")]
    out.append("| " + " | ".join(md(c) for c in columns) + " |")
    out.append("| --- |" + " ---: |" * (len(columns) - 1))
    groups = report.by_entity()
    titles = {entity: report.title(entity) for entity in groups}
    for entity, findings in groups.items():
        n = {s: sum(1 for f in findings if not f.waiver and f.severity.value == s)
             for s in ("critical", "warning", "unknown", "ok", "info")}
        waived = sum(1 for f in findings if f.waiver)
        cells = [md(titles[entity]), n["critical"], n["warning"], n["unknown"], n["ok"] + n["info"], waived]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    for entity, findings in groups.items():
        out += ["", f"## {md(titles[entity])}", ""]
        for f in findings:
            out.extend(_finding(f))
    if report.resolved:
        out += ["", f"## {md(_('Resolved since the previous audit'))}", ""]
        for p in report.resolved:
            where = f"{md(p.host)}: " if p.host else ""
            out.append(f"- {where}{md(p.message)} ({_code(p.check)})")
    return "\n".join(out) + "\n"
