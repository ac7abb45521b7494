"""Test-only helpers around the real sshd peers of :mod:`itref.lab.peers.sshd` (which the practice lab runs too):
the suite's unprivileged test account, many hosts on loopback addresses, hosts in network namespaces behind a
bridge (:class:`NetnsLab`), and the cleanup of what a killed test run left."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from itref.lab.layout import pid_alive as _pid_alive
from itref.lab.peers.sshd import (
    PRIVSEP_DIR,
    SSHD,
    PeerStartError,
    SSHDHost,
    SSHKeys,
    UserInfo,
    _file_lock,
    _freeze_trees,
    _kill_procs,
    _run,
    ensure_privsep_dir,
    ensure_user,
    fingerprint,
    free_port,
    generate_ed25519_key,
    known_hosts_host,
    known_hosts_line,
    read_public_key,
    require_root,
    sshd_version,
    write_known_hosts,
)

__all__ = ["PRIVSEP_DIR", "SSHD", "TEST_PASSWORD", "TEST_USER", "NetnsLab", "PeerStartError", "SSHDHost", "SSHKeys",
           "UserInfo", "cleanup_stale_peers", "ensure_privsep_dir", "ensure_test_user", "fingerprint", "free_port",
           "generate_ed25519_key", "known_hosts_host", "known_hosts_line", "loopback_addresses", "loopback_hosts",
           "read_public_key", "require_root", "sshd_version", "start_loopback_hosts", "stop_hosts",
           "write_known_hosts"]

TEST_USER = "itref-test"
TEST_PASSWORD = "itref-Test-pw-7"  # the suite's throwaway local account, on the machine the tests run on


def ensure_test_user(name: str = TEST_USER, password: str = TEST_PASSWORD) -> UserInfo:
    """Return the suite's unprivileged test account (made if missing): see :func:`itref.lab.peers.sshd.ensure_user`."""
    return ensure_user(name, password)


def loopback_addresses(n: int, first: str = "127.0.0.11") -> list[str]:
    """Return ``n`` distinct 127.0.0.0/8 addresses from ``first`` on, skipping ``.0`` and ``.255``.

    Linux answers on every 127/8 address without any ``ip addr add``.
    """
    out: list[str] = []
    addr = ipaddress.IPv4Address(first)
    while len(out) < n:
        if addr not in ipaddress.IPv4Network("127.0.0.0/8"):
            raise ValueError(f"ran out of loopback addresses after {len(out)}")
        if addr.packed[-1] not in (0, 255):
            out.append(str(addr))
        addr += 1
    return out


def start_loopback_hosts(
    n: int,
    keys: SSHKeys,
    user: UserInfo,
    *,
    first_address: str = "127.0.0.11",
    per_host_keys: bool = False,
    **host_kwargs: Any,
) -> list[SSHDHost]:
    """Start ``n`` sshd hosts on distinct loopback addresses and free ports; return them once all answer.

    All sshd are spawned first (from the calling thread, which must outlive them: PR_SET_PDEATHSIG), then
    awaited, so they start in parallel.  A host whose port was stolen is retried on a new port.  On any
    failure every host already started is killed and PeerStartError is raised.  ``per_host_keys`` gives
    every host its own host key (``keys.other_host_key("hN")``, about 5 ms each) instead of sharing
    ``keys.host_key``.  ``host_kwargs`` go to :class:`SSHDHost`.  Stop them with :func:`stop_hosts` (or use
    :func:`loopback_hosts`).
    """
    hosts = [
        SSHDHost(keys, user, address=a, host_key=keys.other_host_key(f"h{i}") if per_host_keys else None, **host_kwargs)
        for i, a in enumerate(loopback_addresses(n, first_address), start=1)
    ]
    try:
        for h in hosts:
            h.spawn()
        for h in hosts:
            try:
                h.wait_ready()
            except PeerStartError:
                if not (h._auto_port and h._bind_failed()):
                    raise
                h.port = 0
                h.start()
    except BaseException:
        stop_hosts(hosts)
        raise
    return hosts


def stop_hosts(hosts: Sequence[SSHDHost], *, remove: bool = True) -> None:
    """SIGKILL all ``hosts`` (one /proc walk for all) and, if ``remove``, delete their temp dirs; return None."""
    running = [h.proc for h in hosts if h.proc is not None and h.proc.poll() is None]
    if running:
        _kill_procs(_freeze_trees([p.pid for p in running]), running)
    if remove:
        for h in hosts:
            shutil.rmtree(h.workdir, ignore_errors=True)


@contextlib.contextmanager
def loopback_hosts(n: int, keys: SSHKeys, user: UserInfo, **kwargs: Any) -> Iterator[list[SSHDHost]]:
    """Context manager around :func:`start_loopback_hosts`; yields the list, stops them all on exit."""
    hosts = start_loopback_hosts(n, keys, user, **kwargs)
    try:
        yield hosts
    finally:
        stop_hosts(hosts)


# --------------------------------------------------------------------------------------------------------
# network namespace lab

_LAB_COUNTER = iter(range(256))
_NETNS_RE = re.compile(r"^itref-(\d+)-\d+-h\d+$")
_WORKDIR_RE = re.compile(r"^itref-sshd-(\d+)-")
_LINK_RE = re.compile(r"^itr[bv]([0-9a-f]{6})[0-9a-f]{2,4}$")




def cleanup_stale_peers(base_dir: Path | str | None = None) -> list[str]:
    """Delete what peers of test processes that no longer exist left behind; return the names removed.

    Only names this module creates, whose PID is dead, are touched: ``itref-PID-K-hI`` namespaces,
    ``itrb``/``itrv`` + hex pid links (in the current network namespace) and ``itref-sshd-PID-*`` temp dirs
    in ``base_dir`` (default: the temp dir).  Needed after a SIGKILLed run (/run/netns is global);
    :meth:`NetnsLab.start` calls it.
    """
    removed: list[str] = []
    for d in Path(base_dir or tempfile.gettempdir()).glob("itref-sshd-*-*"):
        m = _WORKDIR_RE.match(d.name)
        if m and not _pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(str(d))
    netns_dir = Path("/run/netns")
    names = sorted(p.name for p in netns_dir.iterdir()) if netns_dir.is_dir() else []
    for name in names:
        m = _NETNS_RE.match(name)
        if m and not _pid_alive(int(m.group(1))):
            for pid in subprocess.run(
                ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
            ).stdout.split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
            if subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False).returncode == 0:
                removed.append(name)
    links = json.loads(_run(["ip", "-j", "link", "show"]) or "[]")
    for link in links:
        name = link.get("ifname", "")
        m = _LINK_RE.match(name)
        if (
            m
            and not _pid_alive(int(m.group(1), 16))
            and subprocess.run(["ip", "link", "del", name], capture_output=True, check=False).returncode == 0
        ):
            removed.append(name)
    return removed


def _pick_subnet() -> ipaddress.IPv4Network:
    """Return a 10.213.X.0/24 not used by any address or route of the current network namespace."""
    used = _run(["ip", "-4", "-o", "addr", "show"]) + _run(["ip", "-4", "route", "show", "table", "all"])
    for x in range(256):
        net = ipaddress.IPv4Network(f"10.213.{x}.0/24")
        if f"10.213.{x}." not in used:
            return net
    raise PeerStartError("no free 10.213.X.0/24 subnet for the netns lab")


class NetnsLab:
    """A bridge and N network namespaces, each running sshd on port 22 with its own IP and hostname.

    Layout: bridge ``itrb<pid><k>`` with ``subnet.1/24``; host i (1-based) is namespace ``itref-PID-K-hI``
    with ``eth0`` = ``subnet.(10+i)``, a veth peer ``itrv<pid><k><i>`` enslaved to the bridge, and an sshd
    started as ``ip netns exec NS unshare --uts sh -c 'hostname NAME && exec sshd -D -e -f CONF'``.
    The subnet is the first free 10.213.X.0/24.  Works inside ``unshare --net`` too.

    Attributes after start: ``hosts`` (list of :class:`SSHDHost`, ``.hostname`` = the name it reports,
    ``.netns`` = its namespace), ``subnet``, ``bridge``, ``namespaces``, ``gateway`` (bridge address),
    ``start_seconds``.  Everything (processes, namespaces, links) is removed on exit, also after errors.
    """

    def __init__(self, hostnames: Sequence[str] | int, keys: SSHKeys, user: UserInfo, **host_kwargs: Any) -> None:
        if isinstance(hostnames, int):
            hostnames = [f"srv-{i:02d}" for i in range(1, hostnames + 1)]
        if not 1 <= len(hostnames) <= 240:
            raise ValueError("a NetnsLab holds 1 to 240 hosts")
        self.hostnames = list(hostnames)
        self.keys = keys
        self.user = user
        self.host_kwargs = host_kwargs
        self.lab_id = next(_LAB_COUNTER)
        pid = os.getpid()
        self.bridge = f"itrb{pid:06x}{self.lab_id:02x}"
        self.namespaces = [f"itref-{pid}-{self.lab_id}-h{i}" for i in range(1, len(self.hostnames) + 1)]
        self.veths = [f"itrv{pid:06x}{self.lab_id:02x}{i:02x}" for i in range(1, len(self.hostnames) + 1)]
        self.subnet: ipaddress.IPv4Network | None = None
        self.hosts: list[SSHDHost] = []
        self.start_seconds: float | None = None
        self._created_ns: list[str] = []
        self._created_links: list[str] = []

    @property
    def gateway(self) -> str:
        """Return the bridge's address (subnet .1), the address the hosts see the test process as."""
        assert self.subnet is not None
        return str(self.subnet.network_address + 1)

    def start(self) -> NetnsLab:
        """Build the network and start every sshd; return self.  On failure clean up and raise PeerStartError."""
        require_root()
        t0 = time.monotonic()
        try:
            cleanup_stale_peers()
            with _file_lock("itref-netns-lab.lock"):
                self.subnet = _pick_subnet()
                _run(["ip", "link", "add", self.bridge, "type", "bridge"])
                self._created_links.append(self.bridge)
                _run(["ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge])
            _run(["ip", "link", "set", self.bridge, "up"])
            batch: list[str] = []
            for ns, veth in zip(self.namespaces, self.veths, strict=True):
                _run(["ip", "netns", "add", ns])
                self._created_ns.append(ns)
                batch += [
                    f"link add {veth} type veth peer name eth0 netns {ns}",
                    f"link set {veth} master {self.bridge} up",
                ]
                self._created_links.append(veth)
            _run(["ip", "-batch", "-"], input="\n".join(batch) + "\n")
            for i, ns in enumerate(self.namespaces, start=1):
                addr = self.subnet.network_address + 10 + i
                _run(
                    ["ip", "-n", ns, "-batch", "-"],
                    input=f"link set lo up\naddr add {addr}/24 dev eth0\nlink set eth0 up\n",
                )
            self.hosts = [
                SSHDHost(
                    self.keys,
                    self.user,
                    address=str(self.subnet.network_address + 10 + i),
                    port=22,
                    hostname=name,
                    netns=ns,
                    **self.host_kwargs,
                )
                for i, (name, ns) in enumerate(zip(self.hostnames, self.namespaces, strict=True), start=1)
            ]
            for h in self.hosts:
                h.spawn()
            for h in self.hosts:
                h.wait_ready()
        except BaseException:
            self.close()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def known_hosts_lines(self) -> list[str]:
        """Return the known_hosts lines of all hosts (``10.213.X.Y ssh-ed25519 ...``, port 22)."""
        return [h.known_hosts_line() for h in self.hosts]

    def close(self) -> None:
        """Kill all sshd trees, delete the namespaces, veths and bridge; return None.  Never raises on leftovers."""
        stop_hosts(self.hosts)
        for ns in reversed(self._created_ns):
            out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout
            for pid in out.split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for link in reversed(self._created_links):
            # the veth usually vanished with its namespace already
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        self._created_ns.clear()
        self._created_links.clear()

    def __enter__(self) -> NetnsLab:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
