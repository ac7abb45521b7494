"""The run context handed from the CLI to every capability: project, secrets, journal, flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from itref.journal import Journal, new_run_id

if TYPE_CHECKING:
    from itref.config.project import HostSpec, Project
    from itref.connectors.base import Connector
    from itref.secrets import SecretResolver


@dataclass
class RunContext:
    """Everything a capability needs to act, and nothing about how results are shown."""

    project: Project
    secrets: SecretResolver
    journal: Journal
    dry_run: bool = False
    run_id: str = field(default_factory=new_run_id)

    def connector(self, host: HostSpec) -> Connector:
        """Return an unopened connector for ``host`` (its class is imported on first use)."""
        from itref.connectors import connectors

        return connectors.get(host.connection)(host, self.secrets)
