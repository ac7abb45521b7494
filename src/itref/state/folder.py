"""Where the project's state folder is, who may read it, and which files this process writes in it."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
from functools import cached_property
from pathlib import Path

from itref.core.errors import StateError
from itref.i18n import _
from itref.state.operator import Operator, current

STATE_ENV = "ITREF_STATE_DIR"
"""Overrides the state folder of every project (tests, benchmarks)."""
CACHE_ENV = "ITREF_CACHE_DIR"
"""Overrides the per-machine cache folder (tests, benchmarks)."""
DEFAULT_NAME = "state"

README = """\
itref — project state / état du projet

This folder is itref's shared memory for this project: the journal (who did what, when, where), the audit
and backup histories, the waivers with their reasons, the offboarded accounts (to restore them), the routine
runs left half-done. Keep it with inventory.yaml: on the shared drive, or in the git repository (commit it,
pull it). Every file is plain text; nothing here is a secret. Do not edit the files by hand.

Ce dossier est la mémoire partagée d'itref pour ce projet : le journal (qui a fait quoi, quand, où), les
historiques d'audit et de sauvegarde, les dérogations et leurs raisons, les comptes désactivés au départ (pour
les rétablir), les procédures restées à mi-chemin. Gardez-le avec inventory.yaml : sur le disque partagé, ou
dans le dépôt git (commit, pull). Tout y est du texte ; aucun secret. Ne modifiez pas les fichiers à la main.
"""
GITIGNORE = ".*.tmp\n.*.lock\n"


def locate(inventory_path: Path, configured: str | None) -> Path:
    """Return the state folder of the project whose inventory is ``inventory_path``: ``$ITREF_STATE_DIR``, else
    the inventory's ``state:`` (relative to the inventory's folder), else ``state/`` beside the inventory."""
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override).expanduser().absolute()
    return (inventory_path.absolute().parent / Path(configured or DEFAULT_NAME).expanduser()).absolute()


def legacy_dir() -> Path:
    """Return where itref kept its state before it moved beside the inventory (``~/.local/state/itref``)."""
    from platformdirs import user_state_dir

    return Path(user_state_dir("itref", appauthor=False))


def machine_cache() -> Path:
    """Return this machine's (and account's) cache folder for itref: ``$ITREF_CACHE_DIR``, else the XDG cache
    folder (``~/.cache/itref``). Nothing there is a record anyone else needs."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("itref", appauthor=False))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str) -> str:
    """Return ``text`` as a file-name part: letters, digits, '.', '_' and '-' only (others become '-')."""
    return _UNSAFE.sub("-", text).strip(".-") or "x"


class StateFolder:
    """The state folder of one project: checked before use, created with the right modes, never readable by
    other accounts (``0700``, or ``2770`` shared with ``group``: the inventory's ``state_group``)."""

    def __init__(self, path: Path, *, group: str | None = None, project_dir: Path | None = None) -> None:
        self.path = path
        self.group = group
        self.project_dir = project_dir
        self._checked = False
        self.unreadable: dict[str, object] = {}
        """The state files this process found it could not read (path -> its problem), for ``itref status``."""

    def note_unreadable(self, problem: object) -> None:
        """Remember that a state file could not be read (``problem``: a ``documents.Problem``, with ``path``)."""
        self.unreadable[str(getattr(problem, "path", problem))] = problem

    # ------------------------------------------------------------------ identity

    @cached_property
    def operator(self) -> Operator:
        """Return who this process acts for (the person every record is signed with)."""
        return current(self.project_dir or self.path.parent)

    @cached_property
    def writer(self) -> str:
        """Return the name of the files this process appends to: ``ACCOUNT@MACHINE.CLONE`` (the clone part tells
        two copies of the project on one machine apart). No other account, machine or clone writes them."""
        op = self.operator
        clone = hashlib.sha256(f"{self.path}\0{op.account}\0{op.machine}".encode()).hexdigest()[:6]
        return f"{slug(op.account)}@{slug(op.machine)}.{clone}"

    # ------------------------------------------------------------------ modes

    @property
    def dir_mode(self) -> int:
        """Return the mode of the folders itref makes: 0700, or 2770 with a state group."""
        return 0o2770 if self.group else 0o700

    @property
    def file_mode(self) -> int:
        """Return the mode of the files itref makes: 0600, or 0660 with a state group."""
        return 0o660 if self.group else 0o600

    @cached_property
    def gid(self) -> int | None:
        """Return the id of the state group (None without one). Raises StateError if the group does not exist."""
        if not self.group:
            return None
        import grp

        try:
            return grp.getgrnam(self.group).gr_gid
        except KeyError:
            raise StateError(_("the group '{group}' named by state_group in the inventory does not exist on this "
                               "machine").format(group=self.group)) from None

    # ------------------------------------------------------------------ checks

    def exists(self) -> bool:
        """Return True when the state folder exists (reading never creates it)."""
        return self.path.is_dir()

    def check(self) -> None:
        """Make sure the existing folder may be used: a folder, closed to other accounts, and with a state group,
        owned by that group and writable by it. Raises StateError with the command that fixes it."""
        if self._checked or not self.path.exists():
            return
        try:
            st = self.path.stat()
        except OSError as exc:
            raise StateError(_("cannot read the state folder {path}: {reason}").format(
                path=self.path, reason=exc.strerror or exc)) from None
        if not stat.S_ISDIR(st.st_mode):
            raise StateError(_("the state folder {path} is not a folder").format(path=self.path))
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o007:
            raise StateError(_("other accounts of this machine can read the state folder {path} (mode {mode:04o}): "
                               "it holds the journal and the histories. Run: chmod o-rwx {path}").format(
                path=self.path, mode=mode))
        gid = self.gid
        if gid is not None and (st.st_gid != gid or mode & 0o070 != 0o070):
            raise StateError(_("the state folder {path} is not shared with the group '{group}' as state_group asks. "
                               "Run: chgrp -R {group} {path} && chmod -R g+rwX,o-rwx {path} && "
                               "find {path} -type d -exec chmod g+s {{}} +").format(path=self.path, group=self.group))
        self._checked = True

    # ------------------------------------------------------------------ folders

    def sub(self, *parts: str) -> Path:
        """Return a path inside the state folder (nothing is created)."""
        return self.path.joinpath(*parts)

    def ensure(self, *parts: str) -> Path:
        """Return the folder ``parts`` inside the state folder, creating what is missing with the folder's mode
        and group (the state folder itself with a README saying what it is). Raises StateError."""
        from itref.core.files import no_room

        self.check()
        current_dir = self.path
        try:
            if not self.path.is_dir():
                self._make(self.path)
                self._checked = False
                self.check()
                self._welcome()
            for part in parts:
                current_dir = current_dir / part
                if current_dir.is_symlink():  # records would go wherever it points, out of the checked folder
                    raise StateError(_("{path} is a symbolic link: the state folder's records must stay inside it. "
                                       "Replace it with a folder (move its files in)").format(path=current_dir))
                if not current_dir.is_dir():
                    self._make(current_dir)
        except OSError as exc:
            raise no_room(current_dir, exc) from None
        return current_dir

    def _make(self, folder: Path) -> None:
        """Make ``folder`` with the folder mode and group, appearing at once complete: it is made under a
        temporary name, given its mode and group, then renamed (another itref, maybe another account, may be
        making the same one at the same moment: the first rename wins, the other keeps it)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / f".{folder.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            os.mkdir(tmp, 0o700)
        except PermissionError as exc:
            if self.gid is not None and exc.errno == 13:
                raise StateError(_("itref may not write in {folder} ({reason})").format(
                    folder=folder.parent, reason=exc.strerror)) from None
            raise
        try:
            if self.gid is not None:
                try:
                    os.chown(tmp, -1, self.gid)
                except PermissionError:
                    raise StateError(_("this account is not a member of the group '{group}' (state_group), so it "
                                       "cannot share {path} with it").format(group=self.group, path=folder)) from None
            os.chmod(tmp, self.dir_mode)  # after chown, which clears the setgid bit
            os.rename(tmp, folder)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.rmdir(tmp)
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not folder.is_dir():
                raise

    def _welcome(self) -> None:
        from itref.core.files import write_record

        for name, text in (("README.txt", README), (".gitignore", GITIGNORE)):
            if not (self.path / name).exists():
                write_record(self.path / name, text, mode=self.file_mode)

    def is_empty(self) -> bool:
        """Return True when the folder holds no record yet (missing, or only its README)."""
        if not self.path.is_dir():
            return True
        return not any(p.name not in ("README.txt", ".gitignore") for p in self.path.iterdir())

    # ------------------------------------------------------------------ per machine

    def cache_dir(self, *parts: str, create: bool = True) -> Path:
        """Return this machine's private folder for this project's caches and locks (never shared:
        ``$ITREF_CACHE_DIR`` or the XDG cache folder, one sub-folder per state folder). Raises StateError."""
        from itref.core.files import no_room

        key = hashlib.sha256(str(self.path).encode()).hexdigest()[:12]
        folder = machine_cache().joinpath("projects", f"{slug(self.path.parent.name)}-{key}", *parts)
        if create:
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise no_room(folder, exc) from None
        return folder
