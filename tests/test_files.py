"""Reports are personal data: ``write_private`` writes them whole and owner-only, and ``itref audit -o`` uses it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from itref.core.files import write_private
from itref.core.status import ExitStatus


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_private_file_is_0600_whatever_the_umask_and_replaces_an_older_one(tmp_path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o644)
    old_umask = os.umask(0o002)
    try:
        write_private(target, "<p>Jean Martin</p>")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "<p>Jean Martin</p>" and mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_a_link_at_the_destination_is_replaced_never_followed(tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not to be touched")
    link = tmp_path / "report.md"
    link.symlink_to(elsewhere)
    write_private(link, "# audit")
    assert elsewhere.read_text() == "not to be touched"
    assert not link.is_symlink() and link.read_text() == "# audit" and mode(link) == 0o600


def test_a_failed_write_leaves_nothing_behind(tmp_path) -> None:
    with pytest.raises(OSError):
        write_private(tmp_path / "missing-folder" / "report.md", "x")
    with pytest.raises(IsADirectoryError):
        write_private(tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["table", "html", "markdown", "json"])
def test_an_audit_report_file_is_owner_only(make_inventory, tmp_path, cli, fmt) -> None:
    inv = make_inventory("version: 1\norganisation: Test\nentities:\n  commune:\n    title: Commune\n    hosts:\n"
                         "      pc:\n        connection: local\n")
    out = tmp_path / f"report.{fmt}"
    result = cli("-i", str(inv), "-f", fmt, "audit", "--checks", "linux.uptime", "-o", str(out))
    assert result.rc in (ExitStatus.SUCCESS, ExitStatus.CHECK_WARNING), result.all
    assert out.read_text() and mode(out) == 0o600
    missing = cli("-i", str(inv), "-f", fmt, "audit", "--checks", "linux.uptime", "-o", str(tmp_path / "no" / "r"))
    assert missing.rc == ExitStatus.USAGE and "cannot write the report" in missing.err
    assert "Traceback" not in missing.all


def test_a_plan_says_where_a_new_password_goes() -> None:
    from itref.ad.plan import Change, Plan
    from itref.report.ad import plan_text

    plan = Plan("Create the account elefevre", "elefevre", [Change("password", "CN=Émilie Lefèvre,OU=CPAS")])
    shown = plan_text(plan).plain
    assert "shown once" in shown
    filed = plan_text(plan, Path("/home/ref/new-passwords.txt")).plain
    assert "written to /home/ref/new-passwords.txt (readable only by you), not shown" in filed
    assert "shown once" not in filed
