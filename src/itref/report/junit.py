"""Audit as JUnit XML, for CI servers and dashboards that read test results (GitLab, Jenkins).

One ``<testsuite>`` per entity, one ``<testcase>`` per finding: a failing finding (an unwaived warning,
unknown or critical) is a ``<failure>``, a waived one is ``<skipped>``, the others pass. Formatting only.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from itref.core.audits import AuditReport
from itref.core.findings import Finding
from itref.i18n import _

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry at all, not even escaped (NUL, terminal escapes, lone surrogates)."""

_SHORT = 60


def _clean(text: object) -> str:
    """Return ``text`` as a string XML can carry: forbidden control characters become U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(text))


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SHORT else line[: _SHORT - 1] + "…"


def _case_name(f: Finding) -> str:
    """Return the test case name: the host, then the subject (or the start of the message)."""
    what = f.subject or _short(f.message)
    return f"{f.host}: {what}" if f.host else what


def _evidence(evidence: dict[str, Any]) -> str:
    return "\n".join(f"  {k} = {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)}"
                     for k, v in evidence.items())


def _body(f: Finding) -> str:
    """Return the failure text: what was found, why it matters, what to do, the evidence."""
    lines = [f.message]
    if f.change == "new":
        lines.append(_("New since the previous audit."))
    elif f.change == "regressed":
        lines.append(_("Worse than at the previous audit."))
    if f.why:
        lines.append(_("Why it matters: ") + f.why)
    if f.fix:
        lines.append(_("What to do: ") + f.fix)
    if f.evidence:
        lines.append(_("Evidence:"))
        lines.append(_evidence(f.evidence))
    lines.append(_("Details: itref audit explain {id}").format(id=f.check))
    return "\n".join(lines)


def _set(el: ET.Element, **attrs: object) -> None:
    for name, value in attrs.items():
        el.set(name, _clean(value))


def render(report: AuditReport) -> str:
    """Return the report as a JUnit XML document (UTF-8 declared)."""
    stamp = report.started.isoformat(timespec="seconds")
    root = ET.Element("testsuites")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for number, (entity, findings) in enumerate(report.by_entity().items()):
        suite = ET.SubElement(root, "testsuite")
        counts = {"tests": len(findings), "failures": sum(f.failing for f in findings), "errors": 0,
                  "skipped": sum(f.waiver is not None for f in findings)}
        _set(suite, name=report.title(entity), id=number, **counts,
             timestamp=stamp)
        for key, value in counts.items():
            totals[key] += value
        props = ET.SubElement(suite, "properties")
        for name, value in (("entity", entity), ("organisation", report.organisation), ("run_id", report.run_id),
                            ("previous_run", report.previous_run or "")):
            _set(ET.SubElement(props, "property"), name=name, value=value)
        for f in findings:
            case = ET.SubElement(suite, "testcase")
            _set(case, classname=f.check, name=_case_name(f), time="0")
            if f.waiver:
                skipped = ET.SubElement(case, "skipped")
                _set(skipped, message=_("waived until {until}: {reason}").format(
                    until=f.waiver.get("until", "?"), reason=f.waiver.get("reason", "")))
                by = [_("Accepted by {by}.").format(by=f.waiver["by"])] if f.waiver.get("by") else []
                skipped.text = _clean("\n".join([*by, _body(f)]))
            elif f.failing:
                failure = ET.SubElement(case, "failure")
                _set(failure, type=f.severity.value, message=f.message)
                failure.text = _clean(_body(f))
            else:
                ET.SubElement(case, "system-out").text = _clean(f.message)
    _set(root, name=_("itref audit — {org}").format(org=report.organisation), **totals,
         time=f"{report.duration:.3f}", timestamp=stamp)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
