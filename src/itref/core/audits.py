"""What an audit produced, as every output format receives it: the run's report, and a finding as an earlier
run recorded it. Renderers (itref.report) and the audit (itref.audit) both use these; neither owns them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from itref.core.findings import Finding, Severity, worst


@dataclass(frozen=True)
class Past:
    """A finding as it was in an earlier run."""

    key: str
    check: str
    severity: Severity
    entity: str | None
    host: str | None
    subject: str | None
    message: str
    waived: bool
    expires: str | None = None
    """When what the finding is about expires (a certificate's notAfter, ISO 8601), when the check said."""

    @property
    def failing(self) -> bool:
        """Return True when it counted as failing then."""
        return not self.waived and self.severity.rank >= Severity.WARNING.rank


@dataclass
class AuditReport:
    """Findings of one run (with their change since the previous run and any waiver), and context."""

    run_id: str
    organisation: str
    started: datetime
    duration: float
    findings: list[Finding]
    entities: dict[str, str] = field(default_factory=dict)
    """entity name → title, in inventory order."""
    resolved: list[Past] = field(default_factory=list)
    previous_run: str | None = None

    @property
    def worst(self) -> Severity:
        """Return the worst severity that counts (waived findings count as OK)."""
        return worst(self.findings)

    def by_entity(self) -> dict[str, list[Finding]]:
        """Return findings grouped by entity (inventory order, then 'other'), worst first in each group."""
        groups: dict[str, list[Finding]] = {name: [] for name in self.entities}
        for f in self.findings:
            groups.setdefault(f.entity or "", []).append(f)
        return {k: sorted(v, key=lambda f: (-f.effective.rank, f.check, f.host or "", f.subject or ""))
                for k, v in groups.items() if v}

    def title(self, entity: str | None) -> str:
        """Return the heading of an entity's group of findings: its title, or for findings tied to no entity
        "Active Directory (whole domain)" (or "All entities (shared)" when not only the directory's)."""
        if entity:
            return self.entities.get(entity, entity)
        from itref.core.findings import no_entity_heading

        return no_entity_heading(f.check for f in self.findings if not f.entity)

    def counts(self) -> dict[str, int]:
        """Return how many findings count as each severity (waived ones under 'waived')."""
        out = {s.value: 0 for s in Severity}
        out["waived"] = 0
        for f in self.findings:
            out["waived" if f.waiver else f.severity.value] += 1
        return out
