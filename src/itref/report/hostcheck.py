"""Render ``itref hosts check``: one line per problem with what to do, then one summary line; or JSON.
Formatting only."""

from __future__ import annotations

import json

from itref.core.findings import Severity
from itref.hostcheck.model import Report
from itref.i18n import _, format_number, ngettext
from itref.report.findings import severity_label


def problem_lines(report: Report) -> list[str]:
    """Return one line per problem (warning, unknown, critical), worst first, each ending with what to do."""
    ordered = sorted(report.problems, key=lambda f: -f.severity.rank)
    return [_("{severity}: {message}. What to do: {fix}").format(
        severity=severity_label(f.severity), message=f.message.rstrip("."), fix=f.fix) for f in ordered]


def summary_line(report: Report) -> str:
    """Return the closing line: how many hosts, how long, and how many problems of which kind."""
    hosts = ngettext("{n} host checked", "{n} hosts checked", len(report.hosts)).format(n=len(report.hosts))
    if report.directory is not None:
        hosts += _(" and the directory")
    seconds = format_number(report.duration, 1)
    problems = report.problems
    if not problems:
        return _("{hosts} in {seconds} s: no problem found.").format(hosts=hosts, seconds=seconds)
    counts = ", ".join(f"{sum(1 for f in problems if f.severity == s)} {severity_label(s).lower()}"
                       for s in (Severity.CRITICAL, Severity.UNKNOWN, Severity.WARNING)
                       if any(f.severity == s for f in problems))
    return ngettext("{hosts} in {seconds} s: {n} problem ({counts}).", "{hosts} in {seconds} s: {n} problems "
                    "({counts}).", len(problems)).format(hosts=hosts, seconds=seconds, n=len(problems), counts=counts)


def text(report: Report) -> str:
    """Return the whole text report: the problem lines, then the summary line."""
    return "\n".join([*problem_lines(report), summary_line(report)]) + "\n"


def as_json(report: Report) -> str:
    """Return the report as JSON (every host with its system, clock and findings; the directory's findings)."""
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str) + "\n"
