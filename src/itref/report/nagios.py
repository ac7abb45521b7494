"""Audit as Nagios/Icinga plugin output: one status line with performance data, then one line per failing
finding (the plugin guidelines' "long output"). The CLI returns the matching exit code 0/1/2/3.

The status word, ``ITREF`` and the performance labels are protocol, never translated. Formatting only.
"""

from __future__ import annotations

import re

from itref.core.audits import AuditReport
from itref.core.findings import Finding, Severity
from itref.i18n import _, ngettext

_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")

STATUS_WORD = {Severity.OK: "OK", Severity.INFO: "OK", Severity.WARNING: "WARNING",
               Severity.CRITICAL: "CRITICAL", Severity.UNKNOWN: "UNKNOWN"}
"""Worst severity → the word Nagios expects after the service name."""


def _plain(text: str) -> str:
    """Return ``text`` on one line without ``|`` (which would start performance data)."""
    return " ".join(_CONTROL.sub("\ufffd", text).replace("|", "/").split())


def perf(label: str, value: int | str, uom: str = "", minimum: int | None = None) -> str:
    """Return one performance data item, ``'label'=value[UOM];[warn];[crit];[min];[max]``, quoting the label
    when it needs it (a quote inside is doubled; ``=`` is not allowed in a label)."""
    if "=" in label:
        raise ValueError(f"'=' is not allowed in a performance data label: {label!r}")
    if any(c.isspace() or c == "'" for c in label):
        label = "'" + label.replace("'", "''") + "'"
    text = f"{label}={value}{uom}"
    if minimum is not None:
        text += f";;;{minimum}"
    return text


def _line(f: Finding) -> str:
    where = "/".join(p for p in (f.entity, f.host) if p)
    mark = ""
    if f.change == "new":
        mark = " " + _("[NEW]")
    elif f.change == "regressed":
        mark = " " + _("[WORSE]")
    return _plain(f"{STATUS_WORD[f.severity]}: {where + ': ' if where else ''}{f.message}{mark}")


def render(report: AuditReport) -> str:
    """Return the plugin output: ``ITREF STATUS - summary | perfdata`` and a line per failing finding."""
    counts = report.counts()
    hosts = len({f.host for f in report.findings if f.host})
    summary = _("{crit} critical, {warn} warning, {unk} unknown on {hosts}").format(
        crit=counts["critical"], warn=counts["warning"], unk=counts["unknown"],
        hosts=ngettext("{n} host", "{n} hosts", hosts).format(n=hosts))
    data = " ".join([
        perf("critical", counts["critical"], minimum=0), perf("warning", counts["warning"], minimum=0),
        perf("unknown", counts["unknown"], minimum=0), perf("ok", counts["ok"] + counts["info"], minimum=0),
        perf("waived", counts["waived"], minimum=0), perf("duration", f"{report.duration:.2f}", "s"),
    ])
    lines = [f"ITREF {STATUS_WORD[report.worst]} - {_plain(summary)} | {data}"]
    failing = sorted((f for f in report.findings if f.failing),
                     key=lambda f: (-f.severity.rank, f.entity or "", f.host or "", f.check, f.subject or ""))
    lines.extend(_line(f) for f in failing)
    return "\n".join(lines) + "\n"
