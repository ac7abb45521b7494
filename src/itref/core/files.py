"""Files only their owner (or the state folder's group) may read, written whole or not at all.

A report lists people's accounts and maps the network; the state folder holds the project's records: both are
written through :func:`write_private` (a whole file: a new temporary file beside the destination, created with
``O_EXCL | O_NOFOLLOW`` and the private mode, flushed, then renamed over it, so a reader never sees half a file
and a symbolic link planted at the destination is replaced, never followed) or :func:`append_whole` (one record
added at the end of a log). :func:`no_room` turns a refused write of the state folder into one sentence.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from itref.core.errors import ItrefError, StateError
from itref.i18n import _

PRIVATE_MODE = 0o600
"""Owner read and write, nothing for the group and others."""


def no_room(path: Path, exc: OSError) -> ItrefError:
    """Return the error for a write of the state folder to ``path`` that failed with ``exc``: one sentence naming
    the folder, and for a full disk its free space (a StateError: exit status 9)."""
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


def write_private(path: Path, data: str | bytes, *, mode: int = PRIVATE_MODE, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text is encoded with ``encoding``) to ``path`` as a whole, with ``mode`` (0600: its owner
    only; 0660 in a state folder shared with a group); return ``path``.

    On any failure the temporary file is removed and ``path`` is left as it was. Raises OSError when the folder
    does not exist or refuses the write (full disk, no permission), IsADirectoryError when ``path`` is a folder.
    """
    raw = data.encode(encoding) if isinstance(data, str) else data
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_record(path: Path, data: str | bytes, *, mode: int = PRIVATE_MODE) -> Path:
    """Write a file of the state folder whole, as :func:`write_private`; return ``path``. Raises StateError (one
    sentence naming the folder; a full disk with its free space) instead of OSError."""
    try:
        return write_private(path, data, mode=mode)
    except OSError as exc:
        raise no_room(path, exc) from None


def append_whole(path: Path, line: bytes, *, mode: int = PRIVATE_MODE) -> None:
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


@contextlib.contextmanager
def held_alone(path: Path, *, mode: int = PRIVATE_MODE) -> Iterator[bool]:
    """Yield True while this process alone holds the lock file ``path`` (made with ``mode`` if missing, never
    through a symbolic link), False when another process holds it: nobody waits. Raises OSError when the file
    cannot be opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
