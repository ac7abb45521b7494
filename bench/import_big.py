"""A big HR export through ``itref ad user import --dry-run``: peak memory and time against the file's size.

Usage (as root, from anywhere): python3 bench/import_big.py [--sizes 0.25,1,2,10,50] [--no-write]

What it does, in one run:

* finds a Python that imports this repository's itref and ldap3 (the running one, ``$ITREF_BENCH_PYTHON``,
  ``.venv`` or ``bench/.venv``), re-executes itself there, then once more under ``unshare --net`` with loopback
  up (the DC's fixed ports cannot collide with anything else of the machine);
* starts a fresh clone of the test DC (``itref.lab.peers.samba``) and writes an inventory and playbooks like the
  ``ad_project`` test fixture (``bench/ad_import.py``'s ``write_project``);
* for each size (MB, 10^6 bytes), writes a CSV (UTF-8 with BOM, ``;``) of that size: header ``Prénom;Nom;Modèle;
  Matricule;Identifiant;Service;Fonction;Bureau;Téléphone``, French/Belgian names, each row with its own matricule
  and login, for the template ``commune/clerk``; the file is written before the timing starts;
* runs ``itref -i INV ad user import CSV --dry-run`` as one process (interpreter start-up, bind, directory
  index included), its output piped to this script, which counts the row lines as they arrive and notes when
  the first one came; peak RSS is the process's own high-water mark (``wait4``'s ``ru_maxrss``);
* checks the outcome: within the limits (10 MB, 20,000 rows) every row is previewed as ``create``, exit 0;
  beyond, exit 3 and one sentence (``FILE:1:1: ... larger than``, or ``FILE:20002:1: more than 20,000 rows``);
* writes the figures to docs/performance.md (section "import-big") and prints them; exit status 0 when every
  run ended as expected and the peak memory of the largest accepted file stayed under 2x that of the smallest,
  1 otherwise, 2 when something failed (then nothing is written).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NETNS_MARKER = "ITREF_BENCH_NETNS"
PASSWORD_VAR = "ITREF_BENCH_AD_PASSWORD"
HEADER = ["Prénom", "Nom", "Modèle", "Matricule", "Identifiant", "Service", "Fonction", "Bureau", "Téléphone"]
MEMORY_RATIO = 2.0  # peak RSS of the largest accepted file / the smallest, at most


class BenchError(Exception):
    """The benchmark could not run or a run did not end as expected."""


def ensure_python() -> None:
    """Re-exec under a Python that has this repository's itref and ldap3; return only when running in one."""
    try:
        import ldap3  # noqa: F401

        import itref
    except ImportError:
        pass
    else:
        if Path(itref.__file__).resolve().is_relative_to(ROOT / "src"):
            return
    for python in (os.environ.get("ITREF_BENCH_PYTHON", ""), str(ROOT / ".venv" / "bin" / "python"),
                   str(BENCH / ".venv" / "bin" / "python")):
        if python and Path(python).exists():
            os.execv(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]])
    raise BenchError("no Python with this repository's itref: run scripts/test once (it makes .venv)")


def ensure_netns() -> None:
    """Re-exec inside a new network namespace with loopback up (unless already in one made by this script)."""
    if os.environ.get(NETNS_MARKER) == "1":
        return
    os.environ[NETNS_MARKER] = "1"
    script = 'ip link set lo up && exec "$0" "$@"'
    os.execvp("unshare", ["unshare", "--net", "--", "sh", "-c", script, sys.executable,
                          str(Path(__file__).resolve()), *sys.argv[1:]])


def write_csv(path: Path, megabytes: float, seed: int = 2026) -> int:
    """Write an HR export of at most ``megabytes`` MB (whole rows only); return its number of rows."""
    from ad_import import FIRST_NAMES, LAST_NAMES, SERVICES

    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    titles = ("Employé d'administration", "Assistante sociale", "Gestionnaire de dossiers", "Ouvrier qualifié",
              "Attachée spécifique", "Agent d'accueil")
    with path.open("wb") as out:
        out.write(("\ufeff" + ";".join(HEADER) + "\r\n").encode("utf-8"))
        size, rows = out.tell(), 0
        while True:
            line = ";".join([rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), "commune/clerk", f"M{rows:07d}",
                             f"agent{rows:07d}", rng.choice(SERVICES), rng.choice(titles), f"B{rng.randint(1, 300)}",
                             f"+32 4 {rng.randint(200, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"]) + "\r\n"
            data = line.encode("utf-8")
            if size + len(data) > target:
                break
            out.write(data)
            size += len(data)
            rows += 1
    return rows


@dataclass
class Run:
    """One dry run: its file, how it ended and what it cost."""

    megabytes: float
    rows: int
    rc: int
    wall: float
    first_row: float | None
    shown: int
    peak_rss_mb: float
    last_error: str


def dry_run(python: str, inv: Path, csv_file: Path, env: dict[str, str], megabytes: float, rows: int) -> Run:
    """Run the dry run of ``csv_file`` as one process; return what it did and cost."""
    cmd = [python, "-m", "itref", "-i", str(inv), "ad", "user", "import", str(csv_file), "--dry-run"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    prefix = f"{csv_file}:".encode()
    state: dict[str, object] = {"first": None, "shown": 0}
    err: list[bytes] = []

    def read_out() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(prefix):
                if state["first"] is None:
                    state["first"] = time.perf_counter() - start
                state["shown"] = int(state["shown"]) + 1  # type: ignore[call-overload]

    def read_err() -> None:
        assert proc.stderr is not None
        err.extend(proc.stderr)

    readers = [threading.Thread(target=read_out), threading.Thread(target=read_err)]
    for t in readers:
        t.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = b"".join(err).decode("utf-8", "replace").strip()
    return Run(megabytes, rows, proc.returncode, wall, state["first"], int(state["shown"]),  # type: ignore[arg-type]
               usage.ru_maxrss / 1024, text.splitlines()[-1] if text else "")


def expected(run: Run, max_bytes: int, max_rows: int) -> str | None:
    """Return what is wrong with how ``run`` ended (None when it ended as it must)."""
    if run.megabytes * 1_000_000 > max_bytes:
        ok = run.rc == 3 and "larger than" in run.last_error and run.shown == 0
        return None if ok else f"{run.megabytes} MB: expected a refusal of the size, got {run.rc}: {run.last_error}"
    if run.rows > max_rows:
        ok = run.rc == 3 and f":{max_rows + 2}:1:" in run.last_error and run.shown == 0
        return None if ok else f"{run.megabytes} MB: expected a refusal of row {max_rows + 1}, got {run.rc}: " \
                               f"{run.last_error}"
    ok = run.rc == 0 and run.shown == run.rows
    return None if ok else f"{run.megabytes} MB: {run.shown} of {run.rows} rows shown, exit {run.rc}: {run.last_error}"


def report(runs: list[Run], *, versions: str, machine: str, wall: float, sizes: str, baseline: Run,
           max_bytes: int, max_rows: int) -> tuple[str, bool]:
    """Return the Markdown section and whether the memory target is met."""
    accepted = [r for r in runs if r.rc == 0]
    ratio = accepted[-1].peak_rss_mb / accepted[0].peak_rss_mb if len(accepted) >= 2 else 1.0
    lines = [
        "## Import: a big file through `itref ad user import --dry-run`",
        "",
        f"Command (as root): `python3 bench/import_big.py --sizes {sizes}` ({machine}; the whole run took "
        f"{wall / 60:.1f} min). Versions: {versions}.",
        "",
        "Each figure is one `itref -i INV ad user import FILE --dry-run` process against a fresh clone of the test "
        "Samba DC (interpreter start-up, LDAPS bind and the directory index included). The file is UTF-8 with BOM, "
        f"`;`, nine columns (`{';'.join(HEADER)}`), each row with its own matricule and login for the template "
        "`commune/clerk`. *First row* is when the first row's line reached the pipe; *peak RSS* is the process's "
        "own high-water mark (`wait4`). Within the limits "
        f"({max_bytes / 1_000_000:g} MB, {max_rows:,} rows) every row is previewed with its plan; beyond, the "
        "import answers one sentence and exit 3.",
        "",
        "| file | rows | outcome | wall | first row | peak RSS |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for r in runs:
        if r.rc == 0:
            outcome = f"{r.shown:,} rows previewed"
        elif r.megabytes * 1_000_000 > max_bytes:
            outcome = "refused: size (before reading)"
        else:
            outcome = f"refused at row {max_rows + 1:,}"
        first = f"{r.first_row:.2f} s" if r.first_row is not None else "-"
        lines.append(f"| {r.megabytes:g} MB | {r.rows:,} | {outcome} | {r.wall:.2f} s | {first} | "
                     f"{r.peak_rss_mb:.0f} MB |")
    lines.append(f"| (`itref -i INV inventory validate`, for scale) | | | {baseline.wall:.2f} s | | "
                 f"{baseline.peak_rss_mb:.0f} MB |")
    meets = ratio <= MEMORY_RATIO
    lines += [
        "",
        f"- Peak memory of the largest accepted file / the smallest: **{ratio:.2f}x** (target ≤ {MEMORY_RATIO:g}x: "
        f"{'meets' if meets else 'MISSED'}). What grows with the rows is the directory index, which remembers "
        "each planned account (its login, names, groups), so that two rows never get one login; the file itself "
        "is read as a stream, and each row is printed once planned.",
        "- Before (issue #15, measured by its reporter, not by this benchmark): a 50 MB file made the dry run use "
        "about 3 GB and print nothing for 150 s; it is now refused at once, before it is read.",
    ]
    return "\n".join(lines), meets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.25,1,2,10,50", help="file sizes in MB, comma-separated")
    parser.add_argument("--no-write", action="store_true", help="print the section, do not touch docs/performance.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("import_big: run as root (it starts a Samba AD DC in its own network namespace)", file=sys.stderr)
        return 2
    ensure_python()
    ensure_netns()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    from _report import machine, write_section
    from ad_import import write_project

    from itref.ad.importer import MAX_BYTES, MAX_ROWS
    from itref.lab.peers.samba import SambaDC, SambaTemplate, samba_version

    sizes = [float(s) for s in args.sizes.split(",")]
    t_all = time.perf_counter()
    SambaTemplate().ensure()  # a first build takes minutes: never inside a timing
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="itref-bench-big-") as tmp_name, SambaDC() as dc:
        tmp = Path(tmp_name)
        inv = write_project(tmp, dc)
        (tmp / "state").mkdir()
        env = {**os.environ, PASSWORD_VAR: dc.admin_password, "ITREF_STATE_DIR": str(tmp / "state"),
               "COLUMNS": "200"}
        env.pop("ITREF_INVENTORY", None)
        base_cmd = [sys.executable, "-m", "itref", "-i", str(inv), "inventory", "validate"]
        start = time.perf_counter()
        proc = subprocess.Popen(base_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        baseline = Run(0, 0, os.waitstatus_to_exitcode(status), time.perf_counter() - start, None, 0,
                       usage.ru_maxrss / 1024, "")
        for mb in sizes:
            csv_file = tmp / f"rh-{mb:g}MB.csv"
            rows = write_csv(csv_file, mb)
            print(f"import_big: {mb:g} MB ({rows:,} rows) ...", file=sys.stderr)
            run = dry_run(sys.executable, inv, csv_file, env, mb, rows)
            problem = expected(run, MAX_BYTES, MAX_ROWS)
            if problem is not None:
                raise BenchError(problem)
            runs.append(run)
            csv_file.unlink()
    versions = f"itref {importlib.metadata.version('itref')}, ldap3 {importlib.metadata.version('ldap3')}; " \
               f"samba {samba_version()}"
    body, ok = report(runs, versions=versions, machine=machine(), wall=time.perf_counter() - t_all,
                      sizes=args.sizes, baseline=baseline, max_bytes=MAX_BYTES, max_rows=MAX_ROWS)
    if not args.no_write:
        write_section("import-big", body)
    print(body)
    print(json.dumps([r.__dict__ for r in runs]), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"import_big: FAILED: {exc}", file=sys.stderr)
        sys.exit(2)
