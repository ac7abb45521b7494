"""What ``itref lab`` says when it cannot do what is asked: one plain line, a documented exit code, nothing
started and nothing written."""

from __future__ import annotations

import pytest

from itref.core.status import ExitStatus
from itref.lab import control


def test_not_root_says_how_to_run_it(cli, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(control.os, "geteuid", lambda: 1000)
    result = cli("lab", "up", "--dir", str(tmp_path / "lab"))
    assert result.rc == ExitStatus.FAILURE
    assert "run it as root (sudo itref lab up)" in result.err and "Traceback" not in result.all
    assert not (tmp_path / "lab").exists()


def test_missing_packages_are_named_with_the_apt_get_line(cli, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    real_which = control.shutil.which

    def which(tool: str, path: str | None = None) -> str | None:
        return None if tool in ("restic", "borg") else real_which(tool, path=path)

    monkeypatch.setattr(control.shutil, "which", which)
    result = cli("lab", "up", "--dir", str(tmp_path / "lab"))
    assert result.rc == ExitStatus.FAILURE
    assert "apt-get install -y restic borgbackup" in result.err
    assert not (tmp_path / "lab").exists()


def test_missing_provisioning_files_name_samba_ad_provision(cli, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from itref.lab.peers.samba import PROVISION_FILE, PROVISION_PACKAGE

    # The lab checks the very file samba-tool needs, and names the package that ships it.
    assert control.REQUIRED_TOOLS[str(PROVISION_FILE)] == PROVISION_PACKAGE == "samba-ad-provision"
    assert PROVISION_FILE.is_file(), "scripts/test installs samba-ad-provision"
    monkeypatch.delitem(control.REQUIRED_TOOLS, str(PROVISION_FILE))
    monkeypatch.setitem(control.REQUIRED_TOOLS, str(tmp_path / PROVISION_FILE.name), PROVISION_PACKAGE)
    assert control.missing_packages() == ["samba-ad-provision"]
    result = cli("lab", "up", "--dir", str(tmp_path / "lab"))
    assert result.rc == ExitStatus.FAILURE
    assert "apt-get install -y samba-ad-provision" in result.err and "Traceback" not in result.all
    assert not (tmp_path / "lab").exists()


def test_a_wrong_number_of_hosts_is_a_usage_error(cli, tmp_path) -> None:
    result = cli("lab", "up", "--dir", str(tmp_path / "lab"), "--hosts", "0")
    assert result.rc == ExitStatus.USAGE and not (tmp_path / "lab").exists()


def test_a_folder_too_long_for_samba_is_refused_before_anything_starts(cli, tmp_path) -> None:
    deep = tmp_path / ("x" * 60)
    result = cli("lab", "up", "--dir", str(deep))
    assert result.rc == ExitStatus.FAILURE and "choose a shorter --dir" in result.err
    assert not deep.exists()


def test_no_lab_to_stop_status_or_break(cli, tmp_path) -> None:
    folder = str(tmp_path / "nothing")
    down = cli("lab", "down", "--dir", folder)
    assert down.rc == ExitStatus.FAILURE and "no lab in" in down.err
    status = cli("lab", "status", "--dir", folder)
    assert status.rc == ExitStatus.FAILURE and "No lab in" in status.err
    scenario = cli("lab", "scenario", "disk-full", "--dir", folder)
    assert scenario.rc == ExitStatus.FAILURE and "no running lab" in scenario.err
    unknown = cli("lab", "scenario", "flood", "--dir", folder)
    assert unknown.rc == ExitStatus.FAILURE and "unknown scenario 'flood'" in unknown.err
    assert "disk-full" in unknown.err


def test_the_scenario_list_names_each_fixing_routine(cli) -> None:
    import json

    listed = {s["name"]: s["routine"] for s in json.loads(cli("-f", "json", "lab", "scenario").out)}
    assert listed == {"disk-full": "cpas/free-disk-space", "backup-stale": "cpas/run-backup-now",
                      "account-locked": "commune/unlock-account", "service-down": "commune/restart-service",
                      "cert-expiring": "commune/renew-certificate"}


def test_wipe_refuses_a_folder_that_is_not_a_lab(cli, tmp_path) -> None:
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    result = cli("lab", "down", "--dir", str(folder), "--wipe")
    assert result.rc == ExitStatus.FAILURE and "no lab in" in result.err
    assert (folder / "thesis.txt").read_text() == "years of work"


def test_up_refuses_a_non_empty_folder_that_is_not_a_lab(cli, tmp_path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = cli("lab", "up", "--dir", str(folder))
    assert result.rc == ExitStatus.FAILURE and "holds no lab" in result.err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def _fake_lab(folder, pid: int) -> None:
    import json

    from itref.lab.layout import RUNTIME_ROOT, lab_name

    folder.mkdir(parents=True, exist_ok=True)
    name = lab_name(folder)
    (folder / "lab.json").write_text(json.dumps({"status": "ready", "pid": pid, "name": name,
                                                 "runtime": str(RUNTIME_ROOT / name), "hosts": {}, "scenarios": []}))


def test_a_pid_reused_by_another_process_is_neither_trusted_nor_killed(cli, tmp_path) -> None:
    import subprocess

    folder = tmp_path / "lab"
    stranger = subprocess.Popen(["sleep", "60"])  # holds the pid lab.json names, as after a reboot
    try:
        _fake_lab(folder, stranger.pid)
        status = cli("lab", "status", "--dir", str(folder))
        assert status.rc == ExitStatus.FAILURE and "dead" in status.out
        assert cli("lab", "scenario", "disk-full", "--dir", str(folder)).rc == ExitStatus.FAILURE
        down = cli("lab", "down", "--dir", str(folder))
        assert down.rc == 0 and "was not running" in down.out
        assert stranger.poll() is None  # still alive: never signalled
    finally:
        stranger.kill()
        stranger.wait()


def test_scenarios_need_root(cli, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    import os

    folder = tmp_path / "lab"
    _fake_lab(folder, os.getpid())
    with open(folder / "lab.lock", "w") as lock:  # as a running supervisor holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
        result = cli("lab", "scenario", "service-down", "--dir", str(folder))
    assert result.rc == ExitStatus.FAILURE and "run them as root" in result.err and "Traceback" not in result.all
