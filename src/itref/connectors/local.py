"""The ``local`` connector: runs commands on this machine, without a shell unless asked."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from itref.connectors.base import Command, Connector
from itref.core.errors import ConnectionFailed
from itref.core.results import CommandResult
from itref.i18n import _


class LocalConnector(Connector):
    """Runs on the machine itref runs on. Settings: ``sudo_password`` (for steps with ``sudo: true``)."""

    kind = "local"
    shell_family = "posix"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def open(self) -> None:
        """Nothing to open; kept for the contract."""
        self._closed = False

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

            ref = self.host.option("sudo_password")
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
            self._running.add(proc)
        timed_out = False
        try:
            out, err = proc.communicate(stdin, timeout=command.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            out, err = proc.communicate()
        finally:
            with self._lock:
                self._running.discard(proc)
        return CommandResult(
            None if timed_out else proc.returncode,
            out.decode("utf-8", errors="replace"),
            err.decode("utf-8", errors="replace"),
            time.monotonic() - start,
            timed_out=timed_out,
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
        """Kill any command still running (e.g. after Ctrl-C)."""
        self._closed = True
        with self._lock:
            running = list(self._running)
        for proc in running:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
