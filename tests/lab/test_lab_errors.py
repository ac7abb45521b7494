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
