"""The repository fingerprint cache of ``itref backup check``, against real restic and borg repositories:
an unchanged repository is not opened again (no restic or borg runs at all), any change, lock, new password
reference, --fresh or an expired cache opens it, and an old backup stays CRITICAL from the cache."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from itref.backup import borg as borg_kind
from itref.backup import restic as restic_kind
from itref.backup.history import History
from itref.core.status import ExitStatus
from itref.lab.peers.repos import BORG_PASSPHRASE, RESTIC_PASSWORD, RepoLab
from tests.backup.conftest import restore_tested
from tests.backup.test_backup_check import borg as brg
from tests.backup.test_backup_check import borg_lock_held, by_name, hold_foreign_restic_lock, project
from tests.backup.test_backup_check import restic as rest

pytestmark = pytest.mark.peer


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """Put a restic and a borg first on PATH that only count their calls and fail; return the call log."""
    log = tmp_path / "tool-calls.log"
    log.write_text("")
    fake = tmp_path / "fakebin"
    fake.mkdir()
    for tool in ("restic", "borg"):
        script = fake / tool
        script.write_text(f"#!/bin/sh\necho {tool} >> '{log}'\necho '{tool}: fake, must not run' >&2\nexit 99\n")
        script.chmod(0o755)

    def install() -> Path:
        import os

        monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
        return log

    return install


def check(cli, inv: Path, *extra: str) -> tuple[int, dict[str, dict]]:
    result = cli("-i", str(inv), "-f", "json", "backup", "check", *extra)
    return result.rc, by_name(result)


def test_unchanged_repositories_are_not_opened_and_fresh_opens_them(lab, tmp_path, cli, fake_tools) -> None:
    src = lab.source("unchanged")
    inv = project(tmp_path, [rest("r", lab.restic_repo("c-r1", src), size_change="±50%"),
                             brg("b", lab.borg_repo("c-b1", src))])
    restore_tested("cpas", "r", "b")
    rc, first = check(cli, inv)
    assert rc == ExitStatus.SUCCESS and first["r"]["evidence"]["reused"] is False
    assert first["b"]["evidence"]["reused"] is False and first["b"]["evidence"]["fingerprint"]
    calls = fake_tools()  # from here on, any restic or borg call would fail the check and be logged
    rc, second = check(cli, inv)
    assert calls.read_text() == "", "an unchanged repository was opened"
    assert rc == ExitStatus.SUCCESS, second
    for name in ("r", "b"):
        ev, was = second[name]["evidence"], first[name]["evidence"]
        assert second[name]["severity"] == "ok" and ev["reused"] is True and ev["opened"] == was["opened"]
        assert (ev["snapshot"], ev["size"], ev["files"]) == (was["snapshot"], was["size"], was["files"])
        assert "unchanged since it was read" in second[name]["message"]
    table = cli("-i", str(inv), "backup", "check")
    assert "unchanged since it was read 0 minutes ago" in " ".join(table.out.split()) and calls.read_text() == ""
    rc, fresh = check(cli, inv, "--fresh")
    assert sorted(calls.read_text().split()) == ["borg", "restic"]
    assert {f["severity"] for f in fresh.values()} == {"unknown"} and rc == ExitStatus.CHECK_UNKNOWN
    assert "--no-cache" in cli("backup", "check", "--help").out


def test_new_snapshot_or_archive_reopens(lab, tmp_path, cli) -> None:
    src = lab.source("grows")
    r = lab.restic_repo("c-r2", src, age=timedelta(hours=2))
    b = lab.borg_repo("c-b2", src, age=timedelta(hours=2))
    inv = project(tmp_path, [rest("r", r), brg("b", b)])
    restore_tested("cpas", "r", "b")
    _rc, first = check(cli, inv)
    lab.run("restic", "--repo", str(r), "backup", "--host", "fileserver", str(src), password=RESTIC_PASSWORD)
    lab.run("borg", "create", f"{b}::second", str(src), password=BORG_PASSPHRASE)
    _rc, second = check(cli, inv)
    for name in ("r", "b"):
        assert second[name]["evidence"]["reused"] is False, second[name]
        assert second[name]["evidence"]["snapshot"] != first[name]["evidence"]["snapshot"]
        assert "0 minutes ago" in second[name]["message"]
    _rc, third = check(cli, inv)
    assert third["r"]["evidence"]["reused"] and third["b"]["evidence"]["reused"]
    assert third["b"]["evidence"]["snapshot"] == "second"


def test_a_lock_reopens(lab, tmp_path, cli) -> None:
    src = lab.source("locked", files=40, size=200_000)
    r = lab.restic_repo("c-r3", src)
    b = lab.borg_repo("c-b3", src)
    inv = project(tmp_path, [rest("r", r), brg("b", b)])
    restore_tested("cpas", "r", "b")
    _rc, first = check(cli, inv)
    assert first["r"]["severity"] == "ok" and first["b"]["severity"] == "ok"
    hold_foreign_restic_lock(lab, r)
    with borg_lock_held(lab, b):
        _rc, locked = check(cli, inv)
    assert locked["r"]["severity"] == "unknown" and "restic unlock" in locked["r"]["message"], locked["r"]
    assert locked["b"]["severity"] == "unknown" and "break-lock" in locked["b"]["message"], locked["b"]
    assert "reused" not in locked["r"]["evidence"]


def test_password_reference_change_or_expired_cache_reopens(lab, tmp_path, cli, monkeypatch) -> None:
    src = lab.source("pwref")
    r = lab.restic_repo("c-r4", src)
    inv = project(tmp_path, [rest("r", r)])
    check(cli, inv)
    assert check(cli, inv)[1]["r"]["evidence"]["reused"] is True
    monkeypatch.setenv("OTHER_PW", RESTIC_PASSWORD)
    inv = project(tmp_path, [{**rest("r", r), "password": {"env": "OTHER_PW"}}])
    assert check(cli, inv)[1]["r"]["evidence"]["reused"] is False
    assert check(cli, inv)[1]["r"]["evidence"]["reused"] is True
    monkeypatch.setenv("OTHER_PW", "not-the-password")  # same reference, wrong value: only a re-open can tell
    inv = project(tmp_path, [{**rest("r", r), "password": {"env": "OTHER_PW"}, "recheck_after": "0s"}])
    found = check(cli, inv)[1]["r"]
    assert found["severity"] == "critical" and "password" in found["message"]


def test_stale_repository_stays_critical_from_the_cache(lab, tmp_path, cli, fake_tools) -> None:
    src = lab.source("stale")
    inv = project(tmp_path, [rest("r", lab.restic_repo("c-r5", src, age=timedelta(days=3))),
                             brg("b", lab.borg_repo("c-b5", src, age=timedelta(days=3)))])
    rc, first = check(cli, inv)
    assert rc == ExitStatus.CHECK_CRITICAL and first["r"]["severity"] == "critical"
    calls = fake_tools()
    rc, second = check(cli, inv)
    assert calls.read_text() == "" and rc == ExitStatus.CHECK_CRITICAL
    for name in ("r", "b"):
        assert second[name]["severity"] == "critical" and second[name]["evidence"]["reused"] is True
        assert "last backup 3 days ago (max 26h)" in second[name]["message"]
        assert "unchanged since it was read" in second[name]["message"]


def test_remote_repositories_have_no_fingerprint() -> None:
    assert restic_kind.local_path("sftp:nas:/srv/restic") is None
    assert restic_kind.local_path("rest:https://nas:8000/") is None
    assert restic_kind.local_path("s3:s3.amazonaws.com/bucket") is None
    assert restic_kind.local_path("local:/srv/restic") == "/srv/restic"
    assert restic_kind.local_path("/srv/restic") == "/srv/restic"
    assert borg_kind.local_path("ssh://backup@nas/./repo") is None
    assert borg_kind.local_path("backup@nas:repo") is None
    assert borg_kind.local_path("file:///srv/borg") == "/srv/borg"
    assert borg_kind.local_path("/srv/borg") == "/srv/borg"


def test_the_evidence_a_check_may_reuse_stays_on_this_machine(tmp_path) -> None:
    """What lets the next check skip opening a repository (fingerprint, facts) is this machine's cache; the shared
    state gets the check's record only."""
    from datetime import UTC, datetime

    from itref.backup.base import Facts, Fingerprint
    from itref.state.folder import StateFolder

    state = StateFolder(tmp_path / "state")
    history = History(state)
    facts = Facts(latest=datetime.now(UTC), latest_id="abc", size=1, files=1, count=1,
                  fingerprint=Fingerprint("f" * 64, locked=False))
    history.record_check("cpas", "r", "restic", "ok", facts, config="cfg")
    assert history.cached("cpas", "r") is not None
    shared = "".join(p.read_text() for p in (tmp_path / "state").rglob("*.jsonl"))
    assert '"backup": "r"' in shared and "f" * 64 not in shared and "cfg" not in shared
    assert (state.cache_dir("backup-evidence") / "cpas--r.json").is_file()
    history.record_check("cpas", "r", "restic", "unknown", Facts(problem="locked"))
    assert history.cached("cpas", "r") is None  # a failed read lends nothing to the next check


def test_fingerprint_over_ssh_reuses_then_reopens(sshd, ssh_user, tmp_path, cli) -> None:
    import os
    import shutil

    from tests.conftest import ssh_host_entry

    remote = RepoLab(Path(f"/tmp/itref-ssh-cache-{os.getpid()}"))
    try:
        repo = remote.restic_repo("nas-repo", remote.source("nas-data"))
        subprocess.run(["chown", "-R", f"{ssh_user.name}:", str(remote.root)], check=True)
        remote.root.chmod(0o755)
        inv = project(tmp_path, [{**rest("nas", repo), "host": "nas01"}], hosts={"nas01": ssh_host_entry(sshd)})
        restore_tested("cpas", "nas")
        first = check(cli, inv)[1]["nas"]
        second = check(cli, inv)[1]["nas"]
        assert first["severity"] == second["severity"] == "ok", (first, second)
        assert first["evidence"]["reused"] is False and second["evidence"]["reused"] is True
        assert second["host"] == "nas01" and "unchanged since it was read" in second["message"]
        (repo / "snapshots" / ("0" * 64)).write_text("")  # a new snapshot file: the fingerprint changes
        third = check(cli, inv)[1]["nas"]
        assert third["evidence"]["reused"] is False
    finally:
        shutil.rmtree(remote.root, ignore_errors=True)
