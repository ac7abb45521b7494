"""Backup checks against real restic and borg repositories made by the tests."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from itref.core.status import ExitStatus
from itref.lab.peers.repos import BORG_PASSPHRASE, RESTIC_PASSWORD, RepoLab
from tests.backup.conftest import restore_tested

pytestmark = pytest.mark.peer


def project(tmp_path: Path, backups: list[dict], hosts: dict | None = None) -> Path:
    inv = {"version": 1, "organisation": "Test",
           "secrets": {"restic-pw": {"env": "RESTIC_PW"}, "borg-pw": {"env": "BORG_PW"}},
           "entities": {"cpas": {"title": "CPAS", "hosts": hosts or {}}}}
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "cpas.yaml").write_text(json.dumps({"entity": "cpas", "backups": backups}))
    path = tmp_path / "inventory.yaml"
    path.write_text(json.dumps(inv))
    return path


def restic(name: str, repo: Path, **extra) -> dict:
    return {"name": name, "kind": "restic", "repository": str(repo), "password": {"secret": "restic-pw"},
            "max_age": "26h", **extra}


def borg(name: str, repo: Path, **extra) -> dict:
    return {"name": name, "kind": "borg", "repository": str(repo), "password": {"secret": "borg-pw"},
            "max_age": "26h", **extra}


def by_name(result) -> dict[str, dict]:
    assert result.out.strip(), result.all
    return {f["subject"]: f for f in json.loads(result.out)}


def test_fresh_stale_and_borg_are_ok_critical_ok(lab, tmp_path, cli) -> None:
    src = lab.source("acceptance")
    fresh = lab.restic_repo("r-fresh", src)
    stale = lab.restic_repo("r-stale", src, age=timedelta(days=3))
    b = lab.borg_repo("b-fresh", src)
    inv = project(tmp_path, [restic("nas-restic", fresh, size_change="±50%"), restic("old-restic", stale),
                             borg("borg-nas", b)])
    restore_tested("cpas", "nas-restic", "old-restic", "borg-nas")
    result = cli("-i", str(inv), "-f", "json", "backup", "check")
    found = by_name(result)
    assert result.rc == ExitStatus.CHECK_CRITICAL, result.all
    assert [found[n]["severity"] for n in ("nas-restic", "old-restic", "borg-nas")] == ["ok", "critical", "ok"]
    assert "last backup 3 days ago (max 26h)" in found["old-restic"]["message"]
    assert found["old-restic"]["message"].startswith("old-restic — CPAS, restic localhost:")  # its name first
    assert found["nas-restic"]["evidence"]["snapshot"] and found["nas-restic"]["evidence"]["size"] > 0
    assert found["borg-nas"]["evidence"]["files"] == 20 and found["borg-nas"]["evidence"]["hostname"]
    table = cli("-i", str(inv), "backup", "check")
    assert "[CRITICAL]" in table.out and "3 days ago" in table.out and table.rc == ExitStatus.CHECK_CRITICAL


def test_a_borg_archive_made_in_summer_is_dated_right_in_winter(lab, tmp_path, cli) -> None:
    """borg prints archive times in the host's local time; Brussels is UTC+2 in July and UTC+1 in November."""
    b = lab.root / "b-summer"
    lab.run("borg", "init", "--encryption=repokey-blake2", str(b), password=BORG_PASSPHRASE)
    lab.source("summer", files=2)
    lab.run("borg", "create", "--timestamp", "2026-07-01T12:00:00", f"{b}::summer", str(lab.root / "summer"),
            password=BORG_PASSPHRASE)  # borg 1.2 reads --timestamp as UTC
    found = by_name(cli("-i", str(project(tmp_path, [borg("borg-summer", b)])), "-f", "json", "backup", "check",
                        "--fresh"))
    assert found["borg-summer"]["evidence"]["snapshot"] == "summer"
    assert datetime.fromisoformat(found["borg-summer"]["evidence"]["time"]) == datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_each_problem_has_its_own_reason(lab, tmp_path, cli, monkeypatch) -> None:
    src = lab.source("problems")
    good = lab.restic_repo("r-pw", src)
    empty = lab.restic_repo("r-empty")
    b = lab.borg_repo("b-pw", src)
    inv = project(tmp_path, [
        restic("missing", tmp_path / "nowhere"), restic("empty", empty),
        {**restic("wrong-pw", good), "password": {"env": "WRONG_PW"}},
        {**borg("borg-wrong", b), "password": {"env": "WRONG_PW"}},
        borg("borg-missing", tmp_path / "nothing-here")])
    monkeypatch.setenv("WRONG_PW", "not-the-password")
    found = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))
    assert found["missing"]["severity"] == "critical" and "no repository" in found["missing"]["message"]
    assert found["empty"]["severity"] == "critical" and "no snapshot" in found["empty"]["message"]
    assert found["wrong-pw"]["severity"] == "critical" and "password" in found["wrong-pw"]["message"]
    assert "passphrase" in found["borg-wrong"]["message"]
    assert "no repository" in found["borg-missing"]["message"]
    assert "not-the-password" not in json.dumps(found)


@contextlib.contextmanager
def borg_lock_held(lab: RepoLab, repo: Path) -> Iterator[None]:
    """Hold ``repo``'s borg lock (``borg with-lock ... sleep``) for the duration of the block."""
    env = {**lab.env, "BORG_PASSPHRASE": BORG_PASSPHRASE}
    holder = subprocess.Popen(["borg", "with-lock", str(repo), "sleep", "30"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not list(repo.glob("lock.*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(repo.glob("lock.*")), "borg with-lock did not take its lock"
        yield
    finally:
        holder.kill()
        holder.wait()


def hold_foreign_restic_lock(lab: RepoLab, repo: Path) -> None:
    """Leave an exclusive lock in ``repo`` made by a restic on another host name (killed while holding it):
    restic cannot tell whether that process is still alive, so it honours the lock for 30 minutes."""
    env = {**lab.env, "RESTIC_PASSWORD": RESTIC_PASSWORD}
    for _attempt in range(10):
        proc = subprocess.Popen(["unshare", "--uts", "sh", "-c", 'hostname backup-server && exec "$@"', "sh",
                                 "restic", "--repo", str(repo), "check", "--read-data"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10

        def written() -> bool:  # a lock killed half-written is ignored by restic: wait for the whole file
            for p in (repo / "locks").iterdir():
                try:  # restic writes "<id>-tmp-<n>" then renames it: skip those and vanished names
                    if "-tmp-" not in p.name and p.stat().st_size > 100:
                        return True
                except FileNotFoundError:
                    continue
            return False

        while not written() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(0.02)
        proc.kill()
        proc.wait()
        if written():
            return
    raise AssertionError("could not leave a restic lock behind")


def test_locked_repositories_are_unknown_with_the_way_out(lab, tmp_path, cli) -> None:
    src = lab.source("locks", files=40, size=200_000)
    r = lab.restic_repo("r-locked", src)
    b = lab.borg_repo("b-locked", src)
    hold_foreign_restic_lock(lab, r)
    with borg_lock_held(lab, b):
        inv = project(tmp_path, [restic("restic-locked", r), borg("borg-locked", b)])
        found = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))
    assert found["restic-locked"]["severity"] == "unknown", found["restic-locked"]
    assert "restic unlock" in found["restic-locked"]["message"]
    assert found["borg-locked"]["severity"] == "unknown" and "break-lock" in found["borg-locked"]["message"]


def test_file_drops_age_min_size_and_size_drift(tmp_path, cli) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "cpas-2026-11-26.sql.gz").write_bytes(b"x" * 2_000_000)
    os.utime(dumps / "cpas-2026-11-26.sql.gz", (time.time() - 86400, time.time() - 86400))
    backups = [{"name": "sql-dumps", "kind": "files", "path": str(dumps), "pattern": "*.sql.gz", "max_age": "26h",
                "min_size": "1MB", "size_change": "±30%"}]
    inv = project(tmp_path, backups)
    restore_tested("cpas", "sql-dumps")
    first = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))["sql-dumps"]
    assert first["severity"] == "ok" and first["evidence"]["size"] == 2_000_000
    (dumps / "cpas-2026-11-27.sql.gz").write_bytes(b"x" * 1_200_000)  # -40% but above the minimum
    drift = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))["sql-dumps"]
    assert drift["severity"] == "warning" and "size went from 2.0 MB to 1.2 MB (-40%" in drift["message"]
    (dumps / "cpas-2026-11-28.sql.gz").write_bytes(b"x" * 1000)
    tiny = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))["sql-dumps"]
    assert tiny["severity"] == "critical" and "below the minimum 1MB" in tiny["message"]
    for f in dumps.iterdir():
        os.utime(f, (time.time() - 3 * 86400, time.time() - 3 * 86400))
    old = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))["sql-dumps"]
    assert "last backup 3 days ago (max 26h)" in old["message"]


def test_verify_catches_a_corrupted_repository(lab, tmp_path, cli) -> None:
    src = lab.source("corrupt", files=5, size=50_000)
    sound = lab.restic_repo("r-sound", src)
    broken = lab.restic_repo("r-broken", src)
    pack = max((broken / "data").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    original = pack.read_bytes()
    pack.chmod(0o600)
    pack.write_bytes(bytes(data))
    b_broken = lab.borg_repo("b-broken", src)
    segment = max((b_broken / "data").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0)
    seg = bytearray(segment.read_bytes())
    seg[len(seg) // 2] ^= 0xFF
    segment.write_bytes(bytes(seg))
    inv = project(tmp_path, [restic("sound", sound, read_data_subset="100%"),
                             restic("broken", broken, read_data_subset="100%"), borg("borg-broken", b_broken)])
    result = cli("-i", str(inv), "-f", "json", "backup", "verify")
    outcome = {r["backup"]: r for r in json.loads(result.out)}
    assert outcome["sound"]["ok"] is True
    assert outcome["broken"]["ok"] is False and outcome["borg-broken"]["ok"] is False
    assert result.rc == ExitStatus.CHECK_CRITICAL
    journal = json.loads(cli("-i", str(inv), "journal", "-f", "json").out)
    assert sorted(r["outcome"] for r in journal if r["action"] == "backup verify") == ["failed", "failed", "ok"]
    # The failed verify stays visible in every later check, until a verify passes.
    restore_tested("cpas", "sound", "broken", "borg-broken")
    checked = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))
    assert checked["broken"]["severity"] == "critical", checked["broken"]
    assert "the last integrity check (0 minutes ago) failed:" in checked["broken"]["message"]
    assert "itref backup verify broken" in checked["broken"]["fix"] and checked["sound"]["severity"] == "ok"
    pack.write_bytes(original)  # repaired
    assert cli("-i", str(inv), "backup", "verify", "broken").rc == ExitStatus.SUCCESS
    assert by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))["broken"]["severity"] == "ok"
    journal = json.loads(cli("journal", "-f", "json").out)
    assert {r["target"] for r in journal if r["action"] == "backup check"} == {
        f"localhost:{sound}", f"localhost:{broken}", f"localhost:{b_broken}"}  # backup check is journaled


def test_drill_records_evidence_and_detects_a_changed_file(lab, tmp_path, cli, monkeypatch) -> None:
    import secrets

    from itref.backup import actions

    drawn: list[str] = []  # the temporary restore folders' names, to look for them afterwards

    def token_hex(n: int) -> str:
        drawn.append(secrets.token_hex(n))
        return drawn[-1]

    monkeypatch.setattr(actions, "_random", SimpleNamespace(token_hex=token_hex))
    src = lab.source("drill", files=6)
    repo = lab.restic_repo("r-drill", src)
    b = lab.borg_repo("b-drill", src)
    target = str(src / "file001.txt")
    inv = project(tmp_path, [restic("drilled", repo, drill={"files": [target], "random": 2, "every": "90d"}),
                             borg("borg-drilled", b, drill={"files": [target], "random": 1})])
    before = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))
    assert before["drilled"]["severity"] == "warning" and "never restore-tested (policy: every 90 days)" in \
        before["drilled"]["message"]
    assert "itref backup drill --entity cpas drilled" in before["drilled"]["fix"]  # no drill routine: the command
    assert "policy: every 92 days" in before["borg-drilled"]["message"]  # drill.every left out: the default
    ok = cli("-i", str(inv), "-f", "json", "backup", "drill")
    results = {r["backup"]: r for r in json.loads(ok.out)}
    assert ok.rc == 0, ok.all
    assert results["drilled"]["ok"] and target in results["drilled"]["files"] and len(results["drilled"]["files"]) == 3
    assert results["borg-drilled"]["ok"] and target in results["borg-drilled"]["files"]
    after = by_name(cli("-i", str(inv), "-f", "json", "backup", "check"))
    assert after["drilled"]["severity"] == "ok" and "last restore test 0 minutes ago" in after["drilled"]["message"]
    assert after["drilled"]["evidence"]["last_drill"]
    # The source changes while keeping its old date: what the backup holds no longer matches it.
    stamp = os.stat(target)
    Path(target).write_text("tampered")
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    bad = cli("-i", str(inv), "-f", "json", "backup", "drill", "drilled", "--random", "0")
    result = json.loads(bad.out)[0]
    assert bad.rc == ExitStatus.CHECK_CRITICAL and not result["ok"] and result["mismatched"] == [target]
    assert drawn and not [t for t in drawn if Path(f"/tmp/itref-drill-{t}").exists()]  # each restore removed
    # A drill that could compare nothing (the source is gone) restored files but proved nothing: not a pass.
    Path(target).unlink()
    blind = cli("-i", str(inv), "-f", "json", "backup", "drill", "drilled", "--random", "0")
    result = json.loads(blind.out)[0]
    assert blind.rc == ExitStatus.CHECK_WARNING and result["status"] == "warning" and not result["ok"], result
    assert "1 file restored, but it could not be compared with its source" in result["detail"]
    assert "[WARNING]" in cli("-i", str(inv), "backup", "drill", "drilled", "--random", "0").out
