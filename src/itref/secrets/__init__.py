"""Secret references (env, file, KeePass, prompt) turned into values only at the moment of use.

A resolved value is wrapped in :class:`Secret`, which prints as ``***`` everywhere (str, repr,
f-strings, logs). Every value ever revealed is remembered so :func:`mask` can scrub it from any
text that leaves the process (errors, journal, reports).
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itref.core.errors import SecretError
from itref.core.masking import MASK, mask, remember
from itref.i18n import _

if TYPE_CHECKING:
    from itref.secrets.refs import KeepassRef, SecretRef

__all__ = ["MASK", "Secret", "SecretResolver", "mask"]


class Secret:
    """A secret value that never shows itself by accident. Call :meth:`reveal` at the point of use."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self._value = value
        self.origin = origin
        remember(value)

    def reveal(self) -> str:
        """Return the value itself. Only pass it straight to the library that needs it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.origin}, {MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


class SecretResolver:
    """Resolves references lazily and caches each value for the rest of the run."""

    def __init__(self, named: dict[str, SecretRef] | None = None, *, interactive: bool | None = None) -> None:
        self.named = dict(named or {})
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self._cache: dict[str, Secret] = {}
        self._lock = threading.Lock()

    def resolve(self, ref: SecretRef, purpose: str) -> Secret:
        """Return the value of ``ref``; ``purpose`` names what it is for in error messages.

        Raises SecretError with a sentence saying what is missing and how to fix it.
        """
        name = ref.secret
        if name is not None:
            if name not in self.named:
                raise SecretError(_("secret '{name}' ({purpose}) is not defined in the inventory's secrets").format(
                    name=name, purpose=purpose))
            target = self.named[name]
            label = f"secret '{name}'"
        else:
            target = ref
            label = ref.describe()
        key = target.model_dump_json()
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            value = self._fetch(target, purpose, label)
            self._cache[key] = value
            return value

    def _fetch(self, ref: SecretRef, purpose: str, label: str) -> Secret:
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if not value:
                raise SecretError(_("{label} ({purpose}): environment variable {var} is not set").format(
                    label=label, purpose=purpose, var=ref.env))
            return Secret(value, label)
        if ref.file is not None:
            return Secret(read_secret_file(Path(ref.file).expanduser(), label, purpose), label)
        if ref.keepass is not None:
            return Secret(self._keepass(ref.keepass, label, purpose), label)
        if ref.prompt is not None:
            if not self.interactive:
                raise SecretError(_("{label} ({purpose}) must be typed at a terminal, but none is attached; "
                                    "for unattended runs use env, file or keepass").format(
                    label=label, purpose=purpose))
            import getpass

            question = ref.prompt if isinstance(ref.prompt, str) else _("Password for {purpose}: ").format(
                purpose=purpose)
            try:
                return Secret(getpass.getpass(question), label)
            except EOFError:
                raise SecretError(_("{label} ({purpose}): nothing was typed").format(
                    label=label, purpose=purpose)) from None
        raise SecretError(_("{label} ({purpose}) cannot be resolved").format(label=label, purpose=purpose))

    def _keepass(self, ref: KeepassRef, label: str, purpose: str) -> str:
        try:
            from pykeepass import PyKeePass
            from pykeepass.exceptions import CredentialsError
        except ImportError:  # pragma: no cover - pykeepass is a dependency
            raise SecretError(_("{label}: the pykeepass package is missing").format(label=label)) from None
        database = Path(ref.database).expanduser()
        master = self.resolve(ref.password, _("master password of {db}").format(db=database)).reveal() \
            if ref.password else None
        keyfile = str(Path(ref.keyfile).expanduser()) if ref.keyfile else None
        if not database.is_file():
            raise SecretError(_("{label} ({purpose}): KeePass database {db} not found").format(
                label=label, purpose=purpose, db=database))
        try:
            kp = PyKeePass(str(database), password=master, keyfile=keyfile)
        except CredentialsError:
            raise SecretError(_("{label} ({purpose}): the KeePass database {db} did not open with the given "
                                "password/key file").format(label=label, purpose=purpose, db=database)) from None
        except (OSError, ValueError) as exc:
            raise SecretError(_("{label} ({purpose}): cannot open {db}: {reason}").format(
                label=label, purpose=purpose, db=database, reason=type(exc).__name__)) from None
        entry = kp.find_entries(path=[p for p in ref.entry.split("/") if p], first=True)
        if entry is None:
            raise SecretError(_("{label} ({purpose}): no entry '{entry}' in {db}").format(
                label=label, purpose=purpose, entry=ref.entry, db=database))
        attr = ref.attribute
        value = getattr(entry, attr, None) if attr in ("password", "username", "url", "notes", "title") \
            else entry.get_custom_property(attr)
        if not value:
            raise SecretError(_("{label} ({purpose}): entry '{entry}' has no {attr}").format(
                label=label, purpose=purpose, entry=ref.entry, attr=attr))
        return str(value)


def read_secret_file(path: Path, label: str, purpose: str) -> str:
    """Return the content of a secret file without its trailing newline.

    Raises SecretError when the file is missing, unreadable or readable by group/others.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SecretError(_("{label} ({purpose}): file {path} not found").format(
            label=label, purpose=purpose, path=path)) from None
    except OSError as exc:
        raise SecretError(_("{label} ({purpose}): cannot read {path}: {reason}").format(
            label=label, purpose=purpose, path=path, reason=exc.strerror)) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(_("{label} ({purpose}): {path} can be read by other users (mode {mode}); "
                            "fix it with: chmod 600 {path}").format(
            label=label, purpose=purpose, path=path, mode=oct(st.st_mode & 0o777)[2:]))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(_("{label} ({purpose}): cannot read {path}: {reason}").format(
            label=label, purpose=purpose, path=path, reason=type(exc).__name__)) from None
    value = text.rstrip("\r\n")
    if not value:
        raise SecretError(_("{label} ({purpose}): {path} is empty").format(label=label, purpose=purpose, path=path))
    return value
