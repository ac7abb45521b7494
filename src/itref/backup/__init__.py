"""Backup checks: freshness, size and integrity of restic, borg, file-drop, wbadmin and Veeam backups."""

from __future__ import annotations

from itref.registries import backup_kinds as kinds

__all__ = ["kinds"]
