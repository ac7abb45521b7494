"""The practice lab, used as a newcomer would: ``itref lab up``, audit it, run every starter routine against it,
break it with each scenario, fix it with the routine the scenario names, reset it, and bring it down leaving
nothing behind.

The lab runs in a network namespace this module creates (its DC listens on the fixed AD ports, which the suite's
own DC holds in the suite's namespace); every itref command runs in it through ``ip netns exec``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest
import yaml

from itref.core.status import ExitStatus
from itref.lab.layout import pid_alive
from tests.conftest import ROOT, like_a_terminal

pytestmark = pytest.mark.peer

STEP_PROMPT = r"\[Enter\] do it · s skip this step · q stop here"
MANUAL_PROMPT = r"\[Enter\] once it is done · q stop here"
ASK_WITH_DEFAULT = r" \[[^\]\n]+\]: $"  # a routine's question with its default answer: Enter takes it
STARTERS = ROOT / "playbooks"
ENTITY_IN_LAB = {"commune": "commune", "cpas": "cpas", "asbl": "asbl-sports", "shared": "shared"}
PARAMS = {  # what a person would answer to each starter routine's questions
    "commune/onboard-employee": {"first": "Aurélie", "last": "Van den Bossche"},
    "cpas/onboard-employee": {"first": "Noé", "last": "D'Hondt"},
    "commune/offboard-leaver": {"login": "thomas.leroy", "reason": "fin de contrat"},
    "cpas/offboard-leaver": {"login": "dwauters", "reason": "mutation"},
}


@dataclass
class Lab:
    """The running lab of this module and how to run itref next to it."""

    directory: Path
    netns: str
    state_dir: Path

    @property
    def inventory(self) -> str:
        return str(self.directory / "inventory.yaml")

    def env(self) -> dict[str, str]:
        return {**os.environ, "ITREF_STATE_DIR": str(self.state_dir), "NO_COLOR": "1", "COLUMNS": "200",
                "ITREF_LANG": "en"}  # the lab's inventory says French: these tests read English, as chosen

    def itref(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """Run ``itref ARGS`` inside the lab's network namespace; return the finished process."""
        return subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, "-m", "itref", *args],
                              capture_output=True, text=True, env=self.env(), timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def audit(self, *args: str) -> list[dict]:
        """Return the findings of ``itref audit`` on the lab (any exit code)."""
        proc = self.itref("-i", self.inventory, "-f", "json", "audit", *args)
        assert proc.stdout.strip(), proc.stderr
        return json.loads(proc.stdout)["findings"]

    def routine(self, name: str, params: dict[str, str] | None = None) -> tuple[int, str]:
        """Run routine ``name`` in guided mode as a person at the terminal who says yes to every step; return its
        exit status and what the terminal showed."""
        sets = [arg for k, v in (params or {}).items() for arg in ("--set", f"{k}={v}")]
        child = pexpect.spawn("ip", ["netns", "exec", self.netns, sys.executable, "-m", "itref", "-i",
                                     self.inventory, "playbook", "run", name, "--guided", "--password-file",
                                     str(self.state_dir / f"{name.replace('/', '-')}.pw"), *sets],
                              env={**self.env(), "TERM": "dumb"}, encoding="utf-8", timeout=120,
                              dimensions=(50, 200), preexec_fn=like_a_terminal)
        seen = []
        while True:
            index = child.expect([STEP_PROMPT, MANUAL_PROMPT, ASK_WITH_DEFAULT, pexpect.EOF])
            seen.append(child.before or "")
            if index == 3:
                break
            child.send("\r")
        child.close()
        text = "".join(seen)
        assert "Traceback" not in text, text
        return int(child.exitstatus if child.exitstatus is not None else -1), text


def findings_of(findings: list[dict], check: str, host: str | None = None) -> list[dict]:
    return [f for f in findings if f["check"] == check and (host is None or f.get("host") == host)]


def worst(findings: list[dict]) -> str:
    return max((f["severity"] for f in findings), key=RANK.index, default="none")


def _processes_with(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


@contextlib.contextmanager
def started_lab(name: str, hosts: int, state_dir: Path) -> Iterator[Lab]:
    """Start ``itref lab up`` in a network namespace of its own; always bring it down and remove the namespace."""
    netns = f"itref-{name}-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
    the_lab = Lab(Path(f"/tmp/itref-{name}-{os.getpid()}"), netns, state_dir)
    try:
        proc = the_lab.itref("lab", "up", "--dir", str(the_lab.directory), "--hosts", str(hosts))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"itref -i {the_lab.directory}/inventory.yaml audit" in proc.stdout
        assert re.search(r"The lab is ready \(([\d.]+) s\)", proc.stdout), proc.stdout  # how long: a figure, not a test
        yield the_lab
    finally:
        the_lab.itref("lab", "down", "--dir", str(the_lab.directory), "--wipe")
        subprocess.run(["ip", "netns", "del", netns], check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with started_lab("labtest", 4, tmp_path_factory.mktemp("lab-state")) as the_lab:
        yield the_lab


def test_the_lab_is_a_valid_project_whose_hosts_answer_with_their_own_names(lab: Lab) -> None:
    assert lab.itref("-i", lab.inventory, "inventory", "validate").returncode == 0
    assert lab.itref("-i", lab.inventory, "playbook", "validate").returncode == 0
    status = json.loads(lab.itref("-f", "json", "lab", "status", "--dir", str(lab.directory)).stdout)
    assert status["healthy"] and status["status"] == "ready"
    assert {p["kind"] for p in status["parts"]} == {"samba", "sshd", "winrm", "https"}
    run = lab.itref("-i", lab.inventory, "-f", "json", "run", "--limit", "tag:linux", "--", "hostname")
    names = {r["host"]: r["stdout"].strip() for r in json.loads(run.stdout) if r["host"] != "admin-workstation"}
    assert names == {"nas01": "nas01", "srv-app": "srv-app", "srv-web": "srv-web", "pc-accueil": "pc-accueil"}
    secrets = lab.directory / "secrets"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in secrets.iterdir())
    inventory_text = (lab.directory / "inventory.yaml").read_text()
    from itref.lab.peers.samba import admin_password_of

    own = (secrets / "ad-admin").read_text().strip()  # the lab's admin password is its own, not the template's
    template = admin_password_of(lab.directory / "dc")  # the one its DC was cloned with
    assert own != template and len(own) >= 16
    assert own not in inventory_text and template not in inventory_text and "file:" in inventory_text


def test_hosts_check_on_the_healthy_lab_finds_no_problem_and_exits_0(lab: Lab) -> None:
    proc = lab.itref("-i", lab.inventory, "-f", "json", "hosts", "check")
    data = json.loads(proc.stdout)
    assert proc.returncode == ExitStatus.SUCCESS and data["problems"] == 0, proc.stdout + proc.stderr
    assert {h["host"] for h in data["hosts"]} == {"admin-workstation", "nas01", "srv-app", "srv-web", "pc-accueil",
                                                  "srv-fichiers"}
    assert all(h["os"] for h in data["hosts"]) and data["directory"] == []
    windows = next(h for h in data["hosts"] if h["host"] == "srv-fichiers")
    assert windows["os"].startswith("Microsoft Windows Server 2019") and abs(windows["clock_offset"]) < 5


def test_a_first_audit_finds_something_on_the_directory_the_hosts_and_the_backups(lab: Lab) -> None:
    found = lab.audit()
    stale = findings_of(found, "ad.stale-accounts")
    assert any("jean.martin" in f["message"] and f["severity"] == "warning" for f in stale)
    assert any(f["severity"] == "warning" for f in findings_of(found, "ad.password-never-expires"))
    assert worst(findings_of(found, "ad.privileged-members")) == "warning"
    assert worst(findings_of(found, "linux.disk.free", "srv-web")) == "warning"
    assert worst(findings_of(found, "linux.systemd.failed", "pc-accueil")) == "critical"
    restic = findings_of(found, "backup.restic")
    assert any("asbl-restic" in f["message"] and f["severity"] == "critical" for f in restic)
    assert worst(findings_of(found, "backup.borg")) in ("ok", "warning")
    dumps = findings_of(found, "backup.files")  # real dumps, never restore-tested yet: the drill policy says so
    assert worst(dumps) == "warning" and "never restore-tested (policy: every 92 days)" in dumps[0]["message"]
    assert dumps[0]["message"].startswith("sql-dumps — ") and "quarterly-restore-drill" in dumps[0]["fix"]
    assert worst(findings_of(found, "backup.wbadmin")) == "ok"
    assert worst(findings_of(found, "windows.updates.age", "srv-fichiers")) == "critical"
    assert worst(findings_of(found, "network.tls.expiry")) == "ok"
    assert worst(findings_of(found, "linux.disk.free", "srv-app")) == "ok"


def _starter_routines() -> dict[str, int]:
    """Return every routine of the starter playbooks (as named in the lab) → its number of steps."""
    found = {}
    for path in sorted(STARTERS.glob("*.yaml")):
        book = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, routine in book.get("routines", {}).items():
            found[f"{ENTITY_IN_LAB[book['entity']]}/{name}"] = len(routine["steps"])
    return found


def test_the_lab_has_every_starter_routine(lab: Lab) -> None:
    listed = lab.itref("-i", lab.inventory, "-f", "json", "playbook", "list")
    available = {r["routine"] for r in json.loads(listed.stdout)}
    assert set(_starter_routines()) <= available
    assert len(_starter_routines()) >= 11


@pytest.mark.parametrize("routine", list(_starter_routines()))
def test_every_starter_routine_runs_against_the_lab(lab: Lab, routine: str) -> None:
    rc, text = lab.routine(routine, PARAMS.get(routine))
    lab_steps = text.count("[1/")  # the lab's version may differ from the starter in its number of steps
    assert lab_steps == 1, text
    last = re.findall(r"\[(\d+)/(\d+)\]", text)[-1]
    assert last[0] == last[1], f"{routine} stopped before its last step:\n{text[-2000:]}"
    if "drill" in routine:  # the lab's backups are whole: every restore drill comes back identical
        assert rc == 0 and "restored and identical" in text, text
    if rc != 0:  # only an audit or backup check that finds the lab's planted problems may end with an error
        assert rc in (ExitStatus.FAILURE, ExitStatus.CHECK_WARNING, ExitStatus.CHECK_CRITICAL), text
        # only a step that checks (audit, backups) may find the lab's planted problems or warn (never drilled)
        assert ("FAILED" in text or "WARNING" in text) and ("audit" in text or "backup" in text), text
    assert re.search(r"Routine \S+: \d+ done, \d+ skipped, \d+ waiting, \d+ failed", text), text  # the summary
    if routine.endswith("onboard-employee"):
        created = json.loads(lab.itref("-i", lab.inventory, "-f", "json", "ad", "user", "find",
                                       PARAMS[routine]["last"]).stdout)
        assert created and created[0]["enabled"], text
    if routine.endswith("offboard-leaver"):
        shown = lab.itref("-i", lab.inventory, "-f", "json", "ad", "user", "show", PARAMS[routine]["login"])
        assert "OU=Departed" in shown.stdout, shown.stdout + shown.stderr


SCENARIO_FINDING = {  # scenario → (check, host or None, what the message names, how bad it is when broken)
    "disk-full": ("linux.disk.free", "srv-app", "/srv/data", "critical"),
    "backup-stale": ("backup.restic", "nas01", "cpas-restic", "critical"),
    "account-locked": ("ad.locked-accounts", None, "luc.lambert", "warning"),
    "service-down": ("linux.systemd.failed", "srv-web", "apache2.service", "critical"),
    "cert-expiring": ("network.tls.expiry", None, "intranet", "critical"),
}
RANK = ["none", "ok", "info", "warning", "unknown", "critical"]


@pytest.mark.parametrize("name", list(SCENARIO_FINDING))
def test_each_scenario_is_found_by_the_audit_fixed_by_its_routine_and_green_again(lab: Lab, name: str) -> None:
    check, host, mention, broken_severity = SCENARIO_FINDING[name]

    seen: list[dict] = []

    def severity() -> str:
        seen[:] = [f for f in findings_of(lab.audit(), check, host) if mention in f["message"]]
        return worst(seen)

    assert RANK.index(severity()) < RANK.index(broken_severity), json.dumps(seen, indent=1)
    applied = json.loads(lab.itref("-f", "json", "lab", "scenario", name, "--dir", str(lab.directory)).stdout)
    assert severity() == broken_severity, json.dumps(seen, indent=1)  # whole messages: why it was not judged
    rc, text = lab.routine(applied["routine"])
    assert rc == 0, text
    assert RANK.index(severity()) < RANK.index(broken_severity), (seen, text)
    assert lab.itref("lab", "reset", "--dir", str(lab.directory)).returncode == 0


def test_reset_puts_back_what_the_scenarios_broke(lab: Lab) -> None:
    for name in ("disk-full", "service-down", "cert-expiring"):
        assert lab.itref("lab", "scenario", name, "--dir", str(lab.directory)).returncode == 0
    assert worst(findings_of(lab.audit(), "linux.disk.free", "srv-app")) == "critical"
    reset = lab.itref("lab", "reset", "--dir", str(lab.directory))
    assert reset.returncode == 0 and "disk-full" in reset.stdout
    found = lab.audit()
    assert worst(findings_of(found, "linux.disk.free", "srv-app")) == "ok"
    assert worst(findings_of(found, "linux.systemd.failed", "srv-web")) == "ok"
    assert worst(findings_of(found, "network.tls.expiry")) == "ok"


def test_with_every_scenario_on_every_hint_of_the_audit_explains_itself(lab: Lab) -> None:
    for name in SCENARIO_FINDING:
        assert lab.itref("lab", "scenario", name, "--dir", str(lab.directory)).returncode == 0
    try:
        found = lab.audit()
    finally:
        assert lab.itref("lab", "reset", "--dir", str(lab.directory)).returncode == 0
    ids = sorted({f["check"] for f in found})
    assert {"audit.host.reachable", "ad.stale-accounts", "ad.privileged-members", "backup.restic",
            "backup.files"} <= set(ids)
    for finding_id in ids:
        explained = lab.itref("audit", "explain", finding_id)
        assert explained.returncode == 0, (finding_id, explained.stderr)
        for part in ("Why it matters: ", "How it is measured: ", "What to do: ", "Commands:"):
            assert part in explained.stdout, (finding_id, explained.stdout)
    domain = [f for f in found if f["entity"] is None]
    assert domain and all(f["check"].startswith("ad.") for f in domain)
    table = lab.itref("-i", lab.inventory, "audit")
    assert "Active Directory (whole domain)" in table.stdout and "\nother\n" not in table.stdout


def test_the_cpas_dumps_are_restore_tested_and_a_drill_of_nothing_fails(lab: Lab) -> None:
    drill = lab.itref("-i", lab.inventory, "backup", "drill", "--entity", "cpas", "sql-dumps")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "[OK] restore drill sql-dumps — " in drill.stdout and "gzip + PostgreSQL SQL dump, complete" in drill.stdout
    check = json.loads(lab.itref("-i", lab.inventory, "-f", "json", "backup", "check", "--entity", "cpas",
                                 "sql-dumps").stdout)
    assert check[0]["severity"] == "ok" and "last restore test" in check[0]["message"], check
    nothing = lab.itref("-i", lab.inventory, "backup", "drill", "image-systeme")
    assert nothing.returncode == ExitStatus.CHECK_UNKNOWN and "image-systeme (wbadmin)" in nothing.stderr
    pack = lab.directory / "pack-test"
    made = lab.itref("-i", lab.inventory, "handover", "--output", str(pack))
    assert made.returncode == 0, made.stderr
    commune = (pack / "commune.md").read_text(encoding="utf-8")
    assert "itref backup drill image-systeme" not in commune and "restore a file by hand" in commune
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in pack.iterdir())
    french = subprocess.run(["ip", "netns", "exec", lab.netns, sys.executable, "-m", "itref", "-i", lab.inventory,
                             "backup", "check", "--entity", "cpas"], capture_output=True, text=True, timeout=240,
                            env={**{k: v for k, v in lab.env().items() if k != "ITREF_LANG"}, "LANG": "C.UTF-8"})
    assert "dernier test de restauration" in french.stdout or "jamais testée" in french.stdout, french.stdout
    assert "never restore-tested" not in french.stdout and "last backup" not in french.stdout, french.stdout


def test_a_second_lab_cannot_collide_with_the_first(lab: Lab) -> None:
    again = lab.itref("lab", "up", "--dir", str(lab.directory))
    assert again.returncode == 1 and "already runs" in again.stderr
    other_dir = Path(f"/tmp/itref-labtest-other-{os.getpid()}")
    other = lab.itref("lab", "up", "--dir", str(other_dir))
    assert not other_dir.exists() or not (other_dir / "lab.json").exists()
    assert other.returncode == 1 and "already uses the directory's ports" in other.stderr
    assert "Traceback" not in other.stderr
    assert json.loads(lab.itref("-f", "json", "lab", "status", "--dir", str(lab.directory)).stdout)["healthy"]


def test_status_from_another_network_namespace_says_so_instead_of_calling_the_lab_down(lab: Lab) -> None:
    outside = subprocess.run([sys.executable, "-m", "itref", "lab", "status", "--dir", str(lab.directory)],
                             capture_output=True, text=True, env=lab.env(), timeout=60)
    assert outside.returncode == 1, outside.stdout + outside.stderr
    assert "DOWN" not in outside.stdout and "not visible from here" in outside.stdout
    pid = json.loads((lab.directory / "lab.json").read_text())["pid"]
    assert f"nsenter --net=/proc/{pid}/ns/net itref lab status" in outside.stderr
    inside = json.loads(lab.itref("-f", "json", "lab", "status", "--dir", str(lab.directory)).stdout)
    assert inside["healthy"] and not inside["other_netns"]


def test_down_leaves_no_process_mount_loop_device_or_runtime_folder(lab: Lab) -> None:
    state = json.loads((lab.directory / "lab.json").read_text())
    pids = [state["pid"], state["dc"]["pid"], *[h["pid"] for h in state["hosts"].values()]]
    runtime = state["runtime"]
    down = lab.itref("lab", "down", "--dir", str(lab.directory))
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
    assert not [p for p in pids if pid_alive(p)]  # a zombie waiting for init to reap it is not running
    assert not _processes_with(str(lab.directory)) and not _processes_with(runtime)
    assert runtime not in Path("/proc/mounts").read_text()
    loops = subprocess.run(["losetup", "--list", "--noheadings", "--output", "BACK-FILE"], capture_output=True,
                           text=True, check=True).stdout
    assert runtime not in loops
    assert not Path(runtime).exists()
    assert not Path(runtime).parent.exists() or list(Path(runtime).parent.iterdir())  # no empty parent left
    assert (lab.directory / "inventory.yaml").exists()  # kept without --wipe
    status = lab.itref("lab", "status", "--dir", str(lab.directory))
    assert status.returncode == 1 and "stopped" in status.stdout


def test_nothing_outlives_a_supervisor_killed_by_accident(tmp_path_factory: pytest.TempPathFactory) -> None:
    with started_lab("labkill", 1, tmp_path_factory.mktemp("lab-kill")) as lab:
        state = json.loads((lab.directory / "lab.json").read_text())
        children = [state["dc"]["pid"], *[h["pid"] for h in state["hosts"].values()]]
        assert all(pid_alive(p) for p in children)
        os.kill(state["pid"], 9)  # no chance to clean up: the children must die on their own
        deadline = time.monotonic() + 20
        while any(pid_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in children if pid_alive(p)]
        def loops() -> str:
            return subprocess.run(["losetup", "--list", "--output", "BACK-FILE"], capture_output=True,
                                  text=True).stdout

        while state["runtime"] in loops() and time.monotonic() < deadline + 10:
            time.sleep(0.2)
        assert state["runtime"] not in loops()  # released with the hosts' mount namespaces, before any 'down'
        status = lab.itref("lab", "status", "--dir", str(lab.directory))
        assert status.returncode == 1 and "dead" in status.stdout, status.stdout + status.stderr
        down = lab.itref("lab", "down", "--dir", str(lab.directory), "--wipe")
        assert down.returncode == 0, down.stdout + down.stderr
        assert not Path(state["runtime"]).exists() and not lab.directory.exists()


def test_a_lab_whose_dc_dies_stops_itself_and_says_why_in_the_readers_language(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    with started_lab("labdc", 1, tmp_path_factory.mktemp("lab-dc")) as lab:
        state = json.loads((lab.directory / "lab.json").read_text())
        os.kill(state["dc"]["pid"], 9)
        deadline = time.monotonic() + 30
        while pid_alive(state["pid"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not pid_alive(state["pid"])  # the supervisor noticed, stopped the hosts and left
        assert not [h["pid"] for h in state["hosts"].values() if pid_alive(h["pid"])]
        status = lab.itref("--lang", "fr", "lab", "status", "--dir", str(lab.directory))
        assert status.returncode == 1 and "échec" in status.stdout, status.stdout + status.stderr
        assert "samba s'est arrêté de lui-même" in status.stderr, status.stdout + status.stderr
        assert json.loads((lab.directory / "lab.json").read_text())["error"] == "samba-exited"
