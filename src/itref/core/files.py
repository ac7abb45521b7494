"""Files only their owner (or the state folder's group) may read, written whole or not at all.

Every file itref writes that holds people's data or its own records goes through :func:`write_private` (a
whole file, replaced atomically) or :func:`append_whole` (one record added at the end of a log).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets as _random
import shutil
from pathlib import Path

from itref.core.errors import ItrefError, StateError
from itref.i18n import _


def no_room(path: Path, exc: OSError) -> ItrefError:
    """Return the error for a write to ``path`` that failed with ``exc``: one sentence naming the folder,
    and for a full disk its free space (a StateError: exit status 9)."""
    from itref.i18n import format_size

    folder = path.parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = format_size(shutil.disk_usage(folder).free)
        except OSError:
            free = "?"
        return StateError(_("the disk holding {folder} is full ({free} free): nothing was written; free some "
                            "space and run the command again").format(folder=folder, free=free))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StateError(_("itref may not write in {folder} ({reason})").format(
            folder=folder, reason=exc.strerror or exc))
    return StateError(_("could not write {path}: {reason}").format(path=path, reason=exc.strerror or exc))


def write_private(path: Path, data: bytes | str, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` as a whole: a new file, made with ``mode`` (0600: its owner only), then renamed
    over ``path``. Readers see the old content or the new one, never a part; a symbolic link at ``path`` is
    replaced, never followed.

    Raises StateError (full disk, no permission), with one sentence naming the folder; nothing is left behind.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.parent / f".{path.name}.{os.getpid()}.{_random.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise no_room(path, exc) from None
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have taken bits off
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise no_room(path, exc) from None


def append_whole(path: Path, line: bytes, *, mode: int = 0o600) -> None:
    """Add ``line`` (one record, ending with a newline) at the end of ``path``, whole or not at all.

    Writers hold an exclusive lock and write with one ``O_APPEND`` descriptor, so concurrent writers never
    interleave; a write the disk refuses half-way is cut back to the file's previous end. A file left by a
    writer that died mid-line (power cut) gets a newline first, so the new record starts on its own line.
    Raises StateError when the disk is full or the file cannot be written.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise no_room(path, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        st = os.fstat(fd)
        size = st.st_size
        if st.st_uid == os.geteuid() and (st.st_mode & 0o777) != mode:
            os.fchmod(fd, mode)
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise no_room(path, exc) from None
    finally:
        os.close(fd)  # closing releases the lock
