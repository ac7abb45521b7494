"""The lab's backup repositories on the NAS: real restic and borg repositories with real, dated snapshots.

They are made anew at every ``itref lab up`` (a few seconds), owned by the lab's user so that the checks run on
nas01 over SSH as that user, like on a real NAS.  Each has its job configuration in ``hosts/nas01/etc/NAME.conf``
for the stand-in nightly job (:data:`itref.lab.hosts.NIGHTLY_BACKUP`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itref.core.files import write_private
from itref.lab.files import write_secret
from itref.lab.layout import LabPaths
from itref.lab.peers.sshd import UserInfo
from itref.lab.world import REPOS, LabRepo, generate_password


def _env(paths: LabPaths, password_file: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(paths.runtime), "TZ": "Europe/Brussels", "LC_ALL": "C.UTF-8",
            "RESTIC_CACHE_DIR": str(paths.runtime / "cache" / "restic"),
            "BORG_BASE_DIR": str(paths.runtime / "cache" / "borg"), "RESTIC_PASSWORD_FILE": str(password_file),
            "BORG_PASSCOMMAND": f"cat {password_file}", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}


def run_as(user: UserInfo, argv: list[str], env: dict[str, str]) -> str:
    """Run ``argv`` as the lab's user; return stdout. Raises RuntimeError with the tool's stderr."""
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          user=user.uid, group=user.gid, extra_groups=[])
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}: {proc.stderr.strip()[-400:]}")
    return proc.stdout


def _source(paths: LabPaths, repo: LabRepo, user: UserInfo) -> Path:
    src = paths.sources / repo.name
    src.mkdir(parents=True, exist_ok=True)
    for i in range(12):
        (src / f"document-{i:02d}.txt").write_text(f"{repo.entity}: document {i}\n" + os.urandom(600).hex(),
                                                  encoding="utf-8")
    for p in [src, *src.iterdir()]:
        os.chown(p, user.uid, user.gid)
    return src


def snapshot(paths: LabPaths, repo: LabRepo, user: UserInfo, when: datetime | None = None) -> None:
    """Take one snapshot of ``repo``'s source, dated ``when`` (now by default); return None."""
    password_file = paths.host_dir("nas01") / "etc" / f"{repo.name}.pass"
    env = _env(paths, password_file)
    target, src = paths.repos / repo.name, paths.sources / repo.name
    if repo.kind == "restic":
        argv = ["restic", "--repo", str(target), "backup", "--host", "nas01", str(src)]
        if when:
            argv += ["--time", when.strftime("%Y-%m-%d %H:%M:%S")]
    else:
        stamp = (when or datetime.now()).strftime("%Y-%m-%dT%H:%M:%S")
        argv = ["borg", "create", f"{target}::nightly-{stamp}", str(src)]
        if when:  # borg 1.2 reads --timestamp as UTC (a naive ``when`` is this machine's local time)
            argv[2:2] = ["--timestamp", when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")]
    run_as(user, argv, env)


def create_repositories(paths: LabPaths, user: UserInfo) -> None:
    """Create every repository of the lab with its dated snapshots and its job configuration; return None."""
    etc = paths.host_dir("nas01") / "etc"
    for folder in (paths.repos, paths.sources, etc, paths.runtime / "cache"):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, user.uid, user.gid)
    etc.chmod(0o700)
    for repo in REPOS:
        password = generate_password()
        write_secret(paths, repo.name, password)
        password_file = etc / f"{repo.name}.pass"
        write_private(password_file, password + "\n")
        os.chown(password_file, user.uid, user.gid)
        src = _source(paths, repo, user)
        target = paths.repos / repo.name
        shutil.rmtree(target, ignore_errors=True)
        if repo.kind == "restic":
            run_as(user, ["restic", "init", "--repo", str(target)], _env(paths, password_file))
        else:
            run_as(user, ["borg", "init", "--encryption=repokey-blake2", str(target)], _env(paths, password_file))
        conf = etc / f"{repo.name}.conf"
        conf.write_text(f"KIND={repo.kind}\nREPO={target}\nSOURCE={src}\nPASSFILE={password_file}\n",
                        encoding="utf-8")
        os.chown(conf, user.uid, user.gid)
        now = datetime.now()
        for hours in repo.ages_hours:
            snapshot(paths, repo, user, now - timedelta(hours=hours))


def forget_newest(paths: LabPaths, repo: LabRepo, user: UserInfo) -> None:
    """Remove the newest snapshot of ``repo`` (the `backup-stale` scenario); return None."""
    password_file = paths.host_dir("nas01") / "etc" / f"{repo.name}.pass"
    env = _env(paths, password_file)
    target = str(paths.repos / repo.name)
    if repo.kind == "restic":
        import json

        snaps = json.loads(run_as(user, ["restic", "--repo", target, "snapshots", "--json"], env) or "[]")
        newest = max(snaps, key=lambda s: s["time"])
        run_as(user, ["restic", "--repo", target, "forget", newest["id"]], env)
    else:
        names = run_as(user, ["borg", "list", "--short", target], env).split()
        run_as(user, ["borg", "delete", f"{target}::{names[-1]}"], env)
