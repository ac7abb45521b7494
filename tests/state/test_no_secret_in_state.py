"""No secret ever reaches the state folder: canary secrets used by every kind of command (the directory's bind
password and a new account's password on the real DC, a restic repository's password, a WinRM password, a
routine's answer marked secret) are found in no file of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itref.lab.peers.repos import RESTIC_PASSWORD, RepoLab
from itref.lab.peers.winrm_endpoint import WinRMEndpoint
from itref.lab.peers.winrm_fixtures import FakeWindows
from tests.conftest import AD_PASSWORD_VAR, state_text

pytestmark = pytest.mark.peer

WINRM_CANARY = "Canary-WinRM-7q2Lx9"
ROUTINE_CANARY = "Canary-Answer-3vR8p"


def test_no_canary_secret_of_any_command_reaches_any_file_of_the_state_folder(
        ad_project, samba_dc, cli, tmp_path: Path, state_dir: Path, monkeypatch) -> None:
    repos = RepoLab(tmp_path / "repos")
    repo = repos.restic_repo("nas", repos.source("data"))
    monkeypatch.setenv("RESTIC_PW", RESTIC_PASSWORD)
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    monkeypatch.setenv("ITREF_TEST_WINRM_PW", WINRM_CANARY)
    with WinRMEndpoint(users={"itref": WINRM_CANARY}, default_codepage=850) as endpoint:
        endpoint.handler = FakeWindows()
        inventory = json.loads(ad_project.read_text())
        inventory["secrets"] = {"restic-pw": {"env": "RESTIC_PW"}, "win-pw": {"env": "ITREF_TEST_WINRM_PW"}}
        inventory["entities"]["shared"] = {"title": "Shared", "hosts": {
            "here": {"connection": "local"},
            "win-srv": {"connection": "winrm", "address": "127.0.0.1", "port": endpoint.port, "scheme": "http",
                        "transport": "basic", "user": "itref", "password": {"secret": "win-pw"},
                        "tags": ["windows"]}}}
        ad_project.write_text(json.dumps(inventory))
        (ad_project.parent / "playbooks" / "shared.yaml").write_text(json.dumps({
            "entity": "shared",
            "backups": [{"name": "nas", "kind": "restic", "repository": str(repo),
                         "password": {"secret": "restic-pw"}, "max_age": "26h"}],
            "routines": {"reset-service-password": {
                "description": "Give the service its new password",
                "ask": {"pw": {"prompt": "New password", "secret": True}, "who": {"prompt": "For whom"}},
                "steps": [
                    {"description": "Show it (a careless step)", "run": {"command": ["echo", "{pw}"],
                                                                         "limit": "here"}},
                    {"description": "Type it into the service's console", "manual": "Type {pw} for {who}"},
                ]}}}))
        inv = str(ad_project)
        pw_file = tmp_path / "new-pw"
        created = cli("-i", inv, "-f", "json", "ad", "user", "create", "--template", "cpas/social-worker",
                      "--first", "Cana", "--last", "Ry", "--password-file", str(pw_file), "--yes")
        assert created.rc == 0, created.all
        login = json.loads(created.out)["plan"]["login"]
        steps = [
            ["ad", "user", "offboard", login, "--reason", "end of the test", "--yes"],
            ["ad", "report"],
            ["backup", "check"], ["backup", "verify"], ["backup", "drill"],
            ["run", "--limit", "win-srv", "--", "hostname"],
            ["audit", "--limit", "win-srv"],
            ["playbook", "run", "shared/reset-service-password", "--set", f"pw={ROUTINE_CANARY}", "--set",
             "who=the NAS", "--yes"],
            ["handover", "--output", str(tmp_path / "pack")],
        ]
        outputs = []
        for args in steps:
            result = cli("-i", inv, *args)
            outputs.append(result.all)
            assert result.rc in (0, 1, 6, 7, 8), (args, result.all)
    text = state_text(state_dir)
    # every kind of record is there, so the search covers them all
    for kind in ("journal", "audits", "backups", "routines", "departed"):
        assert list(state_dir.glob(f"{kind}/**/*.*")), kind
    new_password = pw_file.read_text().strip()
    for name, secret in (("directory bind password", samba_dc.admin_password), ("new account's password",
                         new_password), ("restic password", RESTIC_PASSWORD), ("WinRM password", WINRM_CANARY),
                         ("routine answer marked secret", ROUTINE_CANARY)):
        assert secret not in text, name
        for out in outputs:
            assert secret not in out or name == "new account's password", (name, out)
    (run,) = list(state_dir.glob("routines/*.yaml"))
    assert "pw:" not in run.read_text() and "who: the NAS" in run.read_text()  # the secret answer is not kept
    assert AD_PASSWORD_VAR  # the bind password came from this variable, never from a file of the project
