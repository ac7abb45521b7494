"""``files``: a folder where a job drops dated files (database dumps, NAS exports).

Facts: how many files match the pattern, the newest one's time, size and name. Works on Linux
hosts (find) and Windows hosts (PowerShell), in one round trip.
"""

from __future__ import annotations

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

POSIX = r"""[ -d "$1" ] || { echo "missing" ; exit 3; }
find "$1" -maxdepth 1 -type f -name "$2" -printf '%T@\t%s\t%f\n' 2>/dev/null |
  awk -F'\t' 'BEGIN{n=0;t=0} {n++; if ($1>t) {t=$1; s=$2; f=$3}} END{printf "%d\t%s\t%s\t%s\n", n, t, s, f}'
"""
POWERSHELL = r"""$p = {path}; $f = {pattern}
if (-not (Test-Path -LiteralPath $p -PathType Container)) {{ 'missing'; exit 3 }}
$items = @(Get-ChildItem -LiteralPath $p -File -Filter $f | Sort-Object LastWriteTimeUtc)
if ($items.Count -eq 0) {{ "0`t0`t`t"; exit 0 }}
$n = $items[-1]
$t = ([DateTimeOffset]$n.LastWriteTimeUtc).ToUnixTimeSeconds()
"{{0}}`t{{1}}`t{{2}}`t{{3}}" -f $items.Count, $t, $n.Length, $n.Name
"""


def parse(line: str) -> Facts:
    """Return the facts of the one-line summary ``count<TAB>epoch<TAB>size<TAB>name``."""
    parts = [*line.strip().split("\t"), "", "", "", ""][:4]
    count = int(parts[0] or 0)
    if count == 0:
        return Facts(problem="empty", detail=_("no file matches"), count=0)
    return Facts(latest=datetime.fromtimestamp(float(parts[1]), UTC), latest_id=parts[3], size=int(parts[2]),
                 count=count, files=1)


class Files:
    """The ``files`` backup kind."""

    name = "files"
    label = _("files")

    def collect(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> Facts:
        """Return the newest matching file's facts."""
        from itref.connectors.quoting import powershell_quote

        pattern = backup.pattern or "*"
        if conn.shell_family == "powershell":
            script = POWERSHELL.format(path=powershell_quote(backup.path or ""), pattern=powershell_quote(pattern))
            result = conn.run(Command.of(script, timeout=120))
        else:
            result = conn.run(Command.of(["sh", "-c", POSIX, "itref", backup.path or "", pattern], timeout=120))
        if result.stdout.strip() == "missing":
            return Facts(problem="missing", detail=_("the folder {path} does not exist").format(path=backup.path))
        if result.rc != 0:
            return Facts(problem="error", detail=(result.stderr.strip().splitlines() or [f"rc={result.rc}"])[-1])
        try:
            return parse(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return Facts(problem="error", detail=_("unreadable listing: {out}").format(out=result.stdout[:200]))

    def verify(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> VerifyOutcome:
        """Dropped files have no repository to verify."""
        raise UsageError(_("a 'files' backup has no repository to verify"))

    def drill(self, conn: Connector, backup: Backup, secrets: SecretResolver, sample: list[str],
              random_count: int, workdir: PurePath) -> DrillOutcome:
        """Dropped files are restored by copying them; there is nothing to drill."""
        raise UsageError(_("a 'files' backup cannot be drilled by itref; restore a dump by hand"))


KIND = Files()
