"""itref's own crontab entries, made from the schedules written in the playbooks.

``audits.schedule`` of an entity becomes ``itref -i INVENTORY audit --quiet --limit entity:NAME``, a
routine's ``schedule`` becomes ``itref -i INVENTORY playbook run ENTITY/ROUTINE --yes`` and a backup's
``verify_schedule`` becomes ``itref -i INVENTORY backup verify --entity ENTITY NAME``; while directory changes
wait for their date (``itref ad user offboard --at``), ``itref -i INVENTORY schedule run`` runs every five
minutes. The lines of one inventory sit in one block::

    # BEGIN itref 3f2a9c1b7e4d /srv/it/inventory.yaml (managed by itref schedule; ...)
    0 7 * * 1 PATH=... /opt/itref/bin/itref -i /srv/it/inventory.yaml audit ... # itref:3f2a9c1b7e4d:audit:commune
    # END itref 3f2a9c1b7e4d

where the key is a hash of the inventory's absolute path. Installing replaces that block (or adds it
at the end), removing takes it out; every other line of the crontab is kept byte for byte. The
crontab is read and written with the ``crontab`` command, or is a plain file (``--crontab-file``).
Environment settings are written inside each command (``PATH=... cmd``), never as crontab variable
lines, which would change the user's own lines below the block.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from itref.core.errors import ItrefError
from itref.core.status import ExitStatus
from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.project import Project

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH given to the cron jobs after the folder of the itref executable (cron's own is /usr/bin:/bin)."""
MAX_COMMAND = 990
"""Longest command cron accepts (its limit is 1000 characters)."""
CRONTAB_ENV = "ITREF_CRONTAB_FILE"
"""Environment variable naming a plain file to use instead of the user's crontab."""
_TAGGED = re.compile(r"\s#\s*itref:(?P<key>[0-9a-f]{12}):(?P<what>\S+)\s*$")
_SCHEDULE = re.compile(r"^\s*(?P<schedule>@\w+|(?:\S+\s+){4}\S+)\s+(?P<command>.*?)\s+#\s*itref:")


def cron_problem(text: str) -> str | None:
    """Return why ``text`` is not a schedule cron would run, for a person (None when it is one)."""
    from itref.cron import CronError, CronSchedule

    try:
        CronSchedule.parse(text)
    except CronError as exc:
        return str(exc)
    return None


class ScheduleError(ItrefError):
    """The crontab could not be read or written, or an entry cannot be expressed as a cron line."""

    status = ExitStatus.FAILURE


def inventory_key(inventory: Path) -> str:
    """Return the 12-hex-digit key of an inventory (a hash of its absolute path)."""
    return hashlib.sha256(str(inventory.expanduser().resolve()).encode("utf-8")).hexdigest()[:12]


def itref_command() -> list[str]:
    """Return the command that runs this itref: the ``itref`` executable that is running, resolved,
    or ``python -m itref`` with the running interpreter (not resolved: that would leave its venv)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "itref":
        path = Path(argv0).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return [str(path.resolve())]
    return [os.path.abspath(sys.executable), "-m", "itref"]


def cron_environment(command: list[str], operator: str | None = None) -> dict[str, str]:
    """Return the variables every cron line sets: PATH (itref's folder first), ITREF_VIA=cron (records say cron
    ran them), ITREF_OPERATOR (the person who installed the schedule, answerable for what it does) when known,
    and ITREF_STATE_DIR when set."""
    env = {"PATH": f"{Path(command[0]).parent}:{SYSTEM_PATH}", "ITREF_VIA": "cron"}
    if operator:
        env["ITREF_OPERATOR"] = operator
    state = os.environ.get("ITREF_STATE_DIR")
    if state:
        env["ITREF_STATE_DIR"] = str(Path(state).expanduser().resolve())
    return env


@dataclass(frozen=True)
class CronEntry:
    """One scheduled itref command."""

    what: str
    """``audit:ENTITY``, ``routine:ENTITY/ROUTINE`` or ``backup-verify:ENTITY/BACKUP``."""
    schedule: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    key: str

    @property
    def command(self) -> str:
        """Return the shell command (variables first), as /bin/sh will run it."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        cmd = " ".join(shlex.quote(a) for a in self.argv)
        return f"{env} {cmd}" if env else cmd

    def line(self) -> str:
        """Return the crontab line (``%`` escaped, ending with the itref tag, no newline).

        Raises ScheduleError when the command cannot be a crontab line (newline, too long).
        """
        command = self.command.replace("%", "\\%")
        if "\n" in command or "\r" in command:
            raise ScheduleError(_("{what}: a path contains a line break; cron cannot run it").format(what=self.what))
        command = f"{command} # itref:{self.key}:{self.what}"  # cron hands the tag to sh too (a comment there)
        if len(command) > MAX_COMMAND:
            raise ScheduleError(_("{what}: the command is {n} characters long, more than cron accepts ({max}); "
                                  "move itref or the inventory to a shorter path").format(
                what=self.what, n=len(command), max=MAX_COMMAND))
        return f"{self.schedule} {command}"


def planned_entries(project: Project, *, command: list[str] | None = None, env: dict[str, str] | None = None,
                    playbooks_dir: Path | None = None) -> list[CronEntry]:
    """Return the cron entries the playbooks ask for, entities in name order: audit, routines, backup verifies.

    ``playbooks_dir`` is added as ``--playbooks`` when the playbooks are not in ``playbooks/`` beside
    the inventory.
    """
    command = command or itref_command()
    env = cron_environment(command, project.state.operator.name) if env is None else env
    inventory = project.inventory_path.expanduser().resolve()
    key = inventory_key(inventory)
    base = [*command, "-i", str(inventory)]
    if playbooks_dir is not None:
        base += ["--playbooks", str(playbooks_dir.expanduser().resolve())]
    variables = tuple(env.items())
    out: list[CronEntry] = []
    for entity in sorted(project.playbooks):
        book = project.playbooks[entity]
        if book.audits.schedule:
            out.append(CronEntry(f"audit:{entity}", book.audits.schedule,
                                 (*base, "audit", "--quiet", "--limit", f"entity:{entity}"), variables, key))
        for name in sorted(book.routines):
            routine = book.routines[name]
            if routine.schedule:
                out.append(CronEntry(f"routine:{entity}/{name}", routine.schedule,
                                     (*base, "playbook", "run", f"{entity}/{name}", "--yes"), variables, key))
        for backup in book.backups:
            if backup.verify_schedule:
                out.append(CronEntry(f"backup-verify:{entity}/{backup.name}", backup.verify_schedule,
                                     (*base, "backup", "verify", "--entity", entity, backup.name), variables, key))
    if has_pending_changes(project):
        out.append(CronEntry(PENDING_WHAT, PENDING_SCHEDULE, (*base, "schedule", "run"), variables, key))
    return out


PENDING_WHAT = "pending-changes"
PENDING_SCHEDULE = "*/5 * * * *"
"""How often ``itref schedule run`` looks for due changes while some are pending (every five minutes)."""


def has_pending_changes(project: Project) -> bool:
    """Return True when the project's state holds a directory change waiting for its date."""
    from itref.ad.scheduled import ScheduledChanges

    return any(c.status == "pending" for c in ScheduledChanges(project.state).list())


def _begin(key: str) -> str:
    return f"# BEGIN itref {key}"


def _end(key: str) -> str:
    return f"# END itref {key}"


def render_block(inventory: Path, entries: list[CronEntry]) -> str:
    """Return the block of ``entries`` (with its BEGIN/END lines and a final newline); empty when none."""
    if not entries:
        return ""
    inventory = inventory.expanduser().resolve()
    key = inventory_key(inventory)
    where = str(inventory).replace("\n", " ")
    head = (f"{_begin(key)} {where} (managed by `itref schedule`: edit the playbooks, then run "
            f"`itref -i {where} schedule install`)")
    return "\n".join([head, *(e.line() for e in entries), _end(key)]) + "\n"


def split_block(text: str, key: str) -> tuple[list[str], int | None, list[str]]:
    """Return (the other lines, where the block was among them, itref's lines) of a crontab text.

    itref's lines are its BEGIN..END block for ``key`` and any line tagged ``# itref:KEY:`` elsewhere.
    A BEGIN without its END takes only the lines tagged as itref's. Lines keep their line ends.
    """
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    ours: set[int] = set()
    start = next((i for i, line in enumerate(bare) if line == _begin(key) or line.startswith(_begin(key) + " ")),
                 None)
    if start is not None:
        stop = next((j for j in range(start + 1, len(bare)) if bare[j].strip() == _end(key)), None)
        ours.update(range(start, (stop if stop is not None else start) + 1))
    for i, line in enumerate(bare):
        m = _TAGGED.search(line)
        if (m and m.group("key") == key) or line.strip() == _end(key):
            ours.add(i)
    kept = [line for i, line in enumerate(lines) if i not in ours]
    position = None if start is None else sum(1 for i in range(start) if i not in ours)
    return kept, position, [lines[i] for i in sorted(ours)]


def with_block(text: str, key: str, block: str) -> str:
    """Return ``text`` with itref's block for ``key`` replaced by ``block`` (in place, or added at the end)."""
    kept, position, _ours = split_block(text, key)
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"  # cron needs every line ended
    if position is None:
        position = len(kept)
    return "".join(kept[:position]) + block + "".join(kept[position:])


def without_block(text: str, key: str) -> str:
    """Return ``text`` without itref's lines for ``key``; every other line is kept byte for byte."""
    kept, _position, _ours = split_block(text, key)
    return "".join(kept)


@dataclass(frozen=True)
class InstalledEntry:
    """An itref line found in a crontab."""

    what: str
    schedule: str
    command: str
    line: str


def installed(text: str, key: str) -> list[InstalledEntry]:
    """Return the itref entries of inventory ``key`` present in a crontab text."""
    out = []
    for raw in split_block(text, key)[2]:
        line = raw.rstrip("\r\n")
        tag = _TAGGED.search(line)
        parts = _SCHEDULE.match(line)
        if tag is None or parts is None or line.lstrip().startswith("#"):
            continue
        out.append(InstalledEntry(tag.group("what"), " ".join(parts.group("schedule").split()),
                                  parts.group("command").replace("\\%", "%"), line))
    return out


# --------------------------------------------------------------------------- where the crontab lives


class CrontabFile:
    """A plain file used as the crontab (tests, or a file that a system crontab includes)."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()

    def describe(self) -> str:
        """Return what is edited, for messages."""
        return str(self.path)

    def read(self) -> str:
        """Return the file's text (empty when the file does not exist yet)."""
        try:
            return self.path.read_bytes().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise ScheduleError(_("cannot read {path} ({reason})").format(
                path=self.path, reason=exc.strerror or exc)) from None

    def write(self, text: str) -> None:
        """Replace the file's content atomically, keeping its permissions."""
        tmp = self.path.with_name(f".{self.path.name}.itref-tmp")
        try:
            mode = self.path.stat().st_mode & 0o7777 if self.path.exists() else 0o600
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8", "surrogateescape"))
            os.chmod(tmp, mode)
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ScheduleError(_("cannot write {path} ({reason})").format(
                path=self.path, reason=exc.strerror or exc)) from None


class CrontabCommand:
    """The current user's crontab, through the ``crontab`` command (``crontab -l`` / ``crontab -``)."""

    def __init__(self, program: str = "crontab") -> None:
        self.program = program

    def describe(self) -> str:
        """Return what is edited, for messages."""
        import pwd

        try:
            user = pwd.getpwuid(os.geteuid()).pw_name  # whose crontab `crontab` edits, whatever $USER says
        except KeyError:
            user = str(os.geteuid())
        return _("the crontab of {user}").format(user=user)

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run([self.program, *args], input=None if stdin is None else
                                  stdin.encode("utf-8", "surrogateescape"), capture_output=True, timeout=60,
                                  stdin=subprocess.DEVNULL if stdin is None else None, check=False)
        except FileNotFoundError:
            raise ScheduleError(_("the crontab command is missing (Debian package cron); install it, or use "
                                  "--crontab-file PATH")) from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ScheduleError(_("crontab could not run ({reason})").format(reason=exc)) from None

    def read(self) -> str:
        """Return the crontab's text (empty when the user has none)."""
        proc = self._run(["-l"])
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip()
            if "no crontab" in message.lower():
                return ""
            raise ScheduleError(_("crontab -l failed: {message}").format(message=message or proc.returncode))
        return proc.stdout.decode("utf-8", "surrogateescape")

    def write(self, text: str) -> None:
        """Install ``text`` as the crontab (crontab checks it and refuses a wrong line)."""
        proc = self._run(["-"], stdin=text)
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip()
            raise ScheduleError(_("crontab refused the new table: {message}").format(
                message=message or proc.returncode))


def crontab_store(file: Path | None = None) -> CrontabFile | CrontabCommand:
    """Return where the crontab lives: ``file``, else ``$ITREF_CRONTAB_FILE``, else the ``crontab`` command."""
    if file is None and os.environ.get(CRONTAB_ENV):
        file = Path(os.environ[CRONTAB_ENV])
    return CrontabFile(file) if file is not None else CrontabCommand()


def unified_diff(before: str, after: str, label: str) -> str:
    """Return the unified diff between two crontab texts (empty when they are equal)."""
    import difflib

    def lines(text: str) -> list[str]:
        return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(keepends=True)]

    return "".join(difflib.unified_diff(lines(before), lines(after),
                                        fromfile=_("{where} (now)").format(where=label),
                                        tofile=_("{where} (after)").format(where=label)))
