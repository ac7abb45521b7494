"""Lazy registries: a name maps to ``"module:attribute"`` and is imported only when first asked for.

Built-in implementations are listed in code; third parties add theirs through the entry point
group given to the registry (e.g. ``itref.connectors``).
"""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

from itref.core.errors import UsageError
from itref.i18n import _

T = TypeVar("T")


class LazyRegistry(Generic[T]):
    """Name → implementation, resolved on first use."""

    def __init__(self, kind: str, group: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self.group = group
        self._targets = dict(builtins)
        self._loaded: dict[str, T] = {}
        self._plugins_read = False

    def register(self, name: str, target: str | T) -> None:
        """Add ``name``; ``target`` is ``"module:attr"`` or the object itself."""
        if isinstance(target, str):
            self._targets[name] = target
            self._loaded.pop(name, None)
        else:
            self._loaded[name] = target

    def names(self) -> list[str]:
        """Return every registered name, built-ins and plugins."""
        self._read_plugins()
        return sorted(set(self._targets) | set(self._loaded))

    def get(self, name: str) -> T:
        """Return the implementation called ``name``, importing it now if needed.

        Raises UsageError when no implementation has that name.
        """
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._targets:
            self._read_plugins()
        if name not in self._targets:
            raise UsageError(_("unknown {kind} '{name}' (known: {known})").format(
                kind=self.kind, name=name, known=", ".join(self.names())))
        module, _sep, attr = self._targets[name].partition(":")
        obj: T = getattr(importlib.import_module(module), attr)
        self._loaded[name] = obj
        return obj

    def _read_plugins(self) -> None:
        if self._plugins_read:
            return
        self._plugins_read = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            self._targets.setdefault(ep.name, ep.value)
