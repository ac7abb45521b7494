"""``wbadmin``: Windows Server Backup versions, read over WinRM with ``wbadmin get versions``.

Parsing does not depend on the display language: each version's identifier is always written
``MM/DD/YYYY-HH:MM`` in UTC, whatever the labels around it say ("Version identifier",
"Identificateur de version").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING

from itref.backup.base import DrillOutcome, Facts, VerifyOutcome
from itref.connectors.base import Command
from itref.core.errors import UsageError
from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.schema import Backup
    from itref.connectors.base import Connector
    from itref.secrets import SecretResolver

VERSION = re.compile(r"(?P<m>\d{2})/(?P<d>\d{2})/(?P<y>\d{4})-(?P<h>\d{2}):(?P<min>\d{2})\s*$", re.M)
NONE_FOUND = ("no backup", "aucune sauvegarde", "n'a été trouvée", "were not found")


def parse_versions(text: str) -> list[datetime]:
    """Return the backup versions listed by ``wbadmin get versions``, oldest first (UTC)."""
    return sorted(datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["h"]), int(m["min"]), tzinfo=UTC)
                  for m in VERSION.finditer(text))


class Wbadmin:
    """The ``wbadmin`` backup kind (Windows Server Backup)."""

    name = "wbadmin"
    label = "Windows Server Backup"

    def collect(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> Facts:
        """Return the latest version's time and the number of versions."""
        if conn.shell_family != "powershell":
            return Facts(problem="error", detail=_("wbadmin runs on Windows hosts (connection: winrm)"))
        result = conn.run(Command.of(["wbadmin", "get", "versions"], timeout=300))
        versions = parse_versions(result.stdout)
        if not versions:
            text = (result.stdout + result.stderr).lower()
            if any(word in text for word in NONE_FOUND) or result.rc == 0:
                return Facts(problem="empty", detail=_("wbadmin lists no backup version"), count=0)
            return Facts(problem="error", detail=(result.stderr.strip().splitlines() or [f"rc={result.rc}"])[-1])
        return Facts(latest=versions[-1], latest_id=versions[-1].strftime("%m/%d/%Y-%H:%M"), count=len(versions))

    def verify(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> VerifyOutcome:
        """Not supported: wbadmin has no read-back check."""
        raise UsageError(_("itref cannot verify a Windows Server Backup; run a restore drill by hand"))

    def drill(self, conn: Connector, backup: Backup, secrets: SecretResolver, sample: list[str],
              random_count: int, workdir: PurePath) -> DrillOutcome:
        """Not supported yet for wbadmin."""
        raise UsageError(_("itref cannot drill a Windows Server Backup yet; restore a file by hand"))


KIND = Wbadmin()
