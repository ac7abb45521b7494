"""Fixtures of the backup tests: one folder of real repositories per module, and the tools' environment."""

from __future__ import annotations

import pytest

from itref.lab.peers.repos import BORG_PASSPHRASE, RESTIC_PASSWORD, RepoLab


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> RepoLab:
    return RepoLab(tmp_path_factory.mktemp("repos"))


@pytest.fixture(autouse=True)
def tool_env(lab, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("RESTIC_PW", RESTIC_PASSWORD)
    monkeypatch.setenv("BORG_PW", BORG_PASSPHRASE)
    monkeypatch.setenv("BORG_BASE_DIR", str(lab.root / "borg-base"))
    # Repositories copied from one template share their id, so each test gets its own restic cache.
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))
    monkeypatch.setenv("TZ", "Europe/Brussels")


def restore_tested(entity: str, *names: str) -> None:
    """Record a successful restore drill of these backups now, in the test's state folder: the tests of something
    else than the drill policy (ages, sizes, the fingerprint cache) then see backups within it."""
    import os
    from pathlib import Path

    from itref.backup.history import History
    from itref.state.folder import StateFolder

    history = History(StateFolder(Path(os.environ["ITREF_STATE_DIR"])))
    for name in names:
        history.record_drill(entity, name, True, ["/srv/data/sample.txt"], "restored and identical (test)")
