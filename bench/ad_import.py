"""Bulk import of 500 users from a CSV into a real Samba AD DC: itref against a ``samba-tool`` loop.

Usage (as root, from anywhere): python3 bench/ad_import.py [--users 500] [--samba-tool-users 40]
                                [--profile-users 200] [--no-write]

What it does, in one run:

* finds a Python that imports this repository's itref and ldap3 (the running one, ``$ITREF_BENCH_PYTHON``,
  ``.venv`` or ``bench/.venv``; else creates ``bench/.venv`` with itref installed editable) and re-executes
  itself there, then once more under ``unshare --net`` with loopback up, so the DC's fixed ports cannot
  collide with anything else on the machine (``ITREF_BENCH_NETNS=1`` marks the inner run);
* starts a fresh clone of the test DC (``itref.lab.peers.samba``: ``SambaDC()``; the cached template is
  built first if needed, outside any timing), writes an itref inventory + playbooks like the ``ad_project``
  test fixture (template ``cpas/social-worker``: OU ``OU=Social,OU=CPAS``, groups ``GG-CPAS-Social`` and
  ``GG-Tous``, login ``{first_initial}{last}``, must change password) into a private temp dir;
* writes a CSV of ``--users`` rows (UTF-8 with BOM, ``;``, header ``Prénom;Nom;Modèle;Matricule;Service``,
  French/Belgian names with accents, hyphens and apostrophes, unique matricule, every (first, last) pair
  distinct; logins still collide on the ``{first_initial}{last}`` rule, which itref resolves);
* **itref**: times ``itref -i INV -f json ad user import CSV --passwords-file PW --yes`` as one process
  (interpreter start-up, bind, journal included), the bind password in an environment variable; checks
  every row was created, the accounts (LDAP search) and the passwords file; then runs the same command
  again and checks it reports every row as existing and creates nothing;
* **samba-tool**: for ``--samba-tool-users`` other people (M, default 40), per account one
  ``samba-tool user create LOGIN PASSWORD --given-name --surname --userou OU=Social,OU=CPAS --department
  --company --must-change-at-next-login`` and one ``samba-tool group addmembers`` per group, over both
  transports samba-tool can use against this DC (interleaved account by account): ``ldaps://`` with a simple
  bind (its SASL binds refuse to run over TLS) and the DC's CA checked, and ``ldap://`` with an NTLM-sealed
  SASL bind (Kerberos off), half of the accounts before the itref runs and half after; checks the accounts;
  with ``--samba-tool-users 500`` its 500 accounts are measured, with fewer its figure is extrapolated
  from its per-account rate;
* measures, for every process, its wall time, its CPU time and the CPU time samba spent meanwhile (CPU time
  depends less on other work running on the machine);
* imports ``--profile-users`` more rows (default 200) in-process through ``itref.ad.importer.import_rows``, timing
  each call of itref's ``DirectoryClient`` (search, add, password, modify, add-member(s)), to show where the time goes;
* writes the figures to docs/performance.md (section "ad-import") and prints them; exit status 0 when both
  targets are met, 1 when one is missed, 2 when something failed (then nothing is written).
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NETNS_MARKER = "ITREF_BENCH_NETNS"
PASSWORD_VAR = "ITREF_BENCH_AD_PASSWORD"
TEMPLATE = "cpas/social-worker"
OU = "OU=Social,OU=CPAS"
GROUPS = ("GG-CPAS-Social", "GG-Tous")

TARGET_RATE = 10.0  # itref accounts/s on the first run, at least
TARGET_RATIO = 10.0  # itref rate / samba-tool rate, at least

FIRST_NAMES = (
    "Émilie", "Hélène", "Chloé", "Zoé", "Noémie", "Léa", "Anaïs", "Maëlle", "Céline", "Geneviève", "Thérèse",
    "Agnès", "Françoise", "Mélanie", "Inès", "Joëlle", "Océane", "Léonie", "Aurélie", "Stéphanie", "Valérie",
    "Sébastien", "Jérôme", "François", "Frédéric", "Grégoire", "Benoît", "Loïc", "Raphaël", "Noël", "Hervé",
    "Joël", "Gaëtan", "Cédric", "Régis", "André", "René", "Théo", "Timothée", "Jean-François", "Marie-Hélène",
    "Anne-Sophie", "Pierre-Étienne", "Marie", "Julie", "Sophie", "Laura", "Sarah", "Camille", "Manon", "Lucas",
    "Nathan", "Thomas", "Hugo", "Louis", "Arthur", "Jules", "Maxime", "Nicolas", "Olivier", "Philippe",
    "Pascal", "Luc", "Marc", "Michel", "Christine", "Isabelle", "Nathalie", "Sandrine", "Catherine", "Martine",
    "Véronique", "Dominique", "Bénédicte", "Gaëlle", "Jérémy", "Ségolène", "Clément", "Anaëlle", "Héloïse",
)
LAST_NAMES = (
    "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Leroy", "Lefèvre", "Lefebvre", "Renard",
    "Mertens", "Peeters", "Janssens", "Goossens", "Maes", "Jacobs", "Willems", "Claes", "Wouters", "Dumont",
    "Fontaine", "Gérard", "Lemaire", "Hubert", "Collard", "Denis", "François", "Michaux", "Delhaye", "Léonard",
    "Noël", "Thiry", "Piérard", "Bégon", "Bastin", "Gilson", "Pirotte", "Lejeune", "Henrard", "Mathieu",
    "Remacle", "Frère", "Charlier", "Herman", "D'Hondt", "Van den Bossche", "Vandenberghe", "De Smet", "Dupuis",
    "Hénin", "Lecomte", "Delvaux", "Gillet", "Lenoir", "Moreau", "Chevalier", "Masson", "Boulanger", "Bodart",
    "Étienne", "Lhoëst", "Colignon", "Bréda", "Marchal", "Huart", "Deprez", "Lesoil", "Lefèvre-Dupont",
    "Crèvecœur", "Dieudonné", "Sæs", "Müller", "Evrard", "Dethier",
)
SERVICES = (
    "Service social", "Insertion socio-professionnelle", "Médiation de dettes", "Aide aux familles",
    "Énergie", "Accueil", "Maison de repos", "Logement", "Aide à domicile",
)


class BenchError(RuntimeError):
    """A tool failed, or its result is not what it claims: the figures would be worthless."""


# --------------------------------------------------------------------------------------------------------
# interpreter and network namespace


def _python_ok(python: str) -> bool:
    """Return True if ``python`` imports ldap3 and *this repository's* itref (not a stale installed copy)."""
    probe = "import ldap3, itref, sys; sys.stdout.write(itref.__file__)"
    try:
        cp = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return False
    return cp.returncode == 0 and Path(cp.stdout.strip()).resolve().is_relative_to(ROOT / "src")


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
    candidates = [os.environ.get("ITREF_BENCH_PYTHON", ""), str(ROOT / ".venv" / "bin" / "python"),
                  str(BENCH / ".venv" / "bin" / "python")]
    python = next((c for c in candidates if c and Path(c).exists() and _python_ok(c)), None)
    if python is None:
        venv = BENCH / ".venv"
        print(f"ad_import: installing itref (editable) into {venv}", file=sys.stderr)
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", str(ROOT)],
                       check=True)
    os.execv(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]])


def ensure_netns() -> None:
    """Re-exec inside a new network namespace with loopback up (unless already in one made by this script)."""
    if os.environ.get(NETNS_MARKER) == "1":
        return
    os.environ[NETNS_MARKER] = "1"
    script = 'ip link set lo up && exec "$0" "$@"'
    os.execvp("unshare", ["unshare", "--net", "--", "sh", "-c", script, sys.executable,
                          str(Path(__file__).resolve()), *sys.argv[1:]])


# --------------------------------------------------------------------------------------------------------
# people


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    matricule: str
    service: str


def people(count: int, seed: int = 2026) -> list[Person]:
    """Return ``count`` people, every (first, last) pair distinct, each with a unique matricule."""
    rng = random.Random(seed)
    pairs = [(f, la) for f in FIRST_NAMES for la in LAST_NAMES]
    if count > len(pairs):
        raise BenchError(f"only {len(pairs)} distinct names available, {count} asked")
    chosen = rng.sample(pairs, count)
    return [Person(f, la, f"M{40000 + i:05d}", rng.choice(SERVICES)) for i, (f, la) in enumerate(chosen)]


def write_csv(path: Path, rows: list[Person]) -> None:
    """Write the HR export the way Excel's "CSV UTF-8" does: BOM, ``;``, CRLF."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        writer.writerow(["Prénom", "Nom", "Modèle", "Matricule", "Service"])
        for p in rows:
            writer.writerow([p.first, p.last, TEMPLATE, p.matricule, p.service])


def write_project(directory: Path, dc) -> Path:
    """Write an inventory + playbooks for ``dc`` (like the ``ad_project`` test fixture); return the inventory."""
    base = dc.base_dn
    inventory = {
        "version": 1, "organisation": "Commune de test",
        "directory": {"url": dc.url, "base_dn": base, "bind_user": dc.admin_user,
                      "bind_password": {"env": PASSWORD_VAR}, "ca_file": str(dc.ca_file), "tls_name": dc.tls_name},
        "entities": {
            "cpas": {"title": "CPAS", "ou": f"OU=CPAS,{base}", "departed_ou": f"OU=Departed,{base}"},
            "commune": {"title": "Commune", "ou": f"OU=Commune,{base}", "departed_ou": f"OU=Departed,{base}"},
        },
    }
    cpas = {"entity": "cpas", "accounts": {"templates": {"social-worker": {
        "ou": f"{OU},{base}", "groups": list(GROUPS), "username": "{first_initial}{last}",
        "upn_suffix": dc.dns_domain, "attributes": {"department": "Service social", "company": "CPAS"},
        "must_change_password": True}}}}
    commune = {"entity": "commune", "accounts": {"templates": {"clerk": {
        "ou": f"OU=Commune,{base}", "groups": ["GG-Commune"], "username": "{first}.{last}",
        "upn_suffix": dc.dns_domain, "mail": "{first}.{last}@exemple.example", "attributes": {"company": "Commune"}}}}}
    (directory / "playbooks").mkdir()
    (directory / "playbooks" / "cpas.yaml").write_text(json.dumps(cpas, ensure_ascii=False), encoding="utf-8")
    (directory / "playbooks" / "commune.yaml").write_text(json.dumps(commune, ensure_ascii=False), encoding="utf-8")
    inv = directory / "inventory.yaml"
    inv.write_text(json.dumps(inventory, indent=1), encoding="utf-8")
    return inv


# --------------------------------------------------------------------------------------------------------
# verification (ldap3, admin bind over LDAPS)


def accounts_in_ou(dc) -> dict[str, dict[str, object]]:
    """Return sAMAccountName → {employeeID, groups, uac, pwdLastSet} for every user under the template's OU."""
    from ldap3 import SUBTREE

    from itref.lab.peers.samba import ldap_connection, ou_dn

    conn = ldap_connection(dc)
    try:
        out: dict[str, dict[str, object]] = {}
        for item in conn.extend.standard.paged_search(
                ou_dn(OU), "(&(objectCategory=person)(objectClass=user))", search_scope=SUBTREE,
                attributes=["sAMAccountName", "employeeID", "memberOf", "userAccountControl", "pwdLastSet",
                            "department", "givenName", "sn"],
                paged_size=500, generator=True):
            if item.get("type") != "searchResEntry":
                continue
            raw = item["raw_attributes"]

            def one(name: str, raw: dict = raw) -> str:
                values = raw.get(name) or []
                return values[0].decode() if values else ""

            out[one("sAMAccountName")] = {
                "employeeID": one("employeeID"), "uac": int(one("userAccountControl") or 0),
                "pwdLastSet": int(one("pwdLastSet") or -1), "department": one("department"),
                "first": one("givenName"), "last": one("sn"),
                "groups": {v.decode().lower() for v in raw.get("memberOf") or []},
            }
        return out
    finally:
        conn.unbind()


def check_accounts(found: dict[str, dict[str, object]], expected: list[Person], key: str, what: str) -> int:
    """Check every expected person has one enabled account in both groups; return how many matched.

    ``key`` is ``"employeeID"`` (matched on the matricule) or ``"name"`` (matched on given name + surname).
    Raises BenchError listing what is missing or wrong.
    """
    from itref.lab.peers.samba import group_dn

    groups = {group_dn(g).lower() for g in GROUPS}
    index: dict[object, list[dict[str, object]]] = {}
    for acc in found.values():
        k = acc["employeeID"] if key == "employeeID" else (acc["first"], acc["last"])
        index.setdefault(k, []).append(acc)
    problems = []
    for p in expected:
        accs = index.get(p.matricule if key == "employeeID" else (p.first, p.last), [])
        if len(accs) != 1:
            problems.append(f"{p.first} {p.last} ({p.matricule}): {len(accs)} accounts")
            continue
        acc = accs[0]
        if not groups <= acc["groups"]:  # type: ignore[operator]
            problems.append(f"{p.first} {p.last}: groups {sorted(acc['groups'])}")  # type: ignore[arg-type]
        if int(acc["uac"]) & 2:  # type: ignore[call-overload]
            problems.append(f"{p.first} {p.last}: disabled")
        if acc["pwdLastSet"] != 0:
            problems.append(f"{p.first} {p.last}: not 'must change password' (pwdLastSet {acc['pwdLastSet']})")
        if acc["department"] != p.service:
            problems.append(f"{p.first} {p.last}: department {acc['department']!r}, not {p.service!r}")
    if problems:
        raise BenchError(f"{what}: {len(problems)} problem(s): " + "; ".join(problems[:10]))
    return len(expected)


# --------------------------------------------------------------------------------------------------------
# measuring one process: wall time, its CPU time, and the DC's CPU time meanwhile

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Cost:
    """Wall seconds, CPU seconds of the client process(es), CPU seconds of samba meanwhile."""

    wall: float = 0.0
    client: float = 0.0
    dc: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.wall + other.wall, self.client + other.client, self.dc + other.dc)


def total(costs: list[Cost]) -> Cost:
    return sum(costs, Cost())


def dc_cpu(dc) -> float:
    """Return the CPU seconds used so far by samba's processes (user + system, reaped children included)."""
    ticks = 0
    for pid in dc.pids():
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2:].split()
        ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / _TICK


def children_cpu() -> float:
    """Return the CPU seconds of this process's reaped children (samba itself is not reaped until it stops)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(dc, cmd: list[str], env: dict[str, str], timeout: float) -> tuple[subprocess.CompletedProcess, Cost]:
    """Run ``cmd`` (no stdin, output captured); return it and what it cost."""
    cpu0, dc0, start = children_cpu(), dc_cpu(dc), time.perf_counter()
    cp = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=timeout,
                        check=False)
    wall = time.perf_counter() - start
    return cp, Cost(wall, children_cpu() - cpu0, dc_cpu(dc) - dc0)


# --------------------------------------------------------------------------------------------------------
# itref


@dataclass
class ItrefRun:
    cost: Cost
    statuses: dict[str, int]
    stderr: str

    @property
    def seconds(self) -> float:
        return self.cost.wall


def itref_import(dc, python: str, inv: Path, csv_file: Path, pw: Path, env: dict[str, str]) -> ItrefRun:
    """Run the import as one process; return its cost and row statuses. Raises BenchError if it fails."""
    cmd = [python, "-m", "itref", "-i", str(inv), "-f", "json", "ad", "user", "import", str(csv_file),
           "--passwords-file", str(pw), "--yes"]
    cp, cost = run_measured(dc, cmd, env, 3600)
    if cp.returncode != 0:
        raise BenchError(f"itref import exited with {cp.returncode}:\n{cp.stderr[-3000:]}")
    try:
        rows = json.loads(cp.stdout)
    except ValueError as exc:
        raise BenchError(f"itref import printed no JSON ({exc}):\n{cp.stdout[-2000:]}") from None
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return ItrefRun(cost, statuses, cp.stderr.strip())


# --------------------------------------------------------------------------------------------------------
# samba-tool


@dataclass
class Transport:
    name: str
    label: str
    args: list[str]
    people: list[Person] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    create: list[Cost] = field(default_factory=list)
    addmembers: list[Cost] = field(default_factory=list)

    @property
    def cost(self) -> Cost:
        """What all its accounts cost: the creates plus the group additions."""
        return total(self.create) + total(self.addmembers)

    @property
    def rate(self) -> float:
        return len(self.create) / self.cost.wall


def samba_env(dc) -> dict[str, str]:
    """Return the environment samba-tool runs with: no Python or Kerberos variables leaking in."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "KRB5_CONFIG", "KRB5CCNAME", "KRB5_KTNAME", "LD_PRELOAD")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    env["KRB5_CONFIG"] = str(dc.krb5_conf)
    return env


def transports(dc) -> list[Transport]:
    """Return the two ways samba-tool reaches this DC (both bind as the domain Administrator)."""
    common = ["-s", str(dc.smb_conf)]
    return [
        # SASL (GSS-SPNEGO) binds refuse to sign/seal inside TLS, so over LDAPS only a simple bind works; the
        # certificate is checked against the DC's CA but not its name (samba-tool is given an IP address).
        Transport("ldaps", "ldaps:// simple bind, CA checked",
                  ["-H", f"ldaps://{dc.host}", f"--option=tls cafile={dc.ca_file}", "--option=tls verify peer=ca_only",
                   f"--simple-bind-dn={dc.admin_user}", f"--password={dc.admin_password}", *common]),
        Transport("ldap", "ldap:// NTLM-sealed SASL bind",
                  ["-H", f"ldap://{dc.host}", "--use-kerberos=off",
                   "-U", f"{dc.domain}\\Administrator%{dc.admin_password}", *common]),
    ]


def samba_tool(dc, args: list[str], env: dict[str, str]) -> Cost:
    """Run ``samba-tool ARGS``; return its cost. Raises BenchError if it fails."""
    cp, cost = run_measured(dc, ["samba-tool", *args], env, 300)
    if cp.returncode != 0:
        raise BenchError(f"samba-tool {args[:2]} exited with {cp.returncode}:\n{(cp.stdout + cp.stderr)[-2000:]}")
    return cost


def assign_logins(ts: list[Transport]) -> None:
    """Give each samba-tool person a login ``{first}.{last}`` (never one itref's rule makes: it has a dot)."""
    from itref.ad.naming import render_login, unique_login

    used: set[str] = set()
    for t in ts:
        for p in t.people:
            login = unique_login(render_login("{first}.{last}", p.first, p.last), used.__contains__)
            used.add(login)
            t.logins.append(login)


def samba_tool_loop(dc, ts: list[Transport], env: dict[str, str], start: int, stop: int) -> None:
    """Create people ``start`` to ``stop`` of each transport one account at a time (interleaved), timing every call."""
    from itref.ad.client import PasswordPolicy
    from itref.ad.passwords import generate

    for i in range(start, stop):
        for t in ts:
            if i >= len(t.people):
                continue
            p, login = t.people[i], t.logins[i]
            password = generate(PasswordPolicy(), forbidden=[login, p.first, p.last]).reveal()
            create = ["user", "create", login, password, f"--given-name={p.first}", f"--surname={p.last}",
                      f"--userou={OU}", f"--department={p.service}", "--company=CPAS", "--must-change-at-next-login"]
            t.create.append(samba_tool(dc, [*create, *t.args], env))
            for group in GROUPS:
                t.addmembers.append(samba_tool(dc, ["group", "addmembers", group, login, *t.args], env))


def samba_tool_rerun(t: Transport, env: dict[str, str]) -> str:
    """Run ``samba-tool user create`` again for the first account; return what it said (it must fail)."""
    p = t.people[0]
    cp = subprocess.run(["samba-tool", "user", "create", t.logins[0], "Zz9-another-pass", f"--given-name={p.first}",
                         f"--surname={p.last}", f"--userou={OU}", *t.args], capture_output=True, text=True, env=env,
                        stdin=subprocess.DEVNULL, timeout=300, check=False)
    if cp.returncode == 0:
        raise BenchError("samba-tool created an account twice")
    text = cp.stdout + cp.stderr
    found = re.search(r"LDAP error \d+ \w+", text)
    return f"exit {cp.returncode}, `{found.group(0) if found else text.strip().splitlines()[-1]}`"


# --------------------------------------------------------------------------------------------------------
# where itref's time goes


@dataclass
class Profile:
    accounts: int
    seconds: float
    ops: dict[str, tuple[int, float]]  # operation → (calls, seconds)


def profile_itref(inv: Path, rows: list[Person], csv_file: Path, bind_password: str) -> Profile:
    """Import ``rows`` in this process through itref's API, timing each directory call; return the figures.

    The calls are timed at itref's own ``DirectoryClient`` methods (ldap3, TLS, network and the DC's work
    included); an ``add_member`` is one LDAP modify, a ``search`` one paged search.
    """
    from itref.ad.client import DirectoryClient
    from itref.ad.importer import import_rows, read_rows
    from itref.config.project import load_project
    from itref.secrets import SecretResolver

    ops: dict[str, list[float]] = {}
    names = {"search": "search", "add": "add", "set_password": "password", "replace": "modify",
             "add_member": "add-member", "add_members": "add-members", "delete": "delete"}
    originals = {name: getattr(DirectoryClient, name) for name in names}

    def timed(name: str, method):
        def wrapper(self, *a, **k):
            start = time.perf_counter()
            try:
                return method(self, *a, **k)
            finally:
                slot = ops.setdefault(names[name], [0, 0.0])
                slot[0] += 1
                slot[1] += time.perf_counter() - start
        return wrapper

    write_csv(csv_file, rows)
    project = load_project(inv)
    todo = read_rows(csv_file, project, None)
    os.environ[PASSWORD_VAR] = bind_password  # what the inventory's {env: ...} reference reads
    try:
        for name, method in originals.items():
            setattr(DirectoryClient, name, timed(name, method))
        client = DirectoryClient(project.inventory.directory, SecretResolver(project.inventory.secrets)).open()
        try:
            start = time.perf_counter()
            results = import_rows(client, project, todo, on_password=lambda login, secret: None)
            seconds = time.perf_counter() - start
        finally:
            client.close()
    finally:
        os.environ.pop(PASSWORD_VAR, None)
        for name, method in originals.items():
            setattr(DirectoryClient, name, method)
    if any(r.status != "created" for r in results):
        raise BenchError(f"profile import: {[r.status for r in results if r.status != 'created'][:5]}")
    return Profile(len(rows), seconds, {k: (int(v[0]), v[1]) for k, v in ops.items()})


def profile_text(prof: Profile) -> str:
    n = prof.accounts
    per = {k: (c / n, s / n * 1000) for k, (c, s) in prof.ops.items()}
    rest = prof.seconds / n * 1000 - sum(ms for _c, ms in per.values())
    trips = sum(c for c, _ms in per.values())
    order = ["password", "add", "modify", "add-members", "add-member", "search", "delete"]
    parts = [f"{k} {per[k][1]:.1f} ms ({per[k][0]:.2g} call{'s' if per[k][0] > 1 else ''})" for k in order if k in per]
    parts += [f"{k} {ms:.1f} ms ({c:.2g} calls)" for k, (c, ms) in per.items() if k not in order]
    return (f"{prof.seconds / n * 1000:.1f} ms per account ({n / prof.seconds:.1f} accounts/s) through the API, "
            f"{trips:.1f} LDAP round trips each: {', '.join(parts)}, everything else {rest:.1f} ms")


# --------------------------------------------------------------------------------------------------------
# report


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds / 60:.1f} min"


def report(*, args: argparse.Namespace, first: ItrefRun, again: ItrefRun, ts: list[Transport], versions: str,
           machine: str, load: tuple[float, float], wall: float, rerun_samba: str, collisions: int,
           journal_lines: int, prof: Profile | None) -> tuple[str, bool]:
    """Return (the markdown section, whether both targets are met)."""
    n, m = args.users, args.samba_tool_users
    rate = n / first.seconds
    best = max(ts, key=lambda t: t.rate)
    ratio = rate / best.rate
    ok_rate, ok_ratio = rate >= TARGET_RATE, ratio >= TARGET_RATIO
    create_s = {t.label: total(t.create).wall / len(t.create) for t in ts}
    fastest_create = min(create_s, key=create_s.__getitem__)

    def cpu(cost: Cost, k: int) -> str:
        return f"{cost.client / k * 1000:.0f} + {cost.dc / k * 1000:.0f} ms"

    rows = [f"| itref, first run (creates {n}) | {n} | {fmt_s(first.seconds)} | {first.seconds / n * 1000:.0f} ms "
            f"| {cpu(first.cost, n)} | **{rate:.1f}** | {fmt_s(first.seconds)} (measured) |",
            f"| itref, rerun (creates nothing) | {n} | {fmt_s(again.seconds)} | {again.seconds / n * 1000:.0f} ms "
            f"| {cpu(again.cost, n)} | {n / again.seconds:.1f} | {fmt_s(again.seconds)} (measured) |"]
    for t in ts:
        k, cost = len(t.create), t.cost
        rows.append(f"| samba-tool loop, {t.label} | {k} | {fmt_s(cost.wall)} | {cost.wall / k * 1000:.0f} ms "
                    f"(create {total(t.create).wall / k * 1000:.0f} + {len(GROUPS)} × addmembers "
                    f"{total(t.addmembers).wall / len(t.addmembers) * 1000:.0f}) | {cpu(cost, k)} "
                    f"| **{t.rate:.2f}** | {fmt_s(n / t.rate if k != n else cost.wall)} "
                    f"({'measured' if k == n else 'extrapolated'}) |")
    itref_cpu = (first.cost.client + first.cost.dc) / n
    samba_cpu = {t.label: (t.cost.client + t.cost.dc) / len(t.create) for t in ts}
    cheapest = min(samba_cpu, key=samba_cpu.__getitem__)
    cpus = os.cpu_count() or 1
    busy = max(load) > cpus
    load_note = (f"Load average (1 min) {load[0]:.1f} at the start, {load[1]:.1f} at the end, on {cpus} CPU"
                 + ("; **other work was running on the machine, so every figure is noisy**." if busy else "."))
    groups = ", ".join(f"`{g}`" for g in GROUPS)
    need = "" if ok_ratio else (
        f" For {TARGET_RATIO:g}x, itref would have to take at most {1000 / (TARGET_RATIO * best.rate):.1f} ms per "
        f"account; it took {first.seconds / n * 1000:.1f} ms, of which samba's own CPU time was "
        f"{first.cost.dc / n * 1000:.0f} ms.")
    from itref.ad.importer import CHUNK as chunk

    prof_line = "" if prof is None else (
        f"- Where itref's time goes (another {prof.accounts} rows imported at the end, in-process with "
        f"`import_rows`, each call of its `DirectoryClient` timed): {profile_text(prof)}. *password* is one modify setting the "
        f"password then enabling the account; most of it is the DC deriving the account's keys and hashes, which "
        f"`samba-tool user create` pays too. *search* is the one paged search reading the directory before the "
        f"first row; *add-members* one modify per group per {chunk} rows.\n")
    st = again.statuses
    samba_figure = (f"Its {n} accounts per transport are measured, like itref's." if m == n else
                    f"Its figure for {n} accounts is **extrapolated** from its per-account rate measured on {m} "
                    f"accounts.")
    body = f"""## AD bulk import: {n} users from a CSV — itref vs a `samba-tool` loop

Command (as root): `python3 bench/ad_import.py --users {n} --samba-tool-users {m}` (it runs in a network
namespace of its own; the whole run took {fmt_s(wall)}). {machine}. {load_note}
Versions: {versions}.

The DC is a fresh clone of the test Samba AD DC (`itref.lab.peers.samba`: `samba -M single` on loopback). The
CSV has {n} rows (`Prénom;Nom;Modèle;Matricule;Service`, UTF-8 with BOM, French and Belgian names with accents,
hyphens and apostrophes, one matricule each), all for the template `{TEMPLATE}`: OU `{OU}`, groups {groups},
login `{{first_initial}}{{last}}` ({collisions} of the {n} logins needed a collision suffix), must change
password. itref is one process, `itref -i INV -f json ad user import CSV --passwords-file PW --yes`
(interpreter start-up, LDAPS bind, journal and passwords file included), its bind password in an environment
variable. The samba-tool loop does, per account, `samba-tool user create LOGIN PASSWORD --given-name
--surname --userou {OU} --department --company --must-change-at-next-login`, then one `samba-tool group
addmembers GROUP LOGIN` per group, for {m} other people per transport, the two transports interleaved account
by account, half of them before the itref runs and half after. {samba_figure} Every account of both tools
was then checked over LDAP: in the OU, enabled, in both groups, department set, must change password.

| tool | accounts | wall | wall per account | CPU per account (client + DC) | accounts/s | for {n} accounts |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

- itref, first run: **{rate:.1f} accounts/s** (target ≥ {TARGET_RATE:g}: {"meets" if ok_rate else "MISSES"}).
  {first.statuses.get("created", 0)} created, {n} found in `{OU}`, each in both groups. The journal got
  {journal_lines} records, {journal_lines / n:g} per account: one per change applied (creation, password set
  and account enabled in one modify, one per group joined, although the group additions go to the DC
  {chunk} accounts per modify).
- itref / the faster samba-tool loop ({best.label}) = **{ratio:.2f}x** (target ≥ {TARGET_RATIO:g}x:
  {"meets" if ok_ratio else "MISSES"}).{need}
{prof_line}- CPU time, which depends much less on what else the machine is doing: itref costs {itref_cpu * 1000:.0f} ms of
  CPU per account (itref and samba together), the cheaper samba-tool loop ({cheapest}) {samba_cpu[cheapest] * 1000:.0f} ms:
  **{samba_cpu[cheapest] / itref_cpu:.1f}x** as much. *Client* is the CPU time of the tool's own processes,
  *DC* that of the samba process meanwhile (from /proc, 10 ms ticks).
- A script that batched the group additions (one `addmembers` per group for the whole list) would still run
  one `samba-tool user create` per account: at best {1 / create_s[fastest_create]:.2f} accounts/s
  ({fastest_create}), so itref would be {rate * create_s[fastest_create]:.1f}x faster than that.
- Rerun of the same file: {st.get("exists", 0)} "exists", {st.get("created", 0)} created, {st.get("completed", 0)}
  finished, {st.get("failed", 0)} failed, in {fmt_s(again.seconds)}; still the same {n} accounts, and no new
  line in the passwords file. The samba-tool loop has no such check: `user create` for a person who already
  exists fails ({rerun_samba}), so finishing a half-done loop needs a script of its own, and `user create`
  cannot set `employeeID`, the key itref recognises people by.
- samba-tool takes the new user's password **and** the administrator's on its command line (visible in `ps`
  and kept in shell history; it hides the `-U` password only when the Python module `setproctitle` is
  installed, and never the new user's). itref generates the passwords, writes them to a 0600 file, and reads
  its bind password through the inventory's secret reference. Over `ldaps://` samba-tool can only do a
  simple bind (its SASL binds refuse to sign or seal inside TLS), and it cannot check the certificate's name
  when given an IP address.
"""
    return reflow(body), ok_rate and ok_ratio


def reflow(markdown: str, width: int = 115) -> str:
    """Re-wrap the paragraphs and bullets of ``markdown`` to ``width`` columns (headings and tables untouched)."""
    out = []
    for block in markdown.strip().split("\n\n"):
        if block.startswith(("#", "|")):
            out.append(block)
            continue
        items, current = [], []
        for line in block.splitlines():
            if line.startswith("- ") and current:
                items.append(current)
                current = []
            current.append(line.strip())
        items.append(current)
        wrapped = []
        for item in items:
            text = " ".join(item)
            indent = "  " if text.startswith("- ") else ""
            wrapped.append(textwrap.fill(text, width, subsequent_indent=indent, break_long_words=False,
                                         break_on_hyphens=False))
        out.append("\n".join(wrapped))
    return "\n\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500, help="rows in the CSV imported by itref (default 500)")
    parser.add_argument("--samba-tool-users", type=int, default=40,
                        help="accounts created by the samba-tool loop per transport (default 40; ~1 s each)")
    parser.add_argument("--profile-users", type=int, default=200,
                        help="rows imported again in-process to time each directory call (default 200; 0: skip)")
    parser.add_argument("--no-write", action="store_true", help="print the section, do not touch docs/performance.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("ad_import: run as root (it starts a Samba AD DC in its own network namespace)", file=sys.stderr)
        return 2
    ensure_python()
    ensure_netns()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    from _report import machine, write_section

    from itref.lab.peers.samba import SambaDC, SambaTemplate, samba_version

    t_all = time.perf_counter()
    load_start = os.getloadavg()[0]
    if load_start > (os.cpu_count() or 1):
        print(f"ad_import: warning: load average {load_start:.1f} on {os.cpu_count()} CPU; figures will be noisy",
              file=sys.stderr)
    everyone = people(args.users + 2 * args.samba_tool_users + args.profile_users)
    mine = everyone[:args.users]
    SambaTemplate().ensure()  # a first build takes minutes: never inside a timing
    with tempfile.TemporaryDirectory(prefix="itref-bench-ad-") as tmp_name, SambaDC() as dc:
        tmp = Path(tmp_name)
        inv = write_project(tmp, dc)
        csv_file = tmp / "nouveaux.csv"
        write_csv(csv_file, mine)
        pw = tmp / "passwords.txt"
        state = tmp / "state"
        state.mkdir()
        env = {**os.environ, PASSWORD_VAR: dc.admin_password, "ITREF_STATE_DIR": str(state), "COLUMNS": "200"}
        env.pop("ITREF_INVENTORY", None)

        # samba-tool runs half before itref and half after, so a change of load on the machine hits both alike
        ts = transports(dc)
        rest = everyone[args.users:]
        for i, t in enumerate(ts):
            t.people = rest[i * args.samba_tool_users:(i + 1) * args.samba_tool_users]
        assign_logins(ts)
        senv = samba_env(dc)
        half = args.samba_tool_users // 2
        print(f"ad_import: samba-tool loop, first half ({half} accounts x {len(ts)} transports) ...", file=sys.stderr)
        samba_tool_loop(dc, ts, senv, 0, half)

        print(f"ad_import: itref imports {args.users} rows ...", file=sys.stderr)
        first = itref_import(dc, sys.executable, inv, csv_file, pw, env)
        if first.statuses != {"created": args.users}:
            raise BenchError(f"itref first run: {first.statuses}, expected {args.users} created\n{first.stderr}")
        found = accounts_in_ou(dc)
        check_accounts(found, mine, "employeeID", "itref first run")
        pw_lines = [line for line in pw.read_text().splitlines() if not line.startswith("#")]  # header line
        if len(pw_lines) != args.users or len({line.split(";")[0] for line in pw_lines}) != args.users:
            raise BenchError(f"passwords file: {len(pw_lines)} lines for {args.users} accounts")
        itref_logins = {login for login, acc in found.items() if acc["employeeID"]}
        from itref.ad.naming import render_login

        collisions = sum(1 for login in itref_logins if login not in {
            render_login("{first_initial}{last}", p.first, p.last) for p in mine})
        journal_lines = sum(len(p.read_text().splitlines()) for p in state.glob("journal/*/*.jsonl"))

        print("ad_import: itref again on the same file ...", file=sys.stderr)
        again = itref_import(dc, sys.executable, inv, csv_file, pw, env)
        if again.statuses != {"exists": args.users}:
            raise BenchError(f"itref rerun: {again.statuses}, expected {args.users} exists\n{again.stderr}")
        found_again = accounts_in_ou(dc)
        if len(found_again) != len(found) or set(found_again) != set(found):
            raise BenchError(f"itref rerun changed the OU: {len(found)} accounts before, {len(found_again)} after")
        if len([line for line in pw.read_text().splitlines() if not line.startswith("#")]) != args.users:
            raise BenchError("itref rerun wrote passwords")

        print(f"ad_import: samba-tool loop, second half ({args.samba_tool_users - half} accounts x {len(ts)}) ...",
              file=sys.stderr)
        samba_tool_loop(dc, ts, senv, half, args.samba_tool_users)
        found_all = accounts_in_ou(dc)
        for t in ts:
            check_accounts(found_all, t.people, "name", f"samba-tool loop ({t.name})")
            missing = set(t.logins) - set(found_all)
            if missing:
                raise BenchError(f"samba-tool loop ({t.name}): logins not found: {sorted(missing)[:5]}")
        if len(found_all) != args.users + sum(len(t.people) for t in ts):
            raise BenchError(f"{len(found_all)} accounts in the OU after both tools")
        rerun_samba = samba_tool_rerun(ts[0], senv)
        prof = None
        if args.profile_users:
            print(f"ad_import: profiling itref on {args.profile_users} more rows ...", file=sys.stderr)
            extra = everyone[args.users + 2 * args.samba_tool_users:]
            prof = profile_itref(inv, extra, tmp / "profile.csv", dc.admin_password)
        samba_tool_version = subprocess.run(["samba-tool", "--version"], capture_output=True, text=True, env=senv,
                                            check=False).stdout.strip()

    versions = (f"itref {importlib.metadata.version('itref')}, ldap3 {importlib.metadata.version('ldap3')}; "
                f"samba {samba_version()} (samba-tool {samba_tool_version})")
    wall = time.perf_counter() - t_all
    load = (load_start, os.getloadavg()[0])
    body, ok = report(args=args, first=first, again=again, ts=ts, versions=versions, machine=machine(), load=load,
                      wall=wall, rerun_samba=rerun_samba, collisions=collisions, journal_lines=journal_lines,
                      prof=prof)
    if not args.no_write:
        write_section("ad-import", body)
    print(body)
    print(f"itref stderr (first run): {first.stderr.splitlines()[-1] if first.stderr else ''}")
    print(f"itref stderr (rerun): {again.stderr.splitlines()[-1] if again.stderr else ''}")
    print(f"journal: {journal_lines} records for {args.users} accounts")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"ad_import: FAILED: {exc}", file=sys.stderr)
        sys.exit(2)
