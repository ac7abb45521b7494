"""The lab's supervisor: one detached process that starts every peer of the lab, writes the lab's files, keeps them
running, and stops them all when told to (``itref lab down``: SIGTERM) or when its time is up.

Run as ``python -m itref.lab.supervisor DIR HOSTS``.  Everything it starts dies with it: the sshd hosts and samba
get ``PR_SET_PDEATHSIG`` from this process's main thread, samba also has ``--maximum-runtime``, and the WinRM
endpoint and the intranet are threads of this process.  Its progress and errors go to ``DIR/lab.json``
(``status``: starting, ready, failed, stopping, stopped) and ``DIR/logs/supervisor.log``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itref.i18n import N_
from itref.lab.layout import LAB_USER, RUNTIME_ROOT, LabPaths, read_state, write_state

MAX_RUNTIME = 12 * 3600  # the lab stops itself after that, whatever happens


class Supervisor:
    """The running lab (inside the supervisor process)."""

    def __init__(self, paths: LabPaths, hosts: int) -> None:
        self.paths = paths
        self.host_count = hosts
        self.state: dict[str, Any] = read_state(paths) or {}
        self.stopping = threading.Event()
        self.dc: Any = None
        self.sshd: dict[str, Any] = {}
        self.endpoint: Any = None
        self.proxy: Any = None
        self.intranet: Any = None

    # -- state -----------------------------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        """Merge ``changes`` into ``lab.json`` as it is now (``itref lab scenario`` writes there too)."""
        self.state = {**(read_state(self.paths) or self.state), **changes}
        write_state(self.paths, self.state)

    def _step(self, text: str) -> None:
        print(f"{datetime.now(UTC).isoformat(timespec='seconds')} {text}", flush=True)
        self._set(step=text)

    # -- start -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything and write the lab's files; return None. Raises on the first failure."""
        from itref.lab import backups, files, hosts, tls
        from itref.lab.peers import samba, sshd
        from itref.lab.world import WINDOWS_HOST, lab_hosts

        paths = self.paths
        for folder in (paths.logs, paths.keys):
            folder.mkdir(parents=True, exist_ok=True)
        RUNTIME_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        RUNTIME_ROOT.chmod(0o755)
        shutil.rmtree(paths.runtime, ignore_errors=True)
        paths.runtime.mkdir(mode=0o755, parents=True)
        (paths.runtime / "owner").write_text(f"{paths.root}\n", encoding="utf-8")

        self._step(N_("user and keys"))
        sshd.ensure_privsep_dir()
        user = sshd.ensure_user(LAB_USER, files.world_password(paths, "lab-user"))
        # key logins only: '*' is no password at all, and unlike '!' it does not lock the account for sshd
        subprocess.run(["usermod", "--password", "*", LAB_USER], check=True, capture_output=True)
        keys = sshd.SSHKeys(paths.keys)

        self._step(N_("certificates"))
        tls.make_ca(paths.certs)
        (paths.certs / "lab-ca.key").chmod(0o640)
        os.chown(paths.certs / "lab-ca.key", 0, user.gid)  # the stand-in certbot signs as the lab's user
        os.chown(paths.certs, user.uid, user.gid)
        tls.issue(paths.certs, "intranet", [tls.INTRANET_NAME, "127.0.0.1"], 397)
        os.chown(paths.certs / "intranet.pem", user.uid, user.gid)
        tls.issue(paths.certs, "winrm", ["srv-fichiers.lab.example.test", "127.0.0.1"], 397)

        self._step(N_("directory (Samba AD DC)"))
        self.dc = samba.SambaDC(directory=paths.dc, max_runtime=MAX_RUNTIME + 600)
        self.dc.start()
        self._set(dc={"pid": self.dc.pid, "url": self.dc.url, "directory": str(paths.dc)})
        seeded = paths.dc / "lab-seeded"
        if not seeded.exists():
            from itref.lab.world import seed_directory

            conn = samba.ldap_connection(self.dc)  # the template's random password, this once
            try:
                seed_directory(conn)
                # the lab's own administrator password, random, kept only in the lab's secret store
                admin = f"CN=Administrator,CN=Users,{samba.BASE_DN}"
                if not conn.extend.microsoft.modify_password(admin, files.new_secret(paths, "ad-admin")):
                    raise RuntimeError(f"cannot set the lab's administrator password: {conn.result}")
            finally:
                conn.unbind()
            seeded.write_text(datetime.now(UTC).isoformat() + "\n", encoding="utf-8")

        self._step(N_("intranet and Windows file server"))
        self.intranet = tls.IntranetServer(paths.certs / "intranet.pem").start()
        self._start_windows(files.world_password(paths, "winrm"))

        self._step(N_("Linux hosts"))
        hosts.install_standins(paths, "127.0.0.1")
        specs = lab_hosts(self.host_count)
        third = int(hashlib.sha256(paths.name.encode()).hexdigest()[:4], 16) % 200 + 40
        images = {h.name: hosts.make_disk(paths, h, user) for h in specs}
        for i, h in enumerate(specs):
            self.sshd[h.name] = hosts.sshd_host(paths, h, keys, user, f"127.0.{third}.{10 + i}", images[h.name])
        for host in self.sshd.values():
            host.start()
        dump = hosts.make_dump(paths, user) if any("dumps" in h.folders for h in specs) else None
        for h in specs:
            hosts.seed_host(self.sshd[h.name].pid, h, user, dump)
        paths.known_hosts.write_text("".join(s.known_hosts_line() + "\n" for s in self.sshd.values()),
                                     encoding="utf-8")
        self._set(hosts={n: {"address": s.address, "port": s.port, "pid": s.pid, "disk": str(images[n])}
                         for n, s in self.sshd.items()})

        self._step(N_("backup repositories"))
        backups.create_repositories(paths, user)

        self._step(N_("inventory and playbooks"))
        live = files.Live(hosts={n: (s.address, s.port) for n, s in self.sshd.items()}, host_specs=specs,
                          winrm_address="127.0.0.1", winrm_port=self.proxy.port, intranet_address="127.0.0.1",
                          intranet_port=self.intranet.port, dc_url=self.dc.url, dc_ca_file=str(self.dc.ca_file),
                          dc_tls_name=self.dc.tls_name)
        files.write_project(paths, live)
        self._set(winrm={"host": WINDOWS_HOST, "port": self.proxy.port}, intranet={"port": self.intranet.port})

    def _start_windows(self, password: str) -> None:
        from itref.lab import tls
        from itref.lab.files import WINRM_USER
        from itref.lab.peers.winrm_endpoint import WinRMEndpoint
        from itref.lab.peers.winrm_fixtures import TcpProxy
        from itref.lab.windows import LabWindows

        self.endpoint = WinRMEndpoint(users={WINRM_USER: password}, domain="LAB", computer_name="SRV-FICHIERS",
                                      default_codepage=850, handler=LabWindows()).start()
        self.proxy = TcpProxy(self.endpoint.port, tls=tls.server_context(self.paths.certs / "winrm.pem")).start()

    # -- run and stop ----------------------------------------------------------------------------------------
    def wait(self) -> None:
        """Block until SIGTERM/SIGINT, the maximum runtime, or the DC dying; return None."""
        deadline = time.monotonic() + MAX_RUNTIME
        while not self.stopping.wait(1.0):
            if time.monotonic() > deadline:
                print("maximum runtime reached: stopping the lab", flush=True)
                return
            if self.dc is not None and not self.dc.running:
                print("samba exited: stopping the lab", flush=True)
                self._set(error="samba-exited")  # a code: control.describe_error words it in the reader's language
                return

    def stop(self) -> None:
        """Stop everything started (never raises); return None."""
        for host in self.sshd.values():
            try:
                host.stop(timeout=3)
            except Exception:
                traceback.print_exc()
        for part in (self.proxy, self.endpoint, self.intranet):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    traceback.print_exc()
        if self.dc is not None:
            try:
                self.dc.stop()
            except Exception:
                traceback.print_exc()
                self.dc.kill()
        shutil.rmtree(self.paths.runtime, ignore_errors=True)


def main(argv: list[str]) -> int:
    """Run the lab of folder ``argv[0]`` with ``argv[1]`` Linux hosts until told to stop; return the exit code.

    ``argv[2]``, when given, is the descriptor of ``DIR/lab.lock`` that ``itref lab up`` locked and handed over:
    it stays open (the lock held) until this process ends, however it ends.
    """
    paths = LabPaths(Path(argv[0]).absolute())
    lock_fd = int(argv[2]) if len(argv) > 2 else None
    if lock_fd is not None:
        os.set_inheritable(lock_fd, False)  # held by this process only, not by samba or the sshd hosts
    sup = Supervisor(paths, int(argv[1]))

    def on_signal(signum: int, frame: object) -> None:
        sup.stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    sup._set(status="starting", pid=os.getpid(), name=paths.name, runtime=str(paths.runtime),
             started_at=datetime.now(UTC).isoformat(timespec="seconds"), hosts_requested=int(argv[1]),
             scenarios=[], error=None)
    code = 0
    try:
        sup.start()
        if not sup.stopping.is_set():
            sup._set(status="ready", ready_at=datetime.now(UTC).isoformat(timespec="seconds"))
            sup.wait()
    except BaseException as exc:
        traceback.print_exc()
        sup._set(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        code = 1
    sup._set(status="stopping")
    sup.stop()
    final = read_state(paths) or sup.state
    failed = code or final.get("error")  # samba dying under a running lab is a failure, not a stop asked for
    final.update(status="failed" if failed else "stopped", stopped_at=datetime.now(UTC).isoformat(timespec="seconds"))
    write_state(paths, final)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
