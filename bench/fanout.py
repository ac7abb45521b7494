"""Fan-out: ``uptime`` on N loopback sshd hosts with itref, ansible-core, parallel-ssh and a paramiko pool.

Usage (as root, from anywhere): python3 bench/fanout.py [--runs 3] [--sizes 10,50,100] [--multi-sizes 10,50]
[--no-write].  The default run takes 7 to 9 minutes on 2 CPUs (ansible-playbook is most of it), more when
other processes keep the machine busy.  Exit status: 0 if every target is met, 1 if one is missed or a tool
failed, 2 if not run as root.

What it does, in one run:

* creates ``bench/.venv`` (once; again when bench/requirements.txt or pyproject.toml change) with itref
  installed editable from this repository plus the competitors pinned in ``bench/requirements.txt``, and
  re-executes itself inside it;
* starts max(N) real OpenSSH ``sshd`` on distinct loopback addresses with ``tests/peers/sshd.py``, all
  accepting the unprivileged test user ``itref-test`` (login shell /bin/sh) with one ed25519 client key;
  writes one known_hosts file, one itref inventory and one ansible INI inventory per N, an ansible.cfg and
  a 10-task playbook into a private temp dir (``ANSIBLE_HOME``, ``ANSIBLE_LOCAL_TEMP`` and the itref state
  dir point there, so nothing touches ``~/.ansible`` or the operator's journal);
* **one command per host**: for each N, runs ``itref -i INV run -f json --forks N -- uptime``,
  ``ansible all -m command -a uptime -f N``, a parallel-ssh ``ParallelSSHClient`` and a plain paramiko
  ``ThreadPoolExecutor(max_workers=N)`` (each its own process, see ``bench/_fanout_clients.py``), interleaved,
  ``--runs`` times; itref's API (same work, no CLI) and ``itref run --dry-run`` (start-up and inventory, no
  SSH) are run too, to show where itref's time goes;
* **10 commands per host over one connection**: itref's API (``runner.executor.execute``), paramiko,
  parallel-ssh (10 ``run_command`` on one client) and ``ansible-playbook -f N`` with 10 ``command`` tasks;
* checks that every tool succeeded on every host (exit codes, outputs) and stops loudly otherwise;
* on a shared machine: starts each run once other processes have calmed down (waiting at most 30 s), and
  repeats (at most twice) a run of itref, parallel-ssh or paramiko during which other processes used more
  than a quarter of the CPU; the section says how much other processes used;
* measures the wall time around each process, the CPU time of its whole process tree, and its peak
  memory: the peak, sampled every 20 ms from /proc by a high-priority thread, of the SUM of the resident
  set sizes of the tool's whole process tree (ansible's forked workers and ssh clients included; this
  process is a child subreaper, so the daemonised ssh ControlPersist masters that ansible leaves behind are
  adopted and counted too), plus the same sum of PSS (shared pages counted once);
* writes the medians to docs/performance.md (section "fanout") and prints them.

ansible runs "as installed": default ssh arguments (``ControlMaster=auto``, ``ControlPersist=60s``), no
pipelining, default stdout callback.  Its "cold" rows start with no ControlPersist master (the masters of
the previous run are stopped), like every other tool, which opens fresh connections.  The "warm" rows
re-run it at once while the masters of the cold run are still alive (what a second run within 60 s gets);
those masters' memory is counted in the warm run.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv"
REQUIREMENTS = BENCH / "requirements.txt"
CLIENTS = BENCH / "_fanout_clients.py"

TARGET_VS_PARAMIKO = 1.1  # itref wall time / paramiko pool wall time at N=50, at most
TARGET_VS_ANSIBLE = 10.0  # ansible (cold) wall time / itref wall time at N=50, at least
TARGET_MEMORY_MB = 150.0  # itref peak memory at N=100, below
RATIO_N = 50
MEMORY_N = 100
MULTI_COMMANDS = 10
SAMPLE_INTERVAL = 0.02  # RSS sampled every 20 ms
PSS_EVERY = 25  # PSS every 25th sample (0.5 s), and whenever the RSS sum grew by PSS_STEP since the last read
PSS_STEP = 1.2
SAMPLER_NICE = -15
EXPECTED = "load average"
TOOL_TIMEOUT = 600  # seconds one tool run may take before the benchmark gives up
QUIET = 0.1  # before each run, wait until other processes use less than this share of the CPU ...
QUIET_MAX_WAIT = 30.0  # ... for at most this many seconds

MB = 1024 * 1024
_PR_SET_CHILD_SUBREAPER = 36


class BenchError(RuntimeError):
    """A tool failed on a host, or the lab could not be set up: the figures would be worthless."""


# --------------------------------------------------------------------------------------------------------
# the benchmark's own venv


def _venv_stamp() -> str:
    """Return a digest of what the venv was built from (requirements, itref's pyproject, the Python)."""
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def ensure_venv(script: Path | None = None) -> None:
    """Re-exec ``script`` (this file by default) inside ``bench/.venv``, creating or refreshing the venv first
    when needed.

    Returns only when already running inside the venv.
    """
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    stamp_file = VENV / ".fanout-stamp"
    stamp = _venv_stamp()
    if not python.exists():
        print(f"fanout: creating {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        print("fanout: installing itref (editable) and the competitors into the venv", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS), "-e", str(ROOT)], check=True)
        stamp_file.write_text(stamp)
    os.execv(str(python), [str(python), str((script or Path(__file__)).resolve()), *sys.argv[1:]])


# --------------------------------------------------------------------------------------------------------
# process-tree memory sampling


def _stat(pid: int) -> tuple[int, int] | None:
    """Return (ppid, starttime) of ``pid`` from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()
    return int(fields[1]), int(fields[19])


_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> int:
    """Return the resident set size of ``pid`` in bytes (/proc/PID/statm, about 4 µs); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    """Return the proportional set size of ``pid`` in bytes (/proc/PID/smaps_rollup, about 200 µs)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the summed RSS of every process that belongs to the tool every ``interval`` s, and the
    summed PSS every ``pss_every`` samples or when the RSS sum reached a new peak ``PSS_STEP`` times the one
    of the last PSS read (reading PSS costs 50 times more than RSS: reading it every time would load the
    machine during ansible's runs).

    A process belongs to the tool if its parent does, or if it is a child of this (subreaper) process that
    is not in ``foreign`` (the sshd peers): the tool's root, and whatever daemonised itself out of the
    tool's tree (ssh ControlPersist masters) and was re-parented to us.  The answer is memoised per pid
    while the pid is listed in /proc (a pid cannot be reused between two samples 20 ms apart), so each
    sample reads /proc/PID/stat only for new processes.
    """

    def __init__(self, foreign: set[int], interval: float = SAMPLE_INTERVAL, pss_every: int = PSS_EVERY) -> None:
        super().__init__(daemon=True)
        self.foreign = foreign
        self.interval = interval
        self.pss_every = pss_every
        self.me = os.getpid()
        self.peak_rss = 0
        self.peak_pss = 0
        self.samples = 0
        self._pss_rss = 0  # the RSS sum when PSS was last read
        self._memo: dict[int, bool] = {}
        self._stop_event = threading.Event()

    def _belongs(self, pid: int, depth: int = 0) -> bool:
        known = self._memo.get(pid)
        if known is not None:
            return known
        st = _stat(pid)
        if st is None:
            return False
        ppid = st[0]
        if ppid == self.me:
            mine = pid not in self.foreign
        elif ppid <= 1 or depth > 64:
            mine = False
        elif ppid not in self._memo and _stat(ppid) is None:  # the parent just died: read the new parent
            return self._belongs(pid, depth + 1)
        else:
            mine = self._belongs(ppid, depth + 1)
        self._memo[pid] = mine
        return mine

    def sample(self) -> None:
        """Take one sample and update the peaks."""
        live = [int(name) for name in os.listdir("/proc") if name.isdigit()]
        alive = set(live)
        for pid in [p for p in self._memo if p not in alive]:
            del self._memo[pid]
        mine = [pid for pid in live if self._belongs(pid)]
        rss = sum(map(_rss, mine))
        self.peak_rss = max(self.peak_rss, rss)
        if self.samples % self.pss_every == 0 or rss > self._pss_rss * PSS_STEP:
            self.peak_pss = max(self.peak_pss, sum(map(_pss, mine)))
            self._pss_rss = max(self._pss_rss, rss)
        self.samples += 1

    def run(self) -> None:
        # Raise this thread's priority (only this thread: Linux applies setpriority to a TID) so that it
        # keeps its 20 ms rhythm while the tool saturates every CPU; it uses a few % of one CPU.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SAMPLER_NICE)
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop_event.set()
        self.join()


def _cpu(pid: int) -> float:
    """Return the user + system CPU seconds ``pid`` has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return 0.0
    fields = raw[raw.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy() -> float:
    """Return the CPU seconds all CPUs have spent since boot in user, nice and system mode, plus the time the
    hypervisor gave them to other machines (steal), from /proc/stat."""
    with open("/proc/stat", "rb") as f:
        fields = f.readline().split()
    return (int(fields[1]) + int(fields[2]) + int(fields[3]) + int(fields[8])) / _TICKS


def our_cpu(roots: Sequence[int] = ()) -> float:
    """Return the CPU seconds used so far by this process and every process it started, alive or reaped
    (the sshd peers and their sessions, the tools): own + children's times of this process and of every
    living descendant (a child's times move into its parent's when it is reaped, so nothing counts twice).
    With ``roots``, the same for those processes and their descendants instead of this process.
    """
    times: dict[int, float] = {}
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()
        pid = int(name)
        times[pid] = sum(int(x) for x in fields[11:15]) / _TICKS  # utime stime cutime cstime
        children.setdefault(int(fields[1]), []).append(pid)
    total, todo = 0.0, list(roots) or [os.getpid()]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def wait_quiet(max_wait: float = QUIET_MAX_WAIT, window: float = 0.5) -> float:
    """Wait until, over ``window`` s, processes that are not ours used less than ``QUIET`` of the machine's
    CPU (at most ``max_wait`` s; on a shared machine, to start runs between other people's bursts); return
    the seconds waited."""
    start = time.monotonic()
    capacity = window * (os.cpu_count() or 1)
    while time.monotonic() - start < max_wait:
        busy0, ours0 = machine_busy(), our_cpu()
        time.sleep(window)
        if (machine_busy() - busy0) - (our_cpu() - ours0) < QUIET * capacity:
            break
    return time.monotonic() - start


def adopted_children(foreign: set[int]) -> list[int]:
    """Return the pids of our children that are neither sshd peers nor running Popen objects: orphans
    adopted as subreaper (ansible's ControlPersist masters)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None and st[0] == me and int(name) not in foreign:
                found.append(int(name))
    return found


def stop_adopted(foreign: set[int], timeout: float = 5.0) -> int:
    """SIGTERM the adopted orphans, reap them (SIGKILL after ``timeout``); return how many there were."""
    pids = adopted_children(foreign)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pending = set(pids)
    while pending:
        for pid in list(pending):
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                pending.discard(pid)
        if pending and time.monotonic() > deadline:
            for pid in pending:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.005)
    return len(pids)


@dataclass
class Measure:
    """One timed run of one tool."""

    wall: float
    peak_rss: int
    peak_pss: int
    cpu: float
    samples: int
    other_cpu: float  # CPU seconds used meanwhile by processes that are neither the benchmark's nor its peers'


def measure(argv: Sequence[str], env: dict[str, str], workdir: Path, foreign: set[int],
            check: Callable[[int, str, str], str | None]) -> Measure:
    """Run ``argv``, timing it and sampling its process tree's memory; return the figures.

    ``check(rc, stdout, stderr)`` returns why the run is wrong, or None; a wrong run raises BenchError.
    """
    out_path, err_path = workdir / "last.out", workdir / "last.err"
    before = {pid: _cpu(pid) for pid in adopted_children(foreign)}  # ssh masters a warm run reuses
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, ours0 = machine_busy(), our_cpu()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        sampler = TreeSampler(foreign)
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                cwd=workdir)
        sampler.start()
        try:
            rc = proc.wait(timeout=TOOL_TIMEOUT)
        except BaseException as exc:  # a hung tool, or Ctrl-C: never leave it running
            proc.kill()
            proc.wait()
            sampler.stop()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise BenchError(f"{shlex.join(argv)} still ran after {TOOL_TIMEOUT} s") from None
            raise
        wall = time.perf_counter() - start
        sampler.stop()
    other = max(0.0, (machine_busy() - busy0) - (our_cpu() - ours0))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)  # the tool and what it reaped
    cpu += sum(_cpu(pid) - before.get(pid, 0.0) for pid in adopted_children(foreign))  # masters still alive
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    problem = check(rc, stdout, stderr)
    if problem:
        raise BenchError(f"{shlex.join(argv)} failed: {problem}\n--- exit code {rc}\n--- stdout (head):\n"
                         f"{stdout[:3000]}\n--- stderr (head):\n{stderr[:3000]}")
    return Measure(wall, sampler.peak_rss, sampler.peak_pss, cpu, sampler.samples, other)


# --------------------------------------------------------------------------------------------------------
# the lab: sshd hosts and every tool's configuration


@dataclass
class Lab:
    """The sshd hosts and the files every tool reads, in one private temp dir."""

    tmp: Path
    hosts: list  # tests.peers.sshd.SSHDHost
    names: list[str]
    user: str
    key: Path
    known_hosts: Path
    python: str
    env: dict[str, str] = field(default_factory=dict)

    def itref_inventory(self, n: int) -> Path:
        """Return (writing it once) the itref inventory of the first ``n`` hosts."""
        path = self.tmp / f"itref-{n}" / "inventory.yaml"
        if not path.exists():
            path.parent.mkdir()
            hosts = {name: {"address": h.address, "port": h.port, "connection": "ssh", "user": self.user,
                            "identity": str(self.key), "known_hosts": str(self.known_hosts),
                            "connect_timeout": 10}
                     for name, h in zip(self.names[:n], self.hosts[:n], strict=True)}
            data = {"version": 1, "organisation": "Fan-out benchmark",
                    "entities": {"shared": {"title": "Shared", "hosts": hosts}}}
            path.write_text(json.dumps(data, indent=1), encoding="utf-8")  # JSON is YAML
        return path

    def ansible_inventory(self, n: int) -> Path:
        """Return (writing it once) the ansible INI inventory of the first ``n`` hosts."""
        path = self.tmp / f"ansible-{n}.ini"
        if not path.exists():
            lines = ["[bench]"]
            lines += [f"{name} ansible_host={h.address} ansible_port={h.port}"
                      for name, h in zip(self.names[:n], self.hosts[:n], strict=True)]
            common = f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"
            lines += ["", "[all:vars]", f"ansible_user={self.user}", f"ansible_ssh_private_key_file={self.key}",
                      f"ansible_ssh_common_args='{common}'", f"ansible_python_interpreter={self.python}"]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def client_spec(self, n: int, commands: int) -> Path:
        """Return (writing it once) the JSON spec that bench/_fanout_clients.py reads."""
        path = self.tmp / f"spec-{n}-{commands}.json"
        if not path.exists():
            spec = {"hosts": [{"name": name, "address": h.address, "port": h.port}
                              for name, h in zip(self.names[:n], self.hosts[:n], strict=True)],
                    "user": self.user, "key": str(self.key), "known_hosts": str(self.known_hosts),
                    "commands": commands, "inventory": str(self.itref_inventory(n)),
                    "state_dir": str(self.tmp / "itref-state")}
            path.write_text(json.dumps(spec), encoding="utf-8")
        return path


def remote_python() -> str:
    """Return the Python the hosts (this machine) run ansible modules with: /usr/bin/python3 if present."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/usr/bin/python3.11", "/usr/bin/python3.12"):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if not found:
        raise BenchError("no system python3 for ansible modules on the hosts (apt-get install python3)")
    return found


PLAYBOOK_HEAD = """- name: {k} commands per host over one connection
  hosts: all
  gather_facts: false
  tasks:
"""


@contextlib.contextmanager
def lab(n_hosts: int) -> Iterator[Lab]:
    """Start ``n_hosts`` loopback sshd and write every tool's configuration; yield the Lab, tear down after."""
    sys.path.insert(0, str(ROOT))
    from tests.peers.sshd import SSHKeys, ensure_privsep_dir, ensure_test_user, loopback_hosts, write_known_hosts

    tmp = Path(tempfile.mkdtemp(prefix="itref-fanout-"))
    try:
        ensure_privsep_dir()
        user = ensure_test_user()
        keys = SSHKeys(tmp / "keys")
        with loopback_hosts(n_hosts, keys, user) as hosts:
            known_hosts = write_known_hosts(tmp / "known_hosts", hosts)
            home = tmp / "ansible-home"
            (home / "tmp").mkdir(parents=True)
            python = remote_python()
            (tmp / "ansible.cfg").write_text(
                "[defaults]\n"
                "# ansible-core as installed: default ssh_args (ControlMaster=auto, ControlPersist=60s),\n"
                "# no pipelining, default stdout callback, host keys checked.\n"
                "host_key_checking = True\n"
                "retry_files_enabled = False\n", encoding="utf-8")
            tasks = "".join(f"    - name: uptime {i}\n      ansible.builtin.command: uptime\n"
                            for i in range(1, MULTI_COMMANDS + 1))
            (tmp / "play.yml").write_text(PLAYBOOK_HEAD.format(k=MULTI_COMMANDS) + tasks, encoding="utf-8")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ANSIBLE_", "ITREF_")) and k != "PYTHONDONTWRITEBYTECODE"}
            # Byte-code is cached (as after a normal install, where pip compiles it), in the venv rather than
            # beside itref's sources: the editable install would otherwise compile src/ on every run.
            env.update(PYTHONPYCACHEPREFIX=str(VENV / "pycache"), ANSIBLE_CONFIG=str(tmp / "ansible.cfg"),
                       ANSIBLE_HOME=str(home), ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
                       ITREF_STATE_DIR=str(tmp / "itref-state"), LC_ALL="C.UTF-8", COLUMNS="200")
            names = [f"h{i:03d}" for i in range(1, n_hosts + 1)]
            yield Lab(tmp, hosts, names, user.name, keys.client_key, known_hosts, python, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------
# the tools: how to run each, and how to tell it succeeded on every host


def _check_clients(n: int) -> Callable[[int, str, str], str | None]:
    def check(rc: int, out: str, err: str) -> str | None:
        try:
            summary = json.loads(out.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return "no JSON summary"
        if rc != 0 or summary["failed"] or len(summary["ok"]) != n:
            return f"{len(summary['ok'])}/{n} hosts ok; failed: {dict(list(summary['failed'].items())[:5])}"
        return None

    return check


def _check_itref_cli(n: int) -> Callable[[int, str, str], str | None]:
    def check(rc: int, out: str, err: str) -> str | None:
        try:
            results = json.loads(out)
        except ValueError:
            return "itref printed no JSON report"
        good = [r for r in results if r["outcome"] == "ok" and r["rc"] == 0 and EXPECTED in r["stdout"]]
        if rc != 0 or len(good) != n:
            bad = [(r["host"], r["outcome"], r.get("error")) for r in results if r not in good][:5]
            return f"{len(good)}/{n} hosts ok; e.g. {bad}"
        return None

    return check


def _check_dry_run(n: int) -> Callable[[int, str, str], str | None]:
    def check(rc: int, out: str, err: str) -> str | None:
        try:
            plan = json.loads(out)
        except ValueError:
            return "itref printed no JSON plan"
        if rc != 0 or not plan.get("dry_run") or len(plan.get("hosts", [])) != n:
            return f"expected a dry-run plan for {n} hosts"
        return None

    return check


_ADHOC_OK = re.compile(r"^(\S+) \| CHANGED \| rc=0 >>\n.*load average", re.M)
_RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def _check_ansible(n: int) -> Callable[[int, str, str], str | None]:
    def check(rc: int, out: str, err: str) -> str | None:
        ok = set(_ADHOC_OK.findall(out))
        if rc != 0 or len(ok) != n:
            return f"{len(ok)}/{n} hosts answered CHANGED rc=0 with a load average"
        return None

    return check


def _check_playbook(n: int) -> Callable[[int, str, str], str | None]:
    def check(rc: int, out: str, err: str) -> str | None:
        good = {h for h, ok, unreach, failed in _RECAP.findall(out)
                if int(ok) == MULTI_COMMANDS and unreach == "0" and failed == "0"}
        if rc != 0 or len(good) != n:
            return f"{len(good)}/{n} hosts with ok={MULTI_COMMANDS} failed=0 unreachable=0 in the recap"
        return None

    return check


@dataclass(frozen=True)
class Tool:
    """One competitor in one case: its label, argv for N hosts, and its success check."""

    label: str
    argv: Callable[[Lab, int], list[str]]
    check: Callable[[int], Callable[[int, str, str], str | None]]
    warm_rerun: bool = False  # re-run at once while ControlPersist masters live (ansible)
    noise_checked: bool = True  # repeat a run disturbed by other processes (not for ansible: see report())


def _bin(name: str) -> str:
    return str(VENV / "bin" / name)


def _client(kind: str, commands: int) -> Callable[[Lab, int], list[str]]:
    return lambda lab, n: [sys.executable, str(CLIENTS), kind, str(lab.client_spec(n, commands))]


ONE_COMMAND = [
    Tool("itref run (CLI)", lambda lab, n: [_bin("itref"), "-i", str(lab.itref_inventory(n)), "run", "-f", "json",
                                            "--forks", str(n), "--", "uptime"], _check_itref_cli),
    Tool("ansible ad-hoc", lambda lab, n: [_bin("ansible"), "all", "-i", str(lab.ansible_inventory(n)), "-m",
                                           "command", "-a", "uptime", "-f", str(n)], _check_ansible,
         warm_rerun=True, noise_checked=False),
    Tool("parallel-ssh", _client("pssh", 1), _check_clients),
    Tool("paramiko thread pool", _client("paramiko", 1), _check_clients),
    Tool("itref API (no CLI)", _client("itref-api", 1), _check_clients),
    Tool("itref run --dry-run (no SSH)", lambda lab, n: [_bin("itref"), "-i", str(lab.itref_inventory(n)), "run",
                                                         "-f", "json", "--dry-run", "--", "uptime"], _check_dry_run),
]
MULTI = [
    Tool("itref API", _client("itref-api", MULTI_COMMANDS), _check_clients),
    Tool("ansible-playbook", lambda lab, n: [_bin("ansible-playbook"), "-i", str(lab.ansible_inventory(n)),
                                             "-f", str(n), str(lab.tmp / "play.yml")], _check_playbook,
         noise_checked=False),
    Tool("parallel-ssh", _client("pssh", MULTI_COMMANDS), _check_clients),
    Tool("paramiko thread pool", _client("paramiko", MULTI_COMMANDS), _check_clients),
]
WARM = " (warm masters)"
COLD = " (cold)"


# --------------------------------------------------------------------------------------------------------
# running the cases


Results = dict[tuple[str, int], list[Measure]]
DISTURBED = 0.25  # a run during which other processes used more than this share of the machine's CPU ...
MAX_RETRIES = 2  # ... is run again, at most this many times


def run_case(lab_: Lab, tools: Sequence[Tool], sizes: Sequence[int], runs: int, foreign: set[int],
             results: Results, title: str, *, timed: bool = True) -> int:
    """Run every tool at every size ``runs`` times, interleaved (tool order rotated each round); return how
    many runs were repeated because other processes disturbed them."""
    repeated = 0
    waited = 0.0
    for r in range(runs):
        for n in sizes:
            order = list(tools[r % len(tools):]) + list(tools[:r % len(tools)])
            for tool in order:
                stop_adopted(foreign)  # every tool starts cold: no ssh master left from a previous run
                label = tool.label + (COLD if tool.warm_rerun else "")
                waited += wait_quiet()
                m = measure(tool.argv(lab_, n), lab_.env, lab_.tmp, foreign, tool.check(n))
                for _retry in range(MAX_RETRIES if tool.noise_checked else 0):
                    if m.other_cpu <= DISTURBED * m.wall * (os.cpu_count() or 1):
                        break
                    _progress(title, r, runs, n, label, m, timed, "disturbed by other processes: run again")
                    repeated += 1
                    waited += wait_quiet()
                    m = measure(tool.argv(lab_, n), lab_.env, lab_.tmp, foreign, tool.check(n))
                results.setdefault((label, n), []).append(m)
                _progress(title, r, runs, n, label, m, timed)
                if tool.warm_rerun:
                    m = measure(tool.argv(lab_, n), lab_.env, lab_.tmp, foreign, tool.check(n))
                    results.setdefault((tool.label + WARM, n), []).append(m)
                    _progress(title, r, runs, n, tool.label + WARM, m, timed)
                stop_adopted(foreign)
    if waited > 1:
        print(f"fanout: [{title}] waited {waited:.0f} s in all for other processes to calm down", file=sys.stderr)
    return repeated


def _progress(title: str, r: int, runs: int, n: int, label: str, m: Measure, timed: bool, note: str = "") -> None:
    tag = f"{r + 1}/{runs}" if timed else "warm-up"
    print(f"fanout: [{title} {tag}] N={n:<3} {label:<30} {m.wall:6.2f} s  {m.peak_rss / MB:6.0f} MB RSS  "
          f"{m.peak_pss / MB:5.0f} MB PSS  {m.cpu:6.2f} s CPU  ({m.samples} samples; others used {m.other_cpu:.2f} s "
          f"CPU meanwhile){' ' + note if note else ''}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------
# report


def med(results: Results, label: str, n: int, attr: str) -> float | None:
    """Return the median of ``attr`` over the runs of ``label`` at ``n`` (None if not measured)."""
    runs = results.get((label, n))
    return statistics.median(getattr(m, attr) for m in runs) if runs else None


def labels_of(tools: Sequence[Tool]) -> list[str]:
    """Return the row labels of ``tools`` (ansible splits into cold and warm rows)."""
    out: list[str] = []
    for t in tools:
        out += [t.label + COLD, t.label + WARM] if t.warm_rerun else [t.label]
    return out


METRICS = {  # column title, Measure attribute, format
    "wall": ("wall", "wall", lambda v: f"{v:.2f} s"),
    "rss": ("peak RSS", "peak_rss", lambda v: f"{v / MB:.0f} MB"),
    "pss": ("peak PSS", "peak_pss", lambda v: f"{v / MB:.0f} MB"),
    "cpu": ("CPU", "cpu", lambda v: f"{v:.2f} s"),
}


def table(results: Results, labels: Sequence[str], sizes: Sequence[int], metrics: Sequence[str]) -> str:
    """Return a Markdown table: one row per tool, the median of each of ``metrics`` for each N."""
    cols = [(n, METRICS[m]) for n in sizes for m in metrics]
    head = "| tool | " + " | ".join(f"N={n} {title}" for n, (title, _a, _f) in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    rows = []
    for label in labels:
        cells = []
        for n, (_title, attr, fmt) in cols:
            value = med(results, label, n, attr)
            cells.append("-" if value is None else fmt(value))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])


def versions() -> str:
    """Return the versions of the tools compared, and of OpenSSH."""
    from importlib.metadata import version

    from tests.peers.sshd import sshd_version

    parts = [f"{name} {version(name)}" for name in ("itref", "ansible-core", "parallel-ssh", "ssh2-python",
                                                     "paramiko", "gevent")]
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                            text=True, check=False).stdout.strip()
    if commit:
        parts[0] += f" (git {commit})"
    major, minor = sshd_version()
    client = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False).stderr.split(",")[0].strip()
    return ", ".join(parts) + f"; sshd OpenSSH {major}.{minor}, ssh client {client}"


def verdicts(one: Results) -> tuple[list[str], bool]:
    """Return the target lines (ratio at N=50, memory at N=100) and whether every target measured is met."""
    lines, all_met = [], True
    itref = med(one, "itref run (CLI)", RATIO_N, "wall")
    paramiko = med(one, "paramiko thread pool", RATIO_N, "wall")
    ansible = med(one, "ansible ad-hoc" + COLD, RATIO_N, "wall")
    warm = med(one, "ansible ad-hoc" + WARM, RATIO_N, "wall")
    if itref and paramiko and ansible:
        r1, r2 = itref / paramiko, ansible / itref
        ok1, ok2 = r1 <= TARGET_VS_PARAMIKO, r2 >= TARGET_VS_ANSIBLE
        all_met &= ok1 and ok2
        lines.append(f"- N={RATIO_N}: itref / paramiko thread pool = **{r1:.2f}x** "
                     f"(target ≤ {TARGET_VS_PARAMIKO}x: {'meets' if ok1 else 'MISSES'})")
        lines.append(f"- N={RATIO_N}: ansible ad-hoc (cold) / itref = **{r2:.1f}x** "
                     f"(target ≥ {TARGET_VS_ANSIBLE:g}x: {'meets' if ok2 else 'MISSES'})"
                     + (f"; with warm ControlPersist masters {warm / itref:.1f}x" if warm else ""))
    else:
        lines.append(f"- N={RATIO_N} was not measured: no wall-time ratios.")
    api = med(one, "itref API (no CLI)", RATIO_N, "wall")
    dry = med(one, "itref run --dry-run (no SSH)", RATIO_N, "wall")
    if itref and paramiko and api and dry:
        lines.append(f"- Where the difference goes at N={RATIO_N}: itref − paramiko pool = {itref - paramiko:+.2f} s, "
                     f"of which the CLI layer (itref run − itref API) is {itref - api:+.2f} s; `itref run --dry-run` "
                     f"(interpreter, CLI, inventory of {RATIO_N} hosts validated, nothing connected) alone takes "
                     f"{dry:.2f} s.")
    rss = med(one, "itref run (CLI)", MEMORY_N, "peak_rss")
    if rss is not None:
        ok3 = rss / MB < TARGET_MEMORY_MB
        all_met &= ok3
        lines.append(f"- N={MEMORY_N}: itref peak memory **{rss / MB:.0f} MB** "
                     f"(target < {TARGET_MEMORY_MB:g} MB: {'meets' if ok3 else 'MISSES'})")
    else:
        lines.append(f"- N={MEMORY_N} was not measured: no memory target.")
    return lines, all_met


def report(args: argparse.Namespace, one: Results, multi: Results, elapsed: float, lab_: Lab,
           repeated: int) -> tuple[str, bool]:
    """Return the Markdown section and whether every target is met."""
    from _report import machine

    target_lines, all_met = verdicts(one)
    every = [m for runs in (*one.values(), *multi.values()) for m in runs]
    worst = max(m.wall / max(m.samples, 1) for m in every)
    # ansible's runs are left out: some CPU of its remote modules escapes the accounting (about 35 ms per host
    # and task shows up as "other" even on an idle machine), which would make this indicator cry wolf.
    checked = [m for (label, _n), runs in (*one.items(), *multi.items()) if not label.startswith("ansible")
               for m in runs]
    ncpu = os.cpu_count() or 1
    share = sum(m.other_cpu for m in checked) / sum(m.wall * ncpu for m in checked)
    busiest = max(m.other_cpu / (m.wall * ncpu) for m in checked)
    quiet = (f"Other processes of the machine (and the hypervisor's steal) used {share:.0%} of its CPU during "
             f"the runs of itref, parallel-ssh and paramiko ({busiest:.0%} in the busiest run; the counters tick "
             "every 10 ms, so short runs read coarsely)"
             + (": the figures are not disturbed." if share < 0.05 else
                ": something else was running, so these figures are noisier than they should be.")
             + f" Each run waited (at most {QUIET_MAX_WAIT:g} s) for other processes to use under {QUIET:.0%} of the "
             f"CPU for 0.5 s; {repeated} run(s) disturbed beyond {DISTURBED:.0%} all the same were run again (at most "
             f"{MAX_RETRIES} times each; ansible's runs are not checked).")
    cmd = shlex.join(["python3", "bench/fanout.py", *sys.argv[1:]])
    multi_table = (table(multi, labels_of(MULTI), args.multi_sizes, ["wall", "rss", "cpu"]) if args.multi_sizes
                   else "(not run: `--multi-sizes` was empty)")
    body = f"""## Fan-out: `uptime` on N sshd hosts — itref, ansible-core, parallel-ssh, paramiko

Command (as root): `{cmd}` — {args.runs} interleaved runs per tool and N, medians shown; the whole run took
{elapsed / 60:.1f} min. {machine()}.
Versions: {versions()}.
{quiet}

The hosts are real OpenSSH `sshd` on distinct loopback addresses (`tests/peers/sshd.py`), logging in as the
unprivileged user `{lab_.user}` (login shell `/bin/sh`) with an ed25519 key; host keys are checked against one
known_hosts file by every tool except parallel-ssh, which does no host-key checking at all: it never calls
ssh2-python's known-hosts API and accepts any server key (so it does a little less work than the others).
Each figure is one whole process, interpreter start-up and imports included. *Wall* is the time from spawn
to exit; *peak RSS* is the peak of the sum of the resident sizes of the tool's whole process tree, sampled
every {SAMPLE_INTERVAL * 1000:.0f} ms by a high-priority thread (on average every {worst * 1000:.0f} ms in the
busiest run), ansible's forked workers, its `ssh` clients and its daemonised ControlPersist
masters included; sshd's side is not counted for anyone.

### One command per host

`itref -i INV run -f json --forks N -- uptime`; `ansible all -i hosts.ini -m command -a uptime -f N`
(as installed: ControlMaster=auto, ControlPersist=60s, no pipelining; *cold* = no master alive, like every
other tool; *warm* = re-run at once, reusing the masters of the cold run); parallel-ssh `ParallelSSHClient`
(`pool_size=N`); a plain paramiko `ThreadPoolExecutor(max_workers=N)`, one `SSHClient` per host
(RejectPolicy, default socket). *itref API* is the same work through `itref.core.executor.execute` without
the CLI, to show what the CLI (start-up, journal, JSON report) adds; *itref run --dry-run* connects nowhere,
to show what start-up and inventory validation alone cost.

{table(one, labels_of(ONE_COMMAND), args.sizes, ["wall", "rss"])}

{chr(10).join(target_lines)}

The CPU time each tool's process tree used (user + system, the ssh masters ansible leaves running included;
on {os.cpu_count()} CPU shared with the sshd hosts, client CPU turns into wall time), and the peak memory
counting shared pages once (sum of PSS: ansible's forked workers share most of their pages, which the sum of
RSS counts once per worker; PSS is read at each new RSS peak and every {SAMPLE_INTERVAL * PSS_EVERY:g} s, so it
is a lower bound):

{table(one, labels_of(ONE_COMMAND), args.sizes, ["cpu", "pss"])}

### {MULTI_COMMANDS} commands per host over one connection

itref's API (`execute` with a work function running `Command.of(["uptime"])` {MULTI_COMMANDS} times on the
host's connector); paramiko ({MULTI_COMMANDS} `exec_command` on one client per host); parallel-ssh
({MULTI_COMMANDS} `run_command` + `join` on one client, so hosts advance in lockstep); `ansible-playbook -f N`
with {MULTI_COMMANDS} `command: uptime` tasks, `gather_facts: false` (the masters of ControlPersist carry the
connection from task to task).

{multi_table}
"""
    return body, all_met


# --------------------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> int:
    """Parse the options, set up the venv and the lab, run every case, write and print the section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tool and N (default 3)")
    parser.add_argument("--sizes", type=_sizes, default=[10, 50, 100], help="host counts, one command (10,50,100)")
    parser.add_argument("--multi-sizes", type=_sizes, default=[10, 50],
                        help=f"host counts for {MULTI_COMMANDS} commands per host ('' to skip; default 10,50)")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave docs/performance.md alone")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("fanout: run as root (it starts sshd peers and creates the test user)", file=sys.stderr)
        return 2
    ensure_venv()
    sys.path.insert(0, str(BENCH))
    from _report import write_section

    started = time.monotonic()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:  # adopt ansible's daemonised ssh masters
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    one: Results = {}
    multi: Results = {}
    n_hosts = max([*args.sizes, *args.multi_sizes])
    with lab(n_hosts) as lab_:
        foreign = {h.pid for h in lab_.hosts}
        print(f"fanout: {n_hosts} sshd hosts up; lab in {lab_.tmp}", file=sys.stderr)
        try:
            smallest = min([*args.sizes, *args.multi_sizes])
            warmup: Results = {}
            run_case(lab_, ONE_COMMAND, [smallest], 1, foreign, warmup, "warm-up", timed=False)
            if args.multi_sizes:
                run_case(lab_, MULTI, [smallest], 1, foreign, warmup, "warm-up", timed=False)
            repeated = run_case(lab_, ONE_COMMAND, args.sizes, args.runs, foreign, one, "1 command")
            if args.multi_sizes:
                repeated += run_case(lab_, MULTI, args.multi_sizes, args.runs, foreign, multi,
                                     f"{MULTI_COMMANDS} commands")
        finally:
            stop_adopted(foreign)
        body, all_met = report(args, one, multi, time.monotonic() - started, lab_, repeated)
    if not args.no_write:
        write_section("fanout", body)
    print(body)
    return 0 if all_met else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"fanout: {exc}", file=sys.stderr)
        sys.exit(1)
