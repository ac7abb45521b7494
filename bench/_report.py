"""Write one benchmark's section into docs/performance.md, between its own markers."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

PERF = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
HEADER = """# Performance

Every figure here is written by a benchmark under `bench/`, which runs itref and the tools a user
would pick instead side by side in one run. Re-run the command given in a section to refresh it.
"""


def machine() -> str:
    """Return a one-line description of the machine the figures come from."""
    import os

    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU, Python {platform.python_version()}, "
            f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section ``name`` of docs/performance.md with ``body``."""
    text = PERF.read_text(encoding="utf-8") if PERF.exists() else HEADER
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    PERF.write_text(text, encoding="utf-8")
