"""Audit fan-out: ``itref audit`` with every Linux check on 50 loopback sshd hosts, vs one ``itref run -- uptime``
and vs ``ansible -m setup`` (fact gathering) on the same hosts.

Usage (as root, from anywhere): python3 bench/audit_fanout.py [--runs 3] [--hosts 50] [--no-write].  It takes
about 7 minutes on 2 CPUs (a cold audit with linux.updates of 50 hosts sharing 2 CPUs takes a minute).  Exit
status: 0 if the target (audit within 2x of the single command) is met both cold and warm, 1 if either misses it
or a tool failed, 2 if not run as root.

It reuses bench/fanout.py: the same venv (``bench/.venv``, itref editable + ansible-core), the same lab (N real
OpenSSH ``sshd`` on distinct loopback addresses from ``tests/peers/sshd.py``, user ``itref-test``, one ed25519
key, one known_hosts file, an itref and an ansible inventory of the same hosts), the same measurement (wall
time around one process; peak memory of its whole process tree sampled every 20 ms; CPU of the tree; each run
started once the machine is quiet, a run of itref disturbed by other processes is run again).  On top:

* five commands, interleaved (order rotated each round), ``--runs`` times after one untimed warm-up round:
  ``itref -i INV -f json audit --checks 'linux.*' --lock-wait 60`` (every Linux check, ``linux.updates``
  included) **cold** (linux.updates' answer removed from the hosts' cache just before: every host runs
  ``apt-get -s upgrade``, as in the first audit of the day) and **warm** (the cached answer valid: every host
  reuses it), the same audit with an explicit list of every Linux check but ``linux.updates``,
  ``itref -i INV -f json run -- uptime``, and ``ansible all -i hosts.ini -m setup -f N``.  Each itref command
  has its own ``ITREF_STATE_DIR`` (the audit's history and lock, the journal);
* checks every answer: the audit's JSON has, for every host, a reachable finding and non-"unknown" findings
  of linux.disk.free, linux.memory, linux.load and linux.uptime, and a finding of every check asked for; the
  cold audit's linux.updates findings all say apt was asked, the warm one's all say the answer was reused (a
  run where that is not so, say because someone changed apt's state meanwhile, is run again);
  ``itref run`` printed a load average for every host; ansible returned facts (hostname, uptime) for every
  host.  Any failure stops the benchmark;
* also measures the CPU time used on the hosts' side (the sshd peers, their sessions and what the sessions
  ran: the checks' scripts, ansible's Python modules), since the hosts share this machine with the client;
* then, to show where the audit's time goes, runs by hand over SSH (OpenSSH client) on one host, the machine
  otherwise idle: ``uptime``, itref's exact host script with every Linux check (cold: ``max_age`` 0, apt asked;
  warm: the cached answer reused) and without linux.updates, and each check's script alone (linux.updates cold
  and warm) with its wall and CPU time;
* writes the medians to docs/performance.md (section "audit-fanout") and prints them.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import pwd
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
import fanout  # noqa: E402

TARGET_VS_RUN = 2.0  # audit (every Linux check) wall time / `itref run -- uptime` wall time, at most
KEY_CHECKS = ("linux.disk.free", "linux.memory", "linux.load", "linux.uptime")
UPDATES = "linux.updates"
REACHABLE = "audit.host.reachable"
BY_HAND_REPS = 5  # repetitions of each by-hand SSH measurement on one host
MB = fanout.MB

AUDIT_COLD = "itref audit, every Linux check, cold"
AUDIT_WARM = "itref audit, every Linux check, warm"
AUDIT_NO_UPDATES = "itref audit, without linux.updates"
RUN = "itref run -- uptime"
SETUP = "ansible -m setup"


@dataclass(frozen=True)
class Case:
    """One command of the comparison: label, argv, environment, success check (see fanout.measure)."""

    label: str
    argv: list[str]
    env: dict[str, str]
    check: Callable[[int, str, str], str | None]
    prepare: Callable[[], None] | None = None  # run before each run, untimed (e.g. clear linux.updates' cache)
    answer: str | None = None  # what every linux.updates finding's evidence must say: "apt" or "reused"


@dataclass
class Run:
    """One timed run: fanout's Measure, the CPU the hosts' side used meanwhile, and what the run reported."""

    m: fanout.Measure
    client_cpu: float  # the tool's process tree (m.cpu less the sshd session processes this subreaper adopted)
    host_cpu: float
    other_cpu: float  # CPU used meanwhile by processes that are neither ours nor the peers' (see run_rounds)
    window: float  # the seconds other_cpu was measured over (the run, then reaping what it left)
    audit_duration: float | None = None  # the audit's own "duration" (lock taken to findings), JSON


# --------------------------------------------------------------------------------------------------------
# success checks


def check_audit(names: list[str], expected: list[str], seen: dict[str, dict]) -> Callable[[int, str, str], str | None]:
    """Return a check of an audit's JSON report: every host reachable, with findings of every ``expected``
    check, none "unknown" among KEY_CHECKS; the parsed report is kept in ``seen["last"]``."""

    def check(rc: int, out: str, err: str) -> str | None:
        try:
            report = json.loads(out)
        except ValueError:
            return "itref printed no JSON report"
        if rc not in (0, 6, 7, 8):  # all well, warnings, critical, something could not be checked
            return f"exit code {rc}"
        by_host: dict[str, dict[str, list[str]]] = {}
        for f in report["findings"]:
            by_host.setdefault(f["host"], {}).setdefault(f["check"], []).append(f["severity"])
        problems = []
        for name in names:
            mine = by_host.get(name, {})
            if mine.get(REACHABLE) != ["ok"]:
                problems.append(f"{name}: not reachable ({mine.get(REACHABLE)})")
                continue
            missing = [c for c in expected if c not in mine]
            unknown = [c for c in KEY_CHECKS if "unknown" in mine.get(c, [])]
            extra = [c for c in mine if c not in expected and c != REACHABLE]
            if missing or unknown or extra:
                problems.append(f"{name}: missing {missing}, unknown {unknown}, not asked {extra}")
        if problems:
            return f"{len(problems)}/{len(names)} hosts wrong, e.g. {problems[:3]}"
        seen["last"] = report
        seen["answers"] = Counter(f["evidence"].get("answer") for f in report["findings"] if f["check"] == UPDATES)
        return None

    return check


_SETUP_HEAD = re.compile(r"^(\S+) \| (\w+)(?:!)? => ", re.M)


def check_setup(names: list[str]) -> Callable[[int, str, str], str | None]:
    """Return a check of ``ansible -m setup`` output: SUCCESS with facts (hostname, uptime) for every host."""

    def check(rc: int, out: str, err: str) -> str | None:
        decoder = json.JSONDecoder()
        good = set()
        for m in _SETUP_HEAD.finditer(out):
            if m.group(2) != "SUCCESS":
                continue
            try:
                answer, _end = decoder.raw_decode(out, m.end())
            except ValueError:
                continue
            facts = answer.get("ansible_facts", {})
            if facts.get("ansible_hostname") and facts.get("ansible_uptime_seconds") is not None:
                good.add(m.group(1))
        if rc != 0 or good != set(names):
            return f"exit code {rc}; facts for {len(good)}/{len(names)} hosts"
        return None

    return check


# --------------------------------------------------------------------------------------------------------
# running


def peers_busy(foreign: set[int]) -> bool:
    """Return whether an sshd peer still has a child (a connection being served or closed)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = fanout._stat(int(name))
            if st is not None and st[0] in foreign:
                return True
    return False


def settle(foreign: set[int], timeout: float = 5.0) -> None:
    """Wait until the sshd peers have no session left (their CPU is then in the peers' own counters)."""
    deadline = time.monotonic() + timeout
    while peers_busy(foreign) and time.monotonic() < deadline:
        time.sleep(0.02)


def sshd_orphans(foreign: set[int]) -> dict[int, tuple[float, float]]:
    """Return pid → (own CPU, own + reaped children's CPU) of the sshd processes this (subreaper) process
    adopted: a connection's sshd session process can outlive its parent and be re-parented to us, and the
    commands it ran are then counted in its times, not in the peer's."""
    found = {}
    for pid in fanout.adopted_children(foreign):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if raw[raw.find(b"(") + 1:raw.rfind(b")")] != b"sshd":
            continue
        fields = [int(x) / fanout._TICKS for x in raw[raw.rfind(b")") + 2:].split()[11:15]]
        found[pid] = (fields[0] + fields[1], sum(fields))
    return found


def collect(foreign: set[int], timeout: float = 10.0) -> float:
    """Stop and reap what a run left behind (ansible's ssh masters, orphaned sshd session processes) until
    nothing more shows up and the peers serve no connection; return the CPU of the sshd processes reaped
    (hosts' side)."""
    total, calm = 0.0, 0
    deadline = time.monotonic() + timeout
    while calm < 2 and time.monotonic() < deadline:
        total += sum(full for _own, full in sshd_orphans(foreign).values())
        found = fanout.stop_adopted(foreign)
        calm = 0 if found or peers_busy(foreign) else calm + 1
        time.sleep(0.05)
    return total


def _own_and_reaped() -> float:
    """Return the CPU seconds of this process (every thread) and of every child it has reaped."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_rounds(cases: list[Case], runs: int, lab_: fanout.Lab, foreign: set[int], results: dict[str, list[Run]],
               seen: dict[str, dict], title: str) -> int:
    """Run every case ``runs`` times, interleaved (order rotated each round); return how many runs were
    repeated because other processes disturbed them."""
    repeated = 0
    ncpu = os.cpu_count() or 1
    for r in range(runs):
        for case in cases[r % len(cases):] + cases[:r % len(cases)]:
            for attempt in range(fanout.MAX_RETRIES + 1):
                fanout.stop_adopted(foreign)  # ansible starts cold: no ssh master left from a previous run
                settle(foreign)
                if case.prepare:
                    case.prepare()
                fanout.wait_quiet()
                busy0, ours0, hosts0 = fanout.machine_busy(), _own_and_reaped(), fanout.our_cpu(sorted(foreign))
                start = time.perf_counter()
                m = fanout.measure(case.argv, case.env, lab_.tmp, foreign, case.check)
                # measure() counts the live processes we adopted as the tool's: take out the sshd ones
                client_cpu = m.cpu - sum(own for own, _full in sshd_orphans(foreign).values())
                host_cpu = collect(foreign)
                hosts1 = fanout.our_cpu(sorted(foreign))
                host_cpu += hosts1 - hosts0
                # Once everything the run started is reaped (collect) and the peers serve nobody (their sessions'
                # times are in theirs), our CPU is exactly this process's own and reaped children's times plus the
                # peers'; no race with processes exiting while /proc is read, unlike measure()'s other_cpu, which
                # reads the tree while the sessions close and can miss a session's CPU.
                window = time.perf_counter() - start
                other = max(0.0, (fanout.machine_busy() - busy0) - (_own_and_reaped() - ours0) - (hosts1 - hosts0))
                answers = seen.pop("answers", Counter())
                if case.answer and set(answers) != {case.answer}:  # (every host has one: check_audit)
                    if attempt == fanout.MAX_RETRIES:
                        raise fanout.BenchError(f"{case.label}: linux.updates answers {dict(answers)}, expected "
                                                f"{case.answer!r} on every host")
                    repeated += 1
                    seen.pop("last", None)
                    print(f"audit-fanout: [{title}] {case.label}: linux.updates answers {dict(answers)}, not all "
                          f"{case.answer!r} (apt's state changed meanwhile?): run again", file=sys.stderr, flush=True)
                    continue
                if other <= fanout.DISTURBED * window * ncpu or attempt == fanout.MAX_RETRIES:
                    break
                repeated += 1
                print(f"audit-fanout: [{title}] {case.label}: disturbed by other processes "
                      f"({other:.2f} s CPU): run again", file=sys.stderr, flush=True)
            report = seen.pop("last", None)
            run = Run(m, client_cpu, host_cpu, other, window, report["duration"] if report else None)
            results.setdefault(case.label, []).append(run)
            print(f"audit-fanout: [{title} {r + 1}/{runs}] {case.label:<36} {m.wall:6.2f} s  "
                  f"{m.peak_rss / MB:5.0f} MB RSS  {m.peak_pss / MB:5.0f} MB PSS  {client_cpu:5.2f} s CPU client  "
                  f"{host_cpu:5.2f} s CPU hosts  (others used {other:.2f} s)", file=sys.stderr, flush=True)
            if report:
                seen[case.label] = report  # the last report of each audit, for the findings summary
    return repeated


# --------------------------------------------------------------------------------------------------------
# by hand, over SSH, on one host


_TIMES = re.compile(r"(\d+)m([\d.]+)s")


def _times_children(line: str) -> float:
    """Return the CPU seconds of a ``times`` line (children's user + system)."""
    return sum(int(m_) * 60 + float(s) for m_, s in _TIMES.findall(line))


UPD_COLD, UPD_WARM = f"{UPDATES} (cold: apt asked)", f"{UPDATES} (warm: answer reused)"
COLD_SETTINGS = {UPDATES: {"max_age": 0}}  # linux.updates asks apt whatever its cache holds (and refreshes it)


def by_hand(lab_: fanout.Lab, checks: list) -> dict[str, dict]:
    """Run on the first host, over the OpenSSH client, ``uptime``, itref's host script (every Linux check cold,
    then warm, then without linux.updates) and each check's script alone (linux.updates cold and warm); return
    medians of wall (and CPU) times."""
    from itref.audit.engine import host_script, script_of

    host = lab_.hosts[0]
    ssh = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={lab_.known_hosts}",
           "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-i", str(lab_.key), "-p", str(host.port),
           f"{lab_.user}@{host.address}"]

    def timed(remote: str) -> tuple[float, str]:
        fanout.wait_quiet()
        start = time.perf_counter()
        proc = subprocess.run([*ssh, remote], capture_output=True, text=True, env=lab_.env, check=False,
                              stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise fanout.BenchError(f"ssh {remote[:80]!r} failed ({proc.returncode}): {proc.stderr[:500]}")
        return wall, proc.stdout

    no_updates = [c for c in checks if c.id != UPDATES]
    cold_script = host_script(checks, "linux", COLD_SETTINGS)
    warm_script = host_script(checks, "linux")
    scripts = {"`uptime`": "uptime",
               f"itref's host script, every Linux check ({len(checks)}), cold: apt asked":
                   shlex.join(["sh", "-c", cold_script]),
               f"itref's host script, every Linux check ({len(checks)}), warm: apt's answer reused":
                   shlex.join(["sh", "-c", warm_script]),
               f"itref's host script, without linux.updates ({len(no_updates)})":
                   shlex.join(["sh", "-c", host_script(no_updates, "linux")])}
    whole: dict[str, float] = {}
    for label, remote in scripts.items():
        out = timed(remote)[1]  # untimed first run: the cold script leaves a valid answer for the warm one
        want = "answer=apt" if "cold" in label else "answer=reused" if "warm" in label else None
        if want and want not in out:
            raise fanout.BenchError(f"{label}: linux.updates did not print {want!r}: {out[-300:]!r}")
        whole[label] = statistics.median(timed(remote)[0] for _ in range(BY_HAND_REPS))
    # each check's script, as in itref's host script (a subshell), timed inside one session with date and times;
    # linux.updates twice: cold (max_age 0: apt asked) then warm (the answer the cold one just stored, reused)
    bodies = [(UPD_COLD if c.id == UPDATES else c.id, script_of(c, "linux", COLD_SETTINGS.get(c.id))) for c in checks]
    bodies.insert([k for k, _b in bodies].index(UPD_COLD) + 1,
                  (UPD_WARM, script_of(next(c for c in checks if c.id == UPDATES), "linux")))
    keys = {f"k{i}": label for i, (label, _body) in enumerate(bodies)}
    parts = ["times\n"]
    for (key, _label), (_l, body) in zip(keys.items(), bodies, strict=True):
        parts.append(f"t0=$(date +%s%N)\n( {body}\n) >/dev/null 2>&1\nt1=$(date +%s%N)\n"
                     f"echo \"@@t:{key}:$((t1 - t0))\"\ntimes\n")
    remote = shlex.join(["sh", "-c", "".join(parts)])
    walls: dict[str, list[float]] = {k: [] for k in keys}
    cpus: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(BY_HAND_REPS):
        _wall, out = timed(remote)
        lines = out.splitlines()
        cpu_before = _times_children(lines[1])
        for i, line in enumerate(lines):
            m = re.match(r"@@t:(k\d+):(\d+)$", line)
            if m:
                walls[m.group(1)].append(int(m.group(2)) / 1e9)
                cpu_after = _times_children(lines[i + 2])
                cpus[m.group(1)].append(cpu_after - cpu_before)
                cpu_before = cpu_after
    per_check = {keys[k]: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in keys}
    # linux.updates cold again, with apt's binary caches (pkgcache.bin, srcpkgcache.bin) kept in a private folder:
    # built by one untimed run, then reused, as on a stock Debian server (this machine may disable them)
    body = dict(bodies)[UPD_COLD]
    cached = body.replace("apt-get -s", 'apt-get -o Dir::Cache::pkgcache="$d/pkgcache.bin" '
                                        '-o Dir::Cache::srcpkgcache="$d/srcpkgcache.bin" -s')
    if cached == body:
        raise fanout.BenchError("linux.updates no longer runs 'apt-get -s': update bench/audit_fanout.py")
    script = (f"d=$(mktemp -d)\n( {cached}\n) >/dev/null 2>&1\ntimes\n"
              + f"t0=$(date +%s%N)\n( {cached}\n) >/dev/null 2>&1\nt1=$(date +%s%N)\necho \"@@t:$((t1 - t0))\"\ntimes\n"
              * BY_HAND_REPS + 'rm -rf "$d"\n')
    _wall, out = timed(shlex.join(["sh", "-c", script]))
    lines = out.splitlines()
    c_walls, c_cpus, cpu_before = [], [], _times_children(lines[1])
    for i, line in enumerate(lines):
        if line.startswith("@@t:"):
            c_walls.append(int(line[4:]) / 1e9)
            cpu_after = _times_children(lines[i + 2])
            c_cpus.append(cpu_after - cpu_before)
            cpu_before = cpu_after
    disabled = subprocess.run(["apt-config", "dump"], capture_output=True, text=True, check=False).stdout
    stats = subprocess.run(["apt-cache", "stats"], capture_output=True, text=True, check=False).stdout
    packages = re.search(r"Normal packages: (\d+)", stats)
    return {"whole": whole, "per_check": per_check,
            "updates_cached": (statistics.median(c_walls), statistics.median(c_cpus)),
            "cache_disabled": 'Dir::Cache::pkgcache "";' in disabled,
            "packages": f"{int(packages.group(1)):,}" if packages else "?"}


# --------------------------------------------------------------------------------------------------------
# report


def med(results: dict[str, list[Run]], label: str, attr: str) -> float:
    """Return the median of ``attr`` (a Measure field, or host_cpu / audit_duration) over the runs of ``label``."""
    values = [getattr(r.m, attr) if hasattr(r.m, attr) else getattr(r, attr) for r in results[label]]
    return statistics.median(v for v in values if v is not None)


def versions(lab_: fanout.Lab) -> str:
    """Return the versions of itref, ansible-core, OpenSSH, apt and the hosts' Python."""
    from importlib.metadata import version

    from tests.peers.sshd import sshd_version

    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                            text=True, check=False).stdout.strip()
    major, minor = sshd_version()
    client = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False).stderr.split(",")[0].strip()
    apt = subprocess.run(["apt-get", "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    python = subprocess.run([lab_.python, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return (f"itref {version('itref')}" + (f" (git {commit})" if commit else "")
            + f", ansible-core {version('ansible-core')}; sshd OpenSSH {major}.{minor}, ssh client {client}; "
              f"on the hosts: {apt.strip() or 'no apt'}, {python} (ansible's modules)")


def findings_summary(report: dict, n: int) -> str:
    """Return a Markdown table: per check of the audit, how many hosts got which severity, and an example."""
    counts: dict[str, Counter] = {}
    example: dict[str, str] = {}
    for f in report["findings"]:
        counts.setdefault(f["check"], Counter())[f["severity"]] += 1
        example.setdefault(f["check"], f["message"])
    rows = [f"| check | findings on the {n} hosts | example |", "|---|---|---|"]
    for cid in sorted(counts):
        sev = ", ".join(f"{k} ×{v}" for k, v in sorted(counts[cid].items()))
        rows.append(f"| {cid} | {sev} | {example[cid].replace('|', '/')} |")
    return "\n".join(rows)


def verdict(ratio: float) -> str:
    """Return "meets" or "MISSES" the target for a ratio to the single command."""
    return "meets" if ratio <= TARGET_VS_RUN else "MISSES"


def report(args: argparse.Namespace, results: dict[str, list[Run]], seen: dict[str, dict], hand: dict,
           lab_: fanout.Lab, checks: list, elapsed: float, repeated: int) -> tuple[str, bool]:
    """Return the Markdown section and whether the target is met both cold and warm."""
    from _report import machine

    n = args.hosts
    ncpu = os.cpu_count() or 1
    labels = [AUDIT_COLD, AUDIT_WARM, AUDIT_NO_UPDATES, RUN, SETUP]
    rows = ["| command | wall | peak RSS | peak PSS | CPU, client | CPU, hosts' side | (client + hosts' CPU) / "
            f"{ncpu} CPU |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label in labels:
        wall, rss, pss = med(results, label, "wall"), med(results, label, "peak_rss"), med(results, label, "peak_pss")
        cpu, host = med(results, label, "client_cpu"), med(results, label, "host_cpu")
        rows.append(f"| {label} | {wall:.2f} s | {rss / MB:.0f} MB | {pss / MB:.0f} MB | {cpu:.2f} s | {host:.2f} s "
                    f"| {(cpu + host) / ncpu:.2f} s |")
    a_cold, a_warm, a_no, run, setup = (med(results, label, "wall") for label in labels)
    r_cold, r_warm, r_no = a_cold / run, a_warm / run, a_no / run
    met = r_cold <= TARGET_VS_RUN and r_warm <= TARGET_VS_RUN
    d_cold, d_warm, d_no = (med(results, label, "audit_duration") for label in (AUDIT_COLD, AUDIT_WARM,
                                                                                  AUDIT_NO_UPDATES))
    h_cold, h_warm, h_no, h_run = (med(results, label, "host_cpu") for label in (AUDIT_COLD, AUDIT_WARM,
                                                                                   AUDIT_NO_UPDATES, RUN))
    c_cold, c_warm, c_run = (med(results, label, "client_cpu") for label in (AUDIT_COLD, AUDIT_WARM, RUN))
    whole, per_check = hand["whole"], hand["per_check"]
    cold_wall, cold_cpu = per_check[UPD_COLD]
    warm_wall, warm_cpu = per_check[UPD_WARM]
    every = [r for runs in results.values() for r in runs]
    share = sum(r.other_cpu for r in every) / sum(r.window * ncpu for r in every)
    busiest = max(r.other_cpu / (r.window * ncpu) for r in every)
    quiet = (f"Other processes of the machine (and the hypervisor's steal) used {share:.0%} of its CPU during the "
             f"runs ({busiest:.0%} in the busiest one; counted once everything a run started was reaped, so the "
             "hosts' side is never mistaken for another process)"
             + (": the figures are not disturbed." if share < 0.05 else
                ": something else was running, so these figures are noisier than they should be.")
             + f" Each run waited (at most {fanout.QUIET_MAX_WAIT:g} s) for other processes to use under "
               f"{fanout.QUIET:.0%} of the CPU; {repeated} run(s) disturbed beyond {fanout.DISTURBED:.0%} (or whose "
               f"linux.updates answers were not all cold, or all warm, as asked) were run again (at most "
               f"{fanout.MAX_RETRIES} times each).")
    hand_rows = ["| on one host, by hand (`ssh HOST …`) | wall |", "|---|---:|"]
    hand_rows += [f"| {label} | {wall * 1000:.0f} ms |" for label, wall in whole.items()]
    check_rows = ["| check (its script alone, in a subshell) | wall | CPU |", "|---|---:|---:|"]
    check_rows += [f"| {cid} | {w * 1000:.0f} ms | {c * 1000:.0f} ms |"
                   for cid, (w, c) in sorted(per_check.items(), key=lambda kv: -kv[1][0])]
    rest_wall = sum(w for cid, (w, _c) in per_check.items() if not cid.startswith(UPDATES))
    rest_cpu = sum(c for cid, (_w, c) in per_check.items() if not cid.startswith(UPDATES))
    ids = ",".join(c.id for c in checks if c.id != UPDATES)
    cmd = shlex.join(["python3", "bench/audit_fanout.py", *sys.argv[1:]])
    by_hand_cold, by_hand_warm, by_hand_no = list(whole.values())[1:4]
    cached_wall, cached_cpu = hand["updates_cached"]
    disabled = ("; this machine's apt configuration disables them, as container images do"
                if hand["cache_disabled"] else "")
    cache_note = (f"With apt's binary caches kept (`pkgcache.bin`, `srcpkgcache.bin`, built once then reused, as on a "
                  f"stock Debian or Ubuntu server{disabled}), linux.updates' cold script takes "
                  f"{cached_wall * 1000:.0f} ms of wall and {cached_cpu * 1000:.0f} ms of CPU instead of "
                  f"{cold_wall * 1000:.0f} ms and {cold_cpu * 1000:.0f} ms: most of the cost remains, apt computing the "
                  f"upgrade over the whole package lists ({hand['packages']} packages in this machine's lists).")
    est_cold = a_no + (by_hand_cold - by_hand_no)  # separate machines: one host's apt-get, all at once
    per_host = (h_cold - h_no) / n
    alone = (f" ({per_host / cold_cpu:.1f} times what it needs alone: {n} `apt-get` at once on {ncpu} CPU probably "
             f"also compete for the processor's caches and memory)" if cold_cpu > 0 else "")
    cause = (f"Cold, `linux.updates` is where the time goes: on one idle host its script (`apt-get -s upgrade`, which "
             f"loads the package cache and resolves a whole upgrade) takes {cold_wall * 1000:.0f} ms of wall and "
             f"{cold_cpu * 1000:.0f} ms of CPU, against {rest_wall * 1000:.0f} ms of wall and {rest_cpu * 1000:.0f} "
             f"ms of CPU for the {len(checks) - 1} other checks together; warm (apt's answer reused) it takes "
             f"{warm_wall * 1000:.0f} ms of wall and {warm_cpu * 1000:.0f} ms of CPU. In the cold audit of {n} hosts, "
             f"the hosts' side used {h_cold:.1f} s of CPU against {h_warm:.1f} s warm and {h_no:.1f} s without "
             f"linux.updates: {per_host:.2f} s of CPU per host for a cold linux.updates{alone}, so the {ncpu} CPU "
             f"shared by the hosts and the client need at least {(c_cold + h_cold) / ncpu:.1f} s, and the cold audit "
             f"took {a_cold:.1f} s. Warm, the audit of every Linux check takes {r_warm:.2f}x the single command "
             f"({'within' if r_warm <= TARGET_VS_RUN else 'beyond'} {TARGET_VS_RUN:g}x; without linux.updates "
             f"{r_no:.2f}x; by hand, one host's whole script takes {by_hand_warm * 1000:.0f} ms warm against "
             f"{by_hand_no * 1000:.0f} ms without linux.updates): the audit itself (one script per host, evaluation, history, journal) adds "
             f"{a_warm - run:+.2f} s to the single command.\n\n"
             f"On {n} real machines, each would run its own `apt-get` on its own CPU, all at once. An estimate for "
             f"the cold audit (not measured here): the audit without linux.updates plus what a cold linux.updates adds "
             f"to one host's script by hand ({by_hand_cold:.2f} s − {by_hand_no:.2f} s), i.e. about "
             f"{est_cold:.1f} s, **{est_cold / run:.1f}x** the single command: "
             + (f"still beyond {TARGET_VS_RUN:g}x, because `apt-get -s upgrade` alone takes {cold_wall:.2f} s on one "
                f"host, against {run:.2f} s for the whole `itref run` on {n} hosts. "
                if est_cold / run > TARGET_VS_RUN else f"within {TARGET_VS_RUN:g}x. ")
             + "So the first audit after the package lists change (typically once a day, after the nightly "
               "`apt-get update`) pays apt's price on every host; the audits after it, until something apt reads "
               "changes or `max_age` (24 h) passes, do not.")
    if met:
        where = f"Both the cold and the warm audit of every Linux check stay within {TARGET_VS_RUN:g}x. " + cause
    elif r_warm <= TARGET_VS_RUN:
        where = (f"The warm audit meets the {TARGET_VS_RUN:g}x target ({r_warm:.2f}x); the cold audit misses it "
                 f"({r_cold:.1f}x). " + cause)
    else:
        where = (f"The {TARGET_VS_RUN:g}x target is missed (cold {r_cold:.1f}x, warm {r_warm:.2f}x). " + cause)
    example_warm = next((f["message"] for f in seen[AUDIT_WARM]["findings"] if f["check"] == UPDATES), "?")
    body = f"""## Audit fan-out: every Linux check on {n} sshd hosts — vs one `itref run` and vs `ansible -m setup`

Command (as root): `{cmd}` — {args.runs} interleaved runs per command after one untimed warm-up round, medians
shown; the whole run took {elapsed / 60:.1f} min. {machine()}.
Versions: {versions(lab_)}.
{quiet}

The same {n} hosts for the three tools: the lab of the fan-out benchmark above (`bench/fanout.py`, whose
helpers this one imports): real OpenSSH `sshd` on distinct loopback addresses, user `{lab_.user}`, an ed25519
key, host keys checked. **The hosts share this one {ncpu}-CPU machine with the client**: whatever runs on the
hosts' side (the sshd sessions, the checks' scripts, ansible's Python modules) competes with the client for the
same {ncpu} CPU and turns into wall time, which it would not on {n} real machines.

`linux.updates` keeps apt's answer on each host and reuses it until the package lists, the installed packages or
apt's settings change, or `max_age` (24 h) passes (see [audit.md](audit.md)). So the audit is measured twice:
**cold**, its cached answer removed just before each run (what the first audit after an `apt-get update` costs:
every host runs `apt-get -s upgrade`), and **warm**, the answer valid (every host reuses it). Every run's JSON is
checked: the cold audit's linux.updates findings all say `answer: apt`, the warm one's all say `answer: reused`.
Here the {n} hosts are one user on one machine, so they share one cache file
(`~{lab_.user}/.cache/itref/linux-updates`): removing it clears every host's; each host writes it atomically.

- `itref -i INV -f json audit --checks 'linux.*' --lock-wait 60`: every Linux check ({len(checks)}: {", ".join(
    f"`{c.id}`" for c in checks)}), gathered on each host by one script over one connection, then judged by
  itref, history (SQLite) and journal written in the audit's own `ITREF_STATE_DIR`; cold and warm;
- the same audit without `linux.updates` (`--checks {ids}`), to show what `apt-get -s upgrade` costs;
- `itref -i INV -f json run -- uptime`, one command on every host ({n} at once, the inventory's default forks);
- `ansible all -i hosts.ini -m setup -f {n}`: ansible's fact gathering (ansible-core as installed: ssh with
  ControlMaster/ControlPersist, no pipelining; cold: no master alive before each run).

Every run is checked: the audit's JSON has, for every host, a reachable finding and findings of every check asked
for, none "unknown" for `linux.disk.free`, `linux.memory`, `linux.load`, `linux.uptime`; `itref run` printed a load
average for every host; ansible returned facts (hostname, uptime) for every host. *Wall* is spawn to exit,
interpreter start-up included; *peak RSS* / *PSS* are the peaks of the sums over the tool's process tree (sampled
every {fanout.SAMPLE_INTERVAL * 1000:.0f} ms; PSS counts shared pages once, read less often, so a lower bound);
*CPU, client* is the tool's process tree (user + system; ansible's ssh masters included), *CPU, hosts' side* the
sshd peers, their sessions and everything the sessions ran (the checks' scripts, ansible's modules); the last
column is the least wall time that CPU allows on {ncpu} CPU.

{chr(10).join(rows)}

- **cold** (first audit after apt's state changed), every Linux check / single command: {a_cold:.2f} s / {run:.2f} s
  = **{r_cold:.1f}x** (target ≤ {TARGET_VS_RUN:g}x: **{verdict(r_cold)}**)
- **warm** (apt's answer reused), every Linux check / single command: {a_warm:.2f} s / {run:.2f} s
  = **{r_warm:.2f}x** (target ≤ {TARGET_VS_RUN:g}x: **{verdict(r_warm)}**)
- without linux.updates / single command: {a_no:.2f} s / {run:.2f} s = **{r_no:.2f}x**; linux.updates costs
  {a_cold - a_no:+.2f} s of wall and {h_cold - h_no:+.2f} s of the hosts' CPU on {n} hosts cold, {a_warm - a_no:+.2f} s
  and {h_warm - h_no:+.2f} s warm
- `ansible -m setup` / audit with every Linux check = **{setup / a_cold:.2f}x** cold, **{setup / a_warm:.1f}x** warm
  (ansible's facts include no pending updates); / audit without linux.updates = **{setup / a_no:.1f}x**.
  ansible's facts are only gathered, not judged against thresholds; the audit's are
- the audit's own measure of itself (JSON `duration`: lock taken to findings judged, i.e. without interpreter
  start-up, inventory loading, history comparison and output) is {d_cold:.2f} s cold, {d_warm:.2f} s warm and
  {d_no:.2f} s without linux.updates; the client's CPU is {c_cold:.2f} s cold and {c_warm:.2f} s warm against
  {c_run:.2f} s for the single command, the hosts' side {h_cold:.2f} s cold and {h_warm:.2f} s warm against
  {h_run:.2f} s

{where}

By hand on the first host, the machine otherwise idle (OpenSSH client, medians of {BY_HAND_REPS} after one untimed
run; the host script is itref's exact one, `itref.audit.engine.host_script`; cold with linux.updates' `max_age` set
to 0, so apt is asked every time):

{chr(10).join(hand_rows)}

Each check's script alone, timed inside one SSH session with `date +%s%N` and the shell's `times` (CPU of the
children: the check's commands, plus about 1 ms for `date`); linux.updates cold (`max_age` 0), then warm (the
answer the cold run just stored, reused):

{chr(10).join(check_rows)}

{cache_note}

What the last cold audit with every Linux check found (every host is an sshd of this machine, which runs neither
systemd nor a time synchronisation daemon, so some checks answer "not applicable"); warm, linux.updates said the
same with its answer reused, e.g. "{example_warm.replace('|', '/')}":

{findings_summary(seen[AUDIT_COLD], n)}
"""
    return body, met


# --------------------------------------------------------------------------------------------------------


def main() -> int:
    """Parse the options, set up the venv and the lab, run the cases and the by-hand timings, write the section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per command (default 3)")
    parser.add_argument("--hosts", type=int, default=50, help="how many sshd hosts (default 50)")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave docs/performance.md alone")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("audit-fanout: run as root (it starts sshd peers and creates the test user)", file=sys.stderr)
        return 2
    fanout.ensure_venv(Path(__file__))
    from _report import write_section

    from itref.audit.registry import select

    started = time.monotonic()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(fanout._PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:  # adopt ansible's daemonised ssh masters
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    checks = select(["linux.*"])
    without = [c.id for c in checks if c.id != UPDATES]
    n = args.hosts
    results: dict[str, list[Run]] = {}
    seen: dict[str, dict] = {}
    with fanout.lab(n) as lab_:
        foreign = {h.pid for h in lab_.hosts}
        print(f"audit-fanout: {n} sshd hosts up; lab in {lab_.tmp}", file=sys.stderr)
        names = lab_.names[:n]
        inv = str(lab_.itref_inventory(n))
        itref = fanout._bin("itref")

        def env(state: str) -> dict[str, str]:
            return {**lab_.env, "ITREF_STATE_DIR": str(lab_.tmp / state)}

        cache = Path(pwd.getpwnam(lab_.user).pw_dir) / ".cache" / "itref" / "linux-updates"

        def clear_cache() -> None:  # the hosts are one user on this machine: one cache file for them all
            cache.unlink(missing_ok=True)

        audit_all = [itref, "-i", inv, "-f", "json", "audit", "--checks", "linux.*", "--lock-wait", "60"]
        cases = [
            Case(AUDIT_COLD, audit_all, env("state-audit-cold"), check_audit(names, [c.id for c in checks], seen),
                 prepare=clear_cache, answer="apt"),
            Case(AUDIT_WARM, audit_all, env("state-audit-warm"), check_audit(names, [c.id for c in checks], seen),
                 answer="reused"),
            Case(AUDIT_NO_UPDATES, [itref, "-i", inv, "-f", "json", "audit", "--checks", ",".join(without),
                                    "--lock-wait", "60"], env("state-audit-no-updates"),
                 check_audit(names, without, seen)),
            Case(RUN, [itref, "-i", inv, "-f", "json", "run", "--", "uptime"], env("state-run"),
                 fanout._check_itref_cli(n)),
            Case(SETUP, [fanout._bin("ansible"), "all", "-i", str(lab_.ansible_inventory(n)), "-m", "setup",
                         "-f", str(n)], lab_.env, check_setup(names)),
        ]
        try:
            run_rounds(cases, 1, lab_, foreign, {}, seen, "warm-up")
            repeated = run_rounds(cases, args.runs, lab_, foreign, results, seen, "timed")
            hand = by_hand(lab_, checks)
        finally:
            fanout.stop_adopted(foreign)
        body, met = report(args, results, seen, hand, lab_, checks, time.monotonic() - started, repeated)
    if not args.no_write:
        write_section("audit-fanout", body)
    print(body)
    return 0 if met else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except fanout.BenchError as exc:
        print(f"audit-fanout: {exc}", file=sys.stderr)
        sys.exit(1)
