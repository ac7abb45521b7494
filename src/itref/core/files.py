"""Files itref writes for people (reports, the handover pack): written whole, readable by their owner only.

A report lists people's accounts and maps the network: it is personal data. :func:`write_private` is the one
way such a file is written: the text goes to a new temporary file in the same folder, created with
``O_EXCL | O_NOFOLLOW`` and mode 0600 (so it is never readable by others, not even for a moment), and is then
renamed over the destination. A reader never sees half a file, and a symbolic link at the destination is
replaced by the file, never followed (a link planted there cannot redirect the write elsewhere).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600
"""Owner read and write, nothing for the group and others."""


def write_private(path: Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text is encoded with ``encoding``) to ``path`` atomically with mode 0600; return ``path``.

    The file is first written to a temporary file beside ``path`` (created exclusively, never through a link),
    flushed to disk, then renamed over ``path``; on any failure the temporary file is removed and ``path`` is left
    as it was. Raises OSError when the folder does not exist or refuses the write (full disk, no permission), and
    IsADirectoryError when ``path`` is a folder.
    """
    raw = data.encode(encoding) if isinstance(data, str) else data
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(21, os.strerror(21), str(path))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, PRIVATE_MODE)
    try:
        try:
            os.fchmod(fd, PRIVATE_MODE)  # the umask may have removed bits: exactly 0600
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
