"""Connectors: how itref reaches a host (local, ssh, winrm). See :mod:`itref.connectors.base`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from itref.core.registry import LazyRegistry

if TYPE_CHECKING:
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
"""Connection kind (``connection:`` in the inventory) → connector class, imported on first use."""
