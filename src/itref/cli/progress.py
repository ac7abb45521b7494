"""Progress of work on many hosts: a live table on a terminal, plain lines otherwise (stderr)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from itref.core.executor import Progress, ProgressCallback
from itref.i18n import _
from itref.report.run import STYLE, outcome_label

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from itref.cli.state import PlainLines


@contextmanager
def host_progress(console: Console | PlainLines, total: int) -> Iterator[ProgressCallback]:
    """Yield a callback that shows each host's state (host, state, elapsed) while work runs.

    ``console`` is Rich's console, or :class:`~itref.cli.state.PlainLines` for a stream that is not a
    terminal (the plain lines are then written without importing Rich).
    """
    states: dict[str, Progress] = {}
    lock = threading.Lock()
    done = [0]
    words = {"connecting": _("connecting"), "running": _("running")}

    if not console.is_terminal:
        def plain(p: Progress) -> None:
            if p.state == "done" and p.result is not None:
                with lock:
                    done[0] += 1
                    n = done[0]
                r = p.result
                console.print(f"[{n}/{total}] {p.host.name}: {outcome_label(r.outcome)} ({r.duration:.2f} s)"
                              + (f" — {r.error}" if r.error else ""), markup=False, highlight=False)
        yield plain
        return

    from rich.live import Live
    from rich.table import Table

    def render() -> Table:
        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        with lock:
            items = list(states.values())
            finished = done[0]
        table.add_row(_("{done}/{total} hosts done").format(done=finished, total=total))
        running = [p for p in items if p.state != "done"][-20:]
        for p in running:
            table.add_row(p.host.name, words.get(p.state, p.state), f"{now - p.started:.1f} s")
        for p in [p for p in items if p.state == "done" and p.result and p.result.failed][-10:]:
            assert p.result is not None
            table.add_row(p.host.name, f"[{STYLE[p.result.outcome]}]{outcome_label(p.result.outcome)}[/]",
                          p.result.error or "")
        return table

    def live_update(p: Progress) -> None:
        with lock:
            states[p.host.name] = p
            if p.state == "done":
                done[0] += 1

    with Live(get_renderable=render, console=console, refresh_per_second=8, transient=True):
        yield live_update
