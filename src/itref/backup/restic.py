"""restic repositories: latest snapshot (time, id, size, files) in one round trip; check; restore drill."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from itref.backup.base import DrillOutcome, Facts, Fingerprint, Problem, VerifyOutcome
from itref.backup.shell import (
    Rule,
    classify_failure,
    fingerprint,
    read_fingerprint,
    repository_secret,
    run_script,
    shell_quote,
    step,
)
from itref.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from itref.config.schema import Backup
    from itref.connectors.base import Connector
    from itref.secrets import SecretResolver

PRELUDE = """IFS= read -r RESTIC_PASSWORD || exit 97
export RESTIC_PASSWORD RESTIC_REPOSITORY="$1"
export RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-%CACHE%}"
command -v restic >/dev/null 2>&1 || { echo 'restic: not found' >&2; exit 127; }
"""
REMOTE_CACHE = "/var/tmp/itref-restic-cache-$(id -u)"
"""restic's cache on a host reached over SSH (never the user's home; kept between runs)."""
NO_LOCK_IF_FREE = 'L=--no-lock; for f in "$2"/locks/*; do [ -e "$f" ] && L=; done\n'
"""Reading a repository whose ``locks/`` is empty needs no lock: restic's own lock costs two writes and a
0.2 s wait. When a lock is there, restic takes its own and says whether the repository is really locked."""
SNAPSHOTS = step("snapshots", 'restic $L snapshots --json; S=$?; [ "$S" = 0 ]')
WITH_SIZE = SNAPSHOTS + step("stats", '[ "$S" = 0 ] && restic $L stats --json latest')
"""The size costs a second restic call (a second key derivation): only when the snapshots could be read."""
REMOTE_SCHEMES = ("sftp:", "rest:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:")
LISTING = """[ -n "$1" ] && cd -- "$1" 2>/dev/null && [ -f config ] || exit 3
echo '[config]'
for d in keys snapshots locks; do echo "[$d]"; ls -A "$d" || exit 3; done
"""
"""What identifies a local repository's state without opening it (``$1`` = its path): the names of its key,
snapshot and lock files. restic names every file by its content, so a new snapshot, a forget, a key added or
removed, or a lock each change a name; a prune does not change which snapshot is the latest."""


def local_path(repository: str) -> str | None:
    """Return the path of a repository the host's shell can list (a path or ``local:PATH``), None for a URL
    (sftp:, rest:, s3:... are read by restic alone)."""
    if repository.startswith("local:"):
        return repository[len("local:"):]
    if repository.lower().startswith(REMOTE_SCHEMES):
        return None
    return repository


def prelude(conn: Connector) -> str:
    """Return the script start for ``conn``'s host: password from stdin, repository, and restic's cache folder
    (``$RESTIC_CACHE_DIR`` if set; else itref's cache folder on this machine, /var/tmp on other hosts), so the
    cache survives between runs and stays out of the user's home."""
    if conn.kind == "local":
        from itref.state.folder import machine_cache

        cache = shell_quote(str(machine_cache() / "restic-cache"))
    else:
        cache = REMOTE_CACHE
    return PRELUDE.replace("%CACHE%", cache)


RULES: list[Rule] = [
    ("wrong-password", lambda t: "wrong password" in t or "no key found" in t,
     N_("the password itref has does not open the repository")),
    ("missing", lambda t: "is there a repository at the following location" in t or "unable to open config file" in t,
     N_("there is no repository at this location")),
    ("locked", lambda t: "locked" in t,
     N_("the repository is locked (a backup, prune or check is running, or a stale lock: 'restic unlock' removes "
        "a stale one)")),
]


def classify(stderr: str, rc: int) -> tuple[Problem, str] | None:
    """Return (problem, detail) for a failed restic invocation, from its stderr and exit code."""
    return classify_failure("restic", RULES, stderr, rc)


def parse_snapshots(text: str) -> list[dict[str, Any]]:
    """Return restic's snapshot list, oldest first (``restic snapshots --json``)."""
    data = json.loads(text or "[]") or []
    return sorted(data, key=lambda s: s["time"])


def parse_time(value: str) -> datetime:
    """Return restic's RFC 3339 time (nanoseconds cut to microseconds) as an aware datetime."""
    head, _sep, rest = value.partition(".")
    if rest:
        count = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[:min(count, 6)]}{rest[count:]}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Restic:
    """The ``restic`` backup kind."""

    name = "restic"
    label = "restic"

    def collect(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> Facts:
        """Return the latest snapshot's facts in one round trip.

        Every restic call pays the repository's key derivation (about 0.5 s of CPU), so the size
        (``restic stats``, a second call) is read only when the backup has ``min_size`` or ``size_change``.
        A local repository with no lock file is read with ``--no-lock``.
        """
        repository = backup.repository or ""
        path = local_path(repository)
        lock_choice = NO_LOCK_IF_FREE + step("fingerprint", f"(\n{LISTING})") if path is not None else "L=\n"
        script = prelude(conn) + lock_choice + (WITH_SIZE if (backup.min_size or backup.size_change) else SNAPSHOTS)
        steps, result = run_script(conn, script, [repository, path or ""], secret=repository_secret(backup, secrets),
                                   timeout=300)
        snaps_step = steps.get("snapshots")
        if snaps_step is None or snaps_step.rc != 0:
            problem = classify(result.stderr, snaps_step.rc if snaps_step else (result.rc or 1))
            return Facts(problem=problem[0] if problem else "error", detail=problem[1] if problem else result.stderr)
        try:
            snaps = parse_snapshots(snaps_step.out)
        except (ValueError, KeyError) as exc:
            return Facts(problem="error", detail=_("unreadable restic output: {e}").format(e=exc))
        if not snaps:
            return Facts(problem="empty", detail=_("the repository holds no snapshot"), count=0)
        listed = steps.get("fingerprint")
        fp = read_fingerprint(listed.out, "") if listed is not None and listed.rc == 0 else None
        latest = snaps[-1]
        size = files = None
        stats = steps.get("stats")
        if stats is not None and stats.rc == 0:
            try:
                data = json.loads(stats.out)
                size, files = data.get("total_size"), data.get("total_file_count")
            except ValueError:
                pass
        return Facts(latest=parse_time(latest["time"]), latest_id=latest.get("short_id") or latest["id"][:8],
                     size=size, files=files, count=len(snaps), hostname=latest.get("hostname"),
                     paths=tuple(latest.get("paths", [])), fingerprint=fp)

    def fingerprint(self, conn: Connector, backup: Backup) -> Fingerprint | None:
        """Return the repository's fingerprint without opening it; None for a URL (sftp:, rest:, s3:...: no
        cheap listing, restic must open it) or when it cannot be listed."""
        path = local_path(backup.repository or "")
        return None if path is None else fingerprint(conn, LISTING, path, "")

    def verify(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> VerifyOutcome:
        """Run ``restic check --read-data-subset`` and return whether the repository is sound."""
        script = prelude(conn) + step("check", 'restic check --read-data-subset="$2" 2>&1')
        steps, result = run_script(conn, script, [backup.repository or "", backup.read_data_subset],
                                   secret=repository_secret(backup, secrets), timeout=3600)
        check = steps.get("check")
        if check is None:
            problem = classify(result.stderr, result.rc or 1)
            return VerifyOutcome(False, problem[1] if problem else result.stderr.strip())
        lines = [x for x in check.out.splitlines() if x.strip()]
        if check.rc == 0:
            return VerifyOutcome(True, lines[-1] if lines else "no errors were found")
        problem = classify(check.out, check.rc)
        errors = [x for x in lines if "error" in x.lower() or "fatal" in x.lower()]
        return VerifyOutcome(False, (problem[1] if problem and problem[0] != "error" else "")
                             or "; ".join(errors[:3]) or (lines[-1] if lines else ""))

    def drill(self, conn: Connector, backup: Backup, secrets: SecretResolver, sample: list[str],
              random_count: int, workdir: PurePath) -> DrillOutcome:
        """Restore the fixed files plus a random sample from the latest snapshot into ``workdir``, then
        compare each with its source (when the source exists and has not changed since the snapshot)."""
        secret = repository_secret(backup, secrets)
        listing, result = run_script(conn, prelude(conn) + step("ls", "restic ls --json latest"),
                                     [backup.repository or ""], secret=secret, timeout=600)
        ls = listing.get("ls")
        if ls is None or ls.rc != 0:
            problem = classify(result.stderr, ls.rc if ls else (result.rc or 1))
            return DrillOutcome(False, (), detail=problem[1] if problem else result.stderr.strip())
        nodes = [json.loads(line) for line in ls.out.splitlines() if line.strip().startswith("{")]
        snapshot_time = next((parse_time(n["time"]) for n in nodes if n.get("struct_type") == "snapshot"), None)
        files = [n["path"] for n in nodes if n.get("type") == "file"]
        chosen = pick(files, sample, random_count)
        if not chosen:
            return DrillOutcome(False, (), detail=_("no file to restore in the latest snapshot"))
        includes = " ".join(f'--include "${i + 3}"' for i in range(len(chosen)))
        script = prelude(conn) + 'W="$2"\n' \
            + step("restore", f'restic restore latest --target "$W" {includes} >/dev/null') + step("hash", COMPARE)
        steps, result = run_script(conn, script, [backup.repository or "", str(workdir), *chosen], secret=secret,
                                   timeout=3600)
        return compare_outcome(steps, result.stderr, chosen, snapshot_time)


COMPARE = """shift 2
for f in "$@"; do
  r=$(sha256sum "$W$f" 2>/dev/null | cut -d' ' -f1)
  if [ -e "$f" ]; then s=$(sha256sum "$f" 2>/dev/null | cut -d' ' -f1); m=$(stat -c %Y "$f"); else s=-; m=-; fi
  printf '%s\\t%s\\t%s\\t%s\\n' "${r:--}" "$s" "$m" "$f"
done
rm -rf "$W"
"""


def pick(files: list[str], fixed: list[str], count: int, rng: random.Random | None = None) -> list[str]:
    """Return the fixed files that are in the snapshot plus ``count`` random others."""
    present = [f for f in fixed if f in set(files)]
    others = [f for f in files if f not in present]
    chooser = rng or random.SystemRandom()
    return present + chooser.sample(others, min(count, len(others)))


def compare_outcome(steps: dict[str, Any], stderr: str, chosen: list[str], snapshot_time: datetime | None
                    ) -> DrillOutcome:
    """Return the drill's outcome from the restore and hash steps' output."""
    restore, hashed = steps.get("restore"), steps.get("hash")
    if restore is None or restore.rc != 0 or hashed is None:
        return DrillOutcome(False, tuple(chosen), detail=_("restore failed: {err}").format(
            err=(stderr.strip().splitlines() or ["?"])[-1]))
    mismatched, unverified, missing = [], [], []
    compared = 0
    for line in hashed.out.splitlines():
        restored, source, mtime, path = [*line.split("\t", 3), "", "", "", ""][:4]
        if restored == "-":
            missing.append(path)
        elif source == "-":
            unverified.append(path)
        elif source != restored:
            newer = snapshot_time is not None and mtime != "-" and float(mtime) > snapshot_time.timestamp()
            (unverified if newer else mismatched).append(path)
        else:
            compared += 1
    ok = not mismatched and not missing
    detail = ""
    if missing:
        detail = _("not restored: {files}").format(files=", ".join(missing))
    elif mismatched:
        detail = _("restored content differs from the source: {files}").format(files=", ".join(mismatched))
    elif not compared:  # nothing was compared: no proof the content is right
        return DrillOutcome(False, tuple(chosen), (), tuple(unverified), ngettext(
            "{n} file restored, but it could not be compared with its source (changed or removed since the "
            "backup): nothing proves the restored content is right; restore files that do not change "
            "(drill.files in the playbook)",
            "{n} files restored, but none could be compared with its source (changed or removed since the "
            "backup): nothing proves the restored content is right; restore files that do not change "
            "(drill.files in the playbook)", len(chosen)).format(n=len(chosen)), warning=True)
    return DrillOutcome(ok, tuple(chosen), tuple(mismatched + missing), tuple(unverified), detail)


KIND = Restic()
