"""The run context handed from the CLI to every capability: project, secrets, journal, run id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from itref.journal import Journal, new_run_id

if TYPE_CHECKING:
    from itref.config.project import Project
    from itref.connectors.base import Connector, HostSpec
    from itref.secrets import SecretResolver
    from itref.state.folder import StateFolder


@dataclass
class RunContext:
    """Everything a capability needs to act, and nothing about how results are shown.

    ``journal`` defaults to the journal of the project's state folder.
    """

    project: Project
    secrets: SecretResolver
    journal: Journal = None  # type: ignore[assignment]
    run_id: str = field(default_factory=new_run_id)

    def __post_init__(self) -> None:
        if self.journal is None:
            self.journal = Journal(self.project.state)

    @property
    def state(self) -> StateFolder:
        """Return the project's state folder."""
        return self.project.state

    def connector(self, host: HostSpec) -> Connector:
        """Return an unopened connector for ``host`` (its class is imported on first use)."""
        from itref.connectors import connectors

        return connectors.get(host.connection)(host, self.secrets)
