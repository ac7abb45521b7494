"""Where itref finds its pluggable parts: name → ``module:attribute``, imported on first use, plugins added
through entry points. Kept apart from the parts themselves so that the schema can list the names (the
``connection:`` and backup ``kind:`` values it accepts) without importing any implementation.

A new connection kind is one module of :mod:`itref.connectors` registered in :data:`connectors`; a new backup
kind one module of :mod:`itref.backup` registered in :data:`backup_kinds` (audit checks register themselves:
:mod:`itref.audit.registry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itref.core.registry import LazyRegistry

if TYPE_CHECKING:
    from itref.backup.base import BackupKind
    from itref.connectors.base import Connector

connectors: LazyRegistry[type[Connector]] = LazyRegistry(
    "connection kind",
    "itref.connectors",
    {
        "local": "itref.connectors.local:LocalConnector",
        "ssh": "itref.connectors.ssh:SSHConnector",
        "winrm": "itref.connectors.winrm:WinRMConnector",
    },
)
"""Connection kind (``connection:`` in the inventory) → connector class."""

backup_kinds: LazyRegistry[BackupKind] = LazyRegistry(
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
"""Backup ``kind:`` → implementation."""


def audit_check_ids() -> list[str]:
    """Return the ids of every audit check (built-in and plugins), for the playbooks' cross-checks: the audit's
    registry is imported now, as a registry's implementation is (the schema layer does not import the audit)."""
    import importlib

    registry = importlib.import_module("itref.audit.registry")
    return [check.id for check in registry.all_checks()]


TOPIC_SOURCES = ("itref.hostcheck.topics:topics",)
"""Modules outside the audit whose findings carry ids of their own, and the function explaining them."""


def extra_topics() -> list[Any]:
    """Return the explanations (``core.findings.Topic``) of the finding ids other capabilities give (itref hosts
    check), for ``itref audit explain``; their modules are imported now."""
    import importlib

    out: list[Any] = []
    for target in TOPIC_SOURCES:
        module, _sep, attr = target.partition(":")
        out += list(getattr(importlib.import_module(module), attr)())
    return out
