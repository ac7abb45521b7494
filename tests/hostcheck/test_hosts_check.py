"""``itref hosts check`` on a commune made of real peers: sshd hosts (each in its own mount namespace, with its
own sudoers), the in-suite WinRM endpoint playing a Windows Server 2019, the suite's Samba AD DC with a service
account whose rights are delegated OU by OU. Each fault gives its own line, with what to do, and the exit code
of the worst; a healthy commune gives none and exits 0."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from itref.core.status import ExitStatus
from itref.lab.peers.winrm_endpoint import WinRMEndpoint
from itref.lab.windows import LabWindows
from tests.conftest import journal_records, shared_tmp, ssh_host_entry

pytestmark = pytest.mark.peer

WINRM_USER, WINRM_PASSWORD = "itref", "S3cret!"
SVC, SVC_PASSWORD = "svc-itref-hc", "Sv3c-Hc!pass-2024"
ENV = {"ITREF_T_HC_WINRM": WINRM_PASSWORD, "ITREF_T_HC_WRONG": "not-the-password", "ITREF_T_HC_SVC": SVC_PASSWORD}
USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2"
GROUP_CLASS = "bf967a9c-0de6-11d0-a285-00aa003049e2"
MEMBER_ATTRIBUTE = "bf9679c0-0de6-11d0-a285-00aa003049e2"
RESET_PASSWORD = "00299570-246d-11d0-a768-00aa006e0529"


@dataclass
class Commune:
    """The peers, and the inventory entries that reach them."""

    hosts: dict[str, dict[str, object]]
    windows: LabWindows
    folder: Path


def sudoers(folder: Path, name: str, rule: str | None, user: str) -> Path:
    path = folder / f"sudoers-{name}"
    path.write_text("root ALL=(ALL:ALL) ALL\n" + (f"{user} {rule}\n" if rule else ""))
    path.chmod(0o440)
    return path


@pytest.fixture(scope="module")
def commune(ssh_keys, ssh_user, tmp_path_factory) -> Iterator[Commune]:
    """Four sshd hosts and a Windows server: ``srv-ok`` (sudo without password, restic), ``srv-moved`` (its key
    is not the one recorded), ``srv-nosudo`` (its user is not in sudoers), ``nas-norestic`` (restic hidden by a
    bind mount); ``win-ok`` (right password), ``win-401`` (wrong password)."""
    from tests.peers.sshd import SSHDHost, write_known_hosts

    folder = tmp_path_factory.mktemp("hosts-check")
    with shared_tmp("hostcheck") as shared:
        ok_rules = sudoers(shared, "ok", "ALL=(ALL:ALL) NOPASSWD: ALL", ssh_user.name)
        no_rules = sudoers(shared, "none", None, ssh_user.name)
        hidden = shared / "not-a-program"
        hidden.write_text("")
        hidden.chmod(0o644)
        with SSHDHost(ssh_keys, ssh_user, address="127.0.0.51",
                      setup=[f"mount --bind {ok_rules} /etc/sudoers"]) as ok, \
                SSHDHost(ssh_keys, ssh_user, address="127.0.0.52", host_key=ssh_keys.other_host_key()) as moved, \
                SSHDHost(ssh_keys, ssh_user, address="127.0.0.53",
                         setup=[f"mount --bind {no_rules} /etc/sudoers"]) as nosudo, \
                SSHDHost(ssh_keys, ssh_user, address="127.0.0.54",
                         setup=[f"mount --bind {hidden} /usr/bin/restic"]) as norestic:
            recorded = write_known_hosts(folder / "known_hosts", [ok, moved, nosudo, norestic],
                                         public_key=ssh_keys.host_public_key)  # srv-moved now shows another key
            lab = LabWindows("SRV-WIN")
            with WinRMEndpoint(users={WINRM_USER: WINRM_PASSWORD}, handler=lab) as ep:
                winrm = {"connection": "winrm", "address": "127.0.0.1", "port": ep.port, "scheme": "http",
                         "transport": "ntlm", "user": WINRM_USER, "tags": ["windows"]}
                hosts = {name: ssh_host_entry(h, known_hosts=str(recorded), tags=["linux"]) for name, h in
                         (("srv-ok", ok), ("srv-moved", moved), ("srv-nosudo", nosudo), ("nas-norestic", norestic))}
                hosts["win-ok"] = {**winrm, "password": {"env": "ITREF_T_HC_WINRM"}}
                hosts["win-401"] = {**winrm, "password": {"env": "ITREF_T_HC_WRONG"}}
                yield Commune(hosts, lab, folder)


def dsacl(dc, dn: str, sddl: str) -> None:
    subprocess.run(["samba-tool", "dsacl", "set", "-s", str(dc.smb_conf), "-H", f"ldap://{dc.host}",
                    "-U", f"Administrator%{dc.admin_password}", "--objectdn", dn, "--sddl", sddl],
                   check=True, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def directory(session_dc) -> Iterator[dict[str, object]]:
    """A service account that may create and manage accounts (and group members) in OU=Commune and the departed
    OU, and only read in OU=Social,OU=CPAS; one account in each of those two OUs to read the rights on."""
    from ldap3 import SIMPLE, Connection

    dc = session_dc
    if not dc.running:
        dc.start()
    base = dc.base_dn
    admin = Connection(dc.ldap_server(), user=dc.admin_user, password=dc.admin_password, authentication=SIMPLE,
                       auto_bind=True)
    svc_dn = f"CN={SVC},CN=Users,{base}"
    samples = [f"CN=Hc Commune,OU=Commune,{base}", f"CN=Hc Social,OU=Social,OU=CPAS,{base}"]
    try:
        assert admin.add(svc_dn, ["top", "person", "organizationalPerson", "user"], {
            "sAMAccountName": SVC, "userPrincipalName": f"{SVC}@{dc.dns_domain}", "userAccountControl": "512",
            "unicodePwd": f'"{SVC_PASSWORD}"'.encode("utf-16-le")}), admin.result
        for i, dn in enumerate(samples):
            assert admin.add(dn, ["top", "person", "organizationalPerson", "user"],
                             {"sAMAccountName": f"hc-sample-{i}"}), admin.result
        admin.search(svc_dn, "(objectClass=*)", attributes=["objectSid"])
        sid = admin.entries[0].objectSid.value
        manage = (f"(OA;CI;CCDC;{USER_CLASS};;{sid})(OA;CIIO;RPWP;;{USER_CLASS};{sid})"
                  f"(OA;CIIO;CR;{RESET_PASSWORD};{USER_CLASS};{sid})(OA;CIIO;WP;{MEMBER_ATTRIBUTE};{GROUP_CLASS};{sid})")
        dsacl(dc, f"OU=Commune,{base}", manage)
        dsacl(dc, f"OU=Departed,{base}", manage)
        yield {"url": dc.url, "base_dn": base, "bind_user": f"{SVC}@{dc.dns_domain}",
               "bind_password": {"env": "ITREF_T_HC_SVC"}, "ca_file": str(dc.ca_file), "tls_name": dc.tls_name}
    finally:
        for dn in [*samples, svc_dn]:
            admin.delete(dn)
        admin.unbind()


def playbooks(folder: Path, base: str, present: set[str]) -> Path:
    """Write playbooks asking: a sudo step on srv-ok and srv-nosudo, restic backups on srv-ok and nas-norestic,
    wbadmin on win-ok, an account template in OU=Commune and one in OU=Social,OU=CPAS (hosts not in ``present``
    are left out)."""
    pdir = folder / "playbooks"
    pdir.mkdir(exist_ok=True)
    book = {
        "entity": "shared",
        "routines": {"patch": {"description": "Patch", "steps": [
            {"description": "Upgrade", "run": {"command": ["apt-get", "upgrade", "-y"], "sudo": True,
                                               "limit": ",".join(sorted({"srv-ok", "srv-nosudo"} & present))}}]}},
        "backups": [
            {"name": "ok-restic", "kind": "restic", "host": "srv-ok", "repository": "/srv/restic",
             "password": {"env": "ITREF_T_HC_WINRM"}},
            {"name": "nas-restic", "kind": "restic", "host": "nas-norestic", "repository": "/srv/restic",
             "password": {"env": "ITREF_T_HC_WINRM"}},
            {"name": "image", "kind": "wbadmin", "host": "win-ok"}],
        "accounts": {"templates": {
            "clerk": {"ou": f"OU=Commune,{base}", "groups": ["GG-Commune"]},
            "social-worker": {"ou": f"OU=Social,OU=CPAS,{base}", "groups": ["GG-CPAS-Social"]}}},
    }
    book["backups"] = [b for b in book["backups"] if b["host"] in present]  # type: ignore[index,union-attr]
    (pdir / "shared.yaml").write_text(json.dumps(book), encoding="utf-8")
    return pdir


def write_inventory(folder: Path, hosts: dict[str, dict[str, object]], directory: dict[str, object] | None,
                    base: str) -> str:
    data: dict[str, object] = {"version": 1, "organisation": "Test", "entities": {"shared": {
        "title": "Shared", "ou": f"OU=Commune,{base}", "departed_ou": f"OU=Departed,{base}", "hosts": hosts}}}
    if directory is not None:
        data["directory"] = directory
    playbooks(folder, base, set(hosts))
    inv = folder / "inventory.yaml"
    inv.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return str(inv)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def problem_lines(out: str) -> list[str]:
    """Return the problem lines (every line but the summary)."""
    return [line for line in out.splitlines() if "What to do: " in line or "Que faire : " in line]


HEALTHY = ("srv-ok", "win-ok")


def test_a_healthy_commune_gives_no_problem_and_exits_0(commune, directory, session_dc, tmp_path, cli, env) -> None:
    admin_directory = {**directory, "bind_user": session_dc.admin_user, "bind_password": {"env": "ITREF_T_HC_ADM"}}
    os.environ["ITREF_T_HC_ADM"] = session_dc.admin_password
    try:
        inv = write_inventory(tmp_path, {h: commune.hosts[h] for h in HEALTHY} | {
            "here": {"connection": "local", "tags": ["linux"]}}, admin_directory, session_dc.base_dn)
        result = cli("-i", inv, "hosts", "check")
    finally:
        del os.environ["ITREF_T_HC_ADM"]
    assert result.rc == ExitStatus.SUCCESS, result.all
    assert problem_lines(result.out) == []
    assert re.fullmatch(r"3 hosts checked and the directory in [\d.]+ s: no problem found\.\n", result.out)


def test_the_dc_certificate_is_judged_as_itrefs_ldaps_client_judges_it_even_with_python_313_strict_checks(
        commune, directory, session_dc, tmp_path, cli, env, monkeypatch) -> None:
    """Samba's autogenerated DC certificate has no Authority Key Identifier.  Python 3.13's default context
    (X.509 strict) refuses it; itref's LDAPS client does not ask that and works.  So the hosts check must not
    call that DC broken: here Python 3.13's default is imitated on whatever Python runs the suite."""
    import ssl

    from itref.hostcheck.network import certificate

    default = ssl.create_default_context

    def as_python_313(*args, **kwargs):
        context = default(*args, **kwargs)
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        return context

    monkeypatch.setattr(ssl, "create_default_context", as_python_313)
    dc = session_dc
    strict = certificate(dc.host, dc.ldaps_port, dc.tls_name, str(dc.ca_file), 10)
    assert not strict.valid and "Authority Key Identifier" in strict.reason, strict  # the imitation is real
    assert certificate(dc.host, dc.ldaps_port, dc.tls_name, str(dc.ca_file), 10, strict=False).valid
    wrong_ca = certificate(dc.host, dc.ldaps_port, dc.tls_name, None, 10, strict=False)
    assert not wrong_ca.valid, wrong_ca  # still refused against the system CAs: the chain is checked
    admin_directory = {**directory, "bind_user": dc.admin_user, "bind_password": {"env": "ITREF_T_HC_ADM"}}
    monkeypatch.setenv("ITREF_T_HC_ADM", dc.admin_password)
    inv = write_inventory(tmp_path, {h: commune.hosts[h] for h in HEALTHY} | {
        "here": {"connection": "local", "tags": ["linux"]}}, admin_directory, dc.base_dn)
    result = cli("-i", inv, "hosts", "check")
    assert "directory" not in "".join(problem_lines(result.out)), result.all
    assert result.rc == ExitStatus.SUCCESS, result.all


def test_each_fault_gives_its_own_line_with_what_to_do_and_the_worst_exit_code(
        commune, directory, session_dc, tmp_path, cli, env) -> None:
    inv = write_inventory(tmp_path, commune.hosts, directory, session_dc.base_dn)
    result = cli("-i", inv, "hosts", "check")
    lines = problem_lines(result.out)
    assert result.rc == ExitStatus.CHECK_CRITICAL, result.all
    expected = {  # what each line must say (its host or subject first, then the fault, then what to do)
        "srv-moved": ("CRITICAL: srv-moved: its SSH key CHANGED", "itref hosts trust srv-moved --replace"),
        "srv-nosudo": ("CRITICAL: srv-nosudo: sudo refuses", "/etc/sudoers.d/itref"),
        "nas-norestic": ("CRITICAL: nas-norestic (Debian", "apt-get install restic"),
        "win-401": ("CRITICAL: win-401: 127.0.0.1:", "the password the inventory gives for win-401"),
        "create": ("may not create accounts in OU=Social,OU=CPAS", "Delegate Control"),
        "reset": ("may not reset passwords in OU=Social,OU=CPAS", "Reset user passwords"),
        "uac": ("may not enable, disable or unlock accounts in OU=Social,OU=CPAS", "userAccountControl"),
        "member": ("may not change the members of GG-CPAS-Social", "Write Members"),
    }
    for name, (fault, fix) in expected.items():
        matching = [line for line in lines if fault in line]
        assert len(matching) == 1, (name, lines)
        assert "What to do: " in matching[0] and fix in matching[0].split("What to do: ", 1)[1], matching[0]
    assert len(lines) == len(expected), lines  # nothing about srv-ok, win-ok, OU=Commune or the departed OU
    assert "restic is not installed; needed by the backup shared/nas-restic" in result.out
    assert "and shared/patch step 1 run with sudo" in result.out


@pytest.mark.parametrize(("host", "check"), [("srv-moved", "hosts.ssh-key"), ("srv-nosudo", "hosts.sudo"),
                                             ("nas-norestic", "hosts.tool"), ("win-401", "hosts.login")])
def test_each_faulty_host_alone_gives_one_critical_line_and_exit_7(commune, session_dc, tmp_path, cli, env,
                                                                   host: str, check: str) -> None:
    inv = write_inventory(tmp_path, commune.hosts, None, session_dc.base_dn)
    result = cli("-i", inv, "-f", "json", "hosts", "check", "--limit", host)
    assert result.rc == ExitStatus.CHECK_CRITICAL, result.all
    data = json.loads(result.out)
    (checked,) = data["hosts"]
    assert [(f["check"], f["severity"]) for f in checked["findings"]] == [(check, "critical")]
    assert data["directory"] is None and data["worst"] == "critical"


def test_json_says_each_hosts_system_clock_and_account(commune, session_dc, tmp_path, cli, env) -> None:
    inv = write_inventory(tmp_path, commune.hosts, None, session_dc.base_dn)
    result = cli("-i", inv, "-f", "json", "hosts", "check", "--limit", "srv-ok,win-ok")
    data = {h["host"]: h for h in json.loads(result.out)["hosts"]}
    assert result.rc == ExitStatus.SUCCESS, result.all
    assert data["srv-ok"]["os"].startswith("Debian") and data["srv-ok"]["account"] == commune.hosts["srv-ok"]["user"]
    assert data["win-ok"]["os"] == "Microsoft Windows Server 2019 Standard 10.0.17763"
    assert data["win-ok"]["account"] == "SRV-WIN\\itref"
    assert all(abs(h["clock_offset"]) < 5 for h in data.values())


def test_a_windows_clock_ten_minutes_ahead_and_a_non_administrator_are_both_said(commune, session_dc, tmp_path,
                                                                                cli, env) -> None:
    inv = write_inventory(tmp_path, commune.hosts, None, session_dc.base_dn)
    commune.windows.clock_skew, commune.windows.admin = timedelta(minutes=10), False
    try:
        result = cli("-i", inv, "hosts", "check", "--limit", "win-ok")
    finally:
        commune.windows.clock_skew, commune.windows.admin = timedelta(0), True
    lines = problem_lines(result.out)
    assert result.rc == ExitStatus.CHECK_CRITICAL and len(lines) == 2, result.all
    assert "win-ok: its clock is 10 minutes ahead of this machine's: Kerberos refuses logons" in lines[0] + lines[1]
    assert "SRV-WIN\\itref is not a local administrator, and the audit's Windows checks, the backup shared/image " \
           "(wbadmin) need it" in result.out


def test_in_french_each_line_and_the_summary_are_french(commune, session_dc, tmp_path, itref_bin, env) -> None:
    inv = write_inventory(tmp_path, commune.hosts, None, session_dc.base_dn)
    result = itref_bin("--lang", "fr", "-i", inv, "hosts", "check", "--limit", "srv-moved,win-ok")
    assert result.rc == ExitStatus.CHECK_CRITICAL, result.all
    assert "CRITIQUE : srv-moved : sa clé SSH a CHANGÉ" in result.out
    assert "Que faire : " in result.out
    assert re.search(r"2 machines vérifiées en [\d,]+ s : 1 problème \(1 critique\)\.", result.out), result.out


def test_the_last_result_of_each_host_is_kept_and_shown_in_the_handover_pack(commune, session_dc, tmp_path, cli,
                                                                              env, state_dir) -> None:
    inv = write_inventory(tmp_path, commune.hosts, None, session_dc.base_dn)
    cli("-i", inv, "hosts", "check", "--limit", "srv-ok,nas-norestic")
    kept = {p.name for p in (state_dir / "hosts-check").iterdir()}
    assert kept == {"srv-ok.json", "nas-norestic.json"}
    records = journal_records(state_dir)
    assert [(r["action"], r["outcome"], r["detail"]) for r in records] == [("hosts-check", "critical", "1 problem(s)")]
    out = tmp_path / "pack"
    assert cli("-i", inv, "handover", "--output", str(out)).rc == 0
    page = (out / "shared.md").read_text(encoding="utf-8")
    assert "restic is not installed" in page and "apt-get install restic" in page
    assert re.search(r"Last check.*no problem", page), page


def test_dns_and_a_closed_port_are_told_apart(tmp_path, cli) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps({"version": 1, "organisation": "T", "entities": {"shared": {"title": "S", "hosts": {
        "typo": {"address": "srv-typo.invalid", "connect_timeout": 2},
        "off": {"address": "127.0.0.1", "port": 9, "connect_timeout": 2},
        "winrm-off": {"connection": "winrm", "address": "127.0.0.1", "port": 9, "user": "x",
                      "password": {"env": "ITREF_T_HC_UNSET"}},
        "no-secret": {"connection": "winrm", "address": "127.0.0.1", "port": 9, "user": "x",
                      "password": {"env": "ITREF_T_HC_NEVER_SET"}}}}}}))
    os.environ["ITREF_T_HC_UNSET"] = "x"
    try:
        result = cli("-i", str(inv), "hosts", "check")
    finally:
        del os.environ["ITREF_T_HC_UNSET"]
    lines = problem_lines(result.out)
    assert result.rc == ExitStatus.CHECK_CRITICAL and len(lines) == 4, result.all
    assert any("no-secret: env $ITREF_T_HC_NEVER_SET" in line and "is not set" in line for line in lines)
    assert any("typo: the name srv-typo.invalid cannot be resolved (DNS" in line for line in lines)
    assert any("off: nothing answers on 127.0.0.1:9 (connection refused)" in line and "SSH server" in line
               for line in lines)
    assert any("winrm-off: nothing answers" in line and "winrm quickconfig -transport:https" in line
               for line in lines)


def test_a_winrm_certificate_made_for_another_name_is_said_with_the_names_it_is_for(tmp_path, cli, env) -> None:
    from itref.lab.peers.winrm_fixtures import TcpProxy
    from tests.peers.winrm_tls import make_certificates

    certs = make_certificates(tmp_path)
    with WinRMEndpoint(users={WINRM_USER: WINRM_PASSWORD}, handler=LabWindows()) as ep, \
            TcpProxy(ep.port, tls=certs.other_name) as proxy:
        inv = tmp_path / "inventory.yaml"
        inv.write_text(json.dumps({"version": 1, "organisation": "T", "entities": {"shared": {"title": "S", "hosts": {
            "win": {"connection": "winrm", "address": "127.0.0.1", "port": proxy.port, "transport": "ntlm",
                    "user": WINRM_USER, "password": {"env": "ITREF_T_HC_WINRM"}, "ca_file": str(certs.ca)},
            "win-unchecked": {"connection": "winrm", "address": "127.0.0.1", "port": proxy.port, "transport": "ntlm",
                              "user": WINRM_USER, "password": {"env": "ITREF_T_HC_WINRM"}, "ca_file": str(certs.ca),
                              "cert_validation": False}}}}}))
        result = cli("-i", str(inv), "hosts", "check")
    critical, warning = problem_lines(result.out)
    assert result.rc == ExitStatus.CHECK_CRITICAL
    assert "CRITICAL: win: the WinRM certificate of 127.0.0.1 is not valid for that name" in critical
    assert "win-srv.lab.example" in critical.split("What to do: ")[1]
    assert warning.startswith("WARNING: win-unchecked: the WinRM certificate is not checked (cert_validation: false)")
    assert "Its certificate would not verify" in warning and "then remove 'cert_validation: false'" in warning


@pytest.mark.parametrize("content", [b"<<<<<<< HEAD\n[127.0.0.1]:9 ssh-ed25519 AAAA\n", b"\xff\xfe\x00 junk\n",
                                     b"\x00" * 64])
def test_a_damaged_known_hosts_file_is_named_at_its_line_not_called_a_changed_key(tmp_path, cli, content) -> None:
    """Before: a non-UTF-8 file was an internal error, and git's conflict markers or a zero-filled file were
    reported as 'its SSH key CHANGED ... someone in between', a false alarm of interception."""
    known = tmp_path / "known_hosts"
    known.write_bytes(content)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps({"version": 1, "organisation": "T", "entities": {"shared": {"title": "S", "hosts": {
        "srv": {"address": "127.0.0.1", "port": 9, "connect_timeout": 2, "known_hosts": str(known)}}}}}))
    result = cli("-i", str(inv), "hosts", "check")
    (line,) = problem_lines(result.out)
    assert result.rc == ExitStatus.CHECK_CRITICAL, result.all
    assert f"srv: the file of known SSH keys cannot be read at {known}:1" in line, line
    assert "CHANGED" not in result.out and "Correct or remove that line" in line
