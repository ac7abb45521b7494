"""The ``local`` connector: runs commands on this machine, without a shell unless asked."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from pydantic import Field

from itref.connectors.base import Command, Connector, ConnectorSettings
from itref.connectors.stopping import stop_local_session
from itref.core.errors import ConnectionFailed
from itref.core.results import CommandResult
from itref.i18n import _
from itref.secrets.refs import SecretRef


class LocalSettings(ConnectorSettings):
    """This machine: itref's own (``connection: local``)."""

    sudo_password: SecretRef | None = Field(
        None, description="Password for steps run with sudo (sudo reads it only if it asks; it never reaches the "
                          "command).", examples=[{"env": "ITREF_SUDO_PASSWORD"}])


class LocalConnector(Connector):
    """Runs on the machine itref runs on. Settings: :class:`LocalSettings`."""

    kind = "local"
    shell_family = "posix"
    Settings = LocalSettings
    settings: LocalSettings

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._running: dict[subprocess.Popen[bytes], None] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._stops_done = threading.Event()
        self._stop_errors: dict[int, str | None] = {}

    def open(self) -> None:
        """Nothing to open; kept for the contract."""
        self._closed = False
        self._stops_done.clear()
        self._stop_errors.clear()

    def _argv(self, command: Command) -> tuple[list[str], bytes | None]:
        argv = ["/bin/sh", "-c", command.argv[0]] if command.shell else list(command.argv)
        stdin = command.stdin
        if command.env:
            from itref.connectors.quoting import posix_join
            from itref.connectors.shellvars import posix_script

            line, stdin = posix_script(command.argv[0] if command.shell else posix_join(command.argv),
                                       dict(command.env), stdin)
            argv = ["/bin/sh", "-c", line]
        if command.sudo and os.geteuid() != 0:
            from itref.connectors.sudo import sudo_argv

            ref = self.settings.sudo_password
            password = None if ref is None else \
                self.secrets.resolve(ref, _("sudo on {host}").format(host=self.host.name)).reveal()
            argv, stdin = sudo_argv(argv, password, stdin)
        return argv, stdin

    def run(self, command: Command) -> CommandResult:
        """Run ``command`` as a child process in its own session; on timeout the whole group is killed."""
        if self._closed:
            raise ConnectionFailed(_("{host}: connection already closed").format(host=self.host.name))
        argv, stdin = self._argv(command)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except FileNotFoundError:
            return CommandResult(127, "", _("command not found: {cmd}").format(cmd=argv[0]) + "\n",
                                 time.monotonic() - start)
        except PermissionError:
            return CommandResult(126, "", _("permission denied: {cmd}").format(cmd=argv[0]) + "\n",
                                 time.monotonic() - start)
        with self._lock:
            late = self._closed  # close() (Ctrl-C) came while it was being started: stop it at once
            if not late:
                self._running[proc] = None
        if late:
            self._stop_errors[proc.pid] = stop_local_session(proc.pid)
        timed_out = False
        stop_error: str | None = None
        try:
            out, err = proc.communicate(stdin, timeout=command.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop_error = stop_local_session(proc.pid)
            out, err, stop_error = _drain(proc, stop_error)
        finally:
            with self._lock:
                self._running.pop(proc, None)
        interrupted = False
        if self._closed and not timed_out:  # close() may be stopping it: it says so once done
            self._stops_done.wait(30)
            interrupted = proc.pid in self._stop_errors
            stop_error = self._stop_errors.get(proc.pid)
        return CommandResult(
            None if timed_out or interrupted else proc.returncode,
            out.decode("utf-8", errors="replace"),
            err.decode("utf-8", errors="replace"),
            time.monotonic() - start,
            timed_out=timed_out,
            interrupted=interrupted,
            stop_error=stop_error,
        )

    def put(self, local: Path, remote: str, mode: int | None = None) -> None:
        """Copy ``local`` to the path ``remote``."""
        shutil.copyfile(local, remote)
        if mode is not None:
            os.chmod(remote, mode)

    def get(self, remote: str, local: Path) -> None:
        """Copy the path ``remote`` to ``local``."""
        shutil.copyfile(remote, local)

    def close(self) -> None:
        """Stop every process of any command still running (e.g. after Ctrl-C); safe to call twice."""
        with self._lock:
            running = list(self._running)
            first = not self._closed
            self._closed = True
        if first:
            for proc in running:
                self._stop_errors[proc.pid] = stop_local_session(proc.pid)
            self._stops_done.set()


def _drain(proc: subprocess.Popen[bytes], stop_error: str | None) -> tuple[bytes, bytes, str | None]:
    """Return what a stopped command wrote (and the stop error). A process that left the command's session
    and keeps its output open would make reading wait forever: after 5 s the pipes are closed."""
    try:
        out, err = proc.communicate(timeout=5)
        return out, err, stop_error
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        return b"", b"", stop_error or _("a process it started keeps its output open on this machine")
