"""Directory checks: the findings of ``itref ad report`` when the inventory has a directory."""

from __future__ import annotations

from typing import Any

from itref.audit.base import Check
from itref.audit.registry import register
from itref.context import RunContext
from itref.core.findings import Finding, Topic
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


def _topics() -> tuple[Topic, ...]:
    from itref.ad.report import topics

    return topics()


register(Check(
    "directory", _("Active Directory hygiene"),
    _("Forgotten, unused, weakly protected and over-privileged accounts are how an intruder gets in and stays in."),
    _("Each finding of this family carries its own id (ad.stale-accounts, ad.privileged-members...): run 'itref "
      "audit explain ID' with the id shown under the finding."),
    {"stale_days": 90, "max_privileged": 3, "krbtgt_max_age_days": 180}, run=_directory,
    how=_("One read-only LDAP search of the directory (the inventory's directory: section) lists every account "
          "with its flags, last logon and groups; each account is counted in the entity whose OU holds it."),
    commands=("itref ad report", "itref audit --checks directory"), topics=_topics))
