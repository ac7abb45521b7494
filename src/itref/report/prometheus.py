"""Audit as Prometheus text exposition format, for node_exporter's textfile collector
(``itref audit --format prometheus --output /var/lib/prometheus/node-exporter/itref.prom``).

Metric and label names are protocol, never translated; only the HELP texts are. No timestamps on samples
(the textfile collector refuses them): the run time is its own gauge. Formatting only.
"""

from __future__ import annotations

from itref.core.audits import AuditReport
from itref.i18n import _

SEVERITIES = ("ok", "info", "warning", "critical", "unknown", "waived")


def label_value(text: str) -> str:
    """Return ``text`` escaped for a label value: backslash, double quote and line feed."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    """Return ``text`` escaped for a HELP line: backslash and line feed."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{label_value(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def render(report: AuditReport) -> str:
    """Return the report as gauges: findings per entity and severity, status of each check, run time."""
    lines: list[str] = []

    def family(name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {_help(help_text)}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)

    per_entity: dict[str, dict[str, int]] = {name: dict.fromkeys(SEVERITIES, 0) for name in report.entities}
    for f in report.findings:
        counts = per_entity.setdefault(f.entity or "", dict.fromkeys(SEVERITIES, 0))
        counts["waived" if f.waiver else f.severity.value] += 1
    family("itref_audit_findings",
           _("Findings of the last itref audit by entity and severity (waived findings count only as waived)."),
           [(_labels(entity=entity, severity=sev), n) for entity, counts in per_entity.items()
            for sev, n in counts.items()])

    status: dict[tuple[str, str, str, str], int] = {}
    for f in report.findings:
        key = (f.check, f.entity or "", f.host or "", f.subject or "")
        status[key] = max(status.get(key, 0), f.effective.rank)
    family("itref_audit_check_status",
           _("Result of each check of the last itref audit: 0 ok or waived, 1 info, 2 warning, 3 unknown, "
             "4 critical."),
           [(_labels(check=c, entity=e, host=h, subject=s), rank) for (c, e, h, s), rank in sorted(status.items())])

    family("itref_audit_worst_status",
           _("Worst result of the last itref audit (same scale as itref_audit_check_status)."),
           [("", report.worst.rank)])
    family("itref_audit_last_run_timestamp_seconds", _("When the last itref audit started, in Unix time."),
           [("", round(report.started.timestamp(), 3))])
    family("itref_audit_duration_seconds", _("How long the last itref audit took."),
           [("", round(report.duration, 3))])
    return "\n".join(lines) + "\n"

