"""``files``: a folder where a job drops dated files (database dumps, NAS exports).

Facts: how many files match the pattern, the newest one's time, size and name. Works on Linux
hosts (find) and Windows hosts (PowerShell), in one round trip.

On Linux/POSIX hosts the dumps can also be verified (every matching file read to its end: gzip, zstd, bzip2, xz,
zip, tar, PostgreSQL custom dumps, and plain SQL dumps whose dumper's completion line must be there) and
restore-tested (the newest one copied to a scratch folder, decompressed, and read as what it is: ``pg_restore
--list``, the completion line of pg_dump or mysqldump, an archive's listing), on the host that holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING

from itref.backup.base import DrillOutcome, Facts, VerifyOutcome
from itref.backup.shell import run_script, step
from itref.connectors.base import Command
from itref.core.errors import UsageError
from itref.i18n import N_, _, ngettext

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
        """Read every matching dump to its end on its host (gzip -t, zstd -t, bzip2 -t, xz -t, unzip -t, tar -t,
        pg_restore to nowhere; a plain SQL dump must end with its dumper's completion line); return whether all
        are sound. Raises UsageError on a Windows host (not supported yet)."""
        _posix_only(conn)
        steps, result = run_script(conn, TOOLS + VERIFY, [backup.path or "", backup.pattern or "*"], secret=None,
                                   timeout=3600)
        listing = steps.get("verify")
        if listing is None or listing.rc == 3:
            return _missing_or_error(backup, result.stdout, result.stderr, result.rc)
        reports = [read_report(line) for line in listing.out.splitlines() if line.startswith("R\t")]
        if not reports:
            return VerifyOutcome(False, _("no file matches {pattern} in {path}").format(
                pattern=backup.pattern or "*", path=backup.path), warning=True)
        bad = [r for r in reports if r.status == "bad"]
        untested = [r for r in reports if r.status == "untested"]
        good = len(reports) - len(bad) - len(untested)
        if bad:
            return VerifyOutcome(False, "; ".join(f"{r.name}: {r.sentence()}" for r in bad[:5]))
        if untested:
            return VerifyOutcome(False, ngettext("{n} dump read to the end and sound", "{n} dumps read to the end and "
                                                 "sound", good).format(n=good) + "; " + _("not tested: {what}").format(
                what="; ".join(f"{r.name}: {r.sentence()}" for r in untested[:5])), warning=True)
        return VerifyOutcome(True, ngettext("{n} dump read to the end and sound", "{n} dumps read to the end and sound",
                                            good).format(n=good))

    def drill(self, conn: Connector, backup: Backup, secrets: SecretResolver, sample: list[str],
              random_count: int, workdir: PurePath) -> DrillOutcome:
        """Copy the newest matching dump into ``workdir`` on its host (a restore, for a folder of dumps), undo its
        compression, and check that it reads as what it is: a PostgreSQL custom dump is listed by
        ``pg_restore --list``, a plain SQL dump (pg_dump, mysqldump) ends with its completion line, an archive
        (tar, zip) is listed. ``sample`` and ``random_count`` do not apply. Raises UsageError on a Windows host."""
        _posix_only(conn)
        steps, result = run_script(conn, TOOLS + DRILL, [backup.path or "", backup.pattern or "*", str(workdir)],
                                   secret=None, timeout=3600)
        restored = steps.get("drill")
        if restored is None or restored.rc == 3:
            outcome = _missing_or_error(backup, result.stdout, result.stderr, result.rc)
            return DrillOutcome(False, (), detail=outcome.detail, warning=outcome.warning)
        reports = [read_report(line) for line in restored.out.splitlines() if line.startswith("R\t")]
        if not reports:
            return DrillOutcome(False, (), detail=_("no file matches {pattern} in {path}: nothing to restore").format(
                pattern=backup.pattern or "*", path=backup.path))
        r = reports[0]
        files = (f"{backup.path.rstrip('/') if backup.path else ''}/{r.name}",)
        if r.status == "ok":
            return DrillOutcome(True, files, detail=_("{file} restored and read back: {what}").format(
                file=r.name, what=r.sentence()))
        if r.status == "untested":
            return DrillOutcome(False, files, unverified=files, detail=_(
                "{file} restored but not read back: {why}").format(file=r.name, why=r.sentence()), warning=True)
        return DrillOutcome(False, files, mismatched=files, detail=_("{file} cannot be read back: {why}").format(
            file=r.name, why=r.sentence()))


def _posix_only(conn: Connector) -> None:
    if conn.shell_family == "powershell":
        raise UsageError(_("itref cannot read dumps on a Windows host yet; restore one by hand"))


def _missing_or_error(backup: Backup, stdout: str, stderr: str, rc: int) -> VerifyOutcome:
    if "@missing" in stdout:
        return VerifyOutcome(False, _("the folder {path} does not exist").format(path=backup.path))
    last = [line for line in stderr.strip().splitlines() if line.strip()]
    return VerifyOutcome(False, last[-1] if last else _("the check stopped (exit code {rc})").format(rc=rc))


@dataclass(frozen=True)
class Report:
    """What the host script found about one dump: its file name, the layers of compression around it, what it is
    inside, and the verdict (``ok``, ``bad``: damaged or incomplete, ``untested``: itref could not tell)."""

    name: str
    layers: tuple[str, ...]
    kind: str
    status: str
    code: str
    count: int | None
    detail: str

    def sentence(self) -> str:
        """Return the verdict in words."""
        what = FORMATS.get(self.kind, self.kind)
        wrapped = " + ".join([*(FORMATS.get(x, x) for x in self.layers), _(what)]) if self.layers else _(what)
        if self.code == "listed":
            return _("{what}, {n} entries listed").format(what=wrapped, n=self.count)
        if self.code == "complete":
            return _("{what}, complete (ends with its dumper's completion line)").format(what=wrapped)
        if self.code == "read":
            return _("{what}, read to the end").format(what=wrapped)
        if self.code == "incomplete":
            return _("{what} that stops before its end: the completion line of the dump is missing").format(
                what=wrapped)
        if self.code == "tool-missing":
            return _("{tool} is not installed on the host, so the file cannot be read back (install it: {package})"
                     ).format(tool=self.detail, package=PACKAGES.get(self.detail, self.detail))
        if self.code == "not-sql":
            return _("a text file that is not a pg_dump or mysqldump dump: its completeness cannot be checked")
        if self.code == "empty":
            return _("the file is empty")
        if self.code == "unknown":
            return _("not a format itref can read back (gzip, zstd, bzip2, xz, zip, tar, PostgreSQL custom dump, "
                     "SQL text)")
        return _("{what} is damaged: {detail}").format(what=wrapped, detail=self.detail or "?")


FORMATS = {"gzip": N_("gzip"), "zstd": N_("zstd"), "bzip2": N_("bzip2"), "xz": N_("xz"), "zip": N_("zip archive"),
           "tar": N_("tar archive"), "pgdump": N_("PostgreSQL custom dump"), "pgsql": N_("PostgreSQL SQL dump"),
           "mysql": N_("MySQL/MariaDB SQL dump"), "text": N_("text file"), "empty": N_("empty file"),
           "unknown": N_("unknown format")}
"""What the host script calls each format → its name for people (translated where shown)."""
PACKAGES = {"pg_restore": "postgresql-client", "zstd": "zstd", "unzip": "unzip", "xz": "xz-utils", "bzip2": "bzip2",
            "gzip": "gzip", "tar": "tar"}
"""Tool → the Debian package that brings it."""


def read_report(line: str) -> Report:
    """Return the :class:`Report` of one ``R`` line of the host script
    (``R<TAB>name<TAB>layers<TAB>kind<TAB>status<TAB>code<TAB>count<TAB>detail``)."""
    parts = [*line.split("\t", 7), "", "", "", "", "", "", "", ""][1:8]
    name, layers, kind, status, code, count, detail = parts
    return Report(name, tuple(x for x in layers.split(",") if x), kind, status, code,
                  int(count) if count.isdigit() else None, detail.strip())


TOOLS = r"""export LC_ALL=C
kind_of() {
  m=$(od -An -tx1 -N5 -- "$1" 2>/dev/null | tr -d ' \n')
  case "$m" in
    "") echo empty ;;
    1f8b*) echo gzip ;;
    28b52ffd*) echo zstd ;;
    425a68*) echo bzip2 ;;
    fd377a585a*) echo xz ;;
    504b0304*|504b0506*) echo zip ;;
    5047444d50*) echo pgdump ;;
    *) if [ "$(dd if="$1" bs=1 skip=257 count=5 2>/dev/null)" = ustar ]; then echo tar
       elif [ "$(head -c 65536 -- "$1" | tr -dc '\000' | wc -c)" -eq 0 ]; then echo text
       else echo unknown; fi ;;
  esac
}
sql_of() {
  h=$(head -c 2048 -- "$1")
  case "$h" in
    *"PostgreSQL database dump"*|*"PostgreSQL database cluster dump"*) w=pgsql ;;
    *"MySQL dump"*|*"MariaDB dump"*) w=mysql ;;
    *) echo "text not-sql"; return ;;
  esac
  t=$(tail -c 4096 -- "$1")
  case "$t" in
    *"-- PostgreSQL database dump complete"*|*"-- PostgreSQL database cluster dump complete"*|*"-- Dump completed"*)
      echo "$w complete" ;;
    *) echo "$w incomplete" ;;
  esac
}
has() { command -v "$1" >/dev/null 2>&1; }
last() { printf '%s' "$1" | tr '\t\r' '  ' | grep -v '^ *$' | tail -n 1; }
report() { printf 'R\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
"""
"""Shell functions the verify and drill scripts share: what a file is (by its first bytes), whether a plain SQL
dump is complete (pg_dump and mysqldump end with a completion line), and the report line."""

VERIFY = r"""verify() {
  [ -d "$1" ] || { echo "@missing"; return 3; }
  find "$1" -maxdepth 1 -type f -name "$2" | sort | while IFS= read -r f; do
    n=${f##*/}; k=$(kind_of "$f"); tool=; c=
    case "$k" in
      gzip) tool=gzip; c="gzip -t" ;;
      zstd) tool=zstd; c="zstd -t -q" ;;
      bzip2) tool=bzip2; c="bzip2 -t" ;;
      xz) tool=xz; c="xz -t" ;;
      zip) tool=unzip; c="unzip -tqq" ;;
      tar) tool=tar; c="tar -tf" ;;
      pgdump) tool=pg_restore; c="pg_restore -f /dev/null" ;;
    esac
    if [ -n "$tool" ]; then
      if ! has "$tool"; then report "$n" "" "$k" untested tool-missing "" "$tool"; continue; fi
      if e=$( { $c "$f" >/dev/null; } 2>&1 ); then report "$n" "" "$k" ok read "" ""
      else report "$n" "" "$k" bad damaged "" "$(last "$e")"; fi
    elif [ "$k" = text ]; then
      set -- $(sql_of "$f")
      case "$2" in
        complete) report "$n" "" "$1" ok complete "" "" ;;
        incomplete) report "$n" "" "$1" bad incomplete "" "" ;;
        *) report "$n" "" text untested not-sql "" "" ;;
      esac
    elif [ "$k" = empty ]; then report "$n" "" empty bad empty "" ""
    else report "$n" "" unknown untested unknown "" ""; fi
  done
}
""" + step("verify", 'verify "$1" "$2"')
"""``$1`` folder, ``$2`` pattern: one report line per matching file, each read to its end."""

DRILL = r"""drill() {
  [ -d "$1" ] || { echo "@missing"; return 3; }
  f=$(find "$1" -maxdepth 1 -type f -name "$2" -printf '%T@\t%p\n' | sort -rn | head -n 1 | cut -f2-)
  [ -n "$f" ] || return 0
  n=${f##*/}
  mkdir -m 700 -- "$W" || return 4
  made=1
  cp -p -- "$f" "$W/restored" || return 4
  c="$W/restored"; layers=; i=0
  while [ $i -lt 3 ]; do
    k=$(kind_of "$c"); tool=
    case "$k" in
      gzip) tool=gzip; d="gzip -dc" ;;
      zstd) tool=zstd; d="zstd -dcq" ;;
      bzip2) tool=bzip2; d="bzip2 -dc" ;;
      xz) tool=xz; d="xz -dc" ;;
    esac
    [ -n "$tool" ] || break
    if ! has "$tool"; then report "$n" "$layers" "$k" untested tool-missing "" "$tool"; return 0; fi
    i=$((i + 1))
    if ! $d "$c" > "$W/layer$i" 2> "$W/err"; then
      report "$n" "$layers" "$k" bad damaged "" "$(last "$(cat "$W/err")")"; return 0
    fi
    layers="${layers:+$layers,}$k"; c="$W/layer$i"
  done
  k=$(kind_of "$c")
  case "$k" in
    pgdump|tar|zip)
      case "$k" in pgdump) tool=pg_restore ;; tar) tool=tar ;; zip) tool=unzip ;; esac
      if ! has "$tool"; then report "$n" "$layers" "$k" untested tool-missing "" "$tool"; return 0; fi
      case "$k" in
        pgdump) pg_restore --list -- "$c" > "$W/list" 2> "$W/err"; rc=$?; x=$(grep -c '^[0-9]' "$W/list") ;;
        tar) tar -tf "$c" > "$W/list" 2> "$W/err"; rc=$?; x=$(wc -l < "$W/list") ;;
        zip) unzip -Z1 "$c" > "$W/list" 2> "$W/err"; rc=$?; x=$(wc -l < "$W/list") ;;
      esac
      if [ $rc -eq 0 ]; then report "$n" "$layers" "$k" ok listed "$x" ""
      else report "$n" "$layers" "$k" bad damaged "" "$(last "$(cat "$W/err")")"; fi ;;
    text)
      set -- $(sql_of "$c")
      case "$2" in
        complete) report "$n" "$layers" "$1" ok complete "" "" ;;
        incomplete) report "$n" "$layers" "$1" bad incomplete "" "" ;;
        *) report "$n" "$layers" text untested not-sql "" "" ;;
      esac ;;
    empty) report "$n" "$layers" empty bad empty "" "" ;;
    *) report "$n" "$layers" unknown bad unknown "" "" ;;
  esac
}
W="$3"; made=
""" + step("drill", 'drill "$1" "$2"; r=$?; [ "$made" = 1 ] && rm -rf -- "$W"; (exit $r)')
"""``$1`` folder, ``$2`` pattern, ``$3`` scratch folder (made, then removed): the newest matching file copied
there, its compression undone, and what it holds read back; one report line."""


KIND = Files()
