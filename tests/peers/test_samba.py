"""Tests of the real Samba AD DC peer of itref.lab.peers.samba, driven with ldap3 and MIT kinit directly.

Nothing here is skipped: when the DC cannot be built or started, SambaPeerError carries samba's log.
One DC runs at a time (its ports are fixed): these tests use the session's DC and the destructive ones stop,
kill and restart it, leaving it running.
"""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap3 import ALL, BASE, MODIFY_REPLACE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPBindError, LDAPException, LDAPSocketOpenError

from itref.lab.peers.samba import (
    BASE_DN,
    GLOBAL_SECURITY_GROUP,
    LDAPS_PORT,
    SEED_GROUPS,
    SEED_OUS,
    SambaDC,
    SambaPeerError,
    SambaTemplate,
    group_dn,
    kinit,
    ldap_connection,
    ou_dn,
    tcp_port_holders,
)

pytestmark = pytest.mark.peer

ROOT = Path(__file__).resolve().parents[2]
DISABLED, ENABLED = 514, 512
GOOD_PASSWORD = "Lab-Test-pw-9"


# ---------------------------------------------------------------------------------------------- helpers


def unique(prefix: str) -> str:
    """Return ``prefix`` plus 8 random hex digits (fits a 20-character sAMAccountName)."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def add_user(conn: Connection, name: str, parent: str = "OU=Social,OU=CPAS") -> str:
    """Create a disabled user ``name`` under ``parent`` (relative to the base DN); return its DN."""
    dn = f"CN={name},{parent},{BASE_DN}"
    attrs = {
        "sAMAccountName": name,
        "userPrincipalName": f"{name}@lab.example.test",
        "givenName": "Test",
        "sn": name,
        "displayName": f"Test {name}",
        "userAccountControl": DISABLED,
    }
    assert conn.add(dn, ["top", "person", "organizationalPerson", "user"], attrs), conn.result
    return dn


def exists(conn: Connection, dn: str) -> bool:
    """Return True if ``dn`` exists."""
    return bool(conn.search(dn, "(objectClass=*)", search_scope=BASE, attributes=["objectClass"]))


def samba_processes_alive(pgid: int) -> list[int]:
    """Return the live processes of process group ``pgid``."""
    alive = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in "ZX":
                alive.append(int(entry.name))
    return alive


def wait_gone(pid: int, timeout: float = 10) -> bool:
    """Wait until process group ``pid`` has no live process; return True if it emptied in time."""
    deadline = time.monotonic() + timeout
    while samba_processes_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def template() -> SambaTemplate:
    return SambaTemplate().ensure()


@pytest.fixture
def dc(samba_dc: SambaDC) -> SambaDC:
    """The session's shared DC (``samba_dc`` in tests/conftest.py, started again if a test left it stopped).

    Only one DC can listen on 127.0.0.1:636 per network namespace, so this module uses the session's DC
    rather than its own; the destructive tests stop, kill and start that DC and leave it running.
    """
    return samba_dc


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temp dir (pytest's tmp_path can be too long for samba's unix sockets)."""
    with tempfile.TemporaryDirectory(prefix="itref-t-") as d:
        yield Path(d)


@pytest.fixture
def admin(dc: SambaDC) -> Iterator[Connection]:
    conn = ldap_connection(dc)
    yield conn
    conn.unbind()


# ---------------------------------------------------------------------------------------------- tests


def test_dc_is_a_clone_of_the_template(dc: SambaDC, template: SambaTemplate) -> None:
    assert dc.running and dc.pid in dc.pids()
    assert dc.directory != template.path
    conf = dc.smb_conf.read_text()
    assert str(dc.directory) in conf and str(template.path) not in conf
    assert str(template.path) in (template.path / "etc" / "smb.conf").read_text()  # the template is untouched
    assert not [p for p in template.path.rglob("*") if p.is_socket() or p.name.endswith(".pid")]
    # the version as the key spells it: Debian 13's "4.22.11-Debian-4.22.11+dfsg-0+deb13u1" has '+' in it
    assert template.key.startswith(re.sub(r"[^A-Za-z0-9._-]", "_", template.meta["samba_version"]))
    assert dc.tls_name == template.tls_name
    assert dc.tls_name.lower() == "dc1.lab.example.test"
    assert dc.ca_file == dc.directory / "private" / "tls" / "ca.pem" and dc.ca_file.is_file()
    assert (dc.url, dc.host, dc.ldaps_port) == ("ldaps://127.0.0.1", "127.0.0.1", 636)
    assert (dc.realm, dc.domain, dc.base_dn) == ("LAB.EXAMPLE.TEST", "LAB", "DC=lab,DC=example,DC=test")
    assert dc.admin_user == "Administrator@lab.example.test"
    assert "samba version" in dc.log_text()


def test_root_dse_names_the_base_dn(dc: SambaDC) -> None:
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(dc.ca_file), valid_names=[dc.tls_name],
              version=ssl.PROTOCOL_TLS_CLIENT)  # as itref's AD client: see test_python_strict_x509_refuses_...
    server = Server(dc.host, port=dc.ldaps_port, use_ssl=True, tls=tls, get_info=ALL)
    conn = Connection(server, auto_bind=True)  # anonymous
    try:
        assert server.info.other["defaultNamingContext"] == [BASE_DN]
        assert server.info.other["dnsHostName"][0].lower() == "dc1.lab.example.test"
    finally:
        conn.unbind()


def test_admin_binds_over_ldaps_with_ca_validation(dc: SambaDC, admin: Connection) -> None:
    assert admin.bound and admin.server.ssl
    assert admin.search(BASE_DN, "(sAMAccountName=Administrator)", attributes=["userAccountControl"])
    assert admin.entries[0].userAccountControl.value & 0x10000  # password never expires (cached template)
    # The validation is real: another CA, or a name the certificate does not carry, is refused.
    other_ca = Tls(
        validate=ssl.CERT_REQUIRED, ca_certs_file="/etc/ssl/certs/ca-certificates.crt", valid_names=[dc.tls_name],
        version=ssl.PROTOCOL_TLS_CLIENT,
    )
    with pytest.raises(LDAPSocketOpenError, match="CERTIFICATE_VERIFY_FAILED"):
        Connection(Server(dc.host, port=dc.ldaps_port, use_ssl=True, tls=other_ca), auto_bind=True)
    wrong_name = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(dc.ca_file), valid_names=["dc9.example.test"],
                     version=ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(LDAPSocketOpenError, match="match"):
        Connection(Server(dc.host, port=dc.ldaps_port, use_ssl=True, tls=wrong_name), auto_bind=True)
    with pytest.raises(LDAPBindError):
        ldap_connection(dc, dc.admin_user, "not-the-password")


def test_seed_ous_and_groups_exist(admin: Connection) -> None:
    for ou in SEED_OUS:
        assert exists(admin, ou_dn(ou)), ou
    assert ou_dn("OU=Social,OU=CPAS") == "OU=Social,OU=CPAS,DC=lab,DC=example,DC=test"
    assert set(SEED_GROUPS) == {"GG-CPAS-Social", "GG-Tous", "GG-Commune"}
    for name in SEED_GROUPS:
        assert admin.search(BASE_DN, f"(&(objectClass=group)(sAMAccountName={name}))", attributes=["groupType"])
        assert len(admin.entries) == 1
        assert admin.entries[0].entry_dn == group_dn(name)
        assert admin.entries[0].groupType.value == GLOBAL_SECURITY_GROUP


def test_created_user_binds_and_gets_a_kerberos_ticket(dc: SambaDC, admin: Connection, tmp_path: Path) -> None:
    name = unique("t")
    dn = add_user(admin, name)
    try:
        assert admin.extend.microsoft.modify_password(dn, GOOD_PASSWORD), admin.result
        assert admin.modify(dn, {"userAccountControl": [(MODIFY_REPLACE, [ENABLED])]}), admin.result
        assert admin.extend.microsoft.add_members_to_groups([dn], [group_dn("GG-CPAS-Social")])

        user = ldap_connection(dc, f"{name}@lab.example.test", GOOD_PASSWORD)
        try:
            assert user.bound
            assert user.search(dn, "(objectClass=user)", search_scope=BASE, attributes=["memberOf"])
            assert group_dn("GG-CPAS-Social") in user.entries[0].memberOf.values
        finally:
            user.unbind()
        with pytest.raises(LDAPBindError):
            ldap_connection(dc, f"{name}@lab.example.test", "Wrong-pw-123")

        ccache = tmp_path / "ccache"
        cp = kinit(dc, f"{name}@LAB.EXAMPLE.TEST", GOOD_PASSWORD, ccache=ccache)
        assert cp.returncode == 0, cp.stdout + cp.stderr + dc.log_text(since_start=True)[-3000:]
        klist = subprocess.run(["klist", "-c", f"FILE:{ccache}"], capture_output=True, text=True, check=False)
        assert f"Default principal: {name}@LAB.EXAMPLE.TEST" in klist.stdout
        assert "krbtgt/LAB.EXAMPLE.TEST@LAB.EXAMPLE.TEST" in klist.stdout
        bad = kinit(dc, f"{name}@LAB.EXAMPLE.TEST", "Wrong-pw-123")
        assert bad.returncode != 0 and "Password incorrect" in bad.stderr
    finally:
        admin.delete(dn)


def test_weak_password_is_a_constraint_violation(admin: Connection) -> None:
    dn = add_user(admin, unique("w"))
    try:
        assert not admin.extend.microsoft.modify_password(dn, "abc")
        assert admin.result["description"] == "constraintViolation"
        assert "0000052D" in admin.result["message"], admin.result
        assert not admin.extend.microsoft.modify_password(dn, "password123")  # complexity
        assert "0000052D" in admin.result["message"], admin.result
    finally:
        admin.delete(dn)


def test_only_loopback_listens(dc: SambaDC) -> None:
    sockets = dc.listening_sockets()
    assert {(s.proto, s.address, s.port) for s in sockets} >= {
        ("tcp", "127.0.0.1", 636),
        ("tcp", "127.0.0.1", 389),
        ("tcp", "127.0.0.1", 88),
        ("udp", "127.0.0.1", 88),
    }
    assert [s for s in sockets if not s.is_loopback] == []
    assert {s.port for s in sockets}.isdisjoint({53, 137, 138, 139, 445})  # no DNS, NBT or SMB
    # Cross-check with ss (iproute2): every samba listener, TCP and UDP, is on loopback.
    ss = subprocess.run(["ss", "-Hlntup"], capture_output=True, text=True, check=True).stdout
    samba_lines = [line for line in ss.splitlines() if f"pid={dc.pid}," in line]
    assert samba_lines
    for line in samba_lines:
        local = line.split()[4]
        assert local.startswith(("127.0.0.1:", "[::1]:")), line


def test_stop_then_start_keeps_the_data(dc: SambaDC, admin: Connection) -> None:
    ou = ou_dn(f"OU={unique('keep-')}")
    assert admin.add(ou, "organizationalUnit"), admin.result
    admin.unbind()
    pid = dc.pid
    assert pid is not None
    dc.stop()
    assert not dc.running and dc.pid is None
    assert wait_gone(pid, timeout=0)  # stop() returns once the whole group is gone
    assert dc.stop_seconds is not None and dc.stop_seconds < dc.stop_timeout
    assert tcp_port_holders([LDAPS_PORT]) == []
    with pytest.raises(LDAPException):
        ldap_connection(dc)
    dc.start()
    assert dc.pid != pid and dc.starts >= 2
    conn = ldap_connection(dc)
    try:
        assert exists(conn, ou)
        assert conn.delete(ou)
    finally:
        conn.unbind()


def test_kill_mid_import_then_start(dc: SambaDC) -> None:
    """SIGKILL while a client is adding users: what was acknowledged survives, and the DC starts again."""
    prefix = unique("k")[:7]
    done: list[str] = []
    failure: list[BaseException] = []
    enough = threading.Event()

    def importer() -> None:
        try:
            conn = ldap_connection(dc)
            for i in range(1000):
                dn = add_user(conn, f"{prefix}-{i:04d}", parent="OU=Commune")
                done.append(dn)
                if len(done) >= 10:
                    enough.set()
        except BaseException as exc:  # the DC vanished mid-request
            failure.append(exc)
        finally:
            enough.set()

    thread = threading.Thread(target=importer, daemon=True)
    thread.start()
    assert enough.wait(30)
    pid = dc.pid
    assert pid is not None
    dc.kill()
    thread.join(30)
    assert not thread.is_alive()
    assert failure, "the import finished before the kill: nothing was interrupted"
    assert not dc.running and wait_gone(pid, timeout=0)

    dc.start()
    conn = ldap_connection(dc)
    try:
        for dn in done:
            assert exists(conn, dn), dn
        after = add_user(conn, f"{prefix}-after", parent="OU=Commune")
        assert conn.search(BASE_DN, f"(sAMAccountName={prefix}-*)", attributes=["cn"])
        found = {e.entry_dn for e in conn.entries}
        assert set(done) | {after} <= found
        for dn in found:
            assert conn.delete(dn), conn.result
    finally:
        conn.unbind()


def test_a_second_dc_in_the_same_namespace_is_refused(dc: SambaDC, template: SambaTemplate) -> None:
    other = SambaDC(template)
    try:
        with pytest.raises(SambaPeerError, match=rf"127\.0\.0\.1:636 \(pid {dc.pid}: samba\)"):
            other.start()
        assert not other.running
    finally:
        other.close()
    assert not other.directory.exists()
    assert dc.running


def test_a_directory_too_long_for_unix_sockets_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SambaPeerError, match="108 bytes"):
        SambaDC(directory=tmp_path / ("x" * 80))


def test_failed_start_reports_samba_log(dc: SambaDC, template: SambaTemplate) -> None:
    dc.stop()
    broken = SambaDC(template, start_timeout=30)
    try:
        broken.prepare()
        conf = broken.smb_conf.read_text()
        broken.smb_conf.write_text(
            conf.replace("server role = active directory domain controller", "server role = no-such-role")
        )
        with pytest.raises(SambaPeerError) as excinfo:
            broken.start()
        message = str(excinfo.value)
        assert "samba exited with status" in message
        assert "Failed to load config file" in message  # samba's own words, from its log
        assert str(broken.smb_conf) in message
    finally:
        broken.close()
        dc.start()


def test_a_dc_that_never_answers_ldaps_fails_within_its_start_timeout_with_its_log(
    dc: SambaDC, template: SambaTemplate
) -> None:
    dc.stop()
    silent = SambaDC(template, start_timeout=3)
    try:
        silent.prepare()
        conf = silent.smb_conf.read_text()
        assert "server services = ldap, cldap, kdc, rpc" in conf  # as samba-tool wrote it
        silent.smb_conf.write_text(conf.replace("server services = ldap, cldap, kdc, rpc", "server services = kdc"))
        with pytest.raises(SambaPeerError) as excinfo:
            silent.start()  # samba runs, but nothing will ever answer on 636
        message = str(excinfo.value)
        assert "did not answer LDAPS on 127.0.0.1:636 within 3 s" in message
        assert "samba version" in message  # samba's own log of this start
        assert not silent.running  # killed, not left behind
    finally:
        silent.close()
        dc.start()


def test_a_dc_whose_certificate_does_not_verify_fails_at_once_with_its_log(
    dc: SambaDC, template: SambaTemplate, tmp_path: Path
) -> None:
    from itref.lab.tls import make_ca

    dc.stop()
    broken = SambaDC(template, start_timeout=600)  # waiting would not help: it must not wait for the timeout
    try:
        broken.prepare()
        other_ca, _key = make_ca(tmp_path, stem="other-ca", common_name="not the DC's CA")
        broken.ca_file.write_bytes(other_ca.read_bytes())
        with pytest.raises(SambaPeerError) as excinfo:
            broken.start()
        message = str(excinfo.value)
        assert "the DC's certificate does not verify against its own CA" in message
        assert "unable to get local issuer certificate" in message
        assert "samba version" in message
        assert not broken.running
    finally:
        broken.close()
        dc.start()


def test_python_strict_x509_refuses_samba_certificate_and_the_clients_here_do_not_ask_it(dc: SambaDC) -> None:
    """Why a Samba DC never looked ready on Debian 13: Python 3.13's ``ssl.create_default_context()`` adds
    ``VERIFY_X509_STRICT``, and samba's autogenerated certificate has no Authority Key Identifier.  The
    peer's readiness probe and itref's LDAPS clients use a plain ``SSLContext(PROTOCOL_TLS_CLIENT)``
    (chain, validity and name still checked), so they work on 3.11 as on 3.13."""
    import socket

    from itref.lab.peers.samba import _client_context

    strict = ssl.create_default_context(cafile=str(dc.ca_file))
    strict.check_hostname = False
    strict.verify_flags |= ssl.VERIFY_X509_STRICT  # Python >= 3.13 sets it by itself
    with (pytest.raises(ssl.SSLCertVerificationError, match="Missing Authority Key Identifier"),
          socket.create_connection((dc.host, dc.ldaps_port), timeout=10) as raw, strict.wrap_socket(raw)):
        pass
    relaxed = _client_context(dc.ca_file)
    assert not relaxed.verify_flags & ssl.VERIFY_X509_STRICT
    assert relaxed.verify_mode == ssl.CERT_REQUIRED
    with socket.create_connection((dc.host, dc.ldaps_port), timeout=10) as raw, relaxed.wrap_socket(raw) as tls:
        assert tls.getpeercert()
    conn = ldap_connection(dc)  # the peer's ldap3 client, as itref's own (tests/ad bind itref's DirectoryClient)
    try:
        assert conn.bound and conn.server.ssl
    finally:
        conn.unbind()


def test_dc_directory_can_be_reused_after_a_move(dc: SambaDC, template: SambaTemplate, short_tmp: Path) -> None:
    dc.stop()
    first_dir, moved_dir = short_tmp / "dc", short_tmp / "moved"
    try:
        first = SambaDC(template, directory=first_dir)
        with first:
            conn = ldap_connection(first)
            assert conn.add(ou_dn("OU=Persisted"), "organizationalUnit"), conn.result
            conn.unbind()
        assert first_dir.exists()  # a directory given by the caller is kept
        first_dir.rename(moved_dir)
        with SambaDC(directory=moved_dir) as again:  # no template needed: the directory holds the DC
            assert str(moved_dir) in again.smb_conf.read_text()
            conn = ldap_connection(again)
            assert exists(conn, ou_dn("OU=Persisted"))
            conn.unbind()
            assert again.clone_seconds is None  # reused, not cloned
    finally:
        dc.start()


def test_samba_dies_with_the_process_that_started_it(dc: SambaDC, template: SambaTemplate, short_tmp: Path) -> None:
    dc.stop()
    code = (
        "import sys, time\n"
        "from itref.lab.peers.samba import SambaDC, SambaTemplate\n"
        "dc = SambaDC(SambaTemplate(sys.argv[1]), directory=sys.argv[2]).start()\n"
        "print(dc.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    cache = str(template.root.parent)
    child = subprocess.Popen(
        [sys.executable, "-c", code, cache, str(short_tmp / "dc")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), line + (child.stderr.read() if child.stderr else "")
        samba_pid = int(line)
        assert samba_processes_alive(samba_pid)
        child.kill()  # SIGKILL: no cleanup code runs in the child
        child.wait()
        assert wait_gone(samba_pid, timeout=10), "samba outlived the process that started it"
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
        dc.start()
