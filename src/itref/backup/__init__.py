"""Backup checks: freshness, size and integrity of restic, borg, file-drop, wbadmin and Veeam backups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from itref.core.registry import LazyRegistry

if TYPE_CHECKING:
    from itref.backup.base import BackupKind

kinds: LazyRegistry[BackupKind] = LazyRegistry(
    "backup kind",
    "itref.backups",
    {
        "restic": "itref.backup.restic:KIND",
        "borg": "itref.backup.borg:KIND",
        "files": "itref.backup.files:KIND",
        "wbadmin": "itref.backup.wbadmin:KIND",
        "veeam": "itref.backup.veeam:KIND",
    },
)
"""Backup ``kind:`` → implementation, imported on first use."""
