"""The connector contract: open, run, put, get, close. Every connection kind implements it.

A connection kind is one module of this package: its connector class (registered in
:data:`itref.connectors.connectors` under its ``connection:`` name), the typed settings it reads (a
:class:`ConnectorSettings` model with its real defaults: the inventory's host fields and ``defaults.<kind>``
are derived from it), and the command a person would type to reach a host by hand (:meth:`Connector.manual_command`).

A connector is made for one host, opened once, and reused for every command of a run. It never
prints; it returns :class:`~itref.core.results.CommandResult` or raises an
:class:`~itref.core.errors.ItrefError` subclass:

* ``ConnectionFailed`` — the host cannot be reached (DNS, refused, timeout, TLS);
* ``AuthenticationFailed`` — the host refused the credentials;
* ``HostKeyRejected`` — the SSH host key is unknown or changed;
* ``SecretError`` — a password reference could not be resolved.

A command that runs but fails is not an exception: it is a result with a non-zero ``rc``, and a
command that exceeds its timeout is a result with ``timed_out=True``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from itref.core.model import Strict
from itref.core.results import CommandResult

if TYPE_CHECKING:
    from itref.secrets import SecretResolver


class ConnectorSettings(Strict):
    """Base of a connection kind's settings: every field with its real default and a description (the
    inventory's reference and ``itref inventory example`` are written from them)."""


@dataclass(frozen=True)
class HostSpec:
    """A host as the connectors see it: where it is, and its connection kind's settings, with the host's own
    values over ``defaults.<connection>`` over the kind's defaults.

    ``timeout`` is how long a command may run (``defaults.timeout``); ``jump`` the host to go through, when the
    settings name one (SSH's ``via``).
    """

    name: str
    entity: str
    connection: str
    address: str
    tags: tuple[str, ...]
    description: str | None
    settings: Any = field(default=None, compare=False, hash=False)
    timeout: float = 300.0
    jump: HostSpec | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Command:
    """What to run. ``argv`` is quoted for the host's shell by the connector; with ``shell=True``,
    ``argv`` must hold exactly one item: a command line the host's shell interprets as written."""

    argv: tuple[str, ...]
    timeout: float = 300.0
    shell: bool = False
    sudo: bool = False
    stdin: bytes | None = None
    env: tuple[tuple[str, str], ...] = ()
    """Variables (name, value) the command reads, e.g. a routine's parameters as ``ITREF_P_name``: the connector
    sends them on standard input, ahead of ``stdin``, and a reader at the top of the script defines them (exported
    shell variables on sh; variables and environment variables in PowerShell). No value is ever on a command
    line. See :mod:`itref.connectors.shellvars`."""

    @classmethod
    def of(cls, argv: Sequence[str] | str, **kwargs: object) -> Command:
        """Return a Command from an argument list, or from a single shell line (``shell=True``)."""
        if isinstance(argv, str):
            return cls((argv,), shell=True, **kwargs)  # type: ignore[arg-type]
        return cls(tuple(argv), **kwargs)  # type: ignore[arg-type]

    def display(self) -> str:
        """Return the command as a person would type it (for tables and the journal)."""
        from itref.connectors.quoting import posix_join

        return self.argv[0] if self.shell else posix_join(self.argv)


class Connector(ABC):
    """One open connection to one host."""

    kind: ClassVar[str]
    """The ``connection:`` value that selects this connector."""
    shell_family: ClassVar[Literal["posix", "powershell"]] = "posix"
    """Which quoting the host's shell needs."""
    Settings: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    """The settings this connection kind reads (``host.settings`` is one of these)."""

    @classmethod
    def manual_command(cls, host: HostSpec) -> str | None:
        """Return the command a person types to reach ``host`` by hand (for the handover pack), or None when
        there is nothing to type (this machine)."""
        return None

    def __init__(self, host: HostSpec, secrets: SecretResolver) -> None:
        self.host = host
        self.secrets = secrets
        self.settings: Any = host.settings if host.settings is not None else type(self).Settings()
        """This host's settings (the kind's :attr:`Settings`, defaults applied)."""
        self.warnings: list[str] = []
        """Things a person should know about this connection (e.g. certificate checks turned off)."""

    @abstractmethod
    def open(self) -> None:
        """Connect and authenticate. Raises ConnectionFailed, AuthenticationFailed, HostKeyRejected
        or SecretError."""

    @abstractmethod
    def run(self, command: Command) -> CommandResult:
        """Run ``command`` and return its result (rc, stdout, stderr, duration, timed_out).

        Raises ConnectionFailed if the connection is lost before the command could complete.
        """

    @abstractmethod
    def put(self, local: Path, remote: str, mode: int | None = None) -> None:
        """Copy the local file ``local`` to ``remote`` on the host (``mode`` as chmod bits)."""

    @abstractmethod
    def get(self, remote: str, local: Path) -> None:
        """Copy the host's file ``remote`` to ``local``."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection and stop anything still running; safe to call twice."""

    def __enter__(self) -> Connector:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
