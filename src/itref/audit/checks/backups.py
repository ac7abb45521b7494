"""Backup checks: the findings of ``itref backup check`` for every backup in the playbooks."""

from __future__ import annotations

from typing import Any

from itref.audit.base import Check
from itref.audit.registry import register
from itref.context import RunContext
from itref.core.findings import Finding, Topic
from itref.i18n import _


def _backups(check: Check, ctx: RunContext, thresholds: dict[str, Any], entities: set[str] | None
             ) -> list[Finding]:
    from itref.backup.check import check_backups, targets

    chosen = [t for t in targets(ctx.project) if entities is None or t.entity in entities]
    return check_backups(ctx, chosen) if chosen else []


def _topics() -> tuple[Topic, ...]:
    """Return one explanation per backup kind: the id ``backup.KIND`` each backup's finding carries."""
    from itref.backup import kinds

    how = {
        "restic": _("restic snapshots (and restic stats when a size rule needs it) read the repository on the host "
                    "that holds it, the password passed on standard input; an unchanged repository is not opened "
                    "again (its files' names are compared)."),
        "borg": _("borg info on the latest archive, on the host that holds the repository, the passphrase passed on "
                  "standard input and every question pre-answered."),
        "files": _("The newest file matching the pattern in the folder (its time and size), on the host that holds "
                   "it; itref backup verify and drill read the dumps back (gzip, zstd, tar, zip, pg_restore, the SQL "
                   "dump's completion line)."),
        "wbadmin": _("wbadmin get versions over WinRM: the newest backup version's time, read the same way on "
                     "English and French Windows."),
        "veeam": _("The job's last session over WinRM (Veeam's PowerShell module or snap-in): its result, end time "
                   "and size."),
    }
    out = []
    for name in kinds.names():
        out.append(Topic(
            f"backup.{name}", _("Backups made with {kind}").format(kind=name),
            _("A backup that is missing, old, shrunk, damaged or never restore-tested may not be there the day it is "
              "needed."),
            how.get(name, _("The backup kind's own check, on the host named by the backup.")) + " " + _(
                "Judged against max_age, min_size, size_change, expected_hostname and expected_paths from the "
                "playbook; a backup itref can restore-test must have been restore-tested within drill.every (92 "
                "days by default), and a failed verify stays critical until one passes."),
            _("Read the finding's reason: restart or repair the backup job, fix the path or the password reference, "
              "or restore-test it with the routine or command the finding names."),
            ("itref backup check --entity ENTITY NAME", "itref backup verify NAME", "itref backup drill NAME")
            if name in ("restic", "borg", "files") else ("itref backup check --entity ENTITY NAME",),
            "backups"))
    return tuple(out)


register(Check(
    "backups", _("Backups"),
    _("A backup that is missing, old, shrunk, damaged or never restore-tested may not be there the day it is "
      "needed."),
    _("Each backup's finding carries its own id (backup.restic, backup.files...): run 'itref audit explain ID' "
      "with the id shown under the finding."),
    run=_backups, how=_("itref backup check, for every backup of the playbooks of the audited entities."),
    commands=("itref backup check", "itref audit --checks backups"), topics=_topics))
