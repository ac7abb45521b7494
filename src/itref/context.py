"""The run context handed from the CLI to every capability: project, secrets, journal, run id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from itref.journal import Journal, new_run_id

if TYPE_CHECKING:
    from itref.ad.client import DirectoryClient
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

    def directory(self, *, read_only: bool) -> DirectoryClient:
        """Return an open client of the inventory's directory; ``read_only`` refuses every write (dry runs,
        previews, audits). Raises UsageError when the inventory has no directory, ConnectionFailed or
        AuthenticationFailed when the DC cannot be reached or refuses the bind."""
        from itref.ad.client import DirectoryClient
        from itref.core.errors import UsageError
        from itref.i18n import _

        directory = self.project.inventory.directory
        if directory is None:
            raise UsageError(_("the inventory has no 'directory' section: add the AD connection (url, base_dn, "
                               "bind_user, bind_password) to use itref ad"))
        return DirectoryClient(directory, self.secrets, read_only=read_only).open()

    def connector(self, host: HostSpec) -> Connector:
        """Return an unopened connector for ``host`` (its class is imported on first use)."""
        from itref.connectors import connectors

        return connectors.get(host.connection)(host, self.secrets)
