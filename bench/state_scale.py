"""Two years of a commune's shared state: do the journal, the audit diff, the handover pack and `itref status`
stay fast?

Generates, with itref's own writers, the records of a commune of 100 hosts over two years (a daily audit of
every host, 30 routine runs a week each saved as a routine-run document, 2,000 account changes, 20 backups checked
daily, verified weekly and drilled quarterly, scheduled directory changes, waivers, a few runs left waiting, three
people on two machines), then times, interleaved in one run, each command against the same project whose state
holds only the last day (the two latest audits: `audit diff` needs two).

Usage: .venv/bin/python bench/state_scale.py [--runs 7] [--keep DIR]
Writes the medians to docs/performance.md (section "state-scale"). The targets: at most 1.5x the fresh state;
`itref status` well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section

TARGET = 1.5
STATUS_TARGET = 0.75
"""Seconds under which `itref status` with two years of state counts as "well under a second"."""
DAYS = 730
HOSTS = 100
ENTITIES = {"commune": 45, "cpas": 35, "asbl-sport": 10, "shared": 10}
CHECKS = ["linux.disk.free", "linux.disk.inodes", "linux.load", "linux.memory", "linux.updates", "linux.services",
          "linux.reboot", "linux.time", "linux.users", "network.port", "linux.ssh", "linux.failed-logins"]
PEOPLE = [("Jean Dupont", "jdupont", "pc-referent"), ("Sophie Martin", "smartin", "pc-accueil"),
          (None, "root", "srv-admin")]


def project(folder: Path) -> Path:
    """Write the fictional commune's inventory and playbooks (hosts under .example, never contacted)."""
    hosts = iter(range(HOSTS))
    entities = {}
    for name, count in ENTITIES.items():
        entities[name] = {"title": name.upper(), "ou": f"OU={name},DC=exemple,DC=example",
                          "departed_ou": "OU=Departed,DC=exemple,DC=example",
                          "hosts": {f"srv-{name}-{next(hosts):03d}": {"address": f"h{i}.{name}.exemple.example",
                                                                      "tags": ["linux"]}
                                    for i in range(count)}}
    inventory = {"version": 1, "organisation": "Commune d'Exemple", "language": "fr",
                 "operators": [{"name": "Jean Dupont", "role": "referent"},
                               {"name": "Sophie Martin", "role": "stand-in"}],
                 "defaults": {"ssh": {"user": "itref"}}, "entities": entities}
    (folder / "inventory.yaml").write_text(json.dumps(inventory, indent=1), encoding="utf-8")
    (folder / "playbooks").mkdir()
    for name in ENTITIES:
        book = {"entity": name, "routines": {
            f"routine-{i}": {"description": f"Routine {i}", "schedule": "0 7 * * 1",
                             "steps": [{"description": f"step {s}", "run": {"command": ["true"]}} for s in range(8)]}
            for i in range(4)},
            "backups": [{"name": f"{name}-backup-{i}", "kind": "files", "path": f"/srv/{name}/{i}",
                         "host": next(iter(entities[name]["hosts"]))} for i in range(5)]}
        (folder / "playbooks" / f"{name}.yaml").write_text(json.dumps(book, indent=1), encoding="utf-8")
    return folder / "inventory.yaml"


def generate(inventory: Path, state: Path, days: int, seed: int = 7) -> dict[str, int]:
    """Write ``days`` days of records ending now into ``state``; return how many of each kind."""
    os.environ["ITREF_STATE_DIR"] = str(state)
    from itref.ad.plan import Change, Plan
    from itref.ad.scheduled import ScheduledChanges, prepare
    from itref.audit.history import AuditHistory
    from itref.audit.waivers import Waivers
    from itref.backup.history import History
    from itref.config.project import load_project
    from itref.core.findings import Finding, Severity
    from itref.journal import Journal, JournalRecord
    from itref.runner.routine import RunState, StepRecord, save
    from itref.state.folder import StateFolder
    from itref.state.operator import Operator

    rng = random.Random(seed)
    proj = load_project(inventory)
    hosts = proj.hosts
    counts = {"journal": 0, "audit runs": 0, "findings": 0, "backup records": 0, "routine runs": 0,
              "scheduled changes": 0, "waivers": 0}
    now = datetime.now(UTC)
    folders = {}
    for name, account, machine_name in PEOPLE:  # each person writes their own files, as on their machine
        folder = StateFolder(state)
        folder.__dict__["operator"] = Operator(name, account, machine_name)
        folders[account] = folder
    for day in range(days, 0, -1):
        start = (now - timedelta(days=day)).replace(hour=7, minute=0, second=0, microsecond=0)
        person = folders[rng.choice(["jdupont", "jdupont", "smartin", "root"])]
        journal = Journal(person)
        findings = []
        for h in hosts:
            for c in CHECKS:
                bad = rng.random() < 0.04
                sev = rng.choice([Severity.WARNING, Severity.CRITICAL]) if bad else Severity.OK
                findings.append(Finding(c, sev, f"{c} on {h.name}: {'problem' if bad else 'fine'}", entity=h.entity,
                                        host=h.name, subject="/" if c.startswith("linux.disk") else None))
        worst = max((f.severity for f in findings), key=lambda s: s.rank)
        run_id = f"{day:04d}{rng.randrange(16**8):08x}"
        AuditHistory(person).record(run_id, findings, worst, "all", when=start)
        journal.append(JournalRecord(action="audit", target=f"{len(hosts)} host(s), {len(CHECKS)} check(s)",
                                     outcome=worst.value, run_id=run_id, time=start.isoformat(), via="cron"))
        counts["audit runs"] += 1
        counts["findings"] += len(findings)
        counts["journal"] += 1
        history = History(person)
        for entity in ENTITIES:
            for i in range(5):
                stamp = (start + timedelta(minutes=30)).isoformat()
                history._append("check", entity, f"{entity}-backup-{i}", {
                    "time": stamp, "kind": "files", "status": "ok", "snapshot_id": f"{day}-{i}",
                    "snapshot_time": (start - timedelta(hours=5)).isoformat(), "size": 10**9 + day, "files": 1,
                    "count": day, "problem": None})
                counts["backup records"] += 1
                if day % 7 == 0:
                    history._append("verify", entity, f"{entity}-backup-{i}", {"time": stamp, "ok": True,
                                                                                 "detail": "ok"})
                    counts["backup records"] += 1
                if day % 92 == 0:
                    history._append("drill", entity, f"{entity}-backup-{i}", {"time": stamp, "ok": True,
                                                                                "files": ["a"], "detail": "1 identical"})
                    counts["backup records"] += 1
        # 30 routine runs a week, 8 steps each; 2,000 account changes over the two years
        for _ in range(rng.choice([4, 4, 5])):
            entity = rng.choice(list(ENTITIES))
            routine = f"{entity}/routine-{rng.randrange(4)}"
            rid = f"r{rng.randrange(16**10):010x}"
            for step in range(1, 9):
                journal.append(JournalRecord(action="routine step", target=f"{routine} #{step}: step",
                                             outcome="ok", entity=entity, run_id=rid,
                                             time=(start + timedelta(hours=2, minutes=step)).isoformat()))
                counts["journal"] += 1
            ended = (start + timedelta(hours=2, minutes=9)).isoformat()
            journal.append(JournalRecord(action="routine finish", target=routine, outcome="ok", entity=entity,
                                         run_id=rid, time=ended))
            counts["journal"] += 1
            save(person, RunState(rid, routine, {"n": 1}, next_step=9, finished=True,
                                  started=(start + timedelta(hours=2)).isoformat(),
                                  records=[StepRecord(n, "ok", "done", ended) for n in range(1, 9)]))
            counts["routine runs"] += 1
        if day % 5 == 0:  # a departure or an arrival scheduled for a date, applied since
            entity = rng.choice(list(ENTITIES))
            login = f"user{rng.randrange(10**5)}"
            plan = Plan(f"Offboard {login}", login, [Change("modify", f"CN={login},OU={entity},DC=exemple,DC=example",
                                                            {"userAccountControl": "514"},
                                                            {"userAccountControl": "512"})])
            change = prepare("user offboard", {"login": login, "reason": "fin de contrat"},
                             start + timedelta(days=2), entity, plan, "bench")
            change.status, change.done = "applied", (start + timedelta(days=2)).isoformat()
            ScheduledChanges(person).add(change)
            counts["scheduled changes"] += 1
        for _ in range(2000 // DAYS + (1 if rng.random() < (2000 % DAYS) / DAYS else 0)):
            entity = rng.choice(list(ENTITIES))
            journal.append(JournalRecord(action="ad", target=f"create CN=Person {rng.randrange(10**6)},OU={entity}",
                                         outcome="changed", entity=entity,
                                         time=(start + timedelta(hours=3)).isoformat()))
            counts["journal"] += 1
    person = folders["smartin"]  # what is left open today: runs waiting, changes pending, waivers
    for i in range(3):
        save(person, RunState(f"open{i:08d}", f"cpas/routine-{i}", {"who": "Ann"}, next_step=8,
                              records=[StepRecord(n, "ok", "done") for n in range(1, 8)],
                              waiting_for="Call the supplier"))
    for i in range(2):
        plan = Plan("Offboard", f"leaver{i}", [Change("modify", f"CN=leaver{i},OU=cpas,DC=exemple,DC=example",
                                                       {"userAccountControl": "514"}, {"userAccountControl": "512"})])
        ScheduledChanges(person).add(prepare("user offboard", {"login": f"leaver{i}", "reason": "départ"},
                                             now + timedelta(days=i + 1), "cpas", plan, "bench"))
        counts["scheduled changes"] += 1
    waivers = Waivers(person)
    for i, h in enumerate(hosts[:40]):
        waivers.add(CHECKS[i % len(CHECKS)], h.name, (now + timedelta(days=3 + i * 5)).date(), "bench")
        counts["waivers"] += 1
    return counts


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    if proc.returncode not in (0, 6, 7):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-400:]}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--keep", type=Path, help="keep the generated project in this folder")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="itref-state-scale-"))
    try:
        folder = root / "project"
        folder.mkdir()
        inventory = project(folder)
        full, fresh = root / "state-2y", root / "state-fresh"
        t0 = time.perf_counter()
        counts = generate(inventory, full, args.days)
        generated = time.perf_counter() - t0
        generate(inventory, fresh, 2, seed=8)  # the last day's records only (two audits, for audit diff)
        size = sum(p.stat().st_size for p in full.rglob("*") if p.is_file())
        files = sum(1 for p in full.rglob("*") if p.is_file())
        itref = [sys.executable, "-m", "itref", "-i", str(inventory)]
        cases = {
            "itref journal --since 7d": [*itref, "journal", "--since", "7d", "-f", "json"],
            "itref audit diff": [*itref, "audit", "diff", "-f", "json"],
            "itref handover": [*itref, "handover", "--output", str(root / "pack")],
            "itref status": [*itref, "status", "-f", "json"],
        }
        times: dict[tuple[str, str], list[float]] = {}
        states = {"fresh": fresh, "two years": full}
        (root / "crontab").write_text("", encoding="utf-8")  # this machine's crontab: itref's lines not installed
        base_env = {k: v for k, v in os.environ.items() if k not in ("ITREF_STATE_DIR",)}
        base_env["ITREF_CRONTAB_FILE"] = str(root / "crontab")
        base_env["ITREF_CACHE_DIR"] = str(root / "cache")  # this machine's caches, kept from run to run
        for cmd in cases.values():  # warm up
            for state in states.values():
                timed(cmd, {**base_env, "ITREF_STATE_DIR": str(state)})
        for _ in range(args.runs):
            for name, cmd in cases.items():
                for label, state in states.items():
                    times.setdefault((name, label), []).append(timed(cmd, {**base_env, "ITREF_STATE_DIR": str(state)}))
        cold = []  # status on a machine that never read this state: every routine run is read once
        for _ in range(args.runs):
            shutil.rmtree(root / "cache", ignore_errors=True)
            cold.append(timed(cases["itref status"], {**base_env, "ITREF_STATE_DIR": str(full)}))
        cold_ms = statistics.median(cold) * 1000
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        rows = []
        worst = 0.0
        for name in cases:
            ratio = med[(name, "two years")] / med[(name, "fresh")]
            worst = max(worst, ratio)
            rows.append(f"| `{name}` | {med[(name, 'fresh')]:.0f} ms | {med[(name, 'two years')]:.0f} ms | "
                        f"**{ratio:.2f}x** |")
        verdict = "meets" if worst <= TARGET else "MISSES"
        status_ms = med[("itref status", "two years")]
        status_verdict = "meets" if status_ms < STATUS_TARGET * 1000 else "MISSES"
        own_ms = status_ms - med[("itref journal --since 7d", "two years")]  # both load the same project first
        body = f"""## Shared state over two years: journal, audit diff, handover pack and status

Command: `.venv/bin/python bench/state_scale.py --runs {args.runs}` ({machine()}).

The generator wrote, with itref's own writers, {args.days} days of a commune of {HOSTS} hosts into the project's
state folder: {counts['audit runs']} daily audits ({counts['findings']:,} findings), {counts['journal']:,} journal
records ({counts['routine runs']} routine runs of 8 steps, each also saved as a routine-run document, about 2,000
account changes), {counts['backup records']:,} backup records (20 backups checked daily, verified weekly, drilled
quarterly), {counts['scheduled changes']} scheduled directory changes, {counts['waivers']} waivers and three runs
left waiting, signed by three people on three machines: {files:,} files, {size / 1e6:.1f} MB, generated in
{generated:.0f} s. "Fresh" is the same project whose state holds only the last day (two audits, so that
`audit diff` has something to compare).

| command | fresh state | two years | two years / fresh |
|---|---:|---:|---:|
{chr(10).join(rows)}

Worst ratio **{worst:.2f}x** (target ≤ {TARGET}x: {verdict}). `itref status` with two years of state:
**{status_ms:.0f} ms** (target: well under a second, taken as under {STATUS_TARGET * 1000:.0f} ms: {status_verdict});
the first time a machine reads that state (its cache empty, every routine-run document read once): {cold_ms:.0f} ms.
Of that, loading and checking this 100-host inventory and its playbooks is what `journal --since 7d` costs too;
what `status` adds over it is {own_ms:.0f} ms. Medians of {args.runs} interleaved runs each. Why it holds: records are filed by month, so `journal --since 7d` opens only this month's
files (and last month's at the start of a month); an audit run is one file whose name carries its time and scope,
so `audit diff` reads the names and two files; the pack reads the last 30 days of the journal, the newest records of
each backup (month by month, newest first) and the latest audit of each entity. `itref status` reads the same, the
journal since the earliest moment a routine's schedule fired, and of the routine-run and scheduled-change documents
only the open ones: a document is looked at once as text (no YAML parsing) and, when it is finished for good, its
name, size and time are remembered in this machine's cache (rebuilt when missing) and it is not read again
until its file changes (a `git revert` or a merge puts an open one back).
"""
        write_section("state-scale", body)
        print(body)
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
