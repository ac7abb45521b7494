"""The passwords file of an import (``--passwords-file``): made by itref, private, appended to, never another file.

itref creates the file itself (``O_CREAT | O_EXCL``, mode 0600, never through a symlink) and writes
:data:`HEADER` as its first line; that line is how it recognises its own file on a later run (a rerun of an
interrupted import appends to it). Any other existing path is refused before anything is written: a symlink
(even one pointing nowhere), something that is not a plain file, a file of another user, a file others may
read, or a file whose first line is not the header. A path in a folder that does not exist is refused too.
Each password is written and synced before it is set on its account, one ``login;password`` line each.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from itref.core.errors import UsageError
from itref.i18n import _

MARK = "# itref passwords file"
"""How the first line of a passwords file made by itref starts."""
HEADER = (MARK + ": one 'login;password' line per new account (the last line of a login counts); hand the "
          "passwords out, then delete this file\n")
"""The first line itref writes in a passwords file it creates."""


def _refuse(path: Path, why: str) -> UsageError:
    return UsageError(_("--passwords-file {path}: {why}; give the path of a new file (itref creates it, mode 0600) "
                        "or of a passwords file an earlier import made").format(path=path, why=why))


def _check_open(fd: int, path: Path) -> None:
    """Raise UsageError unless ``fd`` is a plain file of this user, private, starting with the header."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(path, _("it is not a plain file"))
    if info.st_uid != os.geteuid():
        raise _refuse(path, _("it belongs to another user"))
    if info.st_mode & 0o077:
        raise _refuse(path, _("others may read it (mode {mode:o})").format(mode=info.st_mode & 0o777))
    if not os.pread(fd, len(MARK), 0).decode("utf-8", "replace") == MARK:
        raise _refuse(path, _("it exists and was not made by itref (its first line is not '{mark}...')").format(
            mark=MARK))


def _missing_folder(path: Path) -> UsageError:
    return UsageError(_("--passwords-file {path}: the folder {folder} does not exist; create it first (mode 0700) "
                        "or choose a path in an existing folder").format(path=path, folder=path.parent))


def check_destination(path: Path) -> None:
    """Raise UsageError when ``path`` cannot be the passwords file (see the module docstring); write nothing."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise _missing_folder(path) from None
        return
    except OSError as exc:
        raise _refuse(path, exc.strerror or str(exc)) from None
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(path, _("it is a symbolic link"))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise _refuse(path, exc.strerror or str(exc)) from None
    try:
        _check_open(fd, path)
    finally:
        os.close(fd)


class PasswordsFile:
    """The open passwords file: created with its header, or an earlier one of itref's, appended to."""

    def __init__(self, path: Path) -> None:
        """Open (or create) ``path``. Raises UsageError for a path that is not itref's own file, or in a
        missing folder; nothing is written then."""
        self.path = path
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:  # also a symlink, even a dangling one: O_EXCL never follows it
            self._open_existing()
        except FileNotFoundError:
            raise _missing_folder(path) from None
        except OSError as exc:
            raise _refuse(path, exc.strerror or str(exc)) from None
        else:
            try:
                os.fchmod(self.fd, 0o600)  # whatever the umask
                self._write(HEADER)
            except BaseException:
                os.close(self.fd)
                raise

    def _open_existing(self) -> None:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refuse(self.path, _("it is a symbolic link")) from None
            raise _refuse(self.path, exc.strerror or str(exc)) from None
        try:
            _check_open(self.fd, self.path)
        except BaseException:
            os.close(self.fd)
            raise

    def _write(self, text: str) -> None:
        os.write(self.fd, text.encode("utf-8"))
        os.fsync(self.fd)

    def add(self, login: str, password: str) -> None:
        """Append ``login;password`` and sync it to disk (before the password is set on the account)."""
        self._write(f"{login};{password}\n")

    def close(self) -> None:
        """Close the file."""
        os.close(self.fd)

    def __enter__(self) -> PasswordsFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
