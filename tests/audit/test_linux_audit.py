"""The audit on real Linux hosts: the suite's sshd hosts and this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from tests.conftest import ROOT, journal_records, shared_tmp, ssh_host_entry

pytestmark = pytest.mark.peer


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A real 20 MB ext4 file system mounted from a loop file, removed afterwards."""
    image = tmp_path / "disk.img"
    mount = Path(f"/tmp/itref-disk-{uuid.uuid4().hex[:8]}")
    mount.mkdir()
    subprocess.run(["truncate", "-s", "20M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def fill(mount: Path, percent: int) -> None:
    """Fill ``mount`` until df reports about ``percent`` % used."""
    st = os.statvfs(mount)
    total = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    target = int(total * percent / 100) - used
    (mount / "filler").unlink(missing_ok=True)
    if target > 0:
        subprocess.run(["fallocate", "-l", str(target), str(mount / "filler")], check=True)


def write(tmp_path: Path, hosts: dict, playbook: dict | None = None) -> str:
    inv = {"version": 1, "organisation": "Commune de test",
           "entities": {"commune": {"title": "Administration communale", "hosts": hosts}}}
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    (tmp_path / "playbooks" / "commune.yaml").write_text(json.dumps({"entity": "commune", **(playbook or {})}))
    (tmp_path / "inventory.yaml").write_text(json.dumps(inv))
    return str(tmp_path / "inventory.yaml")


def disk_finding(result, mount: Path) -> dict:
    data = json.loads(result.out)
    return next(f for f in data["findings"] if f["check"] == "linux.disk.free" and f["subject"] == str(mount))


def test_a_full_disk_is_critical_then_waived_then_failing_again(sshd, small_disk, tmp_path, cli) -> None:
    fill(small_disk, 96)
    inv = write(tmp_path, {"srv-app": ssh_host_entry(sshd, tags=["linux"])})
    first = cli("-i", inv, "-f", "json", "audit", "--checks", "linux.disk.free")
    finding = disk_finding(first, small_disk)
    assert first.rc == ExitStatus.CHECK_CRITICAL, first.all
    assert finding["severity"] == "critical" and finding["host"] == "srv-app"
    assert "% full" in finding["message"] and "critical at 90%" in finding["message"]
    assert finding["why"] and finding["fix"] and finding["change"] is None  # first audit: nothing to compare
    table = cli("-i", inv, "audit", "--checks", "linux.disk.free")
    assert "Why it matters" in table.out and "What to do" in table.out and "[CRITICAL]" in table.out

    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    waived = cli("-i", inv, "audit", "waive", "linux.disk.free", "--host", "srv-app", "--until", tomorrow,
                 "--reason", "new disk ordered")
    assert waived.rc == 0, waived.all
    during = cli("-i", inv, "-f", "json", "audit", "--checks", "linux.disk.free")
    assert disk_finding(during, small_disk)["waiver"]["reason"] == "new disk ordered"
    assert during.rc == 0  # a waived finding counts as OK
    assert "[WAIVED]" in cli("-i", inv, "audit", "--checks", "linux.disk.free").out

    import yaml

    (waiver,) = (Path(os.environ["ITREF_STATE_DIR"]) / "waivers").glob("*.yaml")  # one file, for a reviewer
    data = yaml.safe_load(waiver.read_text())
    assert data["check"] == "linux.disk.free" and data["host"] == "srv-app" and data["reason"] == "new disk ordered"
    data["until"] = (date.today() - timedelta(days=1)).isoformat()  # the waiver's date has passed
    waiver.write_text(yaml.safe_dump(data))
    after = cli("-i", inv, "-f", "json", "audit", "--checks", "linux.disk.free")
    assert after.rc == ExitStatus.CHECK_CRITICAL and disk_finding(after, small_disk)["waiver"] is None
    assert "expired" in cli("-i", inv, "audit", "waivers").out


def test_thresholds_follow_entity_tag_and_host_overrides(sshd, small_disk, tmp_path, cli) -> None:
    fill(small_disk, 75)
    hosts = {"a": ssh_host_entry(sshd, tags=["big"]), "b": ssh_host_entry(sshd)}
    playbook = {"audits": {"thresholds": {"linux.disk.free": {"warning": 70, "critical": 99}},
                           "tags": {"big": {"linux.disk.free": {"warning": 90}}}}}
    inv = write(tmp_path, hosts, playbook)
    data = json.loads(cli("-i", inv, "-f", "json", "audit", "--checks", "linux.disk.free").out)
    mine = {f["host"]: f["severity"] for f in data["findings"] if f["subject"] == str(small_disk)}
    assert mine == {"a": "ok", "b": "warning"}


def test_a_failed_unit_from_a_fake_systemctl_on_the_remote_path(ssh_keys, ssh_user, tmp_path, cli) -> None:
    from tests.peers.sshd import SSHDHost

    with shared_tmp("fakebin") as fake:
        script = fake / "systemctl"
        script.write_text("#!/bin/sh\necho 'nginx.service loaded failed failed A high performance web server'\n")
        script.chmod(0o755)
        with SSHDHost(ssh_keys, ssh_user, address="127.0.0.31",
                      extra_config=[f"SetEnv PATH={fake}:/usr/sbin:/usr/bin:/sbin:/bin"]) as host:
            inv = write(tmp_path, {"srv-web": ssh_host_entry(host)})
            result = cli("-i", inv, "-f", "json", "audit", "--checks", "linux.systemd.failed")
    finding = next(f for f in json.loads(result.out)["findings"] if f["check"] == "linux.systemd.failed")
    assert finding["severity"] == "critical" and "nginx.service" in finding["message"]


def test_all_linux_checks_come_back_from_one_command_per_host(sshd, tmp_path, cli) -> None:
    inv = write(tmp_path, {"srv": ssh_host_entry(sshd)})
    result = cli("-i", inv, "-f", "json", "audit", "--checks", "linux.*")
    data = json.loads(result.out)
    checks = {f["check"] for f in data["findings"] if f["host"] == "srv"}
    assert {"linux.disk.free", "linux.memory", "linux.load", "linux.uptime", "linux.disk.inodes"} <= checks
    assert all(f["severity"] != "unknown" for f in data["findings"] if f["check"] in
               ("linux.disk.free", "linux.memory", "linux.load", "linux.uptime"))
    runs = [r for r in json.loads(cli("journal", "-f", "json").out) if r["action"] == "audit"]
    assert len(runs) == 1


def test_an_unreachable_host_is_reported_and_the_others_are_audited(sshd, tmp_path, cli) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    inv = write(tmp_path, {"up": ssh_host_entry(sshd), "down": ssh_host_entry(sshd, port=port)})
    data = json.loads(cli("-i", inv, "-f", "json", "audit", "--checks", "linux.uptime").out)
    reach = {f["host"]: f["severity"] for f in data["findings"] if f["check"] == "audit.host.reachable"}
    assert reach == {"up": "ok", "down": "unknown"}
    assert any(f["host"] == "up" and f["check"] == "linux.uptime" for f in data["findings"])


def test_diff_across_three_runs(sshd, small_disk, tmp_path, cli) -> None:
    inv = write(tmp_path, {"srv": ssh_host_entry(sshd)})
    fill(small_disk, 10)
    cli("-i", inv, "audit", "--checks", "linux.disk.free")
    fill(small_disk, 96)
    second = json.loads(cli("-i", inv, "-f", "json", "audit", "--checks", "linux.disk.free").out)
    assert disk_finding_of(second, small_disk)["change"] == "new"
    new = json.loads(cli("-i", inv, "-f", "json", "audit", "diff").out)
    assert [e["key"] for e in new["new"]] == [f"linux.disk.free|commune|srv|{small_disk}"]
    fill(small_disk, 10)
    third = cli("-i", inv, "audit", "--checks", "linux.disk.free")
    assert "Resolved since the previous audit" in third.out
    resolved = json.loads(cli("-i", inv, "-f", "json", "audit", "diff").out)
    assert [e["key"] for e in resolved["resolved"]] == [f"linux.disk.free|commune|srv|{small_disk}"]
    assert resolved["new"] == []


def disk_finding_of(data: dict, mount: Path) -> dict:
    return next(f for f in data["findings"] if f["check"] == "linux.disk.free" and f["subject"] == str(mount))


def test_quiet_prints_nothing_when_all_is_well(tmp_path, cli) -> None:
    inv = write(tmp_path, {"here": {"connection": "local"}},
                {"audits": {"thresholds": {"linux.disk.free": {"warning": 101, "critical": 102}}}})
    result = cli("-i", inv, "audit", "--quiet", "--checks", "linux.disk.free")  # even a full mount is "well"
    assert result.rc == 0 and result.out == "" and result.err == ""


def test_two_concurrent_audits_never_overlap(tmp_path, itref_bin, state_dir) -> None:
    inv = write(tmp_path, {"here": {"connection": "local"}})
    env = {"ITREF_STATE_DIR": str(state_dir)}
    procs = [subprocess.Popen([sys.executable, "-m", "itref", "-i", inv, "-f", "json", "audit", "--checks",
                               "linux.uptime,linux.memory"], env={**os.environ, **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    ok = (0, ExitStatus.CHECK_WARNING, ExitStatus.CHECK_CRITICAL)  # this machine's memory and uptime are its own
    assert all(p.returncode in ok for p in procs), outs
    runs = [json.loads(o[0])["run_id"] for o in outs]
    assert len(set(runs)) == 2
    records = journal_records(state_dir)
    audits = [r for r in records if r["action"] == "audit"]
    assert len(audits) == 2


def test_the_readme_default_audits_this_machine_grouped_by_entity(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = cli("audit", "--checks", "linux.*")
    assert result.rc in (0, ExitStatus.CHECK_WARNING, ExitStatus.CHECK_CRITICAL, ExitStatus.CHECK_UNKNOWN)
    assert "Ma commune" in result.out and "Infrastructure partagée" in result.out
    # the starter inventory says language: fr, and neither --lang nor ITREF_LANG says otherwise: French
    assert "admin-workstation" in result.out and "plein à" in result.out and "% full" not in result.out


# ------------------------------------------------------------------ linux.updates: apt's answer kept on the host

FAKE_APT = """#!/bin/sh
echo "$*" >> {log}
echo 'Inst libssl3 [3.0.11-1~deb12u1] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])'
echo 'Inst tzdata [2024a-0+deb12u1] (2024b-0+deb12u1 Debian:12.8/stable [all])'
"""


class AptHost:
    """An sshd host whose apt state (dpkg's status, the package lists, /etc/apt) are copies of this machine's,
    bind-mounted in the host's own mount namespace, so a test can change them without touching the machine's;
    ``apt-get`` first on its PATH counts its calls; ``XDG_CACHE_HOME`` is a folder of the host's user."""

    def __init__(self, root: Path, host, user) -> None:
        self.root, self.host, self.user = root, host, user
        self.status, self.lists, self.etc = root / "status", root / "lists", root / "apt"
        self.cache = root / "cache" / "itref" / "linux-updates"
        self.log = root / "log" / "apt-get.calls"

    def calls(self) -> int:
        """Return how many times apt-get ran on the host."""
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


@pytest.fixture
def apt_host(ssh_keys, ssh_user) -> Iterator[AptHost]:
    from tests.peers.sshd import SSHDHost

    with shared_tmp("apt") as root:
        subprocess.run(["cp", "/var/lib/dpkg/status", str(root / "status")], check=True)
        subprocess.run(["cp", "-a", "/etc/apt", str(root / "apt")], check=True)
        (root / "lists" / "partial").mkdir(parents=True)
        (root / "lists" / "deb.example_dists_bookworm_InRelease").write_text("old lists\n")
        for name in ("bin", "log", "cache"):
            (root / name).mkdir()
        (root / "bin" / "apt-get").write_text(FAKE_APT.format(log=root / "log" / "apt-get.calls"))
        (root / "bin" / "apt-get").chmod(0o755)
        for name in ("log", "cache"):
            os.chown(root / name, ssh_user.uid, ssh_user.gid)
        setup = [f"mount --bind {root / 'status'} /var/lib/dpkg/status",
                 f"mount --bind {root / 'lists'} /var/lib/apt/lists", f"mount --bind {root / 'apt'} /etc/apt"]
        # The rest of what the check watches gets a private copy too: dpkg running on this machine during the
        # test (unattended-upgrades on a fresh VM) must not count as a change of the test host's apt state.
        (root / "dpkg-updates").mkdir()
        setup.append(f"mount --bind {root / 'dpkg-updates'} /var/lib/dpkg/updates")
        if Path("/var/lib/apt/extended_states").exists():
            subprocess.run(["cp", "/var/lib/apt/extended_states", str(root / "extended_states")], check=True)
            setup.append(f"mount --bind {root / 'extended_states'} /var/lib/apt/extended_states")
        with SSHDHost(ssh_keys, ssh_user, address="127.0.0.32", setup=setup, extra_config=[
                f"SetEnv PATH={root / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin XDG_CACHE_HOME={root / 'cache'}"]) as host:
            yield AptHost(root, host, ssh_user)


def updates_finding(cli, inv: str) -> dict:
    """Return the linux.updates finding of one audit of ``inv``."""
    result = cli("-i", inv, "-f", "json", "audit", "--checks", "linux.updates")
    return next(f for f in json.loads(result.out)["findings"] if f["check"] == "linux.updates")


def later(path: Path) -> None:
    """Change ``path``'s inode (its ctime moves on) while setting its mtime back a day, as apt does with the lists
    it downloads (their mtime is the server's date): the cache must not trust mtimes."""
    old = path.stat().st_mtime - 86400
    os.utime(path, (old, old))


def test_pending_updates_are_reused_until_apt_state_changes(apt_host, tmp_path, cli) -> None:
    inv = write(tmp_path, {"srv": ssh_host_entry(apt_host.host)})
    first = updates_finding(cli, inv)
    assert first["severity"] == "warning" and first["message"].startswith("1 security update(s) waiting (2 updates")
    assert first["evidence"]["answer"] == "apt" and apt_host.calls() == 1
    assert "reused" not in first["message"]
    cache_dir = apt_host.cache.parent
    assert cache_dir.stat().st_mode & 0o777 == 0o700 and cache_dir.stat().st_uid == apt_host.user.uid
    assert apt_host.cache.stat().st_uid == apt_host.user.uid and apt_host.cache.stat().st_mode & 0o077 == 0
    assert apt_host.cache.read_text() == "itref-updates-1 total=2 security=1\n"

    second = updates_finding(cli, inv)
    assert apt_host.calls() == 1  # nothing changed: apt was not asked again
    assert second["evidence"]["answer"] == "reused" and second["evidence"]["age_seconds"] >= 0
    assert second["evidence"]["counted_at"] == first["evidence"]["counted_at"]
    assert (second["evidence"]["security"], second["evidence"]["total"]) == (1, 2)
    assert second["severity"] == "warning" and "counted by apt" in second["message"] and "reused" in second["message"]

    changes = [lambda: later(apt_host.status),  # a package installed or removed
               lambda: later(apt_host.lists / "deb.example_dists_bookworm_InRelease"),  # apt-get update, same file
               lambda: (apt_host.lists / "deb.example_dists_bookworm_main_binary-amd64_Packages").write_text("x\n"),
               lambda: (apt_host.etc / "sources.list.d" / "extra.list").write_text("deb http://deb.example x y\n"),
               lambda: later(apt_host.etc / "apt.conf.d")]
    for n, change in enumerate(changes, start=2):
        time.sleep(0.02)
        change()
        assert updates_finding(cli, inv)["evidence"]["answer"] == "apt", n
        assert apt_host.calls() == n
        assert updates_finding(cli, inv)["evidence"]["answer"] == "reused" and apt_host.calls() == n


def test_a_tampered_unreadable_or_foreign_cache_is_ignored(apt_host, tmp_path, cli) -> None:
    inv = write(tmp_path, {"srv": ssh_host_entry(apt_host.host)})
    assert updates_finding(cli, inv)["evidence"]["answer"] == "apt"
    valid = apt_host.cache.read_text()
    uid, gid = apt_host.user.uid, apt_host.user.gid

    def tampered(text: str) -> None:
        apt_host.cache.write_text(text)  # written by the test (root): hand it back to the host's user
        os.chown(apt_host.cache, uid, gid)

    calls = apt_host.calls()
    for damage in (lambda: tampered("itref-updates-1 total=0 security=0; rm -rf /\n"),
                   lambda: tampered("total=0\nsecurity=0\n"),
                   lambda: tampered(""),
                   lambda: apt_host.cache.chmod(0),  # unreadable
                   lambda: os.chown(apt_host.cache, 0, 0)):  # valid, but not the user's own file
        damage()
        finding = updates_finding(cli, inv)
        calls += 1
        evidence = finding["evidence"]
        assert evidence["answer"] == "apt" and (evidence["security"], evidence["total"]) == (1, 2)
        assert apt_host.calls() == calls
        assert apt_host.cache.read_text() == valid and apt_host.cache.stat().st_uid == uid  # replaced by a good one
    # a symlink in place of the cache file, or of the folder, is never followed
    target = apt_host.root / "cache" / "elsewhere"
    target.write_text(valid)
    apt_host.cache.unlink()
    apt_host.cache.symlink_to(target)
    os.lchown(apt_host.cache, uid, gid)
    assert updates_finding(cli, inv)["evidence"]["answer"] == "apt"
    assert not apt_host.cache.is_symlink() and target.read_text() == valid
    subprocess.run(["rm", "-rf", str(apt_host.cache.parent)], check=True)
    apt_host.cache.parent.symlink_to(apt_host.root / "log")
    os.lchown(apt_host.cache.parent, uid, gid)
    before = apt_host.calls()
    assert [updates_finding(cli, inv)["evidence"]["answer"] for _ in range(2)] == ["apt", "apt"]  # no cache at all
    assert apt_host.calls() == before + 2 and not (apt_host.root / "log" / "linux-updates").exists()


def test_max_age_bounds_the_reuse_and_zero_always_asks_apt(apt_host, tmp_path, cli) -> None:
    inv = write(tmp_path, {"srv": ssh_host_entry(apt_host.host)},
                {"audits": {"thresholds": {"linux.updates": {"max_age": 0}}}})
    assert [updates_finding(cli, inv)["evidence"]["answer"] for _ in range(2)] == ["apt", "apt"]
    assert apt_host.calls() == 2
    inv = write(tmp_path, {"srv": ssh_host_entry(apt_host.host)},
                {"audits": {"thresholds": {"linux.updates": {"max_age": "1h"}}}})
    assert updates_finding(cli, inv)["evidence"]["answer"] == "reused"  # the answer of the previous audit
    inv = write(tmp_path, {"srv": ssh_host_entry(apt_host.host)},
                {"audits": {"thresholds": {"linux.updates": {"max_age": "1s"}}}})
    time.sleep(2.1)  # ages are whole seconds: 2.1 s is past 1 s whatever the rounding
    assert updates_finding(cli, inv)["evidence"]["answer"] == "apt"
    bad = write(tmp_path, {"srv": ssh_host_entry(apt_host.host)},
                {"audits": {"thresholds": {"linux.updates": {"max_age": "soon"}}}})
    finding = updates_finding(cli, bad)
    assert finding["severity"] == "unknown" and "'soon' is not a duration" in finding["message"]
