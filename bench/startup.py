"""Startup cost: ``itref --help`` against ``python -c 'import typer'``, interleaved in one run.

Usage: .venv/bin/python bench/startup.py [--runs 40]
Writes the medians to docs/performance.md (section "startup").
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section

TARGET = 1.3


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    cases = {
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "itref --help": [str(bindir / "itref"), "--help"],
        "python -m itref --help": [sys.executable, "-m", "itref", "--help"],
        "python -c pass (interpreter alone)": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for cmd in cases.values():  # warm the page cache
        timed(cmd)
    for _ in range(args.runs):
        for name, cmd in cases.items():  # interleaved, so load changes hit every case alike
            times[name].append(timed(cmd))
    med = {name: statistics.median(t) * 1000 for name, t in times.items()}
    ratio = med["itref --help"] / med["python -c 'import typer'"]
    rows = "\n".join(f"| {name} | {med[name]:.1f} ms | {min(times[name]) * 1000:.1f} ms |" for name in cases)
    verdict = "meets" if ratio <= TARGET else "MISSES"
    body = f"""## Startup: `itref --help` vs importing Typer

Command: `.venv/bin/python bench/startup.py --runs {args.runs}` ({args.runs} interleaved runs each; {machine()}).

| command | median | best |
|---|---:|---:|
{rows}

`itref --help` / `import typer` = **{ratio:.2f}x** (target ≤ {TARGET}x: {verdict}). `--help` imports no paramiko,
winrm, ldap3, cryptography, pydantic or yaml (checked by `tests/cli/test_cli.py::test_help_imports_no_heavy_library`).
"""
    write_section("startup", body)
    print(body)
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
