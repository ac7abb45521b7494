"""One failing host never stops the others; every outcome is reported in inventory order."""

from __future__ import annotations

import threading
import time

from itref.config.project import HostSpec, Project
from itref.config.schema import Inventory
from itref.connectors.base import Command, Connector
from itref.context import RunContext
from itref.core.errors import AuthenticationFailed
from itref.core.executor import execute
from itref.core.results import HostResult, Outcome
from itref.core.status import ExitStatus
from itref.runner.command import run_command
from itref.secrets import SecretResolver


def make_ctx(tmp_path, n: int) -> tuple[RunContext, list[HostSpec]]:
    hosts = [HostSpec(f"h{i}", "shared", "local", f"h{i}", (), None) for i in range(n)]
    inv = Inventory.model_validate({"version": 1, "organisation": "T", "entities": {"shared": {"title": "S"}}})
    project = Project(inv, tmp_path / "inventory.yaml", tmp_path, {}, {}, hosts)
    return RunContext(project, SecretResolver(interactive=False)), hosts


def test_unreachable_crashing_and_failing_hosts_do_not_stop_the_others(tmp_path, monkeypatch) -> None:
    ctx, hosts = make_ctx(tmp_path, 4)
    real = ctx.connector

    def connector(host: HostSpec) -> Connector:
        conn = real(host)
        if host.name == "h1":
            def refuse() -> None:
                raise AuthenticationFailed("h1: authentication refused")
            conn.open = refuse  # type: ignore[method-assign]
        return conn

    monkeypatch.setattr(ctx, "connector", connector)

    def work(conn: Connector, host: HostSpec) -> HostResult:
        if host.name == "h2":
            raise ZeroDivisionError("boom")
        res = conn.run(Command.of(["sh", "-c", "exit 3" if host.name == "h3" else "true"]))
        return HostResult(host.name, host.entity, Outcome.OK if res.ok else Outcome.FAILED, res)

    report = execute(ctx, hosts, work, forks=4)
    assert [(r.host, r.outcome) for r in report.results] == [
        ("h0", Outcome.OK), ("h1", Outcome.UNREACHABLE), ("h2", Outcome.FAILED), ("h3", Outcome.FAILED)]
    assert "authentication refused" in report.results[1].error
    assert "ZeroDivisionError: boom" in report.results[2].error
    assert report.failed_hosts == ["h1", "h2", "h3"]
    assert report.exit_status() == ExitStatus.FAILURE


def test_only_unreachable_hosts_give_the_unreachable_status(tmp_path) -> None:
    from itref.core.results import RunReport

    report = RunReport([HostResult("a", "e", Outcome.OK), HostResult("b", "e", Outcome.UNREACHABLE)])
    assert report.exit_status() == ExitStatus.UNREACHABLE


def test_hosts_run_in_parallel_up_to_forks(tmp_path) -> None:
    ctx, hosts = make_ctx(tmp_path, 20)
    running, peak, lock = [0], [0], threading.Lock()

    def work(conn: Connector, host: HostSpec) -> HostResult:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return HostResult(host.name, host.entity, Outcome.OK)

    start = time.monotonic()
    execute(ctx, hosts, work, forks=10)
    assert peak[0] == 10
    assert time.monotonic() - start < 3.5  # 2 waves of 0.2 s, not 20 sequential sleeps (4 s)


def test_every_host_of_a_run_is_journaled_with_the_run_id(tmp_path) -> None:
    ctx, hosts = make_ctx(tmp_path, 3)
    run_command(ctx, hosts, Command.of(["true"]), forks=3)
    records = list(ctx.journal.records())
    assert sorted(r.host for r in records) == ["h0", "h1", "h2"]
    assert {r.run_id for r in records} == {ctx.run_id} and {r.outcome for r in records} == {"ok"}
