"""``veeam``: the last session of each Veeam Backup & Replication job, read over WinRM.

The PowerShell works with the old snap-in and the newer module, and with both the classic
``Get-VBRJob``/``FindLastSession()`` and the newer ``Get-VBRBackupSession`` cmdlets; it returns
one JSON object per job (name, result, end time in UTC, size).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from itref.backup.base import DrillOutcome, Facts, VerifyOutcome
from itref.connectors.base import Command
from itref.core.errors import UsageError
from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.schema import Backup
    from itref.connectors.base import Connector
    from itref.secrets import SecretResolver

SCRIPT = r"""$ErrorActionPreference = 'Stop'
try { Import-Module Veeam.Backup.PowerShell -WarningAction SilentlyContinue } catch {
  try { Add-PSSnapin VeeamPSSnapin } catch { Write-Error 'Veeam PowerShell is not installed'; exit 4 } }
$rows = @()
if (Get-Command Get-VBRBackupSession -ErrorAction SilentlyContinue) {
  $rows = Get-VBRBackupSession | Group-Object JobName | ForEach-Object {
    $s = $_.Group | Sort-Object EndTimeUTC -Descending | Select-Object -First 1
    [pscustomobject]@{ job = $_.Name; result = "$($s.Result)"; end = $s.EndTimeUTC.ToString('o');
                       size = $s.BackupStats.BackupSize } }
} else {
  $rows = Get-VBRJob -WarningAction SilentlyContinue | ForEach-Object {
    $s = $_.FindLastSession()
    [pscustomobject]@{ job = $_.Name; result = "$($s.Result)"; end = $s.EndTimeUTC.ToString('o');
                       size = $s.BackupStats.BackupSize } }
}
ConvertTo-Json -InputObject @($rows) -Compress
"""
RANK = {"success": 0, "none": 1, "warning": 2, "failed": 3}


def parse_sessions(text: str) -> list[dict[str, Any]]:
    """Return the per-job last sessions from the script's JSON output."""
    data = json.loads(text.strip() or "[]")
    return data if isinstance(data, list) else [data]


class Veeam:
    """The ``veeam`` backup kind."""

    name = "veeam"
    label = "Veeam"

    def collect(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> Facts:
        """Return the facts of the job's last session (all jobs: the oldest, worst one)."""
        if conn.shell_family != "powershell":
            return Facts(problem="error", detail=_("Veeam is checked on its Windows server (connection: winrm)"))
        result = conn.run(Command.of(SCRIPT, timeout=300))
        if result.rc == 4 or "not installed" in result.stderr:
            return Facts(problem="tool-missing", detail=_("Veeam PowerShell is not installed on the host"))
        if result.rc not in (0, None):
            return Facts(problem="error", detail=(result.stderr.strip().splitlines() or [f"rc={result.rc}"])[-1])
        try:
            sessions = parse_sessions(result.stdout)
        except ValueError:
            return Facts(problem="error", detail=_("unreadable Veeam output"))
        if backup.job:
            sessions = [s for s in sessions if s.get("job") == backup.job]
        if not sessions:
            return Facts(problem="empty" if not backup.job else "missing",
                         detail=_("no Veeam session found") + (f" ({backup.job})" if backup.job else ""))
        worst = max(sessions, key=lambda s: (RANK.get(str(s.get("result", "")).lower(), 3),
                                             -_when(s).timestamp()))
        oldest = min(_when(s) for s in sessions)
        return Facts(latest=oldest, latest_id=str(worst.get("job")), size=worst.get("size") or None,
                     count=len(sessions), result=str(worst.get("result") or ""),
                     extra={"jobs": {s.get("job"): s.get("result") for s in sessions}})

    def verify(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> VerifyOutcome:
        """Not supported: use Veeam's own SureBackup."""
        raise UsageError(_("itref does not verify Veeam backups; use Veeam's SureBackup"))

    def drill(self, conn: Connector, backup: Backup, secrets: SecretResolver, sample: list[str],
              random_count: int, workdir: PurePath) -> DrillOutcome:
        """Not supported: use Veeam's own restore tests."""
        raise UsageError(_("itref does not drill Veeam backups; use Veeam's restore test"))


def _when(session: dict[str, Any]) -> datetime:
    value = str(session.get("end") or "")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


KIND = Veeam()
