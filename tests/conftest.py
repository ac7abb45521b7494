"""Shared fixtures: run the CLI in-process or as a subprocess, isolated state dir, inventories."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "commune" / "inventory.yaml"

# The tests read itref's English texts: a developer's French locale (LANG=fr_BE.UTF-8) must not translate them.
# LANGUAGE comes first among the locale variables; tests of French set --lang or ITREF_LANG (tests/test_i18n.py).
os.environ["LANGUAGE"] = "en"


def like_a_terminal() -> None:
    """pexpect ``preexec_fn``: give the child Ctrl-C's default action, as a shell does for a command run at a
    terminal (a suite started in the background, ``scripts/test &``, inherits SIGINT ignored, and Python then
    keeps it ignored: a Ctrl-C test would wait forever)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def journal_records(state_dir: Path) -> list[dict]:
    """Return every journal record of the state folder ``state_dir`` (all writers, all months), in time order."""
    import json

    records = [json.loads(line) for path in sorted(state_dir.glob("journal/*/*.jsonl"))
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    from datetime import datetime

    return sorted(records, key=lambda r: datetime.fromisoformat(r["time"]))


def journal_text(state_dir: Path) -> str:
    """Return the raw text of every journal file of ``state_dir`` (to look for what must never be there)."""
    return "".join(p.read_text(encoding="utf-8") for p in sorted(state_dir.glob("journal/*/*.jsonl")))


def state_text(state_dir: Path) -> str:
    """Return the text of every file of the state folder ``state_dir`` (records, documents, histories)."""
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(state_dir.rglob("*"))
                   if p.is_file())


@dataclass
class CliResult:
    """What one itref invocation produced."""

    rc: int
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own itref state folder (journal, histories) and cache folder, never the user's; a
    language an inventory chose in-process (``language: fr``) does not outlive its test, nor do the secret values
    it revealed (a password 'abc' of one test masked the change id 'abcd1234' of a later one)."""
    from itref import i18n
    from itref.core import masking

    path = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("ITREF_STATE_DIR", str(path))
    monkeypatch.setenv("ITREF_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))  # this machine's caches, per test
    monkeypatch.delenv("ITREF_INVENTORY", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    before = i18n.language()
    yield path
    monkeypatch.undo()
    if i18n.language() != before:
        i18n.set_language(None)
    masking.forget()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run itref in-process: ``cli("run", "--", "echo", "hi")`` returns a CliResult."""
    from itref.cli.main import run

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        rc = run(list(args))
        captured = capsys.readouterr()
        return CliResult(rc, captured.out, captured.err)

    return invoke


@pytest.fixture
def itref_bin():
    """Run the installed ``itref`` as a subprocess (``python -m itref``), no terminal attached."""

    def invoke(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 60) -> CliResult:
        proc = subprocess.run([sys.executable, "-m", "itref", *args], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return invoke


@pytest.fixture
def make_inventory(tmp_path: Path):
    """Write an inventory (and optional playbooks) into tmp_path; return the inventory path."""

    def write(text: str, playbooks: dict[str, str] | None = None) -> Path:
        inv = tmp_path / "inventory.yaml"
        inv.write_text(textwrap.dedent(text), encoding="utf-8")
        if playbooks:
            pdir = tmp_path / "playbooks"
            pdir.mkdir(exist_ok=True)
            for name, body in playbooks.items():
                (pdir / name).write_text(textwrap.dedent(body), encoding="utf-8")
        return inv

    return write


LOCAL_INVENTORY = """\
version: 1
organisation: Test commune
entities:
  shared:
    title: Shared
    hosts:
      here: {connection: local, tags: [linux, admin]}
      also-here: {connection: local, tags: [linux]}
  cpas:
    title: CPAS
    hosts:
      cpas-pc: {connection: local, tags: [workstation]}
"""


# ------------------------------------------------------------------ real peers: OpenSSH sshd


@contextlib.contextmanager
def shared_tmp(prefix: str) -> Iterator[Path]:
    """Yield a new folder ``/tmp/itref-PREFIX-XXXXXXXX`` (mode 0755) that the sshd hosts' unprivileged user can
    read (pytest's tmp_path is private to root, and long); it is removed with its content afterwards."""
    import shutil
    import uuid

    folder = Path(f"/tmp/itref-{prefix}-{uuid.uuid4().hex[:8]}")
    folder.mkdir(mode=0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def ssh_user():
    """The unprivileged test user (login shell /bin/sh) every sshd peer logs in as."""
    from tests.peers.sshd import ensure_privsep_dir, ensure_test_user

    ensure_privsep_dir()
    return ensure_test_user()


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory):
    """Host and client ed25519 keys generated for this test session."""
    from tests.peers.sshd import SSHKeys

    return SSHKeys(tmp_path_factory.mktemp("ssh-keys"))


@pytest.fixture(scope="session")
def sshd(ssh_keys, ssh_user):
    """One real sshd on a loopback port, shared by the session's tests."""
    from tests.peers.sshd import SSHDHost

    with SSHDHost(ssh_keys, ssh_user) as host:
        yield host


def ssh_host_entry(host, **extra: object) -> dict[str, object]:
    """Return the inventory fields that reach ``host`` (an SSHDHost) with key auth."""
    entry: dict[str, object] = {"address": host.address, "port": host.port, "connection": "ssh",
                                "user": host.username, "identity": str(host.client_key),
                                "known_hosts": str(host.known_hosts), "connect_timeout": 5}
    entry.update(extra)
    return entry


def inventory_yaml(hosts: dict[str, dict[str, object]], entity: str = "shared", **top: object) -> str:
    """Return an inventory text with ``hosts`` (name → fields) in one entity."""
    import json

    data = {"version": 1, "organisation": "Test", **top,
            "entities": {entity: {"title": entity.title(), "hosts": hosts}}}
    return json.dumps(data, indent=1)  # JSON is YAML


# ------------------------------------------------------------------ real peers: Samba AD DC


@pytest.fixture(scope="session")
def session_dc():
    """One real Samba AD DC (cloned from a cached template), shared by the session's tests."""
    from itref.lab.peers.samba import SambaDC

    dc = SambaDC()
    dc.start()
    try:
        yield dc
    finally:
        dc.close()


@pytest.fixture
def samba_dc(session_dc):
    """The session's DC, running: started again if an earlier test stopped it (the tests that stop, kill or
    interrupt it restart it themselves, but one failing halfway must not make every later test fail too)."""
    if not session_dc.running:
        session_dc.start()
    return session_dc


AD_PASSWORD_VAR = "ITREF_TEST_AD_PASSWORD"


@pytest.fixture
def ad_project(samba_dc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An inventory + playbooks pointing at the test DC; returns the inventory path."""
    import json

    monkeypatch.setenv(AD_PASSWORD_VAR, samba_dc.admin_password)
    base = samba_dc.base_dn
    inventory = {
        "version": 1, "organisation": "Commune de test",
        "directory": {"url": samba_dc.url, "base_dn": base, "bind_user": samba_dc.admin_user,
                      "bind_password": {"env": AD_PASSWORD_VAR}, "ca_file": str(samba_dc.ca_file),
                      "tls_name": samba_dc.tls_name},
        "entities": {
            "cpas": {"title": "CPAS", "ou": f"OU=CPAS,{base}", "departed_ou": f"OU=Departed,{base}"},
            "commune": {"title": "Commune", "ou": f"OU=Commune,{base}", "departed_ou": f"OU=Departed,{base}"},
        },
    }
    cpas = {"entity": "cpas", "accounts": {"templates": {"social-worker": {
        "ou": f"OU=Social,OU=CPAS,{base}", "groups": ["GG-CPAS-Social", "GG-Tous"],
        "username": "{first_initial}{last}", "upn_suffix": samba_dc.dns_domain,
        "attributes": {"department": "Service social", "company": "CPAS"}, "must_change_password": True}}}}
    commune = {"entity": "commune", "accounts": {"templates": {"clerk": {
        "ou": f"OU=Commune,{base}", "groups": ["GG-Commune"], "username": "{first}.{last}",
        "upn_suffix": samba_dc.dns_domain, "mail": "{first}.{last}@exemple.example",
        "attributes": {"company": "Commune"}}}}}
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "cpas.yaml").write_text(json.dumps(cpas), encoding="utf-8")
    (tmp_path / "playbooks" / "commune.yaml").write_text(json.dumps(commune), encoding="utf-8")
    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps(inventory, indent=1), encoding="utf-8")
    return inv
