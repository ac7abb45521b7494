"""Backup checks: the findings of ``itref backup check`` for every backup in the playbooks."""

from __future__ import annotations

from typing import Any

from itref.audit.base import Check
from itref.audit.registry import register
from itref.context import RunContext
from itref.core.findings import Finding
from itref.i18n import _


def _backups(check: Check, ctx: RunContext, thresholds: dict[str, Any], entities: set[str] | None
             ) -> list[Finding]:
    from itref.backup.check import check_backups, targets

    chosen = [t for t in targets(ctx.project) if entities is None or t.entity in entities]
    return check_backups(ctx, chosen) if chosen else []


register(Check("backups", _("Backups"), _("See each finding."), _("See each finding."), run=_backups))
