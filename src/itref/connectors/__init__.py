"""Connectors: how itref reaches a host (local, ssh, winrm). See :mod:`itref.connectors.base`."""

from __future__ import annotations

from itref.registries import connectors

__all__ = ["connectors"]
