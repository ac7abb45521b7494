"""The Python-library competitors of bench/fanout.py, each run as its own process.

Usage: python bench/_fanout_clients.py {paramiko|pssh|itref-api} SPEC.json

SPEC.json (written by fanout.py) holds ``hosts`` (``name``, ``address``, ``port``), ``user``, ``key`` (client
private key), ``known_hosts``, ``commands`` (how many ``uptime`` per host, over one connection) and, for
``itref-api``, ``inventory`` and ``state_dir``.  Each client runs ``uptime`` ``commands`` times on every host,
one connection per host, all hosts at once, and prints one JSON line ``{"ok": [names], "failed": {name: why}}``.
A host is ok only if every command exited 0 and printed a load average.  The exit code is 0 only if every host
is ok.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

COMMAND = "uptime"
EXPECTED = "load average"  # what uptime prints on Linux; proves the command really ran


def _check(out: str, rc: int | None) -> str | None:
    """Return why one command's result is wrong, or None when it is right."""
    if rc != 0:
        return f"exit code {rc}: {out.strip()[:200]!r}"
    if EXPECTED not in out:
        return f"unexpected output {out.strip()[:200]!r}"
    return None


def paramiko_pool(spec: dict[str, Any]) -> dict[str, str | None]:
    """A plain paramiko thread pool: one thread and one SSHClient per host, default socket (no TCP_NODELAY).

    Host keys are checked against ``known_hosts`` (RejectPolicy refuses unknown keys).
    """
    from concurrent.futures import ThreadPoolExecutor

    import paramiko

    def one(host: dict[str, Any]) -> str | None:
        client = paramiko.SSHClient()
        client.load_host_keys(spec["known_hosts"])
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(host["address"], port=host["port"], username=spec["user"], key_filename=spec["key"],
                           look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10, auth_timeout=10)
            for _ in range(spec["commands"]):
                _stdin, stdout, stderr = client.exec_command(COMMAND, timeout=60)
                out = stdout.read().decode(errors="replace")
                stderr.read()
                problem = _check(out, stdout.channel.recv_exit_status())
                if problem:
                    return problem
            return None
        except Exception as exc:  # report every host, never stop at the first failure
            return f"{type(exc).__name__}: {exc}"
        finally:
            client.close()

    hosts = spec["hosts"]
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        return dict(zip([h["name"] for h in hosts], pool.map(one, hosts), strict=True))


def pssh_client(spec: dict[str, Any]) -> dict[str, str | None]:
    """parallel-ssh's ParallelSSHClient (libssh2 via ssh2-python, gevent), one HostConfig per host.

    parallel-ssh does not check host keys: nothing in ``pssh.clients.native`` reads a known_hosts file, and
    any server key is accepted.  Every command is a ``run_command`` + ``join`` over all hosts (lockstep).
    """
    from pssh.clients import ParallelSSHClient
    from pssh.config import HostConfig

    hosts = spec["hosts"]
    configs = [HostConfig(user=spec["user"], port=h["port"], private_key=spec["key"], allow_agent=False,
                          identity_auth=False, timeout=10, num_retries=1) for h in hosts]
    client = ParallelSSHClient([h["address"] for h in hosts], host_config=configs, pool_size=len(hosts),
                               allow_agent=False, identity_auth=False, num_retries=1, timeout=60)
    problems: dict[str, str | None] = {h["name"]: None for h in hosts}
    for _ in range(spec["commands"]):
        output = client.run_command(COMMAND, stop_on_errors=False)
        client.join(output)
        for host, out in zip(hosts, output, strict=True):
            if problems[host["name"]]:
                continue
            if out.exception is not None:
                problems[host["name"]] = f"{type(out.exception).__name__}: {out.exception}"
            else:
                problems[host["name"]] = _check("\n".join(out.stdout), out.exit_code)
    return problems


def itref_api(spec: dict[str, Any]) -> dict[str, str | None]:
    """itref's own API: load the inventory, then ``core.executor.execute`` with a work function that runs
    the command ``commands`` times on the host's one open connector (as ``itref run`` does, minus the CLI)."""
    from pathlib import Path

    from itref.config.project import load_project
    from itref.connectors.base import Command, Connector, HostSpec
    from itref.context import RunContext
    from itref.core.executor import execute
    from itref.core.results import HostResult, Outcome
    from itref.journal import Journal
    from itref.secrets import SecretResolver
    from itref.state.folder import StateFolder

    project = load_project(Path(spec["inventory"]), playbooks=False)
    ctx = RunContext(project, SecretResolver(project.inventory.secrets, interactive=False),
                     Journal(StateFolder(Path(spec["state_dir"]))))
    command = Command.of([COMMAND])

    def work(conn: Connector, host: HostSpec) -> HostResult:
        result = None
        for _ in range(spec["commands"]):
            result = conn.run(command)
            problem = _check(result.stdout, result.rc)
            if problem:
                return HostResult(host.name, host.entity, Outcome.FAILED, result, problem)
        return HostResult(host.name, host.entity, Outcome.OK, result)

    report = execute(ctx, project.hosts, work, forks=len(project.hosts))
    return {r.host: None if r.outcome is Outcome.OK else f"{r.outcome.value}: {r.error}" for r in report.results}


CLIENTS: dict[str, Callable[[dict[str, Any]], dict[str, str | None]]] = {
    "paramiko": paramiko_pool,
    "pssh": pssh_client,
    "itref-api": itref_api,
}


def main(argv: list[str]) -> int:
    """Run the client named ``argv[0]`` on the spec file ``argv[1]``; print the JSON summary."""
    name, spec_path = argv
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    problems = CLIENTS[name](spec)
    failed = {host: why for host, why in problems.items() if why}
    print(json.dumps({"ok": sorted(h for h, why in problems.items() if not why), "failed": failed}))
    return 1 if failed or len(problems) != len(spec["hosts"]) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
