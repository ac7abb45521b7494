"""A lock so two runs of the same audit never overlap (two cron lines, or cron and a person)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from itref.core.errors import ItrefError
from itref.core.status import ExitStatus
from itref.i18n import _


class AuditBusy(ItrefError):
    """Another audit held the lock for longer than we were willing to wait."""

    status = ExitStatus.FAILURE


class AuditLock:
    """``with AuditLock(path, wait=300):`` — waits up to ``wait`` seconds for the other run to finish."""

    def __init__(self, path: Path, wait: float) -> None:
        self.path = path
        self.wait = wait
        self.fd = -1

    def __enter__(self) -> AuditLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip()
                    os.close(self.fd)
                    raise AuditBusy(_("another itref audit is running (pid {pid}); try again when it ends").format(
                        pid=holder or "?")) from None
                time.sleep(0.2)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
