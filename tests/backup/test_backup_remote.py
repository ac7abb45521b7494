"""Backups checked on other hosts: restic over the suite's sshd, wbadmin and Veeam over the WinRM endpoint."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from itref.backup.veeam import SCRIPT as VEEAM_SCRIPT
from itref.core.status import ExitStatus
from itref.lab.peers.repos import RESTIC_PASSWORD, RepoLab
from itref.lab.peers.winrm_endpoint import CommandReply, WinRMEndpoint
from itref.lab.peers.winrm_fixtures import FakeWindows
from itref.lab.windows import wbadmin_output
from tests.backup.conftest import restore_tested
from tests.conftest import ssh_host_entry

pytestmark = pytest.mark.peer

WBADMIN_BODY = "& 'wbadmin' 'get' 'versions'"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[WinRMEndpoint]:
    with WinRMEndpoint(users={"itref": "S3cret!"}, domain="LAB", default_codepage=850) as ep:
        yield ep


@pytest.fixture
def windows(endpoint: WinRMEndpoint, monkeypatch) -> FakeWindows:
    endpoint.reset()
    fake = FakeWindows("SRV-BACKUP")
    endpoint.handler = fake
    monkeypatch.setenv("WINRM_PW", "S3cret!")
    return fake


def write_project(tmp_path: Path, hosts: dict, backups: list[dict]) -> str:
    inv = {"version": 1, "organisation": "Test", "secrets": {"restic-pw": {"env": "RESTIC_PW"}},
           "entities": {"commune": {"title": "Commune", "hosts": hosts}}}
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "commune.yaml").write_text(json.dumps({"entity": "commune", "backups": backups}))
    (tmp_path / "inventory.yaml").write_text(json.dumps(inv))
    return str(tmp_path / "inventory.yaml")


def win_host(ep: WinRMEndpoint) -> dict:
    return {"connection": "winrm", "address": "127.0.0.1", "port": ep.port, "scheme": "http", "transport": "basic",
            "user": "itref", "password": {"env": "WINRM_PW"}, "tags": ["windows"]}


@pytest.mark.parametrize("french", [False, True], ids=["english-windows", "french-windows"])
def test_wbadmin_versions_over_winrm(windows, endpoint, tmp_path, cli, french: bool) -> None:
    now = datetime.now(UTC)
    windows.replies[WBADMIN_BODY] = CommandReply(stdout=wbadmin_output(french, now - timedelta(hours=7)))
    inv = write_project(tmp_path, {"srv-files": win_host(endpoint)},
                        [{"name": "system-image", "kind": "wbadmin", "host": "srv-files", "max_age": "26h"}])
    result = cli("-i", inv, "-f", "json", "backup", "check")
    finding = json.loads(result.out)[0]
    assert result.rc == 0, result.all
    assert finding["severity"] == "ok" and "last backup 7 hours ago" in finding["message"]
    windows.replies[WBADMIN_BODY] = CommandReply(stdout=wbadmin_output(french, now - timedelta(days=4)))
    stale = json.loads(cli("-i", inv, "-f", "json", "backup", "check").out)[0]
    assert stale["severity"] == "critical" and "4 days ago" in stale["message"]


def test_veeam_last_sessions_over_winrm(windows, endpoint, tmp_path, cli) -> None:
    ended = (datetime.now(UTC) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    sessions = [{"job": "CPAS-VMs", "result": "Success", "end": ended, "size": 52_000_000_000},
                {"job": "Commune-Files", "result": "Failed", "end": ended, "size": 0}]
    windows.replies[VEEAM_SCRIPT.strip()] = CommandReply(stdout=json.dumps(sessions) + "\r\n")
    windows.replies[VEEAM_SCRIPT] = windows.replies[VEEAM_SCRIPT.strip()]
    inv = write_project(tmp_path, {"srv-veeam": win_host(endpoint)}, [
        {"name": "vms", "kind": "veeam", "host": "srv-veeam", "job": "CPAS-VMs", "max_age": "26h"},
        {"name": "files", "kind": "veeam", "host": "srv-veeam", "job": "Commune-Files", "max_age": "26h"},
        {"name": "gone", "kind": "veeam", "host": "srv-veeam", "job": "Old-Job", "max_age": "26h"}])
    result = cli("-i", inv, "-f", "json", "backup", "check")
    found = {f["subject"]: f for f in json.loads(result.out)}
    assert found["vms"]["severity"] == "ok", found["vms"]["message"]
    assert found["files"]["severity"] == "critical" and "'Failed'" in found["files"]["message"]
    assert found["gone"]["severity"] == "critical" and "Old-Job" in found["gone"]["message"]
    assert result.rc == ExitStatus.CHECK_CRITICAL
    assert endpoint.shells_opened == 1  # the three backups of that host shared one shell


def test_restic_repository_checked_over_ssh(sshd, ssh_user, tmp_path_factory, tmp_path, cli, monkeypatch) -> None:
    import os
    import subprocess

    lab = RepoLab(Path(f"/tmp/itref-ssh-restic-{os.getpid()}"))
    try:
        repo = lab.restic_repo("nas-repo", lab.source("nas-data"))
        subprocess.run(["chown", "-R", f"{ssh_user.name}:", str(lab.root)], check=True)
        lab.root.chmod(0o755)
        monkeypatch.setenv("RESTIC_PW", RESTIC_PASSWORD)
        inv = write_project(tmp_path, {"nas01": ssh_host_entry(sshd)},
                            [{"name": "nas-restic", "kind": "restic", "host": "nas01", "repository": str(repo),
                              "password": {"secret": "restic-pw"}, "max_age": "26h",
                              "expected_hostname": "fileserver"}])
        restore_tested("commune", "nas-restic")
        result = cli("-i", inv, "-f", "json", "backup", "check")
        finding = json.loads(result.out)[0]
        assert result.rc == 0, result.all
        assert finding["severity"] == "ok" and finding["host"] == "nas01"
        assert finding["message"].startswith("nas-restic — Commune, restic nas01:")
        assert finding["evidence"]["hostname"] == "fileserver"
    finally:
        shutil.rmtree(lab.root, ignore_errors=True)


def test_unreachable_backup_host_is_unknown(tmp_path, cli, monkeypatch) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    monkeypatch.setenv("RESTIC_PW", "x")
    inv = write_project(tmp_path, {"nas02": {"address": "127.0.0.1", "port": port, "user": "x"}},
                        [{"name": "offline", "kind": "restic", "host": "nas02", "repository": "/srv/r",
                          "password": {"secret": "restic-pw"}, "max_age": "26h"}])
    result = cli("-i", inv, "-f", "json", "backup", "check")
    finding = json.loads(result.out)[0]
    assert finding["severity"] == "unknown" and "connection refused" in finding["message"]
    assert result.rc == ExitStatus.CHECK_UNKNOWN
