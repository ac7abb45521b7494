"""The local connector honours the connector contract."""

from __future__ import annotations

import os
import time
from pathlib import Path

from itref.config.project import HostSpec
from itref.connectors import connectors
from itref.connectors.base import Command
from itref.connectors.local import LocalConnector
from itref.secrets import SecretResolver

HOST = HostSpec("here", "shared", "local", "here", (), None)


def connector() -> LocalConnector:
    conn = LocalConnector(HOST, SecretResolver(interactive=False))
    conn.open()
    return conn


def test_registry_resolves_local_lazily() -> None:
    assert connectors.get("local") is LocalConnector
    assert {"local", "ssh", "winrm"} <= set(connectors.names())


def test_run_returns_rc_stdout_stderr_and_duration() -> None:
    res = connector().run(Command.of(["sh", "-c", "echo out; echo err >&2; exit 4"]))
    assert (res.rc, res.stdout, res.stderr, res.timed_out) == (4, "out\n", "err\n", False)
    assert 0 < res.duration < 5


def test_missing_program_is_rc_127_not_an_exception() -> None:
    res = connector().run(Command.of(["/nonexistent/prog"]))
    assert res.rc == 127 and "not found" in res.stderr


def test_stdin_is_closed_so_a_prompt_cannot_hang() -> None:
    res = connector().run(Command.of(["sh", "-c", "read x; echo got:$?"], timeout=5))
    assert res.stdout == "got:1\n"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child-survived"
    start = time.monotonic()
    res = connector().run(Command.of(f"(sleep 2; touch {marker}) & sleep 30", timeout=0.5))
    assert res.timed_out and res.rc is None and time.monotonic() - start < 5
    time.sleep(2.5)
    assert not marker.exists()


def test_put_and_get_copy_files(tmp_path: Path) -> None:
    src = tmp_path / "a"
    src.write_text("payload")
    conn = connector()
    conn.put(src, str(tmp_path / "b"), mode=0o640)
    assert (tmp_path / "b").read_text() == "payload" and (os.stat(tmp_path / "b").st_mode & 0o777) == 0o640
    conn.get(str(tmp_path / "b"), tmp_path / "c")
    assert (tmp_path / "c").read_text() == "payload"


def test_utf8_output_is_decoded() -> None:
    assert connector().run(Command.of(["printf", "Opération réussie"])).stdout == "Opération réussie"
