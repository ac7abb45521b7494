"""The audit on real Linux hosts: the suite's sshd hosts and this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from tests.conftest import ROOT, ssh_host_entry

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

    waivers = Path(os.environ["ITREF_STATE_DIR"]) / "waivers.json"
    data = json.loads(waivers.read_text())
    data[0]["until"] = (date.today() - timedelta(days=1)).isoformat()  # the waiver's date has passed
    waivers.write_text(json.dumps(data))
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

    fake = Path(f"/tmp/itref-fakebin-{uuid.uuid4().hex[:8]}")
    fake.mkdir(mode=0o755)
    script = fake / "systemctl"
    script.write_text("#!/bin/sh\necho 'nginx.service loaded failed failed A high performance web server'\n")
    script.chmod(0o755)
    try:
        with SSHDHost(ssh_keys, ssh_user, address="127.0.0.31",
                      extra_config=[f"SetEnv PATH={fake}:/usr/sbin:/usr/bin:/sbin:/bin"]) as host:
            inv = write(tmp_path, {"srv-web": ssh_host_entry(host)})
            result = cli("-i", inv, "-f", "json", "audit", "--checks", "linux.systemd.failed")
    finally:
        script.unlink()
        fake.rmdir()
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
                {"audits": {"thresholds": {"linux.disk.free": {"warning": 100, "critical": 101}}}})
    result = cli("-i", inv, "audit", "--quiet", "--checks", "linux.disk.free")
    assert result.rc == 0 and result.out == "" and result.err == ""


def test_two_concurrent_audits_never_overlap(tmp_path, itref_bin, state_dir) -> None:
    inv = write(tmp_path, {"here": {"connection": "local"}})
    env = {"ITREF_STATE_DIR": str(state_dir)}
    procs = [subprocess.Popen([sys.executable, "-m", "itref", "-i", inv, "-f", "json", "audit", "--checks",
                               "linux.uptime,linux.memory"], env={**os.environ, **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = [json.loads(o[0])["run_id"] for o in outs]
    assert len(set(runs)) == 2
    records = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    audits = [r for r in records if r["action"] == "audit"]
    assert len(audits) == 2


def test_the_readme_default_audits_this_machine_grouped_by_entity(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = cli("audit", "--checks", "linux.*")
    assert result.rc in (0, ExitStatus.CHECK_WARNING, ExitStatus.CHECK_CRITICAL, ExitStatus.CHECK_UNKNOWN)
    assert "Ma commune" in result.out and "Infrastructure partagée" in result.out
    assert "admin-workstation" in result.out and "% full" in result.out
