"""``itref hosts check`` on the practice lab: the wall time of a healthy lab (every host and the directory), then the
lines it prints once the lab is broken the way a first day breaks.

Usage (as root, from anywhere): python3 bench/hosts_check.py [--runs 7] [--hosts 4] [--no-write].  About a minute on
2 CPUs.  Exit status: 0 if the healthy lab exits 0 with no problem line in every run, the median wall time is under
the target, and every planted fault gives its own line; 1 otherwise; 2 if not run as root.

What it does:

* starts ``itref lab up --hosts N`` in a network namespace of its own (the lab: a Samba AD DC, N Linux hosts each an
  sshd in its own namespaces, the French Windows file server behind the in-suite WinRM endpoint over HTTPS, restic,
  borg and file-drop backups), with the itref of this checkout (``.venv`` made by ``scripts/test``);
* runs ``itref -i LAB/inventory.yaml -f json hosts check`` once untimed, then ``--runs`` times: the wall time of the
  whole process (Python start-up included, as a person waits for it), and the engine's own ``duration``; every run
  must exit 0 with no problem;
* breaks the lab: ``srv-web``'s recorded key replaced by another one, the Windows server's password secret changed,
  ``restic`` hidden on ``nas01`` (a bind mount in that host's own mount namespace, where its restic backups are
  checked), a routine step with ``sudo: true`` on ``srv-app`` (the lab's user has no sudo), and the directory bound
  as a service account that may create accounts in the commune's OU but only read in the CPAS's; runs
  ``itref hosts check`` once and prints its lines;
* writes the figures and those lines to docs/performance.md (section "hosts-check") and prints them;
* brings the lab down and removes the namespace, whatever happened.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
import fanout  # noqa: E402
from _report import machine, write_section  # noqa: E402

TARGET = 2.0  # seconds: a healthy lab, every host and the directory, the whole command
PYTHON = ROOT / ".venv" / "bin" / "python"
SVC, SVC_PASSWORD = "svc-itref-bench", "Sv3c-Bench!pass-2024"
USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2"
GROUP_CLASS = "bf967a9c-0de6-11d0-a285-00aa003049e2"
MEMBER_ATTRIBUTE = "bf9679c0-0de6-11d0-a285-00aa003049e2"
RESET_PASSWORD = "00299570-246d-11d0-a768-00aa006e0529"


class Lab:
    """A lab started in its own network namespace."""

    def __init__(self, hosts: int) -> None:
        self.netns = f"itref-bench-hc-{os.getpid()}"
        self.dir = Path(tempfile.mkdtemp(prefix="itref-bench-hc-"))
        self.state = Path(tempfile.mkdtemp(prefix="itref-bench-hc-state-"))
        self.hosts = hosts
        self.env = {**os.environ, "ITREF_STATE_DIR": str(self.state), "NO_COLOR": "1", "COLUMNS": "400",
                    "LANGUAGE": "en", "ITREF_LANG": "en"}  # the lab inventory says language: fr

    @property
    def inventory(self) -> Path:
        return self.dir / "lab" / "inventory.yaml"

    def inside(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True, text=True,
                              env=self.env, timeout=timeout, stdin=subprocess.DEVNULL)

    def itref(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.inside(str(PYTHON), "-m", "itref", *args)

    def __enter__(self) -> Lab:
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        up = self.itref("lab", "up", "--dir", str(self.dir / "lab"), "--hosts", str(self.hosts))
        if up.returncode != 0:
            raise SystemExit(f"itref lab up failed:\n{up.stdout}{up.stderr}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.itref("lab", "down", "--dir", str(self.dir / "lab"), "--wipe")
        subprocess.run(["ip", "netns", "del", self.netns], check=False)
        subprocess.run(["rm", "-rf", str(self.dir), str(self.state)], check=False)

    def check(self, *extra: str) -> tuple[float, float, subprocess.CompletedProcess[str]]:
        """Run ``itref hosts check`` once the machine is quiet; return (wall seconds, CPU seconds other processes
        used meanwhile, the finished process)."""
        fanout.wait_quiet()
        busy0, ours0 = fanout.machine_busy(), fanout.our_cpu()
        start = time.perf_counter()
        proc = self.itref("-i", str(self.inventory), *extra, "hosts", "check")
        wall = time.perf_counter() - start
        other = max(0.0, (fanout.machine_busy() - busy0) - (fanout.our_cpu() - ours0))
        return wall, other, proc


def break_the_lab(lab: Lab) -> None:
    """Plant the first-day faults (see the module docstring)."""
    import yaml

    state = json.loads((lab.dir / "lab" / "lab.json").read_text())
    # 1. srv-web presents a key other than the one recorded.
    other = lab.dir / "other_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = lab.dir / "lab" / "known_hosts"
    address, port = None, None
    inventory = yaml.safe_load(lab.inventory.read_text())
    for entity in inventory["entities"].values():
        for name, host in (entity.get("hosts") or {}).items():
            if name == "srv-web":
                address, port = host["address"], host["port"]
    marker = f"[{address}]:{port} "
    key = Path(str(other) + ".pub").read_text().split()[:2]
    lines = [f"{marker}{' '.join(key)}" if line.startswith(marker) else line
             for line in known.read_text().splitlines()]
    known.write_text("\n".join(lines) + "\n")
    # 2. the Windows server refuses the password itref has.
    (lab.dir / "lab" / "secrets" / "winrm").write_text("not-the-password\n")
    # 3. restic hidden on nas01, in its own mount namespace.
    pid = state["hosts"]["nas01"]["pid"]
    hidden = lab.dir / "not-a-program"
    hidden.write_text("")
    subprocess.run(["nsenter", f"--mount=/proc/{pid}/ns/mnt", "mount", "--bind", str(hidden), "/usr/bin/restic"],
                   check=True)
    # 4. a routine step with sudo on srv-app (the lab's user has no sudo).
    cpas = lab.dir / "lab" / "playbooks" / "cpas.yaml"
    book = yaml.safe_load(cpas.read_text())
    book["routines"]["patch-server"] = {"description": "Mettre à jour le serveur", "steps": [
        {"description": "Mettre à jour", "run": {"command": ["apt-get", "upgrade", "-y"], "sudo": True,
                                                "limit": "srv-app"}}]}
    cpas.write_text(yaml.safe_dump(book, allow_unicode=True, sort_keys=False))
    # 5. the directory bound as a service account with rights in the commune's OU only.
    secrets = lab.dir / "lab" / "secrets"
    admin_password = (secrets / "ad-admin").read_text().strip()
    script = f"""
import ssl
from urllib.parse import urlparse
from ldap3 import Connection, SIMPLE, Server, Tls
d = {inventory["directory"]!r}
u = urlparse(d["url"])
tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=d["ca_file"], valid_names=[d["tls_name"]])
server = Server(u.hostname, port=u.port or 636, use_ssl=True, tls=tls)
c = Connection(server, user=d["bind_user"], password={admin_password!r}, authentication=SIMPLE, auto_bind=True)
dn = "CN={SVC},CN=Users," + d["base_dn"]
assert c.add(dn, ["top", "person", "organizationalPerson", "user"], {{"sAMAccountName": "{SVC}",
    "userPrincipalName": "{SVC}@lab.example.test", "userAccountControl": "512",
    "unicodePwd": '"{SVC_PASSWORD}"'.encode("utf-16-le")}}), c.result
c.search(dn, "(objectClass=*)", attributes=["objectSid"])
print(c.entries[0].objectSid.value)
"""
    sid = lab.inside(str(PYTHON), "-c", script).stdout.strip()
    if not sid.startswith("S-1-5-"):
        raise SystemExit(f"could not create the service account: {sid}")
    manage = (f"(OA;CI;CCDC;{USER_CLASS};;{sid})(OA;CIIO;RPWP;;{USER_CLASS};{sid})"
              f"(OA;CIIO;CR;{RESET_PASSWORD};{USER_CLASS};{sid})(OA;CIIO;WP;{MEMBER_ATTRIBUTE};{GROUP_CLASS};{sid})")
    from urllib.parse import urlparse

    base = inventory["directory"]["base_dn"]
    dc_host = urlparse(inventory["directory"]["url"]).hostname
    conf = lab.dir / "lab" / "dc" / "etc" / "smb.conf"
    for ou in (f"OU=Commune,{base}", f"OU=Departed,{base}"):
        done = lab.inside("samba-tool", "dsacl", "set", "-s", str(conf), "-H", f"ldap://{dc_host}", "-U",
                          f"Administrator%{admin_password}", "--objectdn", ou, "--sddl", manage)
        if done.returncode != 0:
            raise SystemExit(f"samba-tool dsacl set failed: {done.stderr[-500:]}")
    (secrets / "svc-bench").write_text(SVC_PASSWORD + "\n")
    (secrets / "svc-bench").chmod(0o600)
    inventory["secrets"]["svc-bench"] = {"file": str(secrets / "svc-bench")}
    inventory["directory"]["bind_user"] = f"{SVC}@lab.example.test"
    inventory["directory"]["bind_password"] = {"secret": "svc-bench"}
    lab.inventory.write_text(yaml.safe_dump(inventory, allow_unicode=True, sort_keys=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/hosts_check.py: run it as root (the lab needs it)", file=sys.stderr)
        return 2
    ok = True  # every healthy run exited 0 with no problem
    with Lab(args.hosts) as lab:
        lab.check()  # untimed: caches warm, the DC answered once
        walls: list[float] = []
        engine: list[float] = []
        slowest: list[float] = []
        others: list[float] = []
        hosts = 0
        for _i in range(args.runs):
            wall, other, proc = lab.check("-f", "json")
            data = json.loads(proc.stdout)
            if proc.returncode != 0 or data["problems"]:
                print(f"a healthy run found problems (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
                ok = False
            walls.append(wall)
            others.append(other)
            engine.append(data["duration"])
            slowest.append(max(h["duration"] for h in data["hosts"]))
            hosts = len(data["hosts"])
        break_the_lab(lab)
        _wall, _other, faulty = lab.check()
        lines = faulty.stdout.rstrip("\n").splitlines()
    median = statistics.median(walls)
    expected = ("srv-web: its SSH key CHANGED", "srv-fichiers: ", "nas01 (", "srv-app: sudo refuses",
                "may not create accounts in OU=Social,OU=CPAS")
    found_all = all(sum(e in line for line in lines) == 1 for e in expected)
    body = f"""## `itref hosts check` on the practice lab: healthy, then broken

`python3 bench/hosts_check.py` (as root) — {machine()}.

The lab (`itref lab up --hosts {args.hosts}`): {hosts} hosts (this machine, {args.hosts} Linux hosts over SSH, the
Windows file server over WinRM/HTTPS) and the Samba AD DC (LDAPS, the bind account's effective rights on every
template OU, group and the departed OU). {args.runs} runs after one untimed run; each exited 0 with no problem
line{'' if ok else ' (NOT in every run: see the script output)'}. Each run starts once the machine is quiet
(other processes using under 10% of its CPU); they still used {statistics.median(others):.2f} CPU s (median) during
a run.

| | median | min | max |
|---|---:|---:|---:|
| whole command (wall, Python start-up included) | {median:.2f} s | {min(walls):.2f} s | {max(walls):.2f} s |
| the check itself (hosts in parallel + directory) | {statistics.median(engine):.2f} s | {min(engine):.2f} s | {max(engine):.2f} s |
| slowest host | {statistics.median(slowest):.2f} s | {min(slowest):.2f} s | {max(slowest):.2f} s |

Target: the whole command under {TARGET:g} s on a healthy lab — {'met' if median < TARGET else 'MISSED'}.

Then the lab is broken (srv-web's recorded key replaced, the Windows password secret changed, restic hidden on
nas01, a `sudo: true` step on srv-app, the directory bound as a service account delegated on OU=Commune only);
`itref hosts check` exits {faulty.returncode} and prints one line per problem (the directory's account lacks four rights in the CPAS OU and one on GG-Tous, outside OU=Commune){'' if found_all else ' (NOT every planted fault was named exactly once)'}:

```
{chr(10).join(lines)}
```
"""
    print(body)
    if not args.no_write:
        write_section("hosts-check", body)
    return 0 if ok and median < TARGET and faulty.returncode == 7 and found_all else 1


if __name__ == "__main__":
    sys.exit(main())
