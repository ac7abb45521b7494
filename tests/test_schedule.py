"""``itref schedule``: itref's own cron entries from the playbooks' schedules, on a crontab file and on
the real ``crontab`` of root; the user's other lines are never touched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from itref.schedule import inventory_key, split_block, with_block, without_block
from tests.conftest import journal_records

USER_CRONTAB = (
    "# my own jobs — do not lose them\n"
    "MAILTO=referent@exemple.example\n"
    "SHELL=/bin/bash\n"
    "\n"
    "*/5 * * * * /usr/local/bin/sync-photos --quiet   # keep the trailing spaces   \n"
    "0 3 * * * tar czf /srv/backup/$(date +\\%F).tgz /etc\n"
    "@reboot /usr/bin/logger hello\n"
)

PLAYBOOK = """\
entity: commune
audits:
  schedule: "0 7 * * 1-5"
routines:
  weekly-check:
    description: Weekly check
    schedule: "30 6 * * 1"
    steps:
      - description: Say hello
        run: {command: ["true"]}
  by-hand:
    description: Not scheduled
    steps:
      - {description: Nothing, manual: "Nothing to do"}
backups:
  - {name: nas, kind: restic, repository: /srv/restic/nas, verify_schedule: "0 2 1 * *"}
  - {name: dumps, kind: files, path: /srv/dumps}
"""

CPAS_PLAYBOOK = """\
entity: cpas
audits:
  schedule: "@daily"
"""

INVENTORY = """\
version: 1
organisation: Commune d'Exemple
entities:
  commune:
    title: Administration communale
    hosts:
      here: {connection: local}
  cpas:
    title: CPAS
    hosts:
      cpas-pc: {connection: local}
"""


@pytest.fixture
def project(make_inventory) -> Path:
    return make_inventory(INVENTORY, {"commune.yaml": PLAYBOOK, "cpas.yaml": CPAS_PLAYBOOK})


@pytest.fixture
def crontab(tmp_path: Path) -> Path:
    path = tmp_path / "crontab"
    path.write_bytes(USER_CRONTAB.encode("utf-8"))
    return path


def ours(text: str, inventory: Path) -> list[str]:
    return [line.rstrip("\n") for line in split_block(text, inventory_key(inventory))[2]]


@pytest.fixture(autouse=True)
def _no_crontab_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITREF_CRONTAB_FILE", raising=False)


def test_install_list_remove_keeps_the_users_lines(cli, project: Path, crontab: Path, state_dir: Path) -> None:
    r = cli("-i", str(project), "schedule", "install", "--crontab-file", str(crontab))
    assert r.rc == 0, r.all
    assert "4 cron entries installed" in r.err
    text = crontab.read_text(encoding="utf-8")
    assert text.startswith(USER_CRONTAB)  # the user's lines, byte for byte, then the block
    lines = ours(text, project)
    key = inventory_key(project)
    assert lines[0].startswith(f"# BEGIN itref {key} {project.resolve()}")
    assert lines[-1] == f"# END itref {key}"
    entries = lines[1:-1]
    assert len(entries) == 4
    audit_commune, routine, verify, audit_cpas = entries
    exe = f"{os.path.abspath(sys.executable)} -m itref -i {project.resolve()}"
    assert audit_commune.startswith(f"0 7 * * 1-5 PATH={Path(sys.executable).parent}:")
    assert f"ITREF_STATE_DIR={state_dir.resolve()} " in audit_commune
    assert audit_commune.endswith(f"{exe} audit --quiet --limit entity:commune # itref:{key}:audit:commune")
    assert routine.startswith("30 6 * * 1 PATH=")
    assert routine.endswith(f"{exe} playbook run commune/weekly-check --yes # itref:{key}:routine:commune/weekly-check")
    assert verify.startswith("0 2 1 * * PATH=")
    assert verify.endswith(f"{exe} backup verify --entity commune nas # itref:{key}:backup-verify:commune/nas")
    assert audit_cpas.startswith("@daily PATH=")
    assert audit_cpas.endswith(f"audit --quiet --limit entity:cpas # itref:{key}:audit:cpas")
    assert not any("by-hand" in line for line in entries)
    # No crontab variable line: those would change the user's own lines too.
    assert not any(line.startswith(("PATH=", "ITREF_STATE_DIR=")) for line in lines)

    r = cli("-i", str(project), "schedule", "list", "--crontab-file", str(crontab))
    assert r.rc == 0, r.all
    rows = r.out.splitlines()
    assert [row.split()[0] for row in rows] == ["audit:commune", "routine:commune/weekly-check",
                                                "backup-verify:commune/nas", "audit:cpas"]
    assert "differ" not in r.err
    r = cli("-i", str(project), "-f", "json", "schedule", "list", "--crontab-file", str(crontab))
    data = json.loads(r.out)
    assert [(d["what"], d["schedule"]) for d in data] == [
        ("audit:commune", "0 7 * * 1-5"), ("routine:commune/weekly-check", "30 6 * * 1"),
        ("backup-verify:commune/nas", "0 2 1 * *"), ("audit:cpas", "@daily")]

    r = cli("-i", str(project), "-f", "json", "schedule", "remove", "--crontab-file", str(crontab))
    assert r.rc == 0, r.all
    assert json.loads(r.out)["removed"] == 4
    assert "4 cron entries removed" in r.err
    assert crontab.read_bytes() == USER_CRONTAB.encode("utf-8")
    r = cli("-i", str(project), "schedule", "list", "--crontab-file", str(crontab))
    assert r.rc == 0 and r.out == ""
    assert "No itref entry" in r.err
    r = cli("-i", str(project), "schedule", "remove", "--crontab-file", str(crontab))
    assert r.rc == 0 and "No itref entry" in r.err
    assert crontab.read_bytes() == USER_CRONTAB.encode("utf-8")

    journal = journal_records(state_dir)
    assert [(j["action"], j["outcome"]) for j in journal] == [("schedule install", "changed"),
                                                              ("schedule remove", "changed")]


def test_install_is_idempotent_and_replaces_its_block_in_place(cli, project: Path, crontab: Path) -> None:
    assert cli("-i", str(project), "schedule", "install", "--crontab-file", str(crontab)).rc == 0
    first = crontab.read_bytes()
    r = cli("-i", str(project), "schedule", "install", "--crontab-file", str(crontab))
    assert r.rc == 0 and "already up to date" in r.err
    assert crontab.read_bytes() == first

    # The user adds a line after the block; a new schedule replaces the block where it is.
    after_block = "15 12 * * * /usr/bin/echo lunch\n"
    crontab.write_text(first.decode() + after_block, encoding="utf-8")
    book = project.parent / "playbooks" / "commune.yaml"
    book.write_text(PLAYBOOK.replace("0 7 * * 1-5", "45 22 * * *"), encoding="utf-8")
    assert cli("-i", str(project), "schedule", "install", "--crontab-file", str(crontab)).rc == 0
    text = crontab.read_text(encoding="utf-8")
    assert text.startswith(USER_CRONTAB) and text.endswith(after_block)
    assert text.count("# BEGIN itref") == 1 and text.count("audit:commune") == 1
    assert any(line.startswith("45 22 * * * ") for line in ours(text, project))
    assert not any(line.startswith("0 7 * * 1-5") for line in text.splitlines())

    # No schedule left in the playbooks: install leaves no itref line.
    book.write_text("entity: commune\n", encoding="utf-8")
    (project.parent / "playbooks" / "cpas.yaml").write_text("entity: cpas\n", encoding="utf-8")
    r = cli("-i", str(project), "schedule", "install", "--crontab-file", str(crontab))
    assert r.rc == 0 and "No schedule in the playbooks" in r.err
    assert crontab.read_text(encoding="utf-8") == USER_CRONTAB + after_block


def test_dry_run_shows_the_diff_and_changes_nothing(cli, project: Path, crontab: Path) -> None:
    r = cli("-i", str(project), "schedule", "install", "--dry-run", "--crontab-file", str(crontab))
    assert r.rc == 0, r.all
    assert "Dry run: nothing was changed." in r.err
    assert r.out.startswith(f"--- {crontab} (now)\n+++ {crontab} (after)\n")
    added = [line for line in r.out.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert len(added) == 6  # BEGIN, 4 entries, END
    assert added[1].startswith("+0 7 * * 1-5 ") and added[-1].startswith("+# END itref")
    assert not [line for line in r.out.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert crontab.read_bytes() == USER_CRONTAB.encode("utf-8")

    assert cli("-i", str(project), "schedule", "install", "--crontab-file", str(crontab)).rc == 0
    installed = crontab.read_bytes()
    r = cli("-i", str(project), "schedule", "remove", "-n", "--crontab-file", str(crontab))
    assert r.rc == 0, r.all
    removed = [line for line in r.out.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert len(removed) == 6
    assert crontab.read_bytes() == installed
    r = cli("-i", str(project), "schedule", "install", "--dry-run", "--crontab-file", str(crontab))
    assert r.out == "" and "Nothing to change" in r.err


def test_two_inventories_have_their_own_blocks(cli, tmp_path: Path, crontab: Path, monkeypatch) -> None:
    monkeypatch.setenv("ITREF_CRONTAB_FILE", str(crontab))  # the variable instead of the option
    paths = []
    for name in ("commune", "asbl"):
        folder = tmp_path / name
        (folder / "playbooks").mkdir(parents=True)
        (folder / "inventory.yaml").write_text(INVENTORY, encoding="utf-8")
        (folder / "playbooks" / "commune.yaml").write_text(PLAYBOOK, encoding="utf-8")
        paths.append(folder / "inventory.yaml")
        assert cli("-i", str(folder / "inventory.yaml"), "schedule", "install").rc == 0
    text = crontab.read_text(encoding="utf-8")
    assert text.count("# BEGIN itref") == 2
    assert len(ours(text, paths[0])) == 5 and len(ours(text, paths[1])) == 5
    assert cli("-i", str(paths[0]), "schedule", "remove").rc == 0
    text = crontab.read_text(encoding="utf-8")
    assert ours(text, paths[0]) == []
    assert len(ours(text, paths[1])) == 5
    assert text.startswith(USER_CRONTAB)
    r = cli("-i", str(paths[1]), "schedule", "list")
    assert [row.split()[0] for row in r.out.splitlines()] == ["audit:commune", "routine:commune/weekly-check",
                                                              "backup-verify:commune/nas"]


def test_list_tells_when_the_crontab_differs_from_the_playbooks(cli, project: Path, crontab: Path) -> None:
    assert cli("-i", str(project), "schedule", "install", "--crontab-file", str(crontab)).rc == 0
    (project.parent / "playbooks" / "cpas.yaml").write_text("entity: cpas\n", encoding="utf-8")
    r = cli("-i", str(project), "schedule", "list", "--crontab-file", str(crontab))
    assert r.rc == 0
    assert len(r.out.splitlines()) == 4
    assert "differ from the playbooks" in r.err


def test_the_installed_line_runs_itref_with_cron_escaping(cli, tmp_path: Path, crontab: Path) -> None:
    """A path with a space and a '%' (cron turns a bare % into a newline): the line, as cron hands it
    to /bin/sh, really runs itref on this inventory."""
    folder = tmp_path / "it 100%"
    (folder / "playbooks").mkdir(parents=True)
    inventory = folder / "inventory.yaml"
    inventory.write_text(INVENTORY, encoding="utf-8")
    (folder / "playbooks" / "commune.yaml").write_text(
        'entity: commune\naudits: {schedule: "@hourly", skip: ["*"]}\n', encoding="utf-8")
    assert cli("-i", str(inventory), "schedule", "install", "--crontab-file", str(crontab)).rc == 0
    (line,) = ours(crontab.read_text(encoding="utf-8"), inventory)[1:-1]
    assert "100\\%" in line and "100%" not in line.replace("100\\%", "")
    command = line.split(" ", 1)[1].replace("\\%", "%")  # what cron gives the shell
    proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=120,
                          env={"HOME": str(tmp_path), "LANG": "C.UTF-8"}, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""  # --quiet: nothing to say when everything is OK
    assert "# itref:" not in proc.stderr


def test_block_helpers_keep_unterminated_and_foreign_lines() -> None:
    key = "0123456789ab"
    other = "# BEGIN itref ffffffffffff /x\n1 * * * * x # itref:ffffffffffff:audit:a\n# END itref ffffffffffff\n"
    text = "1 2 * * * echo last-without-newline"
    block = f"# BEGIN itref {key} /inv\n2 * * * * y # itref:{key}:audit:b\n# END itref {key}\n"
    installed = with_block(other + text, key, block)
    assert installed == other + text + "\n" + block
    assert without_block(installed, key) == other + text + "\n"
    # A stray tagged line outside the block (moved by hand) is still itref's; a BEGIN without END
    # takes only the lines tagged as itref's.
    broken = f"# BEGIN itref {key} /inv\nkeep me\n3 * * * * z # itref:{key}:audit:c\n"
    assert without_block(broken, key) == "keep me\n"


@pytest.mark.peer
def test_real_crontab_of_root(cli, project: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test edits root's crontab: run the suite as root (scripts/test does)")
    assert shutil.which("crontab"), "the crontab command is missing: apt-get install cron"
    original = subprocess.run(["crontab", "-l"], capture_output=True, check=False)
    had_crontab = original.returncode == 0
    try:
        subprocess.run(["crontab", "-"], input=USER_CRONTAB.encode(), check=True)
        r = cli("-i", str(project), "schedule", "install")
        assert r.rc == 0, r.all
        assert "4 cron entries installed in the crontab of root" in r.err
        now = subprocess.run(["crontab", "-l"], capture_output=True, check=True, text=True).stdout
        assert now.startswith(USER_CRONTAB)  # cron accepted every line (it checks them) and kept the user's
        assert len(ours(now, project)) == 6
        r = cli("-i", str(project), "schedule", "install")
        assert r.rc == 0 and "already up to date" in r.err
        r = cli("-i", str(project), "schedule", "list")
        assert len(r.out.splitlines()) == 4
        r = cli("-i", str(project), "schedule", "remove")
        assert r.rc == 0, r.all
        assert subprocess.run(["crontab", "-l"], capture_output=True, check=True, text=True).stdout == USER_CRONTAB
    finally:
        if had_crontab:
            subprocess.run(["crontab", "-"], input=original.stdout, check=True)
        else:
            subprocess.run(["crontab", "-r"], capture_output=True, check=False)


@pytest.mark.parametrize("schedule", ["61 * * * *", "a b c d e", "0 0 32 13 8", "*/0 * * * *"])
def test_install_refuses_a_schedule_cron_would_not_run_and_writes_nothing(cli, make_inventory, crontab: Path,
                                                                          schedule: str) -> None:
    project = make_inventory(INVENTORY, {"commune.yaml": PLAYBOOK.replace('"30 6 * * 1"', f'"{schedule}"'),
                                         "cpas.yaml": CPAS_PLAYBOOK})
    r = cli("-i", str(project), "schedule", "install", "--crontab-file", str(crontab))
    assert r.rc == 3, r.all
    assert "playbooks/commune.yaml:7:15:" in r.err and f"'{schedule}' is not a cron schedule" in r.err
    assert crontab.read_bytes() == USER_CRONTAB.encode("utf-8")  # before: the '61' line was written
