"""What every backup kind provides, and the facts a check collects about one backup."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from pathlib import PurePath

    from itref.config.schema import Backup
    from itref.connectors.base import Connector
    from itref.secrets import SecretResolver

Problem = Literal["missing", "wrong-password", "locked", "tool-missing", "empty", "unreachable", "error"]


@dataclass(frozen=True)
class Facts:
    """What was found about a backup's latest version (or why nothing could be found)."""

    latest: datetime | None = None
    latest_id: str | None = None
    size: int | None = None
    files: int | None = None
    count: int | None = None
    hostname: str | None = None
    paths: tuple[str, ...] = ()
    result: str | None = None
    """For job-based kinds (Veeam, wbadmin): the last session's own verdict (Success, Warning, Failed)."""
    problem: Problem | None = None
    detail: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    fingerprint: Fingerprint | None = None
    """What identified the repository's state when it was read (restic, borg on a path the host lists)."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a repository's state, read without opening it (file names, sizes, times)."""

    digest: str
    """SHA-256 of the listing: the same as long as no backup, prune, key change or lock touched it."""
    locked: bool
    """A lock file is there: something is writing (or died writing); the repository must be opened."""


@dataclass(frozen=True)
class VerifyOutcome:
    """The result of an integrity check of a repository."""

    ok: bool
    detail: str
    warning: bool = False
    """Not a pass and not a failure: nothing could be tested (a tool missing, a file of an unknown format)."""


@dataclass(frozen=True)
class DrillOutcome:
    """The result of a restore drill: which files were restored and compared, and what differed."""

    ok: bool
    files: tuple[str, ...]
    mismatched: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()
    detail: str = ""
    warning: bool = False
    """Not a pass and not a failure: files came back but nothing proved them right (none could be compared with
    its source, or read back)."""


class BackupKind(Protocol):
    """One kind of backup: how to collect its facts (and, where possible, verify and drill it)."""

    name: str
    label: str

    def collect(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> Facts:
        """Return the facts about ``backup`` gathered through ``conn`` (a problem, not an exception,
        when the repository cannot be read). Raises ConnectionFailed if the host is lost."""
        ...

    def verify(self, conn: Connector, backup: Backup, secrets: SecretResolver) -> VerifyOutcome:
        """Check the repository's integrity. Raises UsageError for kinds that cannot be verified."""
        ...

    def drill(self, conn: Connector, backup: Backup, secrets: SecretResolver, sample: list[str],
              random_count: int, workdir: PurePath) -> DrillOutcome:
        """Restore the ``sample`` files plus ``random_count`` random ones into ``workdir`` on the host and
        compare them with their source."""
        ...
