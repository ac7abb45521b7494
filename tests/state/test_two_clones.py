"""Two clones of one project, each used apart, then pulled into each other with a real git: no merge conflict, and
each side's journal, audit history, backup history and offboarding snapshots serve the other (real Samba DC)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.ad.test_accounts_dc import find, tag

pytestmark = pytest.mark.peer


def git(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(folder), "-c", "user.name=Test", "-c", "user.email=t@example.test",
                           "-c", "pull.rebase=false", "-c", "init.defaultBranch=main", *args],
                          capture_output=True, text=True, check=check)


def project_files(ad_project: Path, dumps: Path) -> dict[str, str]:
    """The AD test project, plus this machine as a host and a folder of dumps as a backup."""
    inventory = json.loads(ad_project.read_text())
    inventory["entities"]["shared"] = {"title": "Shared", "hosts": {"here": {"connection": "local"}}}
    inventory["operators"] = [{"name": "Jean Referent", "role": "referent"},
                              {"name": "Sophie Standin", "role": "stand-in"}]
    files = {"inventory.yaml": json.dumps(inventory, indent=1)}
    for book in (ad_project.parent / "playbooks").glob("*.yaml"):
        files[f"playbooks/{book.name}"] = book.read_text()
    import socket

    with socket.socket() as s:  # a port nothing listens on: the audit's network.port finding is critical
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    files["playbooks/shared.yaml"] = json.dumps({"entity": "shared", "backups": [
        {"name": "dumps", "kind": "files", "host": "here", "path": str(dumps), "pattern": "*.sql", "max_age": "2d"}],
        "audits": {"ports": [{"host": "127.0.0.1", "port": closed, "name": "intranet"}]}})
    return files


def test_two_clones_used_apart_merge_without_conflict_and_see_each_others_records(
        ad_project, samba_dc, itref_bin, tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "db.sql").write_text("-- dump\n")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    a, b = tmp_path / "referent", tmp_path / "standin"
    subprocess.run(["git", "clone", "-q", str(origin), str(a)], check=True, capture_output=True)
    for name, text in project_files(ad_project, dumps).items():
        (a / name).parent.mkdir(parents=True, exist_ok=True)
        (a / name).write_text(text)
    git(a, "add", "-A")
    git(a, "commit", "-qm", "the project")
    git(a, "push", "-q", "origin", "main")
    subprocess.run(["git", "clone", "-q", str(origin), str(b)], check=True, capture_output=True)

    def itref(clone: Path, who: str, *args: str) -> str:
        result = itref_bin("-i", str(clone / "inventory.yaml"), *args, cwd=clone,
                           env={"ITREF_STATE_DIR": "", "ITREF_OPERATOR": who})
        assert result.rc in (0, 6, 7), (args, result.all)
        return result.out

    # the referent, in clone A: audits, checks the backups, offboards someone
    leaver = f"Depart{tag()}"
    itref(a, "Jean Referent", "audit", "--checks", "network.port")
    itref(a, "Jean Referent", "backup", "check")
    pw = tmp_path / "pw-leaver"
    login = json.loads(itref(a, "Jean Referent", "-f", "json", "ad", "user", "create", "--template",
                             "cpas/social-worker", "--first", "Luc", "--last", leaver, "--password-file", str(pw),
                             "--yes"))["plan"]["login"]
    itref(a, "Jean Referent", "ad", "user", "offboard", login, "--reason", "fin de contrat", "--yes")
    git(a, "add", "-A")
    git(a, "commit", "-qm", "referent's day")

    # the stand-in, in clone B, meanwhile: onboards someone, waives a finding, checks the backups, audits
    newcomer = json.loads(itref(b, "Sophie Standin", "-f", "json", "ad", "user", "create", "--template",
                                "cpas/social-worker", "--first", "Ana", "--last", f"Arrivee{tag()}",
                                "--password-file", str(tmp_path / "pw-new"), "--yes"))["plan"]["login"]
    itref(b, "Sophie Standin", "audit", "waive", "network.port", "--until", "2099-12-31", "--reason",
          "serveur en migration")
    itref(b, "Sophie Standin", "backup", "check")
    itref(b, "Sophie Standin", "audit", "--checks", "network.port")
    git(b, "add", "-A")
    git(b, "commit", "-qm", "stand-in's day")

    # each pulls the other: no conflict, ever
    git(b, "push", "-q", "origin", "main")
    pulled = git(a, "pull", "-q", "origin", "main", check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert git(a, "diff", "--name-only", "--diff-filter=U").stdout == ""
    git(a, "push", "-q", "origin", "main")
    pulled = git(b, "pull", "-q", "origin", "main", check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    for clone in (a, b):
        assert "<<<<<<<" not in subprocess.run(["grep", "-r", "<<<<<<<", str(clone / "state")],
                                               capture_output=True, text=True).stdout

    # clone B sees both people's records, in time order, signed
    for clone in (a, b):
        journal = json.loads(itref(clone, "Sophie Standin", "-f", "json", "journal"))
        who = {r["who"] for r in journal}
        assert {"Jean Referent", "Sophie Standin"} <= who
        times = [r["time"] for r in journal]
        assert times == sorted(times, key=lambda t: __import__("datetime").datetime.fromisoformat(t))
        assert any(r["action"] == "ad snapshot" and r["who"] == "Jean Referent" for r in journal)
        assert any(r["action"] == "audit waive" and r["who"] == "Sophie Standin" for r in journal)
        mine = json.loads(itref(clone, "x", "-f", "json", "journal", "--operator", "jean referent"))
        assert mine and all(r["who"] == "Jean Referent" for r in mine)
    # the waiver decided in B, with its reason, applies to the audit made in A's clone
    audit = json.loads(itref(a, "Jean Referent", "-f", "json", "audit", "--checks", "network.port"))
    (port,) = [f for f in audit["findings"] if f["check"] == "network.port"]
    assert port["severity"] == "critical"
    assert port["waiver"]["reason"] == "serveur en migration" and port["waiver"]["by"] == "Sophie Standin"
    assert "serveur en migration" in itref(a, "Jean Referent", "audit", "waivers")
    # audit diff compares the runs of both clones
    diff = json.loads(itref(b, "Sophie Standin", "-f", "json", "audit", "diff"))
    assert diff["from"] and diff["to"]
    # the backup history holds both people's checks
    from itref.backup.history import History
    from itref.state.folder import StateFolder

    checks = [r for r in History(StateFolder(b / "state")).stream.read() if r["type"] == "check"]
    assert {r["operator"] for r in checks} == {"Jean Referent", "Sophie Standin"}
    # and the departure done in A is undone from B
    restored = itref(b, "Sophie Standin", "ad", "user", "restore", login, "--yes")
    assert restored is not None
    back = find(samba_dc, login)
    assert back is not None and ",OU=Social,OU=CPAS," in back["dn"] and back["userAccountControl"] == [512]
    assert find(samba_dc, newcomer) is not None
