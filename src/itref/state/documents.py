"""One YAML document per item in a folder of the state: waivers, offboarded accounts, routine runs.

One file per item means two clones that each add their own items merge without a conflict; a reviewer sees
each decision (a waiver and its reason) as one small file in a diff. Documents are replaced whole (written
aside, then renamed), never edited in place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itref.i18n import _
from itref.state.folder import StateFolder

SUFFIX = ".yaml"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_MAYBE_ALIAS = re.compile(r"(?:^|[\s\[{,:-])\*[^\s,\[\]{}]")
"""Text that may hold a YAML alias (``*name``); only then are the document's events looked at."""
_CONFLICT = re.compile(r"^(?:<{7}|={7}|>{7})(?: |$)", re.M)
"""A line git writes around the two sides of a conflict it could not merge."""


@dataclass(frozen=True)
class Problem:
    """A document that could not be read: its file, the line when known, and why."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}" if self.line else f"{self.path}: {self.reason}"


def dump(data: dict[str, Any]) -> str:
    """Return ``data`` as the YAML text of a document (keys in the given order, unicode as is)."""
    import yaml

    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100)


IDENTIFIERS = ("id", "run_id")
"""Top-level keys whose values itref makes itself (random or time-based ids, never a secret): written as they
are, so that a short secret value that happens to appear inside one (``abc`` in ``abcd1234``) cannot turn the id
into ``***d1234`` and make the record impossible to find again."""


def _masked_document(data: dict[str, Any]) -> str:
    """Return the YAML text of ``data`` with every secret value masked, except in the :data:`IDENTIFIERS`."""
    from itref.core.masking import mask

    kept = {k: v for k, v in data.items() if k in IDENTIFIERS and isinstance(v, str)}
    text = dump({k: (v if k in kept else _masked(v)) for k, v in data.items()})
    # once more, line by line, for a secret split across values; the identifiers' own lines are left as they are
    return "".join(line if line.split(":", 1)[0] in kept else mask(line) for line in text.splitlines(keepends=True))


def _masked(value: Any) -> Any:
    """Return ``value`` with every secret value masked in each string it holds (keys included)."""
    from itref.secrets import mask

    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {_masked(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


class Documents:
    """The documents of one kind (``waivers``, ``departed``, ``routines``...) of a state folder."""

    def __init__(self, folder: StateFolder, kind: str) -> None:
        self.folder = folder
        self.kind = kind
        self.problems: list[Problem] = []
        """Documents the last :meth:`all` could not read (each also noted on the folder: see
        :meth:`StateFolder.note_unreadable`, which ``itref status`` reports)."""

    @property
    def path(self) -> Path:
        """Return the documents' folder."""
        return self.folder.sub(self.kind)

    def file(self, name: str) -> Path:
        """Return the file of document ``name``. Raises ValueError for a name that is not a plain file name."""
        if not _SAFE.match(name) or name.endswith(".tmp") or len(name) > 200:  # 255 bytes: most file systems
            raise ValueError(f"not a document name: {name!r}")
        return self.path / f"{name}{SUFFIX}"

    def write(self, name: str, data: dict[str, Any]) -> Path:
        """Write document ``name`` whole (secret values masked) and return its file. Raises StateError."""
        from itref.core.files import write_record

        self.folder.ensure(self.kind)
        path = self.file(name)
        # Each value is masked before it is written as YAML, so that a masked value is quoted as it must be
        # ("***..." unquoted would read as a YAML alias and make the whole document unreadable); the text is
        # masked once more for a secret split across values.
        write_record(path, _masked_document(data), mode=self.folder.file_mode)
        return path

    def refuse(self, name: str, line: int, reason: str) -> None:
        """Note that document ``name`` was read but does not hold what its kind needs (``reason``, translated)."""
        self._note(Problem(self.file(name), line, reason))

    def _note(self, problem: Problem) -> None:
        self.problems.append(problem)
        self.folder.note_unreadable(problem)

    def read(self, name: str) -> dict[str, Any] | None:
        """Return document ``name``, or None when there is none. Raises StateError when it cannot be read."""
        path = self.file(name)
        self.folder.check()
        if not path.is_file():
            return None
        data, problem = self._load(path)
        if problem is not None:
            from itref.core.errors import StateError

            raise StateError(str(problem))
        return data

    def remove(self, name: str) -> bool:
        """Delete document ``name``; return whether it existed."""
        path = self.file(name)
        self.folder.check()
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:  # read-only, no permission
            from itref.core.files import no_room

            raise no_room(path, exc) from None
        return True

    def names(self) -> list[str]:
        """Return the names of every document, sorted."""
        try:
            with os.scandir(self.path) as entries:
                found = [e.name[: -len(SUFFIX)] for e in entries
                         if e.name.endswith(SUFFIX) and not e.name.startswith(".")]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(found)

    def all(self, keep: Callable[[str], bool] | None = None, *, memo: str | None = None
            ) -> list[tuple[str, dict[str, Any]]]:
        """Return (name, data) of every readable document, sorted by name; the others are listed in
        :attr:`problems` (a person merging by hand may have broken one: it must not hide the rest).

        ``keep`` is a quick filter on each file's text before it is parsed (parsing YAML costs far more than
        reading): a document whose text it refuses is left out. A file that cannot be read is parsed anyway, to
        be reported. With ``memo`` (a name for the filter), the documents ``keep`` refused are remembered in this
        machine's cache and not read again: only for a filter that refuses documents in a final state, which
        itref never rewrites (a finished or cancelled routine run, an applied or cancelled change). Two years of
        finished routine runs are thousands of files; the cache is only ever a shortcut, rebuilt when missing."""
        self.folder.check()
        self.problems = []
        out = []
        folder = str(self.path)
        known = self._refused(memo) if keep is not None and memo else None
        refused: dict[str, str] = {}
        for name in self.names():
            text = None
            if keep is not None:  # plain reads: thousands of finished routine runs are looked at and left
                stamp = _stamp(os.path.join(folder, name + SUFFIX)) if known is not None else ""
                if known is not None and stamp and known.get(name) == stamp:
                    refused[name] = stamp  # the very file the filter refused before (same size and time)
                    continue
                try:
                    with open(os.path.join(folder, name + SUFFIX), "rb") as fh:
                        text = fh.read().decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    text = None  # parsed below, to be reported
                else:
                    if not keep(text):
                        if known is not None and stamp:
                            refused[name] = stamp
                        continue
            data, problem = self._load(self.path / f"{name}{SUFFIX}", text)
            if problem is not None:
                self._note(problem)
            elif data is not None:
                out.append((name, data))
        if known is not None and memo and refused != known:
            self._remember(memo, refused)
        return out

    def _memo_file(self, memo: str) -> Path:
        return self.folder.cache_dir("documents", create=False) / f"{self.kind}.{memo}.txt"

    def _refused(self, memo: str) -> dict[str, str]:
        """Return the documents the filter ``memo`` refused before, each with the size and time its file had
        then (empty when unknown)."""
        try:
            lines = self._memo_file(memo).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return {}
        return dict(line.split(" ", 1) for line in lines if " " in line)

    def _remember(self, memo: str, refused: dict[str, str]) -> None:
        """Keep in this machine's cache which documents the filter ``memo`` refused (best effort)."""
        from itref.core.errors import StateError
        from itref.core.files import write_private

        try:
            self.folder.cache_dir("documents")
            write_private(self._memo_file(memo), "".join(f"{n} {refused[n]}\n" for n in sorted(refused)))
        except (StateError, OSError):
            pass  # a cache that cannot be written only costs the next reader some reads

    @staticmethod
    def _load(path: Path, text: str | None = None) -> tuple[dict[str, Any] | None, Problem | None]:
        import yaml

        if text is None:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return None, Problem(path, 0, str(exc))
        marker = _CONFLICT.search(text)
        if marker is not None:
            return None, Problem(path, text.count("\n", 0, marker.start()) + 1, _(
                "a merge left its conflict markers here (<<<<<<<, =======, >>>>>>>): keep the right lines and "
                "remove the markers"))
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there
        try:
            if _MAYBE_ALIAS.search(text):  # itref never writes anchors: a text with aliases was written by hand,
                alias = next((e for e in yaml.parse(text, Loader=loader) if isinstance(e, yaml.AliasEvent)), None)
                if alias is not None:  # and a few of them can expand into billions of values
                    return None, Problem(path, alias.start_mark.line + 1, _(
                        "YAML aliases (*{name}) are not read in state files (itref never writes them): write the "
                        "value itself").format(name=alias.anchor))
            data = yaml.load(text, Loader=loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            return None, Problem(path, mark.line + 1 if mark else 0, _("this is not valid YAML ({detail})").format(
                detail=getattr(exc, "problem", None) or exc))
        except (ValueError, OverflowError) as exc:  # a date that does not exist (2027-13-45)
            return None, _bad_value(path, text, exc)
        except RecursionError:
            return None, Problem(path, 0, _("the text is nested too deeply to be read"))
        if not isinstance(data, dict):
            return None, Problem(path, 1, _("this is not a list of 'key: value' lines"))
        return data, None


_KINDS: dict[str, type | None] = {"None": type(None), "str": str, "int": int, "bool": bool, "float": float,
                                  "dict": dict, "list": list}


def check_types(record: Any) -> None:
    """Check that each field of the dataclass instance ``record``, read from a document a person may have edited,
    holds the kind of value its annotation names (``str | None``, ``dict[...]``, ``list[...]``, ``int``...; other
    annotations are not checked). Raises TypeError naming the first field that does not."""
    from dataclasses import fields

    for f in fields(record):
        wanted = [_KINDS.get(part.strip().split("[", 1)[0]) for part in str(f.type).split("|")]
        if None in wanted:  # an annotation this check does not know: left to the code that uses it
            continue
        value = getattr(record, f.name)
        if not isinstance(value, tuple(k for k in wanted if k is not None)) or (
                isinstance(value, bool) and bool not in wanted and int in wanted):
            raise TypeError(f.name)


def _stamp(path: str) -> str:
    """Return the size and modification time of the file at ``path`` as one word ("" when it cannot be read):
    a file put back by ``git revert`` or a merge gets a new time, so it is read again."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}"


def _bad_value(path: Path, text: str, exc: Exception) -> Problem:
    """Return the problem of a document whose YAML is well formed but holds a value that cannot be made (a date
    that does not exist), at the line of that value when it can be found."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        root = None
    loader = yaml.SafeLoader("")
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack.extend(v for pair in node.value for v in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                loader.construct_yaml_timestamp(node)
            except (ValueError, OverflowError):
                return Problem(path, node.start_mark.line + 1,
                               _("{value} is not a date that exists").format(value=node.value))
    return Problem(path, 0, _("a value cannot be read ({detail})").format(detail=str(exc) or type(exc).__name__))
