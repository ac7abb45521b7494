"""A secret is masked in every host's output whatever the timing: printed by one host before another host's
connection resolved it, split across several reads, or printed by a routine step before a later step's host
needed it. Real peers: the in-suite WinRM endpoint, an sshd host, this machine."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from itref.lab.peers.winrm_endpoint import WinRMEndpoint
from itref.lab.peers.winrm_fixtures import FakeWindows
from tests.conftest import inventory_yaml, shared_tmp, ssh_host_entry

pytestmark = pytest.mark.peer


@pytest.fixture
def secret_file() -> Iterator[tuple[Path, str]]:
    """A secret in a file only its owner reads (what an inventory's ``{file: ...}`` points at)."""
    secret = f"Winrm-{uuid.uuid4().hex}"
    with shared_tmp("mask") as folder:
        path = folder / "winrm-password"
        path.write_text(secret + "\n")
        path.chmod(0o600)
        yield path, secret


@pytest.fixture
def endpoint(secret_file: tuple[Path, str]) -> Iterator[WinRMEndpoint]:
    with WinRMEndpoint(users={"itref": secret_file[1]}, handler=FakeWindows()) as ep:
        yield ep


def inventory(tmp_path: Path, endpoint: WinRMEndpoint, secret_file: Path) -> str:
    data = {"version": 1, "organisation": "T", "entities": {"shared": {"title": "Shared", "hosts": {
        "admin-workstation": {"connection": "local"},
        "srv-fichiers": {"connection": "winrm", "address": "127.0.0.1", "port": endpoint.port, "scheme": "http",
                         "transport": "basic", "user": "itref", "password": {"file": str(secret_file)}}}}}}
    path = tmp_path / "inventory.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_secret_printed_by_one_host_before_another_resolves_it_is_masked(tmp_path, endpoint, secret_file,
                                                                           itref_bin, fmt) -> None:
    path, secret = secret_file
    result = itref_bin("-i", inventory(tmp_path, endpoint, path), "-f", fmt, "run",
                       "--limit", "admin-workstation,srv-fichiers", "--", "cat", str(path))
    assert secret not in result.out + result.err
    assert "***" in result.out
    assert len([a for a in endpoint.actions() if a == "Create"]) == 1  # the WinRM host was reached with it


def test_a_secret_split_across_reads_is_masked(sshd, tmp_path, cli, monkeypatch) -> None:
    secret = f"Ssh-{uuid.uuid4().hex}"
    monkeypatch.setenv("ITREF_T_MASK_PW", secret)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(inventory_yaml({"srv": ssh_host_entry(sshd, password={"env": "ITREF_T_MASK_PW"})}))
    head, tail = secret[:12], secret[12:]
    result = cli("-i", str(inv), "-f", "json", "run", "--", "sh", "-c",
                 f"printf %s {head}; sleep 0.5; printf %s {tail}; echo; printf %s {head} >&2; sleep 0.5; "
                 f"printf %s {tail} >&2")
    [row] = json.loads(result.out)
    assert (row["stdout"], row["stderr"]) == ("***\n", "***")


def test_a_routine_step_printing_a_password_a_later_step_uses_shows_it_masked(tmp_path, endpoint, secret_file,
                                                                               cli) -> None:
    path, secret = secret_file
    inv = inventory(tmp_path, endpoint, path)
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "shared.yaml").write_text(json.dumps({"entity": "shared", "routines": {"r": {
        "description": "d", "steps": [
            {"description": "look", "run": {"command": ["cat", str(path)], "limit": "admin-workstation"}},
            {"description": "on windows", "run": {"command": ["hostname"], "limit": "srv-fichiers"}}]}}}))
    result = cli("-i", inv, "playbook", "run", "shared/r", "--yes")
    assert result.rc == 0, result.all
    assert secret not in result.all and "***" in result.err
    records = json.loads(cli("journal", "-f", "json").out)
    assert secret not in json.dumps(records)
