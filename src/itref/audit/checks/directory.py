"""Directory checks: the findings of ``itref ad report`` when the inventory has a directory."""

from __future__ import annotations

from typing import Any

from itref.audit.base import Check
from itref.audit.registry import register
from itref.context import RunContext
from itref.core.findings import Finding
from itref.i18n import _


def _directory(check: Check, ctx: RunContext, thresholds: dict[str, Any], entities: set[str] | None
               ) -> list[Finding]:
    if ctx.project.inventory.directory is None:
        return []
    from itref.ad.report import Thresholds, directory_findings

    limits = Thresholds(**{k: v for k, v in thresholds.items() if k in Thresholds.__dataclass_fields__})
    client = ctx.directory(read_only=True)
    try:
        found = directory_findings(client, ctx.project, limits)
    finally:
        client.close()
    return [f for f in found if entities is None or f.entity is None or f.entity in entities]


register(Check("directory", _("Active Directory hygiene"), _("See each finding."), _("See each finding."),
               {"stale_days": 90, "max_privileged": 3, "krbtgt_max_age_days": 180}, run=_directory))
