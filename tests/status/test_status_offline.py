"""``itref status`` contacts nothing and resolves no secret: every machine, the directory, the repositories and the
watched certificates point at a tarpit (it accepts a connection and never answers, so a client that touched it would
hang there, and it counts each connection) in a network namespace of its own with only ``lo`` up; the status there
is the same, byte for byte, as with every address refusing, and the tarpit counted no connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from itref.core.findings import Finding, Severity

TARPIT = textwrap.dedent("""\
    import selectors, socket, sys
    count_file = sys.argv[1]
    sel = selectors.DefaultSelector()
    held = []
    ports = []
    for _ in range(4):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        sel.register(s, selectors.EVENT_READ)
        ports.append(s.getsockname()[1])
    open(count_file, "w").write("0")
    print(" ".join(map(str, ports)), flush=True)
    n = 0
    while True:
        for key, _ in sel.select():
            conn, _addr = key.fileobj.accept()
            held.append(conn)  # never read, never answered, never closed: a client waits forever
            n += 1
            open(count_file, "w").write(str(n))
""")


@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace with only ``lo`` up; removed afterwards."""
    name = f"itref-status-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        links = subprocess.run(["ip", "-n", name, "-o", "link", "show", "up"], capture_output=True, text=True,
                               check=True).stdout
        assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def tarpit(netns: str, tmp_path: Path) -> Iterator[tuple[list[int], Path]]:
    """The tarpit, running inside ``netns``: its four ports and the file holding how many connections it took."""
    count = tmp_path / "tarpit-connections"
    proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", TARPIT, str(count)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ports = [int(p) for p in proc.stdout.readline().split()]
        assert len(ports) == 4
        yield ports, count
    finally:
        proc.kill()
        proc.wait()


def project(folder: Path, ports: list[int]) -> Path:
    """Write a project whose every connection would go to ``ports`` on 127.0.0.1, secrets all unresolvable."""
    ssh, winrm, ldaps, https = ports
    inventory = {
        "version": 1, "organisation": "Commune hors ligne",
        "secrets": {"ad": {"env": "ITREF_TEST_NEVER_SET"}, "repo": {"file": str(folder / "no-such-secret")}},
        "directory": {"url": f"ldaps://127.0.0.1:{ldaps}", "base_dn": "DC=test,DC=example",
                      "bind_user": "svc", "bind_password": {"secret": "ad"}, "timeout": 30},
        "entities": {"cpas": {"title": "CPAS", "ou": "OU=CPAS,DC=test,DC=example", "hosts": {
            "srv-app": {"address": "127.0.0.1", "port": ssh, "user": "itref", "connect_timeout": 30,
                        "password": {"env": "ITREF_TEST_NEVER_SET"}},
            "srv-win": {"connection": "winrm", "address": "127.0.0.1", "port": winrm, "scheme": "https",
                        "user": "itref", "password": {"prompt": "WinRM password"}, "connect_timeout": 30}}}},
    }
    cpas = {"entity": "cpas",
            "routines": {"monthly-audit": {"description": "Monthly audit", "schedule": "0 7 1 * *",
                                           "steps": [{"description": "Audit", "audit": {}}]},
                         "call": {"description": "Call", "steps": [
                             {"description": "Look", "run": {"command": ["true"]}},
                             {"description": "Call them", "manual": "Call the supplier"}]}},
            "backups": [{"name": "nas", "kind": "restic", "host": "srv-app", "password": {"secret": "repo"},
                         "repository": f"sftp:itref@127.0.0.1:{ssh}/srv/restic", "max_age": "26h",
                         "drill": {"every": "90d"}, "verify_schedule": "0 2 * * 0"}],
            "audits": {"schedule": "0 6 * * 1-5", "endpoints": [{"url": f"https://127.0.0.1:{https}",
                                                                 "name": "intranet"}]}}
    (folder / "playbooks").mkdir(exist_ok=True)
    (folder / "playbooks" / "cpas.yaml").write_text(json.dumps(cpas), encoding="utf-8")
    inv = folder / "inventory.yaml"
    inv.write_text(json.dumps(inventory), encoding="utf-8")
    return inv


def fill_state(inv: Path, now: datetime) -> None:
    """Leave what a working week leaves: an audit, a backup check, a routine waiting, a change scheduled."""
    from itref.ad.plan import Change, Plan
    from itref.ad.scheduled import ScheduledChanges, prepare
    from itref.audit.history import AuditHistory
    from itref.backup.base import Facts
    from itref.backup.history import History
    from itref.config.project import load_project
    from itref.runner.routine import RunState, StepRecord, save

    state = load_project(inv).state
    AuditHistory(state).record("run1", [
        Finding("linux.disk.free", Severity.WARNING, "/srv is 91% full", entity="cpas", host="srv-app", subject="/srv"),
        Finding("network.tls.expiry", Severity.WARNING, "intranet: expires", entity="cpas",
                subject="https://intranet", evidence={"not_after": (now + timedelta(days=12)).isoformat()})],
        Severity.WARNING, "all", when=now - timedelta(days=1))
    History(state).record_check("cpas", "nas", "restic", "ok", Facts(latest=now - timedelta(hours=6), latest_id="x",
                                                                     size=10**9))
    save(state, RunState("abc123def456", "cpas/call", {}, next_step=2,
                         records=[StepRecord(1, "ok", "done")], waiting_for="Call the supplier"))
    plan = Plan("Offboard jdoe", "jdoe", [Change("modify", "CN=J Doe,OU=CPAS,DC=test,DC=example",
                                                 {"userAccountControl": "514"}, {"userAccountControl": "512"})])
    ScheduledChanges(state).add(prepare("user offboard", {"login": "jdoe", "reason": "left"}, now + timedelta(days=1),
                                        "cpas", plan, "test"))


def run_status(inv: Path, now: datetime, fmt: str, netns: str | None) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    env = {**os.environ, "ITREF_OPERATOR": "Sophie Martin", "LANGUAGE": "en", "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("ITREF_TEST_NEVER_SET", None)
    return subprocess.run([*prefix, sys.executable, "-m", "itref", "-i", str(inv), "-f", fmt, "status", "--now",
                           now.isoformat()], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_status_is_the_same_with_every_address_a_tarpit_and_touches_none(tarpit, netns: str, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ports, connections = tarpit
    monkeypatch.setenv("ITREF_CRONTAB_FILE", str(tmp_path / "crontab"))
    inv = project(tmp_path, ports)
    now = datetime.now(UTC).astimezone()
    fill_state(inv, now)
    outputs = {}
    for fmt in ("json", "table"):
        refusing = run_status(inv, now, fmt, None)  # here nothing listens on those ports: every address refuses
        in_tarpit = run_status(inv, now, fmt, netns)
        assert refusing.returncode == in_tarpit.returncode == 6, refusing.stderr + in_tarpit.stderr
        assert in_tarpit.stdout == refusing.stdout and in_tarpit.stderr == refusing.stderr
        outputs[fmt] = in_tarpit.stdout
    assert connections.read_text() == "0"
    items = [i for e in json.loads(outputs["json"])["entities"] for i in e["items"]]
    assert {i["kind"] for i in items} >= {"audit", "certificate", "backup", "routine", "run", "change", "schedule"}
    assert "Traceback" not in outputs["table"]
    # the tarpit does count: a client that connects is seen
    probe = (f"import socket; s = socket.create_connection(('127.0.0.1', {ports[0]}), timeout=5); "
             "print('connected')")
    touched = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", probe], capture_output=True,
                             text=True, timeout=30)
    assert touched.stdout.strip() == "connected"
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while connections.read_text() == "0" and datetime.now(UTC) < deadline:
        time.sleep(0.05)
    assert connections.read_text() == "1"
