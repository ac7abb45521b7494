"""borg repositories: latest archive (time, size, files, host) in one borg call; check; restore drill.

borg never waits for an answer here: the relocation and unencrypted-repository questions are
pre-answered and standard input is closed, so no prompt can hang a check. borg prints naive local
times; the host's UTC offset is read in the same round trip to place them correctly.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING

from itref.backup.base import DrillOutcome, Facts, Fingerprint, Problem, VerifyOutcome
from itref.backup.restic import COMPARE, compare_outcome, pick
from itref.backup.shell import (
    Rule,
    classify_failure,
    fingerprint,
    read_fingerprint,
    repository_secret,
    run_script,
    step,
)
from itref.i18n import N_, _

if TYPE_CHECKING:
    from itref.config.schema import Backup
    from itref.connectors.base import Connector
    from itref.secrets import SecretResolver

PRELUDE = """IFS= read -r BORG_PASSPHRASE || true
export BORG_PASSPHRASE BORG_REPO="$1"
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_DISPLAY_PASSPHRASE=no
export TZ=UTC
command -v borg >/dev/null 2>&1 || { echo 'borg: not found' >&2; exit 127; }
"""
LISTING = """[ -n "$1" ] && cd -- "$1" 2>/dev/null && LC_ALL=C stat -c '%n %s %Y' config >/dev/null 2>&1 || exit 3
echo '[config]'
LC_ALL=C stat -c '%n %s %Y' -- config nonce index.* hints.* integrity.* lock.* 2>/dev/null
exit 0
"""
"""What identifies a local repository's state without opening it (``$1`` = its path): name, size and time of
its config, nonce, index, hints and integrity files and of any lock. borg 1.2 ends every writing transaction
(create, delete, prune, compact, key change) by writing index.N, hints.N and integrity.N with the next N, and
takes lock.exclusive and lock.roster while it works; reading (info, list) changes none of them."""
COLLECT = PRELUDE + step("fingerprint", f"(\n{LISTING})") + step("info", "borg info --json --last 1 </dev/null")
"""borg 1.2 stores archive times in UTC and prints them in the local time of the host, without an offset; the
prelude's ``TZ=UTC`` makes what it prints UTC (the host's current offset is wrong for an archive made before
a summer/winter time change)."""


def local_path(repository: str) -> str | None:
    """Return the path of a repository the host's shell can list, None for a remote one (ssh://, host:path)."""
    if repository.startswith("file://"):
        return repository[len("file://"):]
    if repository.startswith("ssh://") or ":" in repository.split("/", 1)[0]:
        return None
    return repository


RULES: list[Rule] = [
    ("wrong-password", lambda t: "passphrase supplied" in t and "incorrect" in t,
     N_("the passphrase itref has does not open the repository")),
    ("missing", lambda t: "does not exist" in t or "is not a valid repository" in t,
     N_("there is no repository at this location")),
    ("locked", lambda t: "lock" in t and ("failed to create/acquire" in t or "timeout" in t),
     N_("the repository is locked (a backup or prune is running, or a stale lock: 'borg break-lock' removes "
        "a stale one)")),
]


def classify(stderr: str, rc: int) -> tuple[Problem, str] | None:
    """Return (problem, detail) for a failed borg call, from its stderr and exit code."""
    return classify_failure("borg", RULES, stderr, rc)


def parse_info(text: str) -> Facts:
    """Return the facts of ``borg info --json --last 1`` output, run with ``TZ=UTC`` (its times are UTC)."""
    data = json.loads(text)
    archives = data.get("archives") or []
    if not archives:
        return Facts(problem="empty", detail=_("the repository holds no archive"), count=0)
    a = archives[-1]
    stats = a.get("stats", {})
    command = a.get("command_line") or []
    paths = tuple(p for p in command[command.index("create") + 2:] if not p.startswith("-")) \
        if "create" in command else ()
    latest = datetime.fromisoformat(a.get("end") or a["start"])
    return Facts(latest=latest if latest.tzinfo else latest.replace(tzinfo=UTC),
                 latest_id=a.get("name"), size=stats.get("original_size"), files=stats.get("nfiles"),
                 hostname=a.get("hostname"), paths=paths)


class Borg:
    """The ``borg`` backup kind."""

    name = "borg"
    label = "borg"

    def collect(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> Facts:
        """Return the latest archive's facts (one borg call)."""
        repository = backup.repository or ""
        steps, result = run_script(conn, COLLECT, [repository, local_path(repository) or ""],
                                   secret=repository_secret(backup, secrets), timeout=300)
        info = steps.get("info")
        if info is None or info.rc != 0:
            problem = classify(result.stderr, info.rc if info else (result.rc or 1))
            return Facts(problem=problem[0] if problem else "error", detail=problem[1] if problem else result.stderr)
        try:
            facts = parse_info(info.out)
        except (ValueError, KeyError) as exc:
            return Facts(problem="error", detail=_("unreadable borg output: {e}").format(e=exc))
        listed = steps.get("fingerprint")
        if facts.problem is None and local_path(repository) is not None and listed is not None and listed.rc == 0:
            facts = replace(facts, fingerprint=read_fingerprint(listed.out, "lock."))
        return facts

    def fingerprint(self, conn: Connector, backup: Backup) -> Fingerprint | None:
        """Return the repository's fingerprint without opening it; None for a remote repository (ssh://,
        host:path: no cheap listing, borg must open it) or when it cannot be listed."""
        path = local_path(backup.repository or "")
        return None if path is None else fingerprint(conn, LISTING, path, "lock.")

    def verify(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> VerifyOutcome:
        """Run ``borg check`` (repository and archives) and return whether it is sound."""
        script = PRELUDE + step("check", "borg check </dev/null 2>&1")
        steps, result = run_script(conn, script, [backup.repository or ""], secret=repository_secret(backup, secrets),
                                   timeout=3600)
        check = steps.get("check")
        if check is None:
            problem = classify(result.stderr, result.rc or 1)
            return VerifyOutcome(False, problem[1] if problem else result.stderr.strip())
        lines = [x for x in check.out.splitlines() if x.strip()]
        if check.rc == 0:
            return VerifyOutcome(True, _("borg check found no problem"))
        problem = classify(check.out, check.rc)
        return VerifyOutcome(False, (problem[1] if problem and problem[0] != "error" else "")
                             or "; ".join(lines[-3:]))

    def drill(self, conn: Connector, backup: Backup, secrets: SecretResolver, sample: list[str],
              random_count: int, workdir: PurePath) -> DrillOutcome:
        """Extract fixed and random files of the latest archive into ``workdir`` and compare with the source."""
        secret = repository_secret(backup, secrets)
        listing_script = PRELUDE + step(
            "last", "borg list --last 1 --format '{archive}{NL}' </dev/null") + \
            step("ls", 'borg list --json-lines "::$(borg list --last 1 --format \'{archive}\' </dev/null)" </dev/null')
        steps, result = run_script(conn, listing_script, [backup.repository or ""], secret=secret, timeout=600)
        ls, last = steps.get("ls"), steps.get("last")
        if ls is None or ls.rc != 0 or last is None:
            problem = classify(result.stderr, ls.rc if ls else (result.rc or 1))
            return DrillOutcome(False, (), detail=problem[1] if problem else result.stderr.strip())
        archive = last.out.strip()
        entries = [json.loads(x) for x in ls.out.splitlines() if x.strip().startswith("{")]
        files = ["/" + e["path"] for e in entries if e.get("type") == "-"]
        chosen = pick(files, sample, random_count)
        if not chosen:
            return DrillOutcome(False, (), detail=_("no file to restore in the latest archive"))
        extract = f'mkdir -p "$W" && cd "$W" && borg extract ::{shlex.quote(archive)} ' + \
            " ".join(f'"$(printf %s "${i + 3}" | cut -c2-)"' for i in range(len(chosen))) + " </dev/null"
        script = PRELUDE + 'W="$2"\n' + step("restore", extract) + step("hash", COMPARE)
        steps, result = run_script(conn, script, [backup.repository or "", str(workdir), *chosen], secret=secret,
                                   timeout=3600)
        info = self.collect(conn, backup, secrets)
        return compare_outcome(steps, result.stderr, chosen, info.latest)


KIND = Borg()
