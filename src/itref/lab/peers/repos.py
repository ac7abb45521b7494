"""Real restic and borg repositories for the tests (Debian's restic and borgbackup), kept hermetic:
caches and borg's base dir live in the given folder, never in the user's home."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESTIC_PASSWORD = "restic-Test-pw-1"
BORG_PASSPHRASE = "borg-Test-pw-1"


@dataclass
class RepoLab:
    """A folder holding source data and repositories, with the environment the tools need."""

    root: Path

    @property
    def env(self) -> dict[str, str]:
        """Return the environment for restic/borg commands run by the tests."""
        return {**os.environ, "RESTIC_CACHE_DIR": str(self.root / "restic-cache"),
                "BORG_BASE_DIR": str(self.root / "borg-base"), "TZ": "Europe/Brussels",
                "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes"}

    def run(self, *argv: str, password: str | None = None, input: str | None = None) -> str:
        """Run a tool with the lab environment; return stdout. Raises CalledProcessError with stderr."""
        env = self.env
        if password is not None:
            env = {**env, "RESTIC_PASSWORD": password, "BORG_PASSPHRASE": password}
        proc = subprocess.run(list(argv), env=env, capture_output=True, text=True, input=input, timeout=300,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
        return proc.stdout

    def source(self, name: str = "data", files: int = 20, size: int = 2000) -> Path:
        """Create a source folder with ``files`` files of ``size`` bytes; return it."""
        src = self.root / name
        src.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            (src / f"file{i:03d}.txt").write_bytes(os.urandom(size // 2).hex().encode()[:size])
        return src

    def restic_template(self) -> Path:
        """Return an initialised, empty restic repository (made once; copies share its key)."""
        path = self.root / "restic-template"
        if not path.exists():
            self.run("restic", "init", "--repo", str(path), password=RESTIC_PASSWORD)
        return path

    def restic_repo(self, name: str, source: Path | None = None, age: timedelta | None = None) -> Path:
        """Return a restic repository called ``name`` with one snapshot of ``source`` taken ``age`` ago."""
        path = self.root / name
        shutil.copytree(self.restic_template(), path)
        if source is not None:
            argv = ["restic", "--repo", str(path), "backup", "--host", "fileserver", str(source)]
            if age is not None:
                argv += ["--time", (datetime.now() - age).strftime("%Y-%m-%d %H:%M:%S")]
            self.run(*argv, password=RESTIC_PASSWORD)
        return path

    def borg_repo(self, name: str, source: Path, age: timedelta | None = None) -> Path:
        """Return a borg repository with one archive of ``source`` (its time ``age`` ago)."""
        path = self.root / name
        self.run("borg", "init", "--encryption=repokey-blake2", str(path), password=BORG_PASSPHRASE)
        argv = ["borg", "create", f"{path}::nightly-{{now:%Y-%m-%dT%H:%M:%S}}", str(source)]
        if age is not None:
            argv[2:2] = ["--timestamp", (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%S")]  # borg 1.2: UTC
        self.run(*argv, password=BORG_PASSPHRASE)
        return path
