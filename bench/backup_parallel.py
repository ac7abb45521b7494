"""Backup checks in parallel: checking 20 repositories vs checking the slowest one alone, in one run, cold
(``--fresh``: every repository opened) and warm (fingerprints unchanged: none opened), side by side.

Usage (needs restic and borg; holds the shared lock):
    flock /tmp/itref-heavy.lock /tmp/venv0/bin/python bench/backup_parallel.py [--repos 20] [--runs 3]
Writes the medians to docs/performance.md (section "backup-parallel").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from itref.lab.peers.repos import BORG_PASSPHRASE, RESTIC_PASSWORD, RepoLab  # noqa: E402

TARGET = 2.0


def cpu_seconds() -> float:
    """Return user+system CPU time used by this process's finished children so far."""
    usage = os.times()
    return usage.children_user + usage.children_system


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, dict]:
    """Run an itref command; return (wall seconds, child CPU seconds, parsed JSON output)."""
    cpu0, start = cpu_seconds(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    if proc.returncode not in (0, 6):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, cpu, json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="itref-bench-backup-"))
    try:
        lab = RepoLab(root)
        src = lab.source("data", files=200, size=4000)
        backups = []
        for i in range(args.repos):
            name = f"repo{i:02d}"
            if i % 2 == 0:  # each restic repository gets its own init (own id and key), as in real life
                path = root / name
                lab.run("restic", "init", "--repo", str(path), password=RESTIC_PASSWORD)
                lab.run("restic", "--repo", str(path), "backup", "--host", "fileserver", str(src),
                        password=RESTIC_PASSWORD)
                backups.append({"name": name, "kind": "restic", "repository": str(path),
                                "password": {"env": "BENCH_RESTIC_PW"}, "max_age": "26h"})
            else:
                path = lab.borg_repo(name, src)
                backups.append({"name": name, "kind": "borg", "repository": str(path),
                                "password": {"env": "BENCH_BORG_PW"}, "max_age": "26h"})
        (root / "playbooks").mkdir()
        (root / "playbooks" / "shared.yaml").write_text(json.dumps({"entity": "shared", "backups": backups}))
        (root / "inventory.yaml").write_text(json.dumps({"version": 1, "organisation": "Bench",
                                                         "entities": {"shared": {"title": "Shared"}}}))
        env = {**lab.env, "ITREF_STATE_DIR": str(root / "state"), "BENCH_RESTIC_PW": RESTIC_PASSWORD,
               "BENCH_BORG_PW": BORG_PASSPHRASE, "RESTIC_CACHE_DIR": str(root / "cache")}
        itref = [sys.executable, "-m", "itref", "-i", str(root / "inventory.yaml"), "-f", "json", "backup", "check"]
        modes = {"cold": ["--fresh"], "warm": []}
        runs = ("repo00", "repo01", "all")
        wall: dict[tuple[str, str], list[float]] = {(m, r): [] for m in modes for r in runs}
        cpu: dict[tuple[str, str], list[float]] = {(m, r): [] for m in modes for r in runs}
        load0 = os.getloadavg()[0]
        timed([*itref, "--fresh"], env)  # the first check ever: records every fingerprint
        for _ in range(args.runs):
            for mode, flags in modes.items():
                for run in runs:
                    w, c, data = timed([*itref, *flags, *([] if run == "all" else [run])], env)
                    assert len(data) == (args.repos if run == "all" else 1), data
                    assert {f["severity"] for f in data} == {"ok"}, data
                    # cold: every repository really opened; warm: none opened (evidence reused)
                    assert {f["evidence"]["reused"] for f in data} == {mode == "warm"}, data
                    wall[mode, run].append(w)
                    cpu[mode, run].append(c)
        load1 = os.getloadavg()[0]
        med = {k: statistics.median(v) for k, v in wall.items()}
        mcpu = {k: statistics.median(v) for k, v in cpu.items()}
        ncpu = os.cpu_count() or 1
        ratio, slowest = {}, {}
        for mode in modes:
            slowest[mode] = max(("repo00", "repo01"), key=lambda r, m=mode: med[m, r])
            ratio[mode] = med[mode, "all"] / med[mode, slowest[mode]]
        bound = mcpu["cold", "all"] / ncpu

        def verdict(r: float) -> str:
            return "meets" if r <= TARGET * 1.1 else "MISSES"

        def row(mode: str, run: str, label: str) -> str:
            return f"| {mode} | {label} | {med[mode, run]:.2f} s | {mcpu[mode, run]:.2f} s |"

        rows = "\n".join(row(m, r, label) for m in modes for r, label in (
            ("repo00", "one restic repository (`repo00`)"), ("repo01", "one borg repository (`repo01`)"),
            ("all", f"all {args.repos}")))
        body = f"""## Backup checks in parallel: {args.repos} repositories vs the slowest one alone, cold and warm

Command: `flock /tmp/itref-heavy.lock /tmp/venv0/bin/python bench/backup_parallel.py --repos {args.repos} --runs {args.runs}`
(as root; {machine()}; load average (1 min) {load0:.1f} at the start, {load1:.1f} at the end).
{args.repos // 2} restic repositories (each its own `restic init`) and {args.repos - args.repos // 2} borg repositories,
each holding one snapshot of 200 files, checked on this machine by `itref backup check`. Two modes:

- **cold**: `itref backup check --fresh`: every repository is opened (one restic or borg call each, as on the
  first check or after any change): restic derives the key with scrypt, borg starts a Python interpreter.
- **warm**: `itref backup check`, nothing changed since the last check: each repository's fingerprint (file
  names, sizes, times, one small shell command) is the recorded one, so no restic or borg runs and the last
  check's evidence is judged against now.

Medians of {args.runs} interleaved runs (after one first check); CPU = user+system of the whole run (itref and its
children).

| mode | run | wall | CPU |
|---|---|---:|---:|
{rows}

- cold: all {args.repos} / slowest single (`{slowest['cold']}`) = **{ratio['cold']:.1f}x** (target about
  {TARGET:.0f}x: {verdict(ratio['cold'])}). The {args.repos} opens cost {mcpu['cold', 'all']:.2f} s of CPU, so on {ncpu}
  CPUs they cannot take less than {bound:.2f} s ({bound / med['cold', slowest['cold']]:.1f}x the slowest single): cold,
  checking them all on this machine is bounded by CPU, not by waiting.
- warm: all {args.repos} / slowest single (`{slowest['warm']}`) = **{ratio['warm']:.1f}x** (target about
  {TARGET:.0f}x: {verdict(ratio['warm'])}).
- When the repositories are checked on their own hosts (`host:` in the playbook), the cold CPU is spent on each
  host and the opens overlap; sftp:, rest:, s3: and ssh:// repositories have no cheap listing and are always cold.
"""
        write_section("backup-parallel", body)
        print(body)
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
